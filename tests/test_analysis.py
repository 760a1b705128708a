"""The question-independent sentence analysis is computed once, when an article is indexed, and
read back at question time (storage logic: the hashing encoder; the answer check: the real model)."""

from __future__ import annotations

import json
import shutil

from embeddings import HashingEncoder
from qa import analysis
from qa.analysis import analyse, from_json
from qa.answer import ask
from qa.candidates import sentences_of
from qa.index import Index
from qa.layout import MANIFEST
from qa.writer import build_index


def test_the_stored_analysis_is_what_analysing_the_article_gives(demo_index):
    for article_id, article in demo_index.all_articles().items():
        sentences, _ = demo_index.article_sentences(article_id)
        stored = from_json(demo_index.sentence_analysis(article_id), len(sentences))
        assert stored == analyse(article.text, sentences)
        assert "h" in stored.furniture or "p" in stored.furniture


def test_an_update_reuses_the_analysis_of_unchanged_articles(tmp_path, corpus_copy, monkeypatch):
    build_index([corpus_copy], tmp_path / "idx", encoder=HashingEncoder())
    analysed = []
    real = analysis.analyse
    monkeypatch.setattr("qa.segment_writer.analyse", lambda text, sentences: analysed.append(text) or real(text, sentences))
    changed = sorted(corpus_copy.glob("*.txt"))[0]
    changed.write_text(changed.read_text().replace(" the ", " the updated ", 1))
    report = build_index([corpus_copy], tmp_path / "idx", encoder=HashingEncoder())
    assert (report.updated, report.unchanged) == (1, 4)
    assert len(analysed) == 1 and " the updated " in analysed[0]
    index = Index.open(tmp_path / "idx")
    assert all(index.sentence_analysis(a) is not None for a in index.all_articles())
    index.close()


def test_an_index_written_before_the_analysis_was_stored_answers_the_same(tmp_path, demo_index_dir, encoder):
    older = tmp_path / "older"
    shutil.copytree(demo_index_dir, older)
    generation = next(p for p in older.iterdir() if p.is_dir())
    manifest = json.loads((generation / MANIFEST).read_text())
    del manifest["analysis"]
    (generation / MANIFEST).write_text(json.dumps(manifest))
    index = Index.open(older)
    index.use_encoder(encoder)
    assert all(index.sentence_analysis(a) is None for a in index.all_articles())
    current = Index.open(demo_index_dir)
    current.use_encoder(encoder)
    question = "How many people died on the Russian plane?"
    computed, stored = ask(index, question, k=3), ask(current, question, k=3)
    assert [(q.start, q.end, q.score) for q in computed.quotes] == [(q.start, q.end, q.score) for q in stored.quotes]
    article = current.article(stored.quotes[0].article.id)
    assert sentences_of(index, article).terms == sentences_of(current, article).terms
    index.close()
    current.close()

"""The serving library: request checks, the index holder's generation switch, and the answer
engine's micro-batching, merging of identical questions and cache (real model, demo corpus)."""

from __future__ import annotations

import logging
import shutil

import pytest

from qa.answer import ask
from qa.errors import InputError, NotFoundError
from qa.index import CURRENT_FILE
from qa.render import answer_as_dict
from qa.service import AnswerEngine, AskRequest, IndexHolder, Limits, ask_request, paragraph_spans
from qa.writer import build_index

LEADER = "Who leads the Liwa Suqour al-Jabal rebel group?"
QUESTIONS = [
    LEADER,
    "What did Sergey Lavrov say about the bombing campaign?",
    "Where was the group's base?",
    "Who are the Syrian opposition negotiators?",
    "What happened in Idlib province?",
    "How many missiles struck the base?",
    "What does the High Negotiations Committee demand?",
]


@pytest.fixture(scope="module")
def holder(demo_index_dir, encoder):
    return IndexHolder(demo_index_dir, encoder)


def test_requests_are_checked_with_the_cli_messages():
    with pytest.raises(InputError, match="^the question is empty$"):
        ask_request("   ")
    with pytest.raises(InputError, match=r"^not a date: 'soon' \(use YYYY-MM-DD\)$"):
        ask_request("q", since="soon")
    with pytest.raises(InputError, match="k must be a number from 1 to 50"):
        ask_request("q", k=51)
    with pytest.raises(InputError, match="longer than 10 characters"):
        ask_request("a question that is too long", limits=Limits(max_question_chars=10))
    request = ask_request("  Who  leads? ", k=4, source="Reuters", as_of="2016-02-04")
    assert request == AskRequest("Who leads?", 4, sources=("Reuters",),
                                 as_of=request.as_of) and str(request.as_of) == "2016-02-04"
    assert ask_request("q", source=["a", " ", "b"]).sources == ("a", "b")


def test_paragraph_spans_cover_the_text_between_blank_lines():
    text = "One.\n\nTwo, a\nline.\n\n\n\nThree."
    assert [text[s:e] for s, e in paragraph_spans(text)] == ["One.", "Two, a\nline.", "Three."]


def test_engine_answers_exactly_as_ask_does(holder, demo_index):
    engine = AnswerEngine(holder, cache_size=8)
    try:
        got = engine.ask(ask_request(LEADER, k=3))
    finally:
        engine.close()
    assert got == answer_as_dict(ask(demo_index, LEADER, k=3))
    assert got["quotes"][0]["answer"] == "Hassan Haj Ali"


def test_waiting_questions_are_answered_together_and_identical_ones_once(holder):
    engine = AnswerEngine(holder, cache_size=6, batch_size=8, start=False)
    order = [QUESTIONS[0], QUESTIONS[1], QUESTIONS[2], QUESTIONS[0], QUESTIONS[3], QUESTIONS[4],
             QUESTIONS[0], QUESTIONS[5], QUESTIONS[6], QUESTIONS[1]]
    futures = [engine.submit(ask_request(q, k=2)) for q in order]
    engine.start()
    try:
        results = [f.result(timeout=120) for f in futures]
        stats = engine.stats
        # 8 waiting jobs (6 questions) in the first batch; then one new question, and one that
        # the first batch answered meanwhile (from the cache).
        assert (stats.batches, stats.answered, stats.merged, stats.cached) == (2, 7, 2, 1)
        assert stats.largest_batch == 6
        assert results[0] is results[3] is results[6]
        assert [r["question"] for r in results] == order
        assert all(r["quotes"] for r in results)
        # LRU of 6: the second batch's new answer pushed out the least recently used one.
        engine.ask(ask_request(QUESTIONS[6], k=2))
        assert engine.stats.cached == 2
        engine.ask(ask_request(QUESTIONS[0], k=2))
        assert engine.stats.answered == 8
    finally:
        engine.close()


def test_article_is_whole_with_paragraphs_and_unknown_ids_are_not_found(holder):
    engine = AnswerEngine(holder)
    try:
        quote = engine.ask(ask_request(LEADER, k=1))["quotes"][0]
        article = engine.article(quote["article"]["id"])
        assert article["text"][quote["start"] : quote["end"]] == quote["text"]
        assert any(p["start"] <= quote["start"] < p["end"] for p in article["paragraphs"])
        assert article["title"] == quote["article"]["title"]
        with pytest.raises(NotFoundError, match="no article 'nope'"):
            engine.article("nope")
    finally:
        engine.close()


def test_holder_switches_to_a_new_generation_and_the_cache_follows(tmp_path, corpus_copy, encoder):
    some = tmp_path / "some"
    some.mkdir()
    for path in sorted(corpus_copy.iterdir())[2:]:
        shutil.copy(path, some)
    index_dir = tmp_path / "index"
    build_index([some], index_dir, encoder=encoder)
    holder = IndexHolder(index_dir, encoder)
    first = holder.current()
    engine = AnswerEngine(holder)
    try:
        before = engine.ask(ask_request(LEADER, k=1))
        assert "Hassan Haj Ali" not in before["quotes"][0]["text"]  # its article is not indexed yet
        build_index([corpus_copy], index_dir, encoder=encoder, rebuild=True)  # while serving
        after = engine.ask(ask_request(LEADER, k=1))
        assert holder.current() is not first
        assert holder.current().generation.name == (index_dir / CURRENT_FILE).read_text().strip()
        assert holder.current().encoder is encoder  # the model is not loaded again
        assert "Hassan Haj Ali" in after["quotes"][0]["text"]
        assert engine.info()["articles"] == 5
    finally:
        engine.close()


def test_holder_keeps_answering_when_the_new_generation_cannot_open(tmp_path, corpus_copy, encoder,
                                                                    caplog):
    index_dir = tmp_path / "index"
    build_index([corpus_copy], index_dir, encoder=encoder)
    holder = IndexHolder(index_dir, encoder)
    working = holder.current()
    (index_dir / CURRENT_FILE).write_text("gen-missing\n")
    with caplog.at_level(logging.WARNING, logger="qa.service"):
        assert holder.current() is working
        assert holder.current() is working  # not retried on every request
    assert sum("does not open" in r.getMessage() for r in caplog.records) == 1
    engine = AnswerEngine(holder)
    try:
        assert engine.ask(ask_request(LEADER, k=1))["quotes"][0]["answer"] == "Hassan Haj Ali"
    finally:
        engine.close()

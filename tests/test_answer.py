"""Retrieval and quoting quality on the demo corpus, with the real model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.answer import ask

REPO = Path(__file__).resolve().parent.parent

FACTS = [
    ("Who leads the Liwa Suqour al-Jabal rebel group?", "001_", "Hassan Haj Ali"),
    ("How many planes and helicopters are involved in the Russian military operation in Syria?",
     "002_", "More than 50 planes"),
    ("Who said it is too early to speak of a victory over terrorism?", "003_", "Nikolai Pankov"),
    ("How big is the reward the FSB offers for information about the plane downing?", "004_",
     "$50 million"),
    ("Which strategic bombers fired 34 rockets at targets in Aleppo and Idlib?", "004_", "Tu-160"),
    ("Until when will Russia keep bombing Syria, according to Lavrov?", "000_",
     "terrorist organisations"),
    ("What did Putin vow to do to those responsible for downing the passenger plane?", "004_",
     "wherever they are hiding"),
]

OUT_OF_ARCHIVE = [
    "Who won the 2018 FIFA World Cup?",
    "What is a good recipe for banana bread?",
    "When did Apollo 11 land on the Moon?",
    "How do I reset my router password?",
]


@pytest.mark.parametrize("question, article_prefix, fact", FACTS)
def test_facts_come_back_from_the_right_article_inside_the_first_quote(
    demo_index, question, article_prefix, fact
):
    answer = ask(demo_index, question, k=3)
    assert answer.answered
    first = answer.quotes[0]
    assert Path(first.article.path).name.startswith(article_prefix)
    assert fact in first.text


@pytest.mark.parametrize("question", OUT_OF_ARCHIVE)
def test_questions_the_archive_cannot_answer_are_declined(demo_index, question):
    answer = ask(demo_index, question, k=3)
    assert not answer.answered
    assert answer.quotes  # the closest candidates are still listed


def test_quotes_are_verbatim_and_point_at_their_line_in_the_file(demo_index):
    for question, _, _ in FACTS:
        for quote in ask(demo_index, question, k=5).quotes:
            assert quote.article.text[quote.start : quote.end] == quote.text
            lines = (REPO / quote.article.path).read_text(encoding="utf-8").splitlines()
            original = lines[quote.line - 1]
            first_words = " ".join(quote.text.split()[:4]).replace("&quot;", '"')
            assert first_words in original.replace("&quot;", '"')


def test_an_article_gives_at_most_two_quotes_and_they_never_touch(demo_index):
    answer = ask(demo_index, "Russian air strikes in Syria", k=8)
    assert len(answer.quotes) == 8
    by_article: dict[str, list] = {}
    for quote in answer.quotes:
        by_article.setdefault(quote.article.id, []).append(quote)
    assert max(len(quotes) for quotes in by_article.values()) <= 2
    assert len(by_article) >= 4
    for quotes in by_article.values():
        for first, second in zip(quotes, quotes[1:]):
            gap = quote_gap(first, second)
            assert gap.strip(), "two quotes of one article are adjacent sentences"


@pytest.mark.parametrize("later_quote_weight", [0.4, 1.0, 0.0])
def test_an_articles_later_quotes_compete_at_their_weighed_down_score(demo_index, later_quote_weight):
    from qa.answer import AnswerSettings

    settings = AnswerSettings(later_quote_weight=later_quote_weight)
    answer = ask(demo_index, "Russian air strikes in Syria", k=8, settings=settings)
    assert len(answer.quotes) == 8
    earlier: dict[str, int] = {}
    weighed = []
    for quote in answer.quotes:
        weighed.append(quote.score * later_quote_weight ** earlier.get(quote.article.id, 0))
        earlier[quote.article.id] = earlier.get(quote.article.id, 0) + 1
    assert all(a >= b - 1e-4 for a, b in zip(weighed, weighed[1:])), weighed
    if later_quote_weight == 0.0:  # every article's first quote before any second one
        firsts = [q.article.id not in {p.article.id for p in answer.quotes[:n]}
                  for n, q in enumerate(answer.quotes)]
        assert firsts == sorted(firsts, reverse=True)
    if later_quote_weight == 1.0:  # plain best-first order
        scores = [q.score for q in answer.quotes]
        assert scores == sorted(scores, reverse=True)


def quote_gap(first, second) -> str:
    """The article text between two quotes of one article."""
    low, high = sorted((first, second), key=lambda q: q.start)
    assert low.end <= high.start
    return low.article.text[low.end : high.start]


# Each asks for a kind of answer; the sentence that answers must come first, with the answer
# span (bold in the terminal, answer_start/answer_end in --json) inside it.
ANSWERING_SENTENCES = [
    ("How many people died on the Russian plane?", "killed all 224 people aboard", "224"),
    ("Who leads the Liwa Suqour al-Jabal rebel group?", "Hassan Haj Ali, head of the Liwa Suqour",
     "Hassan Haj Ali"),
    ("What did Haj Ali say about Bashar?", "there is no alternative to Bashar",
     "“Russia is challenging everyone and saying there is no alternative to Bashar”"),
]


@pytest.mark.parametrize("question, sentence, span", ANSWERING_SENTENCES)
def test_the_answering_sentence_comes_first_with_its_answer_span_inside(
    demo_index, question, sentence, span
):
    first = ask(demo_index, question, k=3).quotes[0]
    assert sentence in first.text
    assert first.start <= first.answer_start < first.answer_end <= first.end
    assert first.article.text[first.answer_start : first.answer_end] == span


def test_a_heading_is_never_quoted_when_a_sentence_exists(demo_index):
    heading = "Lavrov Critiques U.S. Military Operation"
    for question in ("Lavrov critiques U.S. military operation", "What did Lavrov critique?",
                     "What did Lavrov say about the U.S. military operation?"):
        for quote in ask(demo_index, question, k=10).quotes:
            assert heading not in quote.text


def test_answer_spans_lie_inside_their_quotes(demo_index):
    for question, _, _ in FACTS + [(q, None, None) for q, _, _ in ANSWERING_SENTENCES]:
        for quote in ask(demo_index, question, k=5).quotes:
            if quote.answer_start is not None:
                assert quote.start <= quote.answer_start < quote.answer_end <= quote.end


def test_without_the_cross_encoder_answers_still_come_from_the_scorer(demo_index):
    from qa.answer import AnswerSettings

    # Abstention reads no cross-encoder score, so it is the same with and without one.
    # The scorer alone ranks the "224 people" sentence 3rd (int8 ONNX here) or 4th (torch) among
    # near-tied candidates, and CI's CPU put it below 3rd: the claim is five quotes, not three.
    # (With the cross-encoder it comes first: test_the_answering_sentence_comes_first_...)
    question = "How many people died on the Russian plane?"
    plain = ask(demo_index, question, k=5, settings=AnswerSettings(reranker="none"))
    assert "224" in " ".join(q.text for q in plain.quotes)
    assert plain.answered == ask(demo_index, question, k=3).answered


@pytest.fixture(scope="module")
def torch_encoder():
    from embeddings import load_encoder

    return load_encoder(backend="torch")


def test_onnx_and_torch_vectors_agree(encoder, torch_encoder):
    assert encoder.backend == "onnx" and torch_encoder.backend == "torch"
    texts = [q for q, _, _ in FACTS] + [f for _, _, f in FACTS]
    cosine = (encoder.encode(texts) * torch_encoder.encode(texts)).sum(axis=1)
    assert cosine.min() > 0.97 and cosine.mean() > 0.985


def test_sentence_vectors_pooled_in_context_agree_across_backends(encoder, torch_encoder, demo_index):
    """Both backends pool the same sentence spans out of one pass over each chunk."""
    chunks = demo_index.chunks(list(range(12)))
    texts = [c.text for c in chunks]
    spans = [[(s.start - c.start, s.end - c.start) for s in c.sentences] for c in chunks]
    onnx_chunks, onnx_spans = encoder.encode_with_spans(texts, spans)
    torch_chunks, torch_spans = torch_encoder.encode_with_spans(texts, spans)
    assert onnx_spans.shape == (sum(map(len, spans)), encoder.dimension)
    assert np.allclose(onnx_chunks, encoder.encode(texts), atol=1e-5)
    for mine, theirs in ((onnx_chunks, torch_chunks), (onnx_spans, torch_spans)):
        cosine = (mine * theirs).sum(axis=1)
        assert cosine.min() > 0.97 and cosine.mean() > 0.985
    # A sentence read in its chunk is close to, not the same as, the sentence read alone.
    alone = encoder.encode([t[s:e] for t, spans_of in zip(texts, spans) for s, e in spans_of])
    assert 0.6 < float((onnx_spans * alone).sum(axis=1).mean()) < 0.99


def test_a_sentence_cut_off_by_truncation_is_encoded_on_its_own(encoder):
    filler = "The council met again on Tuesday to discuss the budget. " * 60  # far past 256 tokens
    last = "Officials said the bridge will reopen in March."
    text = filler + last
    _, spans = encoder.encode_with_spans([text], [[(0, 55), (len(filler), len(text))]])
    assert np.allclose(spans[1], encoder.encode([last])[0], atol=1e-5)
    assert np.isclose(np.linalg.norm(spans[0]), 1.0, atol=1e-4)


def test_batches_run_side_by_side_land_in_their_rows(encoder, demo_index):
    from embeddings.onnx import OnnxEncoder

    chunks = demo_index.chunks(list(range(demo_index.chunk_count)))
    texts = [c.text for c in chunks]
    spans = [[(s.start - c.start, s.end - c.start) for s in c.sentences] for c in chunks]
    serial = OnnxEncoder(encoder.name, encoder.model_dir, threads=1)
    for mine, theirs in zip(encoder.encode_with_spans(texts, spans), serial.encode_with_spans(texts, spans)):
        np.testing.assert_allclose(mine, theirs, atol=1e-6)


def test_an_index_built_with_the_torch_backend_answers_and_keeps_its_backend(tmp_path, torch_encoder):
    import json

    from typer.testing import CliRunner

    from cli import app
    from qa.index import Index

    runner = CliRunner()
    built = runner.invoke(app, ["index", str(REPO / "demo-corpus"), "--index", str(tmp_path / "idx"),
                                "--backend", "torch", "--json"])
    assert built.exit_code == 0, built.stderr
    assert json.loads(built.stdout)["articles"] == 5
    info = json.loads(runner.invoke(app, ["info", "--json", "--index", str(tmp_path / "idx")]).stdout)
    assert info["manifest"]["backend"] == "torch"
    index = Index.open(tmp_path / "idx")
    index.use_encoder(torch_encoder)  # refused if the index were not built on torch
    for question, article_prefix, fact in FACTS[:3]:
        first = ask(index, question, k=3).quotes[0]
        assert Path(first.article.path).name.startswith(article_prefix) and fact in first.text
    index.close()
    again = runner.invoke(app, ["index", str(REPO / "demo-corpus"), "--index", str(tmp_path / "idx"), "--json"])
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["embedded_chunks"] == 0  # stays on torch: every vector reused
    assert Index.open(tmp_path / "idx").manifest["backend"] == "torch"


def _real_index(tmp_path: Path, encoder, articles: dict[str, str]):
    """An index of ``articles`` (id -> text) built and opened with ``encoder``."""
    import json

    from qa.index import Index
    from qa.writer import build_index

    lines = "".join(json.dumps({"id": key, "text": text}, ensure_ascii=False) + "\n"
                    for key, text in articles.items())
    (tmp_path / "a.jsonl").write_text(lines)
    build_index([tmp_path / "a.jsonl"], tmp_path / "idx", encoder=encoder)
    index = Index.open(tmp_path / "idx")
    index.use_encoder(encoder)
    return index


def _top_quote_and_span(index, question: str) -> tuple[str, str | None]:
    """The first quote for ``question`` and the answer span marked in it."""
    quote = ask(index, question, k=1).quotes[0]
    if quote.answer_start is None:
        return quote.text, None
    return quote.text, quote.article.text[quote.answer_start : quote.answer_end]


def test_quotes_slice_text_with_combining_marks_and_emoji_exactly(tmp_path, encoder):
    import unicodedata

    from qa.render import quote_as_dict

    text = unicodedata.normalize("NFD", "Zoë Ångström of Malmö 🚢 opened the café. ") + (
        "👩‍👩‍👧 Families queued at the new ferry terminal in Malmö on Sunday. "
        "The harbour authority said 12,000 passengers crossed to Copenhagen on the first day 🎉. "
        "文化 The mayor thanked the builders."
    )
    index = _real_index(tmp_path, encoder, {"ferry": text})
    for question, words in (("How many passengers crossed to Copenhagen on the first day?", "12,000"),
                            ("Who opened the café in Malmö?", unicodedata.normalize("NFD", "Zoë"))):
        answer = ask(index, question, k=1)
        (quote,) = answer.quotes
        article = index.article(quote.article.id)
        assert article.text[quote.start : quote.end] == quote.text and words in quote.text
        payload = quote_as_dict(quote)
        assert article.text[payload["start"] : payload["end"]] == payload["text"]
    index.close()


def test_a_capitalised_word_opening_a_sentence_is_the_answer_span_only_when_nothing_else_is(
    tmp_path, encoder
):
    text = ("Limited tours of the White House resumed this spring after two years without visitors. "
            "Guides said the tours were booked out within an hour of the announcement.")
    index = _real_index(tmp_path, encoder, {"tours": text})
    quote, span = _top_quote_and_span(index, "Which landmark reopened to visitors this spring?")
    assert quote.startswith("Limited tours")
    assert span == "White House"
    index.close()


def test_a_name_the_article_shows_is_a_person_is_the_span_for_a_who_question(tmp_path, encoder):
    """"Gronkowski, 33, wrote" makes "Rob Gronkowski" a person, so he, not the team named nearer
    the question's words, is the span for "What NFL star …" (real model)."""
    text = ("Four-time Super Bowl champion Rob Gronkowski, a tight end for the New England Patriots "
            "and Tampa Bay Buccaneers, announced his retirement on Tuesday.\n\n"
            "Gronkowski, 33, wrote on social media that he was grateful to his teammates.")
    index = _real_index(tmp_path, encoder, {"gronk": text})
    quote, span = _top_quote_and_span(index, "What NFL star announced his retirement on Tuesday?")
    assert quote.startswith("Four-time")
    assert span == "Rob Gronkowski"
    index.close()


def test_context_favours_the_article_a_follow_up_is_about(tmp_path, encoder):
    """Two mayors, each with an age: for "How old is the mayor?" retrieval ranks the article of the
    conversation first (real model)."""
    from qa.retrieve import retrieve, understand

    articles = {
        "springfield": "Springfield mayor John Smith opened the new bridge on Monday. "
                       "Smith, 52, said the bridge cost $3 million.",
        "shelbyville": "Shelbyville mayor Tom Jones closed the old market on Tuesday. "
                       "Jones, 61, said the market was unsafe.",
    }
    index = _real_index(tmp_path, encoder, articles)
    mayors = {q.article.id for q in ask(index, "Which mayor spoke?", k=2).quotes}
    assert len(mayors) == 2
    for about in mayors:
        query = understand(index, "How old is the mayor?", context=frozenset({about}))
        assert query.context_boost > 0
        assert retrieve(index, [query], k=2)[0][0].article_id == about
    index.close()


def test_a_dateline_or_a_plural_of_the_asked_name_is_not_the_span(tmp_path, encoder):
    """"Tokyo (CNN)" names where the story was filed, and "Stanley Cups" what the question
    asked with: neither is the answer (real model)."""
    articles = {
        "abe": "Tokyo (CNN) Shinzo Abe was shot on Friday while he spoke to voters in the western "
               "city of Nara.",
        "cup": "The Lightning won the last two Stanley Cups in 2020 and 2021.",
    }
    index = _real_index(tmp_path, encoder, articles)
    for question, span in (("Where was Shinzo Abe shot?", "Nara"),
                           ("Which team won the Stanley Cup?", "Lightning")):
        assert _top_quote_and_span(index, question)[1] == span, question
    index.close()

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from qa.chunk import ChunkSettings, chunk_article, split_sentences
from qa.models import Article

WORDS = st.sampled_from(
    ["Russia", "said", "the", "U.S.", "Mr.", "strikes", "on", "Tuesday.", "“We", "are", "ready.”",
     "5 p.m.", "Syria", "and", "Lavrov", "11 million", "Inc.", "—", "?", "!", "e.g.", "ISIL,"]
)
PARAGRAPH = st.lists(WORDS, min_size=1, max_size=60).map(" ".join)
TEXT = st.lists(PARAGRAPH, min_size=1, max_size=8).map("\n\n".join)


@settings(max_examples=150, deadline=None)
@given(TEXT, st.integers(10, 80), st.integers(1, 6), st.integers(0, 2))
def test_chunks_are_verbatim_ordered_and_cover_every_sentence(text, words, most, overlap):
    article = Article(id="a1", text=text)
    chunks = chunk_article(article, ChunkSettings(target_words=words, max_sentences=most, overlap=overlap))
    sentences = split_sentences(text)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert len({c.id for c in chunks}) == len(chunks)
    covered = set()
    for chunk in chunks:
        assert article.text[chunk.start : chunk.end] == chunk.text
        assert chunk.sentences[0].start == chunk.start and chunk.sentences[-1].end == chunk.end
        assert len(chunk.sentences) <= most
        for sentence in chunk.sentences:
            piece = text[sentence.start : sentence.end]
            assert piece == piece.strip() and piece
            assert "\n\n" not in piece  # never across a paragraph break
            covered.add(sentence)
    assert covered == set(sentences)


def test_chunk_ids_are_stable_across_runs():
    article = Article(id="x", text="One sentence here. Another one there.\n\nA new paragraph starts.")
    assert [c.id for c in chunk_article(article)] == [c.id for c in chunk_article(article)]


def test_news_sentences_split_correctly():
    text = "Mr. Lavrov said the U.S. was wrong. He left at 5 p.m. on Tuesday.\n\nA new paragraph."
    pieces = [text[s.start : s.end] for s in split_sentences(text)]
    assert pieces == ["Mr. Lavrov said the U.S. was wrong.", "He left at 5 p.m. on Tuesday.", "A new paragraph."]

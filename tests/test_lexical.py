"""The tokenizer: the same terms for the same text however its accents are encoded."""

from __future__ import annotations

import unicodedata

from qa.lexical import term_spans, tokenize


def test_composed_and_decomposed_text_give_the_same_terms():
    text = "Der Bürgermeister von Zürich sprach über Café-Preise in Škoda-Werken."
    decomposed = unicodedata.normalize("NFD", text)
    assert decomposed != text
    assert tokenize(decomposed) == tokenize(text)
    assert "zürich" in tokenize(text)


def test_highlighting_covers_a_decomposed_word_whole():
    text = unicodedata.normalize("NFD", "Officials in Zürich said so.")
    (span,) = term_spans(text, set(tokenize("Zürich")))
    assert unicodedata.normalize("NFC", text[slice(*span)]) == "Zürich"

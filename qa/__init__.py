"""qa: answer questions over a news archive by quoting articles verbatim, with citations."""

from __future__ import annotations

from qa.errors import QAError
from qa.models import Answer, Article, Chunk, Passage, Quote, Sentence

__version__ = "0.1.0"

__all__ = ["Answer", "Article", "Chunk", "Passage", "Quote", "QAError", "Sentence", "__version__"]

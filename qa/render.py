"""Turn answers and index facts into terminal output (rich) or JSON. Only this module and the
CLI know about rich; article text is stripped of control characters before it reaches a screen."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.lexical import term_spans
from qa.models import Answer, Article, Quote

if TYPE_CHECKING:
    from qa.index import IndexInfo

_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe_text(text: str) -> str:
    """``text`` without terminal escape sequences or control characters (newlines and tabs kept)."""
    return _CONTROL.sub("", text)


def answer_as_dict(answer: Answer) -> dict[str, Any]:
    """The ``--json`` contract of one answer (``time_scope`` is an extra: the dates favoured)."""
    scope = answer.time_scope
    return {
        "question": answer.question,
        "answered": answer.answered,
        "quotes": [quote_as_dict(q) for q in answer.quotes],
        "time_scope": None if scope is None else {
            "start": scope.start.isoformat() if scope.start else None,
            "end": scope.end.isoformat() if scope.end else None,
            "reason": scope.reason,
        },
    }


def quote_as_dict(quote: Quote) -> dict[str, Any]:
    return {
        "rank": quote.rank,
        "text": quote.text,
        "score": quote.score,
        "article": article_as_dict(quote.article),
        "start": quote.start,
        "end": quote.end,
        "line": quote.line,
        "chunk_id": quote.chunk_id,
        "matched_terms": list(quote.matched_terms),
        "copies": [article_as_dict(a) for a in quote.copies],
        "answer_start": quote.answer_start,
        "answer_end": quote.answer_end,
        "answer": None if quote.answer_start is None
        else quote.article.text[quote.answer_start : quote.answer_end],
    }


def article_as_dict(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "title": article.title,
        "url": article.url,
        "path": article.path,
        "date": article.date,
        "source": article.source,
    }


def info_as_dict(facts: IndexInfo) -> dict[str, Any]:
    """The ``qa info --json`` object."""
    return {
        "index": facts.index_dir, "manifest": facts.manifest, "articles": facts.articles,
        "chunks": facts.chunks, "first_date": facts.first_date, "last_date": facts.last_date,
        "sources": dict(facts.sources), "size_bytes": facts.size_bytes, "files": facts.files,
    }


def shown_path(path: str) -> str:
    """A stored (resolved) path as a reader wants it: relative to the current folder when it
    lies under it, else as it is."""
    try:
        return os.path.relpath(path) if Path(path).is_relative_to(os.getcwd()) else path
    except (OSError, ValueError):  # no current folder (deleted), or another drive
        return path


def citation(article: Article, line: int | None, copies: tuple[Article, ...] = ()) -> str:
    """One line: title · date · source · where (path:line or URL) · the other outlets that
    published the same story."""
    parts = [short_title(article.title) if article.title else "(untitled)", article.date or "undated"]
    if article.source:
        parts.append(article.source)
    if article.path:
        where = shown_path(article.path)
        parts.append(f"{where}:{line}" if line else where)
    if article.url:
        parts.append(article.url)
    if copies:
        outlets = [
            f"{c.source or (c.path and shown_path(c.path)) or c.url or c.id} ({c.date or 'undated'})"
            for c in copies
        ]
        parts.append("also published by " + ", ".join(outlets))
    return " · ".join(safe_text(p) for p in parts)


TITLE_CHARS = 100  # a citation shows this much of a title; --json and the page show it all


def short_title(title: str, limit: int = TITLE_CHARS) -> str:
    """A title cut at a word to about ``limit`` characters, with an ellipsis when cut (some
    sources give a whole summary paragraph as the title)."""
    title = " ".join(title.split())
    if len(title) <= limit:
        return title
    cut = title[: limit - 1].rsplit(" ", 1)[0] if " " in title[: limit - 1] else title[: limit - 1]
    return cut.rstrip(" ,;:—–-") + "…"


def quote_citation(quote: Quote) -> str:
    """The citation line of a quote, copies included."""
    return citation(quote.article, quote.line, quote.copies)


def output_console(stream: Any = None) -> Any:
    """A rich console for results: on a terminal it wraps to the screen; to a pipe or file it
    never hard-wraps a line and writes no colour or escape codes."""
    import sys

    from rich.console import Console

    stream = stream or sys.stdout
    terminal = stream.isatty()
    return Console(file=stream, highlight=False, soft_wrap=not terminal, no_color=not terminal,
                   force_terminal=terminal)


def render_answer(answer: Answer, console: Any, first_rank: int = 1) -> None:
    """Print an answer: each quote (from ``first_rank`` on) with the question's words
    highlighted and the span that most likely answers in bold, then its citation."""
    from rich.text import Text

    if answer.time_scope is not None and first_rank == 1:
        console.print(Text(f"Favouring news from {answer.time_scope.describe()}", style="dim"))
    if not answer.quotes:
        console.print(Text("Nothing in the archive matches this question.", style="yellow"))
        return
    if not answer.answered and first_rank == 1:
        console.print(
            Text("The archive does not seem to answer this. Closest passages:", style="yellow")
        )
    for quote in answer.quotes[first_rank - 1 :]:
        body = Text(f"{quote.rank}. ", style="bold")
        text = safe_text(quote.text)
        quoted = Text("“" + text + "”", style=None if answer.answered else "dim")
        for start, end in term_spans(text, set(quote.matched_terms)):
            quoted.stylize("cyan", start + 1, end + 1)
        if quote.answer_start is not None and quote.answer_end is not None:
            before = len(safe_text(quote.text[: quote.answer_start - quote.start]))
            inside = len(safe_text(quote.text[quote.answer_start - quote.start : quote.answer_end - quote.start]))
            quoted.stylize("bold", before + 1, before + inside + 1)
        body.append_text(quoted)
        console.print(body)
        console.print(
            Text("   — " + quote_citation(quote), style="green")
        )
        console.print()

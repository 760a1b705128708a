"""Measure answers against gold questions: hit@k of a source article, MRR@10, answers found
inside the quotes, and how well the bot declines questions the archive cannot answer."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit

from qa.answer import AnswerSettings, answer_questions
from qa.errors import InputError
from qa.index import Index
from qa.ingest import record_id
from qa.models import Answer, Article
from qa.when import parse_day


@dataclass(frozen=True)
class GoldQuestion:
    """A question with the articles that answer it and strings a correct quote contains.

    Neither ``sources`` nor ``answers``: the archive cannot answer it and the bot must decline.
    """

    id: str
    question: str
    sources: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()
    date: date | None = None  # when the question was asked

    @property
    def answerable(self) -> bool:
        return bool(self.sources or self.answers)


@dataclass(frozen=True)
class QuestionResult:
    gold: GoldQuestion
    answer: Answer
    source_rank: int | None  # 1-based rank of the first quote from a source article
    answer_rank: int | None  # 1-based rank of the first quote that contains an answer string


@dataclass(frozen=True)
class EvalReport:
    metrics: dict[str, float | int | None]
    results: tuple[QuestionResult, ...] = field(default=())

    def misses(self) -> list[QuestionResult]:
        """Answerable questions with no source in the top 5, or no answer in the top-5 quotes,
        and unanswerable questions that were answered."""
        return [
            r for r in self.results
            if (r.gold.answerable and ((r.gold.sources and (r.source_rank or 99) > 5)
                                       or (r.gold.answers and (r.answer_rank or 99) > 5)))
            or (not r.gold.answerable and r.answer.answered)
        ]


def load_gold(path: str | Path) -> list[GoldQuestion]:
    """Read gold questions from JSON Lines (``question`` required; ``id``, ``sources``,
    ``answers``, ``date`` optional). Any bad line is an error: a benchmark must be whole."""
    from qa.batch import BadRow, read_questions

    path = Path(path)
    if path.suffix.lower() != ".jsonl":
        raise InputError(f"{path}: gold questions must be a .jsonl file")
    gold = []
    for row in read_questions(path):
        if isinstance(row, BadRow):
            raise InputError(f"{path}:{row.line}: {row.reason}")
        try:
            asked = parse_day(str(row.extra["date"])) if row.extra.get("date") else None
        except ValueError:
            raise InputError(f"{path}:{row.line}: 'date' is not a YYYY-MM-DD date") from None
        gold.append(
            GoldQuestion(
                id=row.id,
                question=row.question,
                sources=tuple(str(s) for s in row.extra.get("sources") or ()),
                answers=tuple(str(a) for a in row.extra.get("answers") or ()),
                date=asked,
            )
        )
    if not gold:
        raise InputError(f"no questions in {path}")
    return gold


def evaluate(
    index: Index,
    gold: Sequence[GoldQuestion],
    *,
    k: int = 10,
    use_dates: bool = True,
    settings: AnswerSettings = AnswerSettings(),
    batch_size: int = 64,
    show_progress: bool = False,
) -> EvalReport:
    """Answer every gold question with ``k`` quotes and score the answers; with ``use_dates``,
    each question is asked as of its gold ``date``."""
    from tqdm import tqdm

    results = []
    with tqdm(total=len(gold), unit="q", desc="evaluating", disable=not show_progress,
              leave=False) as progress:
        for first in range(0, len(gold), batch_size):
            batch = gold[first : first + batch_size]
            answers = answer_questions(
                index, [g.question for g in batch], k=k, settings=settings,
                as_of=[g.date if use_dates else None for g in batch],
            )
            for item, answer in zip(batch, answers):
                results.append(
                    QuestionResult(item, answer, _source_rank(item, answer), _answer_rank(item, answer))
                )
            progress.update(len(batch))
    return EvalReport(metrics=summarize(results), results=tuple(results))


def summarize(results: Sequence[QuestionResult]) -> dict[str, float | int | None]:
    """The metrics of a run; rates are over the questions that have the needed gold field."""
    with_sources = [r for r in results if r.gold.sources]
    with_answers = [r for r in results if r.gold.answers]
    unanswerable = [r for r in results if not r.gold.answerable]
    declined = [r for r in results if not r.answer.answered]
    metrics: dict[str, float | int | None] = {
        "questions": len(results),
        "with_sources": len(with_sources),
        "with_answers": len(with_answers),
        "unanswerable": len(unanswerable),
    }
    for cutoff in (1, 5, 10):
        metrics[f"hit@{cutoff}"] = _rate(
            sum(1 for r in with_sources if r.source_rank and r.source_rank <= cutoff), len(with_sources)
        )
    metrics["mrr@10"] = _rate(
        sum(1 / r.source_rank for r in with_sources if r.source_rank and r.source_rank <= 10),
        len(with_sources),
    )
    for cutoff in (1, 5):
        metrics[f"answer_in_quotes@{cutoff}"] = _rate(
            sum(1 for r in with_answers if r.answer_rank and r.answer_rank <= cutoff), len(with_answers)
        )
    truly_declined = sum(1 for r in declined if not r.gold.answerable)
    metrics["abstention_precision"] = _rate(truly_declined, len(declined))
    metrics["abstention_recall"] = _rate(truly_declined, len(unanswerable))
    metrics["answered_rate"] = _rate(
        sum(1 for r in results if r.gold.answerable and r.answer.answered),
        sum(1 for r in results if r.gold.answerable),
    )
    return metrics


def _rate(numerator: float, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _source_rank(gold: GoldQuestion, answer: Answer) -> int | None:
    wanted = {_normalize_reference(s) for s in gold.sources}
    wanted |= {os.path.realpath(s) for s in gold.sources if "://" not in s}  # a path, as typed
    for quote in answer.quotes:
        if any(wanted & _article_references(a) for a in (quote.article, *quote.copies)):
            return quote.rank
    return None


def _answer_rank(gold: GoldQuestion, answer: Answer) -> int | None:
    wanted = [_normalize_text(a) for a in gold.answers if a.strip()]
    for quote in answer.quotes:
        text = _normalize_text(quote.text)
        if any(w in text for w in wanted):
            return quote.rank
    return None


def _article_references(article: Article) -> set[str]:
    """What a gold ``sources`` entry may name an article by: its id, a JSON record's own id, its
    URL or its path."""
    names = (article.id, record_id(article.id), article.url, article.path)
    return {_normalize_reference(r) for r in names if r}


def _normalize_reference(reference: str) -> str:
    """Compare URLs without scheme, www., fragment (``#:~:text=``), query or trailing slash."""
    if "://" in reference:
        parts = urlsplit(reference)
        host = parts.netloc.lower().removeprefix("www.")
        return f"{host}{parts.path.rstrip('/')}"
    return reference.strip()


def _normalize_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", text).strip()

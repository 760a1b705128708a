"""The answer span inside the quotes (bold in the terminal, ``answer_start``/``answer_end`` in
--json): of the realtimeqa-dev questions whose top-5 quotes hold a gold answer, how often the
first such quote marks a span, and how often that span holds the answer (or lies inside it).

    python bench/answer_spans.py [--data ../shared/data/realtimeqa-dev] [--index bench/.cache/dev-index]
                                 [--split fit|report|all] [--misses]

No weight is fitted on these spans (answer_span is a rule); the fit and report weeks are those
of bench/fit_scorer.py. Builds the dev index on first use (as bench/quality.py does).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from fit_scorer import split_weeks
from quality import ensure_index

from qa.answer import answer_questions
from qa.evaluate import _normalize_text, load_gold
from qa.index import Index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared/data/realtimeqa-dev"))
    parser.add_argument("--index", default=str(REPO / "bench/.cache/dev-index"))
    parser.add_argument("--split", default="report", choices=("fit", "report", "all"))
    parser.add_argument("--misses", action="store_true", help="list the spans that miss")
    options = parser.parse_args()
    ensure_index(Path(options.data), Path(options.index), "auto")
    gold = load_gold(Path(options.data) / "questions.jsonl")
    if options.split != "all":
        gold = split_weeks(gold)[0 if options.split == "fit" else 1]
    answers = answer_questions(Index.open(options.index), [g.question for g in gold], k=5,
                               as_of=[g.date for g in gold])
    held = marked = right = 0
    for item, answer in zip(gold, answers):
        wanted = [_normalize_text(a) for a in item.answers if a.strip()]
        quote = next((q for q in answer.quotes
                      if any(w in _normalize_text(q.text) for w in wanted)), None)
        if quote is None:
            continue
        held += 1
        if quote.answer_start is None or quote.answer_end is None:
            continue
        marked += 1
        span = _normalize_text(quote.article.text[quote.answer_start : quote.answer_end])
        hit = any(w in span or (span and span in w) for w in wanted)
        right += hit
        if options.misses and not hit:
            print(f"miss: {item.question!r}: want {item.answers!r}, span {span!r}", file=sys.stderr)
    print(f"## Answer spans, realtimeqa-dev {options.split} questions ({len(gold)})\n")
    print("| top-5 quotes hold the answer | that quote marks a span | the span holds the answer |")
    print("| --- | --- | --- |")
    print(f"| {held} | {marked} | {right} ({right / max(marked, 1):.3f} of the marked) |")


if __name__ == "__main__":
    main()

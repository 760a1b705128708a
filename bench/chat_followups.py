"""Follow-ups in conversation: is the expected answer in the top-3 quotes of each follow-up
turn of bench/conversations.jsonl, when the chat resolves it (qa/followup.py), with the rule
before it (the previous question's subject words in brackets), and asked alone?

    python bench/chat_followups.py [--split dev|test|all] [--data ../shared/data/realtimeqa-dev]
                                   [--index bench/.cache/dev-index] [--misses]

Each conversation is asked as of its date, like a reader chatting that week; a resolved
follow-up favours the article of the previous answer, as in the chat. Builds the dev index on
first use (as bench/quality.py does). Design rules on dev (conversations of the weeks up to
2022-07-14); report test (the later weeks).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from quality import ensure_index

from qa.answer import ask
from qa.evaluate import _normalize_text
from qa.followup import resolve_follow_up
from qa.index import Index
from qa.lexical import words
from qa.models import Answer
from qa.when import parse_day

K = 3


@dataclass
class Turn:
    question: str
    understood_as: str
    answer: Answer
    referent: str | None = None


# The rule the chat used before qa/followup.py (kept here as the baseline only).
_PRONOUNS = {"that", "this", "it", "its", "he", "she", "him", "her", "his", "they", "them",
             "their", "there", "then", "those", "these", "one"}
_FOLLOW_UP_START = re.compile(r"^(?:and|but|also|so|what about|how about|and what about)\b", re.IGNORECASE)
_QUESTION_WORDS = {"who", "what", "when", "where", "why", "how", "which", "whom", "whose", "did",
                   "does", "do", "is", "was", "were", "are", "said", "say", "says", "and", "but",
                   "the", "a", "an", "of", "to", "in", "on", "for", "about", "start", "started",
                   "begin", "happen", "happened", "mean", "more", "else"}


def _subject_words(question: str) -> list[str]:
    kept = []
    for word in re.findall(r"[\w’'-]+", question):
        lowered = word.lower()
        if lowered not in _QUESTION_WORDS and lowered not in _PRONOUNS and word not in kept:
            kept.append(word)
    return kept


def previous_rule(question: str, previous_subject: list[str]) -> tuple[str, list[str]]:
    own = _subject_words(question)
    if not previous_subject:
        return question, own
    tokens = words(question)
    leans = (_FOLLOW_UP_START.search(question) is not None
             or (any(t in _PRONOUNS for t in tokens) and len(own) <= 2) or len(tokens) <= 3)
    if not leans:
        return question, own
    carried = previous_subject + [w for w in own if w not in previous_subject]
    context = [w for w in previous_subject if w not in own]
    return f"{question} ({' '.join(context)})", carried[-12:]


def found(answer: Answer, expected: str) -> bool:
    wanted = _normalize_text(expected)
    return any(wanted in _normalize_text(q.text) for q in answer.quotes[:K])


def run(index: Index, conversations: list[dict], misses: bool) -> dict[str, float]:
    hits = {"resolved": 0, "previous rule": 0, "alone": 0}
    total = 0
    for conversation in conversations:
        day = parse_day(conversation["date"])
        history: list[Turn] = []
        subject: list[str] = []
        for number, turn in enumerate(conversation["turns"]):
            question, expected = turn["question"], turn["answer"]
            resolution = resolve_follow_up(question, history)
            resolved = resolution.searched
            old, subject = previous_rule(question, subject)
            answer = ask(index, resolved, k=K, as_of=day, context=resolution.context)
            history.append(Turn(question, resolved, replace(answer, question=question),
                                resolution.referent))
            if number == 0:
                continue
            total += 1
            outcome = {"resolved": found(answer, expected),
                       "previous rule": found(ask(index, old, k=K, as_of=day), expected),
                       "alone": found(ask(index, question, k=K, as_of=day), expected)}
            for name, hit in outcome.items():
                hits[name] += hit
            if misses and not outcome["resolved"]:
                marks = " ".join(f"{name}={'hit' if hit else 'miss'}" for name, hit in outcome.items())
                print(f"miss {conversation['id']}: {question!r} -> {resolved!r} "
                      f"(want {expected!r}; {marks}; previous rule searched {old!r}); "
                      f"top: {answer.quotes[0].text[:100] if answer.quotes else None!r}",
                      file=sys.stderr)
    return {name: round(value / total, 3) for name, value in hits.items()} | {"follow-ups": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=("dev", "test", "all"))
    parser.add_argument("--data", default=str(REPO.parent / "shared/data/realtimeqa-dev"))
    parser.add_argument("--index", default=str(REPO / "bench/.cache/dev-index"))
    parser.add_argument("--misses", action="store_true", help="list follow-ups resolution missed")
    options = parser.parse_args()
    ensure_index(Path(options.data), Path(options.index), "auto")
    conversations = [json.loads(line) for line in (REPO / "bench/conversations.jsonl").open()]
    chosen = [c for c in conversations if options.split in ("all", c["split"])]
    metrics = run(Index.open(options.index), chosen, options.misses)
    print(f"## Follow-ups answered (expected answer in the top-{K} quotes), {options.split} split, "
          f"{len(chosen)} conversations, {metrics['follow-ups']} follow-up turns\n")
    print("| follow-up searched | answered |\n| --- | --- |")
    print(f"| resolved by the chat (qa/followup.py) | {metrics['resolved']:.3f} |")
    print(f"| previous rule (previous subject words in brackets) | {metrics['previous rule']:.3f} |")
    print(f"| asked alone | {metrics['alone']:.3f} |")


if __name__ == "__main__":
    main()

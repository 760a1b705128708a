"""Follow-up questions resolved against the conversation: a pronoun ("What did he say about
Bashar?") becomes the entity that the previous answer's top quote names for its role, and a
short elliptical question ("Where?", "And eggs?") borrows the previous question's frame.

Anchor: history-based query expansion (HQE, Lin et al. 2020, TREC CAsT) adds terms from
earlier turns; here the answer's own entity replaces the pronoun, and the earlier turn's topic
words are added after it. A complete question with its own subject is never expanded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from qa.entities import NAMED, PERSON, PLACE, find_mentions, is_person_noun
from qa.models import Answer

_PERSON_PRONOUNS = {"he", "she", "him", "her", "his", "hers", "himself", "herself"}
_THING_PRONOUNS = {"it", "its", "itself", "they", "them", "their", "theirs", "this", "that",
                   "these", "those"}
_PLACE_PRONOUNS = {"there"}
_QUESTION_WORDS = {"who", "whom", "whose", "what", "when", "where", "why", "how", "which"}
_FUNCTION_WORDS = _QUESTION_WORDS | _PERSON_PRONOUNS | _THING_PRONOUNS | _PLACE_PRONOUNS | {
    "a", "an", "the", "of", "to", "in", "on", "at", "for", "from", "by", "with", "about", "and",
    "or", "but", "so", "is", "are", "was", "were", "be", "been", "do", "does", "did", "has",
    "have", "had", "will", "would", "can", "could", "should", "may", "might", "say", "said",
    "says", "tell", "told", "many", "much", "long", "old", "one", "ones", "also", "then", "now",
    "this", "week", "year", "according", "recently", "new", "up", "out", "more", "get", "got",
}
_ELLIPSIS_START = re.compile(r"^(?:and|but|also|so|what about|how about|and what about)\b\s*",
                             re.IGNORECASE)
_WORD = re.compile(r"[\w’'.&-]+")
# A pronoun used as a determiner or a time word is not a reference to the conversation.
_NOT_REFERRING = re.compile(r"\b(?:this|that|these|those)\s+(?:year|week|month|day|time|"
                            r"morning|evening|summer|season|weekend)\b", re.IGNORECASE)


class PastTurn(Protocol):
    """What resolution reads of an earlier exchange (the chat's turns have it)."""

    question: str
    understood_as: str
    answer: Answer


@dataclass(frozen=True)
class ResolvedQuestion:
    """The question as asked, the question to search, and what was substituted."""

    asked: str
    searched: str
    referent: str | None = None  # the entity a pronoun was resolved to
    added_terms: tuple[str, ...] = ()  # topic words carried from earlier turns

    @property
    def expanded(self) -> bool:
        return self.searched != self.asked


def resolve_follow_up(question: str, previous_turns: Sequence[PastTurn]) -> ResolvedQuestion:
    """Resolve ``question`` against the turns before it (oldest first)."""
    question = " ".join(question.split())
    if not previous_turns:
        return ResolvedQuestion(question, question)
    last = previous_turns[-1]
    tokens = [t.lower() for t in _WORD.findall(question)]
    pronouns = _referring_pronouns(question, tokens)
    own_names = _own_names(question)
    elliptical = _is_elliptical(question)
    if not pronouns and not elliptical:
        return ResolvedQuestion(question, question)  # complete: its own subject
    if not pronouns and own_names and not _ELLIPSIS_START.match(question):
        return ResolvedQuestion(question, question)  # "Who is Putin?"
    topic = _topic_terms(last.understood_as, exclude=set(tokens))
    if pronouns:
        role = _role(pronouns[0])
        referent = _referent(role, last)
        # The answer's entity, then the previous question's topic words (HQE-style), in brackets.
        extra = [t for t in topic if referent is None or t.lower() not in referent.lower()]
        extra = ([referent] if referent else []) + extra[:_TOPIC_TERMS]
        searched = f"{question} ({' '.join(extra)})" if extra else question
        return ResolvedQuestion(question, searched, referent, tuple(extra))
    # Elliptical: "And eggs?", "Where?", "What about flour?" take the frame of the last
    # question that was not itself elliptical.
    rest = _ELLIPSIS_START.sub("", question).rstrip("?").strip()
    if not rest:
        return ResolvedQuestion(question, question)
    frame = next((t.understood_as for t in reversed(previous_turns)
                  if not _is_elliptical(t.question)), last.understood_as)
    if rest.lower() in _QUESTION_WORDS:
        searched = re.sub(r"^\s*\w+", rest.capitalize(), frame, count=1)
        return ResolvedQuestion(question, searched, None, tuple(topic))
    return ResolvedQuestion(question, f"{rest}: {frame}", None, tuple(topic))


def _is_elliptical(question: str) -> bool:
    return _ELLIPSIS_START.match(question) is not None or len(_WORD.findall(question)) <= 2


# How many topic words of the previous question follow the pronoun's referent: chosen on the dev
# conversations of bench/conversations.jsonl by bench/chat_followups.py (the referent in brackets
# with 12 words: 0.818; substituted for the pronoun with 4 or 12: 0.800).
_TOPIC_TERMS = 12


def _referring_pronouns(question: str, tokens: list[str]) -> list[str]:
    cleaned = _NOT_REFERRING.sub(" ", question)
    found = [t.lower() for t in _WORD.findall(cleaned)]
    referring = _PERSON_PRONOUNS | {"it", "its", "they", "them", "their", "there"}
    return [t for t in found if t in referring]


def _own_names(question: str) -> list[str]:
    return [question[m.start:m.end] for m in find_mentions(question) if m.kind in NAMED]


def _role(pronoun: str) -> str:
    if pronoun in _PERSON_PRONOUNS:
        return PERSON
    if pronoun in _PLACE_PRONOUNS:
        return PLACE
    return "thing"


def _referent(role: str, turn: PastTurn) -> str | None:
    """The entity for ``role``: the previous answer's answer span when it names one, then the
    names of the previous answer's top quote (people) or of the previous question (things,
    places), then the rest."""
    answer_names: list[str] = []
    quote_names: list[str] = []
    answer = turn.answer
    if answer.quotes:
        quote = answer.quotes[0]
        if quote.answer_start is not None and quote.answer_end is not None:
            span = quote.article.text[quote.answer_start : quote.answer_end].strip(" “”\"‘’.,")
            if span[:1].isupper() and len(span.split()) <= 6 and any(
                _fits(role, m.kind) for m in find_mentions(span)
            ):
                answer_names.append(_full_name(span, quote.article.text))
        quote_names = [_full_name(quote.text[m.start:m.end], quote.article.text)
                       for m in find_mentions(quote.text)
                       if (m.kind == PERSON if role == PERSON else _fits(role, m.kind))]
    asked = [turn.understood_as[m.start:m.end] for m in find_mentions(turn.understood_as)
             if _fits(role, m.kind)]
    ordered = answer_names + (quote_names + asked if role == PERSON else asked + quote_names)
    ordered = [c for c in ordered if c.lower() not in _FUNCTION_WORDS and not is_person_noun(c)]
    return ordered[0] if ordered else None


def _fits(role: str, kind: str) -> bool:
    if role == PERSON:
        return kind in (PERSON, "name")
    if role == PLACE:
        return kind in (PLACE, "name")
    return kind in NAMED


def _full_name(name: str, text: str) -> str:
    """The longest mention in ``text`` that ends with ``name`` ("Haj Ali" -> "Hassan Haj Ali")."""
    best = name
    for mention in find_mentions(text):
        value = text[mention.start : mention.end]
        close = len(value.split()) <= len(name.split()) + 2
        if value.endswith(" " + name) and close and len(value) > len(best):
            best = value
    return best


def _topic_terms(question: str, exclude: set[str]) -> list[str]:
    """The content words of an earlier question, names first."""
    words = [w.strip(".?,") for w in _WORD.findall(question)]
    kept: list[str] = []
    for word in sorted(words, key=lambda w: not w[:1].isupper()):
        lowered = word.lower()
        if lowered and lowered not in _FUNCTION_WORDS and lowered not in exclude and word not in kept:
            kept.append(word)
    return kept

"""Follow-up questions resolved against the conversation: a pronoun ("What did he say about
Bashar?") is resolved to the most salient name of the previous turn that fits its role (a person
for he/she, an organisation, place or thing for it, a group for they, a place for there), and a
short elliptical question ("Where?", "And eggs?") borrows the previous question's frame.

Anchor: history-based query expansion (HQE, Lin et al. 2020, TREC CAsT) adds terms from
earlier turns and earlier retrieved passages; here the answer's own entity goes first in
brackets after the question, then the earlier turn's topic words. A complete question with its
own subject is never expanded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from qa.entities import (NAME, NAMED, ORGANISATION, PERSON, PLACE, _places, article_name_kinds,
                         asked_kind, dateline_end, find_mentions, is_person_noun)
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
    # A turn may also keep ``referent``: what its own pronoun was resolved to (the chat's do).


@dataclass(frozen=True)
class ResolvedQuestion:
    """The question as asked, the question to search, and what was substituted."""

    asked: str
    searched: str
    referent: str | None = None  # the entity a pronoun was resolved to
    added_terms: tuple[str, ...] = ()  # topic words carried from earlier turns
    context: tuple[str, ...] = ()  # ids of the articles it follows up on (the previous answer's)

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
        referent = _referent(role, pronouns[0], last)
        # The answer's entity, then the previous question's topic words (HQE-style), in brackets.
        named = referent.lower() if referent else ""
        extra = [t for t in topic if _bare(t).lower() not in named]
        kept = _REFERENT_TOPIC_TERMS if referent else _TOPIC_TERMS
        extra = ([referent] if referent else []) + extra[:kept]
        searched = f"{question} ({' '.join(extra)})" if extra else question
        return ResolvedQuestion(question, searched, referent, tuple(extra), _context(last))
    # Elliptical: "And eggs?", "Where?", "What about flour?" take the frame of the last
    # question that was not itself elliptical.
    rest = _ELLIPSIS_START.sub("", question).rstrip("?").strip()
    if not rest:
        return ResolvedQuestion(question, question)
    frame = next((t.understood_as for t in reversed(previous_turns)
                  if not _is_elliptical(t.question)), last.understood_as)
    if rest.lower() in _QUESTION_WORDS:
        searched = re.sub(r"^\s*\w+", rest.capitalize(), frame, count=1)
        return ResolvedQuestion(question, searched, None, tuple(topic), _context(last))
    # "And eggs?": the question as asked, the frame's topic words in brackets (as for pronouns).
    frame_terms = _topic_terms(frame, exclude=set(tokens))[:_TOPIC_TERMS]
    return ResolvedQuestion(question, f"{question} ({' '.join(frame_terms)})", None,
                            tuple(frame_terms), _context(last))


def _context(turn: PastTurn) -> tuple[str, ...]:
    """The articles a follow-up to ``turn`` is about: its top quote's (the articles of its first
    three quotes did worse on the dev conversations of bench/chat_followups.py)."""
    return tuple(q.article.id for q in turn.answer.quotes[:1])


def _bare(word: str) -> str:
    """A word without its possessive ("Griner’s" -> "Griner")."""
    return word.removesuffix("’s").removesuffix("'s")


def _is_elliptical(question: str) -> bool:
    return _ELLIPSIS_START.match(question) is not None or len(_WORD.findall(question)) <= 2


# How many topic words of the previous question follow the pronoun's referent (and an elliptical
# question): chosen on the dev conversations of bench/conversations.jsonl by
# bench/chat_followups.py (the referent in brackets with 12 words: 0.818; substituted for the
# pronoun with 4 or 12: 0.800; with the salience-ranked referent and 12 words: 0.855).
_TOPIC_TERMS = 12
# Fewer after a named referent, which carries the subject itself: same bench, dev conversations
# (0 words: 0.891, 4: 0.891, 8: 0.855, 12: 0.855); 4 keeps some topic where the referent is wrong.
# With the 24 dev conversations added later (61 in all, 91 follow-ups): 0 words 0.813, 2: 0.813,
# 4: 0.835.
_REFERENT_TOPIC_TERMS = 4


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
    if pronoun in ("they", "them", "their"):
        return "group"
    return "thing"


# How much each place a candidate referent appears in counts toward its salience: chosen on the
# dev conversations of bench/conversations.jsonl by bench/chat_followups.py.
_ASKED_ANSWER = 3.0  # the previous answer's span, typed as the previous question asked
_ANSWER = 1.5  # the previous answer's span otherwise
_QUESTION = 2.0  # a name of the previous question (its subject, or the referent it was given)
# The same, when that question asked for a name of the pronoun's kind: on the 61 dev conversations
# (context boost 0.5, before the weekday and contraction rules) 2.0 (as _QUESTION) 0.813, 1.0
# 0.824; on the first 37, 2.0, 1.0, 0.5 and 0 all gave 0.891.
_QUESTION_ASKING = 1.0
_TOP_QUOTE = 1.0  # a name of the previous answer's top quote
_OTHER_QUOTE = 0.5  # a name of its second and third quotes
_ARTICLE = 0.5  # times the log of how often the top quote's article repeats the name

_TYPED = 1.0  # a name that the article types as the role's kind (a person for he/she)

# The kinds of name each pronoun's role can stand for, best first: he/she a person (or an untyped
# name), it an organisation, place or thing (never a person), they a group (one person only when
# no group is named), there a place (or an untyped name).
_ROLE_KINDS = {
    PERSON: ({PERSON, NAME},),
    PLACE: ({PLACE, NAME},),
    "thing": ({ORGANISATION, PLACE, NAME},),
    "group": ({ORGANISATION, NAME}, {PERSON}),
}
_ROLE_KIND = {PERSON: PERSON, PLACE: PLACE, "thing": ORGANISATION, "group": ORGANISATION}


@dataclass
class _Candidate:
    """A name that a pronoun may stand for, keyed by its last word ("Gronkowski")."""

    name: str
    tier: int  # which of the role's kinds it is (0: the best)
    score: float = 0.0


def _referent(role: str, pronoun: str, turn: PastTurn) -> str | None:
    ranked = _candidates(role, pronoun, turn)
    return ranked[0].name if ranked else None


def _candidates(role: str, pronoun: str, turn: PastTurn) -> list[_Candidate]:
    """The names of the previous turn that fit ``role``, best kind first and most salient first
    within a kind: salience adds up a name's appearances in the previous question (its subject, or
    the referent it was given), in the answer span it asked for, in the answer's quotes and in
    the top quote's article. The article also types names (a name it calls a person is a
    person) and, by its pronouns, gives people a gender."""
    quotes = turn.answer.quotes[:3]
    article = quotes[0].article.text if quotes else ""
    kinds = _article_kinds(article)
    candidates: dict[str, _Candidate] = {}

    def add(name: str, kind: str, weight: float) -> None:
        name = _TRAILING_DAY.sub("", _bare(name.strip(" “”\"‘’.,")))  # "Instagram Thursday"
        if (not name or name.lower() in _FUNCTION_WORDS or is_person_noun(name) or _demonym(name)
                or _CONTRACTION.search(name) or name in _TIME_ZONES):
            return
        head = name.split()[-1]
        typed = kinds.get(head, kind)
        tier = next((n for n, allowed in enumerate(_ROLE_KINDS[role]) if typed in allowed), None)
        if tier is None or (role == PERSON and typed == NAME and not _person_shaped(name)):
            return
        if role == PERSON and _gender_disagrees(pronoun, head, article):
            return
        candidate = candidates.get(head)
        if candidate is None:  # first sighting: its typing and its article's salience, once
            repeats = len(re.findall(rf"\b{re.escape(head)}\b", article))
            typed_bonus = _TYPED if typed == _ROLE_KIND[role] else 0.0
            candidate = candidates[head] = _Candidate(name, tier,
                                                      typed_bonus + _ARTICLE * math.log1p(repeats))
        if len(name) > len(candidate.name):
            candidate.name = name
        candidate.tier = min(candidate.tier, tier)
        candidate.score += weight

    earlier_referent = getattr(turn, "referent", None)  # a chat turn keeps what it resolved to
    asked = asked_kind(turn.question)
    # When the previous question asked for a name the pronoun can stand for ("Which team won the
    # Stanley Cup?" - "their coach"), the pronoun means its answer, not the names it asked with.
    answer_fits = asked in _ROLE_KINDS[role][0]
    for text, weight in ((turn.question, _QUESTION_ASKING if answer_fits else _QUESTION),
                         (earlier_referent or "", _QUESTION)):
        for mention in find_mentions(text):
            add(text[mention.start : mention.end], mention.kind, weight)
    if quotes and quotes[0].answer_start is not None and quotes[0].answer_end is not None:
        span = quotes[0].article.text[quotes[0].answer_start : quotes[0].answer_end]
        for mention in find_mentions(span):
            head = span[mention.start : mention.end].split()[-1]
            typed = kinds.get(head, mention.kind)
            as_asked = typed == asked or (asked == NAME and typed in NAMED)
            weight = _ASKED_ANSWER if as_asked else _ANSWER
            add(span[mention.start : mention.end], mention.kind, weight)
    for rank, quote in enumerate(quotes):
        dateline = dateline_end(quote.text)  # "Tokyo (CNN)" names neither what nor who
        for mention in find_mentions(quote.text):
            if mention.start < dateline:
                continue
            name = _full_name(quote.text[mention.start : mention.end], quote.article.text)
            add(name, mention.kind, _TOP_QUOTE if rank == 0 else _OTHER_QUOTE)
    return sorted(candidates.values(), key=lambda c: (c.tier, -c.score))


_TIME_ZONES = {"ET", "EDT", "EST", "CT", "CDT", "CST", "MT", "MDT", "MST", "PT", "PDT", "PST",
               "GMT", "UTC", "BST", "CET", "CEST"}
_TRAILING_DAY = re.compile(r"\s+(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)$")
_CONTRACTION = re.compile(r"\w[’'](?:re|ll|ve|d|m|t)\b")  # "You're", "Don't": not names


def _article_kinds(text: str) -> dict[str, str]:
    """The kind the article gives each name's last word, where its mentions agree on one."""
    return article_name_kinds(text, find_mentions(text))


def _person_shaped(name: str) -> bool:
    """Two to four capitalised words: how a person's name looks when nothing types it."""
    words = name.split()
    return 2 <= len(words) <= 4 and all(w[:1].isupper() for w in words)


def _demonym(name: str) -> bool:
    """An adjective of a place ("Russian", "Sri Lankan", "Chinese"), not a referent."""
    places = _places()  # the place list that typing uses
    return any(name.endswith(end) and name[: len(name) - len(end)] + add in places
               for end, add in (("n", ""), ("an", ""), ("ian", "ia"), ("ese", "a"), ("ish", "")))


_MALE = re.compile(r"\b(?:he|him|his|himself)\b", re.IGNORECASE)
_FEMALE = re.compile(r"\b(?:she|her|hers|herself)\b", re.IGNORECASE)


def _gender_disagrees(pronoun: str, head: str, article: str) -> bool:
    """Whether the article's pronouns right after each mention of ``head`` (in the same or the next
    sentence) clearly give the person the other gender than ``pronoun``."""
    male = female = 0
    for match in re.finditer(rf"\b{re.escape(head)}\b", article):
        after = article[match.end() : match.end() + 200]
        after = ".".join(after.split(".")[:2])
        male += len(_MALE.findall(after))
        female += len(_FEMALE.findall(after))
    wanted_male = pronoun in ("he", "him", "his", "himself")
    same, other = (male, female) if wanted_male else (female, male)
    return other >= 2 and other >= 3 * same


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

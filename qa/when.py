"""Time in questions: "this week", "recently", "in November 2015" become a date range that
retrieval favours, relative to an as-of date (given, or the newest article in the archive)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from qa.errors import InputError

_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): number for number, name in enumerate(calendar.month_abbr) if name})
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))

_EXPLICIT_MONTH = re.compile(rf"\b(?:in|during|of)\s+({_MONTH})\.?\s+(\d{{4}})\b", re.I)
_EXPLICIT_YEAR = re.compile(r"\b(?:in|during)\s+((?:19|20)\d{2})\b(?!\s*-)", re.I)

# Relative expressions and how many days back from the as-of date they reach.
_RELATIVE = [
    (re.compile(r"\b(?:today|tonight|this morning)\b", re.I), 1),
    (re.compile(r"\byesterday\b", re.I), 2),
    (re.compile(r"\b(?:this|past)\s+weekend\b", re.I), 4),
    (re.compile(r"\b(?:this|past)\s+week\b|\bthese days\b", re.I), 7),
    (re.compile(r"\b(?:last|previous)\s+week\b", re.I), 14),
    (re.compile(r"\b(?:this|past)\s+month\b", re.I), 31),
    (re.compile(r"\b(?:last|previous)\s+month\b", re.I), 62),
    (re.compile(r"\b(?:this|past)\s+year\b", re.I), 366),
    (re.compile(r"\b(?:recent|recently|latest|newest|lately|currently|so far)\b", re.I), 7),
]


@dataclass(frozen=True)
class TimeScope:
    """A date range that retrieval favours (``boost``) or keeps to (``until`` only for as-of)."""

    start: date | None
    end: date | None
    reason: str  # what in the question or settings produced it, shown to the user

    def contains(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def describe(self) -> str:
        start = self.start.isoformat() if self.start else "…"
        end = self.end.isoformat() if self.end else "…"
        return f"{start} to {end} ({self.reason})"


def time_scope(question: str, as_of: date | None) -> TimeScope | None:
    """The date range a question points at, if any; relative words count back from ``as_of``."""
    explicit = _EXPLICIT_MONTH.search(question)
    if explicit:
        year, month = int(explicit.group(2)), _MONTHS[explicit.group(1).lower()]
        last = calendar.monthrange(year, month)[1]
        return TimeScope(date(year, month, 1), date(year, month, last), f"“{explicit.group(0)}”")
    explicit = _EXPLICIT_YEAR.search(question)
    if explicit:
        year = int(explicit.group(1))
        return TimeScope(date(year, 1, 1), date(year, 12, 31), f"“{explicit.group(0)}”")
    if as_of is None:
        return None
    for pattern, days in _RELATIVE:
        found = pattern.search(question)
        if found:
            return TimeScope(as_of - timedelta(days=days), as_of, f"“{found.group(0)}” before {as_of}")
    return None


def parse_day(value: str) -> date:
    """An ISO date (YYYY-MM-DD); ValueError otherwise."""
    return date.fromisoformat(value.strip()[:10])


def day_option(value: str | None) -> date | None:
    """A date given as an option (``--since``, ``since=``): None stays None, a bad date is an
    InputError that says how to write one."""
    if value is None:
        return None
    try:
        return parse_day(value)
    except ValueError:
        raise InputError(f"not a date: {value!r} (use YYYY-MM-DD)") from None

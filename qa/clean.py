"""Turn raw article text into clean text that maps back, line by line, to its source file.

``clean_text`` works one source line at a time: every kept line is copied into ``CleanText.text``
whole (after entity decoding, link unwrapping and whitespace stripping), so each kept line starts at
a known offset and comes from a known line. ``qa.boilerplate`` then drops paragraphs that repeat
across the articles of a corpus, keeping that mapping intact.
"""

from __future__ import annotations

import datetime
import html
import re
from dataclasses import dataclass



@dataclass(frozen=True)
class CleanText:
    """Cleaned text, its line map back to the source, and the metadata found on the way."""

    text: str
    line_starts: tuple[int, ...]  # offset in ``text`` where each kept source line begins
    line_numbers: tuple[int, ...]  # 1-based source line number of that line
    title: str | None = None
    date: str | None = None  # ISO YYYY-MM-DD
    url: str | None = None
    source: str | None = None
    byline: str | None = None
    cut: TailCut | None = None  # text left out after an appeal, if any


@dataclass(frozen=True)
class TailCut:
    """Lines of text left out of an article because they follow an appeal in its second half
    ("Support The Moscow Times!"): usually more appeals and notes, reported in case they are not."""

    line: int  # source line number of the appeal
    appeal: str
    lines: int  # lines of text after it that were left out

    def reason(self, where: str = "") -> str:
        """What was left out, as a report line says it (``where``: "on line N" of the appeal)."""
        shown = self.appeal if len(self.appeal) <= 60 else self.appeal[:59] + "\u2026"
        plural = "s" if self.lines != 1 else ""
        where = where or (f"on line {self.line}" if self.line else "")
        said = f"{self.lines} line{plural} of text after the appeal \u201c{shown}\u201d"
        return f"{said} {where} left out" if where else f"{said} left out"


# --- dates -------------------------------------------------------------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_NUMERIC_DATE = re.compile(r"(?<!\d)(?P<y>\d{4})([-/])(?P<m>\d{1,2})\2(?P<d>\d{1,2})(?!\d)")
_MONTH_DAY_YEAR = re.compile(
    r"(?i)\b" + _MONTH + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})\b"
)
_DAY_MONTH_YEAR = re.compile(
    r"(?i)\b(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH + r",?\s+(?P<y>\d{4})\b"
)
_DATE_PATTERNS = (_NUMERIC_DATE, _MONTH_DAY_YEAR, _DAY_MONTH_YEAR)


def iso_date(year: int, month: int, day: int) -> str | None:
    """``YYYY-MM-DD`` for a real calendar day between 1900 and 2100, else None."""
    if not 1900 <= year <= 2100:
        return None
    try:
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        return None


def find_date(text: str) -> str | None:
    """The first ISO, ``YYYY/MM/DD``, ``Month D, YYYY`` or ``D Month YYYY`` date in ``text``."""
    found: list[tuple[int, str]] = []
    for match in _NUMERIC_DATE.finditer(text):
        date = iso_date(int(match["y"]), int(match["m"]), int(match["d"]))
        if date:
            found.append((match.start(), date))
            break
    for pattern in _DATE_PATTERNS[1:]:
        for match in pattern.finditer(text):
            date = iso_date(int(match["y"]), _MONTHS[match["month"].lower()], int(match["d"]))
            if date:
                found.append((match.start(), date))
                break
    return min(found)[1] if found else None


def _whole_date(text: str) -> str | None:
    """The date that ``text`` consists of, if it is nothing but a date."""
    text = text.strip(" .,")
    return find_date(text) if any(p.fullmatch(text) for p in _DATE_PATTERNS) else None


def parse_date(value: str) -> str | None:
    """Normalize a date value (ISO date or datetime, ``Month D, YYYY``...) to ``YYYY-MM-DD``."""
    value = value.strip()
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        return find_date(value)


# --- line rules --------------------------------------------------------------------------------

# Terminal escapes, 7-bit (ESC [, ESC ]) and 8-bit (CSI \x9b, OSC \x9d): CSI, OSC, then 2-char ones.
_ANSI = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[@-Z\\-_]"
)
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]")
# Control characters but \t and \n, zero-width space, BOM, and lone surrogates (bad JSON escapes).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\ufeff\ud800-\udfff]")
# Brackets are excluded inside links so that a line of many '[' stays linear to scan.
_IMAGE = re.compile(r"!\[[^\[\]]*\]\((?:[^()\[\]]|\([^()]*\))*\)")
_LINK = re.compile(r"\[([^\[\]]*)\]\(((?:[^()\[\]]|\([^()]*\))*)\)")
_HEADING = re.compile(r"^(#{1,6})(?:[ \t]+(.*))?$")
_CLOSING_HASHES = re.compile(r"(?<![ \t])[ \t]+#+$")  # scanned once per run of blanks
_SECTION = re.compile(
    r"(?i)^(?:(?P<source>sources?)"
    r"|related(?: (?:articles?|stories|content|news|links|coverage|reading))?"
    r"|see also|more on this(?: story| topic)?|read also|also read|you may also like)\s*:?$"
)
_LIST_ITEM = re.compile(r"^(?:[-*+•]|\d{1,3}[.)])\s+|^!?\[[^\]]*\]\([^)]*\)")

# Appeals end an article: one in its second half cuts it there; elsewhere only the line goes.
# The first branch is case-sensitive but for its keywords, so that "Support The Moscow Times!"
# matches and "Support for the bill grew!" does not.
_APPEAL = re.compile(
    r"(?i)^(?:"
    r"(?-i:(?i:support)\s+(?:(?i:the|us|our)\b[\w.'\u2019 -]{0,40}|[A-Z][\w.'\u2019 -]{0,40})!)"
    r"|support (?:local|independent|quality|our) journalism\b.{0,150}"
    r"|dear readers?,?"
    r"|a message from [^:]{1,60}:"
    r"|please consider (?:making|supporting|donating|subscribing|becoming|a)\b.*"
    r"|.{0,100}\byou can help keep (?:it|us|[\w ]{1,30}) alive\b.{0,100}"
    r"|sign up for our\b.{0,80}\bnewsletters?\b.{0,40}"
    r"|thank you for (?:supporting|your support)\b.{0,200}"
    r"|(?:become|join) (?:a|our) (?:member|subscriber|supporter|patron)s?\b.{0,100}"
    r"|not ready to support today\?"
    r")$"
)
# Boilerplate lines that are dropped wherever they are.
_BOILERPLATE = re.compile(
    r"(?i)^(?:"
    r"(?:read|see|view|load) more\b.{0,80}"
    r"|(?:advertisement|sponsored content)(?:\s*[-\u2013\u2014:].{0,40})?"
    r"|story continues below\b.{0,30}"
    r"|subscribe\b.{0,100}"
    r"|subscribers agree to\b.{0,80}"
    r"|(?=.*\bsign up\b)(?=.*\b(?:newsletters?|inbox)\b).{0,300}"
    r"|sign up(?: now| here)?[.!]?"
    r"|follow (?:us|@?[\w.]+(?: [\w.]+){0,3}) on (?:twitter|facebook|instagram|tiktok)\b.{0,120}"
    r"|share(?: this(?: article| story| page)?| on (?:facebook|twitter|x|linkedin|email))?"
    r"|donate(?: now| today| here)?[!.]?"
    r")$"
)
_BYLINE = re.compile(
    r"^[Bb]y\s+([A-Z][\w.'\u2019-]*(?:(?:\s+|,\s*|\s+and\s+)[A-Z][\w.'\u2019-]*){1,7})\s*$"
)
_TITLE_ENDINGS = (".", ":", "\u2014", "\u2013")  # a dateline like "New York CNN —" is no title
_FRONT_MATTER_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$")
_FRONT_MATTER_FIELDS = {
    "title": "title",
    "date": "date",
    "published": "date",
    "url": "url",
    "link": "url",
    "canonical_url": "url",
    "source": "source",
    "publisher": "source",
    "sitename": "source",
    "site_name": "source",
    "author": "byline",
    "authors": "byline",
    "byline": "byline",
}
_HEADER_LINES = 5  # how many leading text lines may hold a date or a byline
_TAIL_FRACTION = 0.5
_SECTION_TEXT = 60  # characters: a shorter line under a link-list heading is part of the list


def sanitize(line: str) -> str:
    """Decode entities, drop ANSI escapes and control characters, strip surrounding whitespace."""
    line = html.unescape(line)
    line = _ANSI.sub("", line)
    line = _LINE_BREAKS.sub(" ", line)
    return _CONTROL.sub("", line).strip()


def _unwrap(line: str) -> str:
    """Drop markdown images and replace links by their text."""
    if "](" in line:
        line = _LINK.sub(r"\1", _IMAGE.sub("", line))
    return line.strip()


def _front_matter(lines: list[str]) -> tuple[int, dict[str, str]]:
    """Index of the first line after a ``---`` front matter block, and its known fields."""
    if not lines or lines[0].strip() != "---":
        return 0, {}
    for end in range(1, min(len(lines), 100)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        return 0, {}
    fields: dict[str, str] = {}
    for line in lines[1:end]:
        match = _FRONT_MATTER_KEY.match(line.strip())
        if match:
            name = _FRONT_MATTER_FIELDS.get(match[1].lower())
            value = sanitize(match[2]).strip("'\"").strip()
            if name and value and name not in fields:
                fields[name] = value
        elif line.strip():
            return 0, {}
    return end + 1, fields


def clean_text(raw: str, *, first_line: int = 1) -> CleanText:
    """Clean plain text or markdown; ``first_line`` is the source line number of ``raw``'s first."""
    lines = raw.split("\n")
    start, meta = _front_matter(lines)
    date = parse_date(meta["date"]) if "date" in meta else None
    url, source = meta.get("url"), meta.get("source")
    heading_title: str | None = None
    # A link-list section (Source, Related, See also) drops its blank, list and link lines; under
    # a heading ("heading") it also drops short lines, and a line of text ends either kind.
    section: str | None = None
    in_source = False
    items: list[tuple[int, str, bool]] = []  # (line number, text or "" for a break, is an appeal)
    for index in range(start, len(lines)):
        number = first_line + index
        line = sanitize(lines[index])
        heading = _HEADING.match(line)
        if heading:
            body = _unwrap(_CLOSING_HASHES.sub("", heading[2] or ""))
            marker = _SECTION.match(body)
            section, in_source = ("heading", bool(marker["source"])) if marker else (None, False)
            heading_date = _whole_date(body)
            if marker or heading_date:
                date = date or heading_date
                items.append((number, "", False))
                continue
            if len(heading[1]) == 1 and heading_title is None and body:
                heading_title = body
            text = body
        elif section and (not line or _LIST_ITEM.match(line) or (
                section == "heading" and (_LINK.search(line) or len(line) < _SECTION_TEXT))):
            link = _LINK.search(line) if in_source and url is None else None
            if link and link[2].strip():
                url = link[2].split()[0]
                source = source or link[1].strip() or None
            items.append((number, "", False))
            continue
        else:
            text = _unwrap(line)
            marker = _SECTION.match(text)
            section, in_source = ("list", bool(marker["source"])) if marker else (None, False)
            if marker:
                items.append((number, "", False))
                continue
        appeal = bool(text) and bool(_APPEAL.match(text))
        items.append((number, "" if not appeal and _BOILERPLATE.match(text) else text, appeal))
    items, cut = _cut_tail(items)

    kept = [(number, text) for number, text, appeal in items if text and not appeal]
    title = meta.get("title") or heading_title
    if title is None and kept:
        first = kept[0][1]
        if len(first) < 200 and not first.endswith(_TITLE_ENDINGS):
            title = first
    header = [text for _, text in kept[:_HEADER_LINES]]
    date = date or next(filter(None, map(find_date, header)), None)
    byline = meta.get("byline") or next((m[1] for m in map(_BYLINE.match, header) if m), None)

    parts: list[str] = []
    starts: list[int] = []
    numbers: list[int] = []
    offset = 0
    paragraph_break = False
    for number, text, appeal in items:
        if not text or appeal:
            paragraph_break = True
            continue
        if parts:
            separator = "\n\n" if paragraph_break else "\n"
            parts.append(separator)
            offset += len(separator)
        starts.append(offset)
        numbers.append(number)
        parts.append(text)
        offset += len(text)
        paragraph_break = False
    return CleanText(
        text="".join(parts),
        line_starts=tuple(starts),
        line_numbers=tuple(numbers),
        title=title,
        date=date,
        url=url,
        source=source,
        byline=byline,
        cut=cut,
    )


def _cut_tail(
    items: list[tuple[int, str, bool]]
) -> tuple[list[tuple[int, str, bool]], TailCut | None]:
    """Drop everything from the first appeal line that sits in the second half of the text;
    what was dropped besides appeals, if anything."""
    texts = [(index, len(text)) for index, (_, text, _) in enumerate(items) if text]
    total = sum(size for _, size in texts)
    before = 0
    for rank, (index, size) in enumerate(texts):
        if items[index][2] and max(rank / len(texts), before / total) >= _TAIL_FRACTION:
            left_out = sum(1 for _, text, appeal in items[index + 1 :] if text and not appeal)
            number, appeal, _ = items[index]
            return items[:index], TailCut(number, appeal, left_out) if left_out else None
        before += size
    return items, None

"""What a question asks for and what a sentence names: numbers, dates, people, organisations,
places, other names and quoted speech, found by patterns and a place list (no model).

``asked_kind`` reads the kind of answer a question wants; ``find_mentions`` lists the typed
spans of a text. Answer selection uses both (does a sentence hold something of the asked kind
that the question does not?), and so does the span shown in bold inside a quote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

NUMBER, DATE, PERSON, ORGANISATION, PLACE, NAME, QUOTE = (
    "number", "date", "person", "organisation", "place", "name", "quote"
)
NAMED = (PERSON, ORGANISATION, PLACE, NAME)
KINDS = (NUMBER, DATE, PERSON, ORGANISATION, PLACE, NAME, QUOTE)


@dataclass(frozen=True)
class Mention:
    """A typed span ``text[start:end]`` of a text."""

    start: int
    end: int
    kind: str


# -- what a question asks for

_PERSON_NOUNS = (
    r"person|people|man|woman|celebrity|star|singer|actor|actress|official|politician|player|"
    r"athlete|member|leader|head|president|senator|lawmaker|judge|justice|author|writer|"
    r"director|ceo|executive|founder|billionaire|candidate|rapper|musician|comedian|coach|"
    r"quarterback|journalist|reporter|host|legend|icon|figure|lawyer|attorney|governor|mayor|"
    r"minister|secretary|chief|king|queen|prince|princess|pope|spokesperson|spokesman|"
    r"spokeswoman|critic|victim|suspect"
)
_ORGANISATION_NOUNS = (
    r"company|companies|firm|automaker|carmaker|airline|retailer|chain|brand|team|club|group|"
    r"organi[sz]ation|agency|party|school|university|college|network|bank|union|league|"
    r"service|maker|manufacturer|giant|startup|business|restaurant|store|channel|outlet|"
    r"newspaper|government|department|ministry|court|committee|alliance|coalition|militia|"
    r"band|studio|platform|app|website|broadcaster|publisher|carrier|operator|exchange|fund|"
    r"charity|institution|hospital|church"
)
_PLACE_NOUNS = (
    r"country|countries|nation|state|states|city|cities|town|region|area|continent|island|"
    r"province|county|park|capital|village|district|territory|border|coast|river|sea|lake|"
    r"mountain|port|airport|neighbo(?:u)?rhood|location|place|site|venue"
)
_ASKED = [
    (QUOTE, re.compile(r"\bwhat (?:did|does|do|has|have|had|was|is)\b[^?]{0,80}?\b(?:say|said|"
                       r"tell|told|write|wrote|tweet|tweeted|claim|claimed|call|called|warn|"
                       r"warned|describe|described)\b|\bhow did\b[^?]{0,60}\b(?:respond|react|"
                       r"describe)\b", re.I)),
    (NUMBER, re.compile(r"\bhow (?:many|much|long|old|far|big|high|tall|large|often|fast|deep|"
                        r"heavy|wide)\b|\bwhat (?:percentage|percent|share|number|amount|age|"
                        r"price|magnitude|temperature|speed|rate|cost|figure|sum|score|"
                        r"proportion|fraction|total)\b|\bby how\b", re.I)),
    (DATE, re.compile(r"\bwhen\b|\bwhat (?:year|date|day|month|time|decade|century)\b|"
                      r"\bhow soon\b|\bwhich (?:year|date|day|month|decade)\b|\bby when\b", re.I)),
    (PERSON, re.compile(rf"\bwho(?:m|se)?\b|\bwhat is (?:his|her|their) name\b|"
                        rf"\b(?:which|what) (?:\w+ ){{0,3}}(?:{_PERSON_NOUNS})\b", re.I)),
    (PLACE, re.compile(rf"\bwhere\b|\b(?:which|what) (?:\w+ ){{0,3}}(?:{_PLACE_NOUNS})\b", re.I)),
    (ORGANISATION, re.compile(rf"\b(?:which|what) (?:\w+ ){{0,3}}(?:{_ORGANISATION_NOUNS})\b",
                              re.I)),
    (NAME, re.compile(r"\b(?:which|what)\b", re.I)),
]


def asked_kind(question: str) -> str | None:
    """The kind of answer a question wants (one of ``KINDS``), or None (why, how, yes/no)."""
    for kind, pattern in _ASKED:
        if pattern.search(question):
            return kind
    return None


# -- what a text names

_MONTH_NAMES = (r"(?:January|February|March|April|May|June|July|August|September|October|"
                r"November|December|Jan\.|Feb\.|Mar\.|Apr\.|Jun\.|Jul\.|Aug\.|Sept?\.|Oct\.|"
                r"Nov\.|Dec\.)")
_WEEKDAYS = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_DATE = re.compile(
    rf"\b(?:(?:early|mid|late)-?\s?)?{_MONTH_NAMES}(?:\s\d{{1,2}}(?:st|nd|rd|th)?\b)?(?:,?\s(?:19|20)\d{{2}}\b)?"
    rf"|\b{_WEEKDAYS}\b|\b(?:19|20)\d{{2}}s?\b(?![-–]\d)"
    r"|\b(?:next|last|this|coming|previous|past)\s(?:week|weekend|month|year|spring|summer|fall|"
    r"autumn|winter|decade)\b|\b(?:today|tomorrow|yesterday|tonight)\b"
    r"|\b(?:earlier|later)\sthis\s(?:week|month|year)\b"
)
_NUMBER_WORDS = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
                 r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|"
                 r"fifty|sixty|seventy|eighty|ninety|hundred|hundreds|thousand|thousands|dozen|"
                 r"dozens|half|million|millions|billion|billions|trillion)")
_SCALE = r"(?:\s?(?:million|billion|trillion|thousand|hundred|[mbk]n?)\b)?"
_NUMBER = re.compile(
    rf"(?:[$€£¥]\s?|\b(?:US|USD|EUR|GBP|Rs\.?)\s?\$?)?\d+(?:[.,]\d+)*{_SCALE}(?:\s?(?:%|percent\b|per cent\b))?"
    rf"|\b{_NUMBER_WORDS}(?:[\s-]{_NUMBER_WORDS})*\b",
    re.I,
)
_QUOTE = re.compile(r"“[^“”]{12,}”|\"[^\"]{12,}\"|‘[^‘’]{12,}’")
_NAME_WORD = (r"(?:(?:[A-Z]\.){2,}|[A-Z][a-z]{0,2}\.(?=\s[A-Z])|[A-Z](?:[\w&-]|['’](?![sS]\b))*"
              r"|[a-z]+[A-Z]\w*)")
_JOINER = r"(?:of|the|de|del|da|di|du|la|le|van|von|der|den|al|el|bin|ibn|for|&)"
_CAPITALIZED = re.compile(rf"{_NAME_WORD}(?:[\s-](?:{_JOINER}[\s-])*{_NAME_WORD})*")

_PERSON_TITLES = re.compile(
    r"(?:\b(?:President|Vice President|Sen|Senator|Rep|Representative|Gov|Governor|Dr|Mr|Mrs|"
    r"Ms|Prof|Professor|Prime Minister|Minister|Secretary|Chancellor|King|Queen|Prince|"
    r"Princess|Pope|Judge|Justice|Gen|General|Col|Capt|Lt|Sgt|Officer|Coach|Speaker|Mayor|"
    r"Lady|Sir|Dame|Rev|Sheriff|Chief|Commissioner|CEO|Chairman|Chairwoman|Director)\.?\s)$"
    r"|\b(?:actor|actress|singer|rapper|star|player|quarterback|coach|pitcher|striker|"
    r"spokesperson|spokesman|spokeswoman|founder|chief|executive|CEO|leader|lawmaker|"
    r"senator|president|minister|secretary|host|author|writer|director|judge|lawyer|"
    r"attorney|comedian|musician|chef|billionaire|investor|official|mother|father|"
    r"son|daughter|wife|husband|brother|sister)\s$",
)
_TITLE_INSIDE = re.compile(
    r"(?:(?:US|U\.S\.|UK|U\.K\.|EU|UN)\s)?(?:Former\s)?(?:President|Vice President|Sen\.?|Senator|Rep\.?|"
    r"Gov\.?|Governor|Dr\.?|Prime Minister|Minister|Secretary|Chancellor|King|Queen|Prince|"
    r"Princess|Pope|Judge|Justice|Gen\.?|General|Lt\.?|Speaker|Mayor|First Lady|Lady|Sir|Dame)\s[A-Z]"
)
_PERSON_AFTER = re.compile(
    r"^,?\s(?:said|says|told|added|wrote|tweeted|explained|noted|argued|asked|recalled|who|"
    rf"\(\d{{1,3}}\)|\d{{1,3}},)|^,\s(?:a|an|the)?\s?(?:[\w-]+\s){{0,3}}?(?:{_PERSON_NOUNS})\b"
)
_ORGANISATION_WORDS = re.compile(
    r"\b(?:Inc|Corp|Corporation|Co|Company|Companies|Ltd|LLC|Group|Holdings|Party|Ministry|"
    r"Department|Agency|Administration|Council|Committee|Commission|University|College|"
    r"School|Institute|Foundation|Association|Bank|Airlines?|Airways|Motors|Front|Army|Navy|"
    r"Forces?|Guard|Union|Court|Congress|Senate|House|Parliament|Service|Bureau|Office|"
    r"League|Club|FC|News|Times|Post|Journal|Network|Press|Reuters|Society|Church|Federation|"
    r"Organi[sz]ation|Brigade|Battalion|Regiment|Fund|Reserve|Board|Authority|Police|Center|"
    r"Centre|Hospital|Studios?|Records|Pictures|Entertainment|Media|Labs?|Technologies|Systems|"
    r"Industries|Brands|Stores|Pharmaceuticals|Energy|Oil|Exchange|Nations|Alliance|Coalition|"
    r"Movement|Liwa|Brotherhood|Cartel)\b\.?"
)
_PLACE_CONTEXT = re.compile(r"\b(?:in|at|from|to|near|across|throughout|outside|inside)\s(?:the\s)?$")
_COUNTRY_CODES = {"US", "U.S.", "USA", "UK", "U.K.", "UAE", "EU", "DC", "D.C."}
_START_WORDS = frozenset(
    "a an the this that these those it its he she they we i you his her their our my your "
    "but and or so if when while after before as at in on of for with by from to since "
    "although though because however meanwhile still yet also then there here what who "
    "why how which where some many most more all both each every no not one".split()
)


@lru_cache(maxsize=1)
def _places() -> frozenset[str]:
    path = Path(__file__).with_name("data") / "places.txt"
    return frozenset(
        line.strip() for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )


def find_mentions(text: str) -> list[Mention]:
    """Typed spans of ``text`` in order of their start; overlapping spans of different kinds
    are all kept (a number inside a quote, say)."""
    found = [Mention(m.start(), m.end(), QUOTE) for m in _QUOTE.finditer(text)]
    dates = [Mention(m.start(), m.end(), DATE) for m in _DATE.finditer(text)]
    found += dates
    for match in _NUMBER.finditer(text):
        if not any(d.start <= match.start() < d.end for d in dates):
            found.append(Mention(match.start(), match.end(), NUMBER))
    for match in _CAPITALIZED.finditer(text):
        mention = _named(text, match.start(), match.end())
        if mention is not None and not any(d.start <= mention.start < d.end for d in dates):
            found.append(mention)
    found.sort(key=lambda m: (m.start, -m.end))
    return found


def _named(text: str, start: int, end: int) -> Mention | None:
    """The typed name at ``text[start:end]``, without a sentence's capitalized first word."""
    value = text[start:end].rstrip(".’'-&")
    end = start + len(value)
    first, _, rest = value.partition(" ")
    at_start = start == 0 or text[:start].rstrip()[-1:] in ".!?“\"‘(:—–-" or text[start - 1] == "\n"
    if at_start and first.lower() in _START_WORDS:
        if not rest:
            return None
        start += len(first) + 1
        value = rest
    while value.split(" ", 1)[0].lower() in ("the", "of", "and", "for", "on", "&"):
        head, _, value = value.partition(" ")
        start += len(head) + 1
        if not value:
            return None
    end = start + len(value)
    if not value or (at_start and " " not in value and value.lower() in _START_WORDS):
        return None
    return Mention(start, end, _name_kind(text, start, end))


def _name_kind(text: str, start: int, end: int) -> str:
    value = text[start:end]
    before, after = text[max(0, start - 40) : start], text[end : end + 40]
    bare = value.removeprefix("the ").removesuffix("’s").removesuffix("'s")
    if bare in _places() or bare in _COUNTRY_CODES:
        return PLACE
    if _ORGANISATION_WORDS.search(value) or re.fullmatch(r"[A-Z]{2,6}s?", bare):
        return ORGANISATION
    if _PERSON_TITLES.search(before) or re.match(r"(?:Dr|Mr|Mrs|Ms|Sen|Rep|Gov)\.?\s", value):
        return PERSON
    if _PLACE_CONTEXT.search(before) and " " not in bare:
        return PLACE
    words = bare.split()
    if _TITLE_INSIDE.match(bare) and len(words) >= 2:
        return PERSON
    if 2 <= len(words) <= 4 and all(w[:1].isupper() for w in words) and _PERSON_AFTER.match(after):
        return PERSON
    return NAME


_OUTLETS = r"CNN|CNN Business|CNN Sport|AP|Reuters|AFP"
_LEADING_DATELINE = re.compile(
    rf"^(?:[A-Z][\w.'’-]*(?:,?\s[A-Z][\w.'’-]*){{0,3}}\s)?\((?:{_OUTLETS})\)\s*[—–-]*\s*|"
    rf"^(?:[A-Z][\w.'’-]*\s){{0,3}}(?:{_OUTLETS})\s*[—–-]+\s*|"
    r"^[A-Z][A-Z.'’-]+(?:\s[A-Z][A-Z.'’-]+){0,3}(?:,\s[A-Z][\w.]*(?:\s[A-Z][\w.]*)?)?\s*[—–]\s*"
)


def dateline_end(sentence: str) -> int:
    """Where a dateline opening a sentence ends ("Tokyo (CNN) ", "YOSEMITE NATIONAL PARK, Calif.
    — "), or 0: the place and outlet it names are not what the sentence says."""
    match = _LEADING_DATELINE.match(sentence)
    return match.end() if match else 0


def name_head(name: str) -> str:
    """The last word of a name without its possessive ("Rob Gronkowski’s" -> "Gronkowski")."""
    words = name.split()
    return words[-1].removesuffix("’s").removesuffix("'s") if words else ""


def reads_as_a_person(text: str, end: int) -> bool:
    """Whether the words after ``text[:end]`` are what follows a person's name ("…, 33,",
    "… said", "…, a spokesman")."""
    return _PERSON_AFTER.match(text[end : end + 60]) is not None


def article_name_kinds(text: str, mentions: Iterable[Mention]) -> dict[str, str]:
    """The kind (person, organisation, place) an article gives each name's last word, where its
    typed ``mentions`` (offsets in ``text``) agree on one: "Gronkowski said" types "Rob
    Gronkowski" elsewhere. A name no pattern typed is a person where one of its mentions reads
    as one ("Drake said", "Gronkowski, 33, wrote")."""
    seen: dict[str, set[str]] = {}
    untyped: set[str] = set()
    for m in mentions:
        head = name_head(text[m.start : m.end])
        if m.kind in (PERSON, ORGANISATION, PLACE):
            seen.setdefault(head, set()).add(m.kind)
        elif m.kind == NAME and reads_as_a_person(text, m.end):
            untyped.add(head)
    for head in untyped - set(seen):
        seen[head] = {PERSON}
    return {head: next(iter(kinds)) for head, kinds in seen.items() if len(kinds) == 1}


def matches_kind(mention: Mention, wanted: str | None) -> bool:
    """Whether a mention is of the asked kind (a name of unknown type counts for every named
    kind, and every named kind counts for ``name``)."""
    if wanted is None:
        return False
    if mention.kind == wanted:
        return True
    if wanted == NAME:
        return mention.kind in NAMED
    return wanted in NAMED and mention.kind == NAME


_PERSON_NOUN = re.compile(rf"(?:{_PERSON_NOUNS})s?", re.I)


def is_person_noun(word: str) -> bool:
    """Whether ``word`` is a common noun for a person ("leader", "spokesman"), not a name."""
    return _PERSON_NOUN.fullmatch(word.strip()) is not None

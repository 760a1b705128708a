"""Tests of qa.clean: line-by-line cleaning, metadata, and corpus boilerplate removal."""

from __future__ import annotations

import hashlib
import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from qa.boilerplate import remove_corpus_boilerplate
from qa.clean import clean_text, find_date, parse_date
from qa.models import Article

_LINK = re.compile(r"!\[[^\]]*\]\([^)]*\)|\[([^\]]*)\]\([^)]*\)")


def normalize_source_line(line: str) -> str:
    """What a source line reads like after entity decoding and link unwrapping."""
    return _LINK.sub(lambda match: match[1] or "", html.unescape(line))


def kept_lines(text: str, line_starts: tuple[int, ...]) -> list[str]:
    """The text of each kept source line."""
    return [text[start:].split("\n", 1)[0] for start in line_starts]


def assert_line_map(
    raw: str, text: str, line_starts: tuple[int, ...], line_numbers: tuple[int, ...]
) -> None:
    """Every kept line is a line of ``raw``, found where the map says."""
    source = raw.split("\n")
    assert len(line_starts) == len(line_numbers)
    assert list(line_starts) == sorted(set(line_starts))
    assert list(line_numbers) == sorted(set(line_numbers))
    assert all(start == 0 or text[start - 1] == "\n" for start in line_starts)
    for number, line in zip(line_numbers, kept_lines(text, line_starts), strict=True):
        assert line and line in normalize_source_line(source[number - 1])
    assert sum(len(line) for line in kept_lines(text, line_starts)) == len(text.replace("\n", ""))


def test_entities_links_images_and_headings() -> None:
    raw = "# A &amp; B\n\nHe said &quot;no&quot; to [the plan](http://x.co/p(1)) ![a](b.png) today."
    cleaned = clean_text(raw)
    assert cleaned.text == 'A & B\n\nHe said "no" to the plan  today.'
    assert cleaned.title == "A & B"
    assert cleaned.line_numbers == (1, 3)


def test_paragraphs_blank_runs_and_whitespace() -> None:
    raw = "\n\nFirst line   \nsecond line\n\n\n\n  Next paragraph\t \n\n"
    cleaned = clean_text(raw)
    assert cleaned.text == "First line\nsecond line\n\nNext paragraph"
    assert cleaned.line_starts == (0, 11, 24)
    assert cleaned.line_numbers == (3, 4, 8)


def test_control_characters_and_ansi_escapes_are_removed() -> None:
    raw = "Red \x1b[31malert\x1b[0m issued\x07 \x1b]0;title\x07today\x00.\r\nSecond\x0c line\r"
    cleaned = clean_text(raw)
    assert cleaned.text == "Red alert issued today.\nSecond line"


def test_first_line_offsets_line_numbers() -> None:
    assert clean_text("one\n\ntwo", first_line=10).line_numbers == (10, 12)


def test_front_matter_is_metadata() -> None:
    raw = (
        "---\ntitle: Port strike ends\ndate: 2019-07-04T10:00:00Z\nurl: https://example.com/port\n"
        "source: Harbour Times\nauthor: Ann Lee\n---\nThe port strike ended on Thursday.\n"
    )
    cleaned = clean_text(raw)
    assert cleaned.text == "The port strike ended on Thursday."
    assert cleaned.line_numbers == (8,)
    assert (cleaned.title, cleaned.date, cleaned.url, cleaned.source, cleaned.byline) == (
        "Port strike ends",
        "2019-07-04",
        "https://example.com/port",
        "Harbour Times",
        "Ann Lee",
    )


def test_a_rule_line_that_is_not_front_matter_is_kept() -> None:
    raw = "---\nJust a separator, then text.\n---\nMore text."
    assert "Just a separator" in clean_text(raw).text


def test_source_related_and_date_link_sections() -> None:
    raw = (
        "### [2016-02-3](/news/2016/02/3/index.md)\n\n# Headline here\n\nBody sentence one.\n\n"
        "### Source:\n\n1. [AFP via Yahoo! News](http://news.yahoo.com/story.html)\n\n"
        "### Related:\n\n1. [Another story](/news/x.md) _Context: ISIL_\n2. [Third](/y.md)\n\n"
        "## Analysis\n\nAfter the heading."
    )
    cleaned = clean_text(raw)
    assert cleaned.text == "Headline here\n\nBody sentence one.\n\nAnalysis\n\nAfter the heading."
    assert cleaned.date == "2016-02-03"
    assert cleaned.url == "http://news.yahoo.com/story.html"
    assert cleaned.source == "AFP via Yahoo! News"
    assert cleaned.title == "Headline here"


def test_plain_related_list_is_dropped_until_text_resumes() -> None:
    raw = "Story text.\n\nRelated Articles:\n- One link\n- Two link\n\nThe story goes on."
    assert clean_text(raw).text == "Story text.\n\nThe story goes on."


def test_text_after_a_related_heading_list_is_kept() -> None:
    raw = (
        "Story text.\n\n### Related:\n\n1. [Another story](/news/x.md)\n2. [Third](/y.md)\n"
        "[A linked teaser line](/z.md) with words\n\n"
        "The Kremlin said talks on the ceasefire would start in Geneva next week.\n\n"
        "### Source:\n\n1. [AFP](http://afp.example/story.html)\n"
    )
    cleaned = clean_text(raw)
    assert cleaned.text == (
        "Story text.\n\nThe Kremlin said talks on the ceasefire would start in Geneva next week."
    )
    assert cleaned.url == "http://afp.example/story.html"


def test_appeal_in_second_half_cuts_the_tail() -> None:
    body = "\n\n".join(f"News sentence number {n} about the harbour." for n in range(6))
    raw = body + "\n\nDear readers,\n\nWe need your money.\n\nThanks."
    assert clean_text(raw).text == body


def test_appeal_in_first_half_drops_only_its_line() -> None:
    raw = "Support The Moscow Times!\n\nHeadline of the day\n\nFirst.\n\nSecond.\n\nThird."
    cleaned = clean_text(raw)
    assert cleaned.text == "Headline of the day\n\nFirst.\n\nSecond.\n\nThird."
    assert cleaned.title == "Headline of the day"


def test_boilerplate_lines_are_dropped_but_news_stays() -> None:
    raw = (
        "Read more\nAdvertisement\nSubscribe to our newsletter\n"
        "Sign up for CNN's science newsletter. Explore.\n"
        "Follow Ann Lee on Twitter: @annlee\n"
        "Support for the bill grew in the Senate.\n"
        "The charity received a one-time donation of $5 million.\n"
        "Readers of the paper subscribed in record numbers."
    )
    assert clean_text(raw).text == (
        "Support for the bill grew in the Senate.\n"
        "The charity received a one-time donation of $5 million.\n"
        "Readers of the paper subscribed in record numbers."
    )


def test_title_rules() -> None:
    assert clean_text("A short headline\n\nBody.").title == "A short headline"
    assert clean_text("A first sentence that ends.\n\nBody.").title is None
    assert clean_text("New York CNN —\n\nBody.").title is None
    assert clean_text("x" * 250 + "\n\nBody.").title is None


def test_dates_and_bylines_from_the_header_only() -> None:
    cleaned = clean_text("Headline\nBy Ann Lee and Bo Chan\nMarch 5, 2021\n\nText.")
    assert (cleaned.date, cleaned.byline) == ("2021-03-05", "Ann Lee and Bo Chan")
    late = "Headline\n\n" + "\n\n".join(["Text."] * 6) + "\n\nOn 2020-01-02 it rained."
    assert clean_text(late).date is None
    assert clean_text("## 5 things to know on June 3, 2022\n\nText.").text.startswith("5 things")


def test_date_helpers() -> None:
    assert parse_date("2022-06-12T14:05:00Z") == "2022-06-12"
    assert parse_date("June 14, 2022") == "2022-06-14"
    assert parse_date("14 Sept. 2022") == "2022-09-14"
    assert parse_date("2016-02-3") == "2016-02-03"
    assert parse_date("2022-02-30") is None
    assert find_date("archive/2016/02/03/story") == "2016-02-03"
    assert find_date("no date 1234-99-99 here") is None


_WORD = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFXYZ0123456789.,;:!?'\"-", min_size=1, max_size=8
)
_ENTITY = st.sampled_from(
    ["&quot;", "&amp;", "&lt;", "&gt;", "&#39;", "&eacute;", "&nbsp;", "&amp;quot;", "&"]
)
_LINKED = st.builds(lambda text, url: f"[{text}](http://example.com/{url})", _WORD, _WORD)
_IMAGE = st.builds(lambda text: f"![{text}](pic.png)", _WORD)
_TOKEN = st.one_of(_WORD, _WORD, _WORD, _ENTITY, _LINKED, _IMAGE)
_LINE = st.one_of(
    st.just(""),
    st.just("   "),
    st.lists(_TOKEN, min_size=1, max_size=8).map(" ".join),
    st.builds(
        lambda level, words: f"{'#' * level} {' '.join(words)}",
        st.integers(1, 4),
        st.lists(_TOKEN, max_size=5),
    ),
    st.builds(lambda words: "- " + " ".join(words), st.lists(_TOKEN, min_size=1, max_size=5)),
    st.sampled_from(
        ["### Related:", "Related:", "### Source:", "Read more", "Dear readers,", "---", "title: x"]
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_LINE, max_size=30), st.integers(1, 50))
def test_every_kept_line_maps_to_its_source_line(lines: list[str], first_line: int) -> None:
    raw = "\n".join(lines)
    cleaned = clean_text(raw, first_line=first_line)
    assert "\n\n\n" not in cleaned.text
    assert cleaned.text == cleaned.text.strip()
    assert all(line == line.rstrip() for line in cleaned.text.split("\n"))
    shifted = tuple(number - first_line + 1 for number in cleaned.line_numbers)
    assert_line_map(raw, cleaned.text, cleaned.line_starts, shifted)


# --- corpus boilerplate ------------------------------------------------------------------------


def make_article(article_id: str, paragraphs: list[str]) -> Article:
    """An article whose paragraph i came from source line 10 * i + 1."""
    text = "\n\n".join(paragraphs)
    starts, offset = [], 0
    for paragraph in paragraphs:
        starts.append(offset)
        offset += len(paragraph) + 2
    return Article(
        id=article_id,
        text=text,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        line_starts=tuple(starts),
        line_numbers=tuple(10 * i + 1 for i in range(len(paragraphs))),
    )


def body(article_id: str, count: int = 6) -> list[str]:
    return [
        f"Distinct news paragraph {n} of article {article_id}, with enough words to matter."
        for n in range(count)
    ]


def test_paragraph_in_three_articles_is_removed_and_lines_rebuilt() -> None:
    shared = "Sign in to read our weekly digest."
    articles = [make_article(name, [*body(name)[:3], shared, *body(name)[3:]]) for name in "abc"]
    cleaned = remove_corpus_boilerplate(articles)
    assert len(cleaned) == 3
    for before, after in zip(articles, cleaned, strict=True):
        assert shared not in after.text
        assert after.text == "\n\n".join(body(before.id))
        assert after.content_hash == hashlib.sha256(after.text.encode()).hexdigest()
        assert after.line_numbers == (1, 11, 21, 41, 51, 61)
        for start, number in zip(after.line_starts, after.line_numbers, strict=True):
            assert before.line_at(before.text.index(after.text[start : start + 30])) == number


def test_line_map_survives_when_a_paragraph_starts_inside_a_line_entry() -> None:
    article = Article(
        id="x", text="Alpha\n\nBeta\nGamma\n\nOmega", line_starts=(0, 7, 12), line_numbers=(4, 6, 7)
    )
    others = [make_article(name, ["Alpha", *body(name)]) for name in "yz"]
    cleaned = {item.id: item for item in remove_corpus_boilerplate([article, *others])}["x"]
    assert cleaned.text == "Beta\nGamma\n\nOmega"
    assert cleaned.line_starts == (0, 5, 12)
    assert cleaned.line_numbers == (6, 7, 7)


def test_edge_paragraph_in_two_articles_is_removed_but_a_body_paragraph_stays() -> None:
    footer = "Contact the newsroom at news@example.com with tips and corrections for this story."
    quote = (
        "Officials said the long bridge closure had cost local businesses millions in lost trade."
    )
    first = make_article("a", [*body("a")[:3], quote, *body("a")[3:], footer])
    second = make_article("b", [*body("b")[:3], quote, *body("b")[3:], footer])
    for article in remove_corpus_boilerplate([first, second]):
        assert footer not in article.text
        assert quote in article.text


def test_syndicated_copies_keep_their_text() -> None:
    paragraphs = ["Headline of the story", *body("s", 4)]
    copies = [make_article("one", paragraphs), make_article("two", paragraphs)]
    assert remove_corpus_boilerplate(copies) == copies
    triple = [*copies, make_article("three", paragraphs)]
    assert remove_corpus_boilerplate(triple) == triple


def test_boilerplate_still_leaves_syndicated_copies() -> None:
    footer = "Sign in to read our weekly digest."
    copies = [make_article(name, [*body("s", 4), footer]) for name in ("one", "two")]
    others = [make_article(name, [*body(name, 4), footer]) for name in ("x", "y")]
    for article in remove_corpus_boilerplate([*copies, *others]):
        assert footer not in article.text
        assert article.text


def test_article_of_only_boilerplate_is_dropped() -> None:
    shared = "Sign in to read our weekly digest."
    articles = [
        make_article("empty", [shared]),
        *(make_article(name, [*body(name), shared]) for name in "ab"),
    ]
    assert [article.id for article in remove_corpus_boilerplate(articles)] == ["a", "b"]

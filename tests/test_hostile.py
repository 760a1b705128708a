"""Hostile inputs: every file is indexed, skipped with a reason, or rejected with an InputError."""

from __future__ import annotations

import codecs
import json
import os
import re
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qa.ingest
from qa.batch import BadRow, Question, read_questions
from qa.errors import InputError
from qa.ingest import MAX_ARTICLE_BYTES, IngestResult, Skipped, load_articles, record_id

MB = 1024 * 1024
_BAD_CHARACTER = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def reasons(result: IngestResult) -> dict[str, str]:
    return {Path(item.path).name: item.reason for item in result.skipped}


def peak_growth(run: Callable[[], Any]) -> tuple[Any, float]:
    """What ``run`` returns and the peak Python memory it allocated, in MB.

    Tests hold no wall-clock limits (they flake on a loaded machine); memory shows whether a
    file was read, and a hang still fails the suite.
    """
    tracemalloc.start()
    try:
        value = run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return value, peak / MB


def test_binary_bad_utf8_utf16_and_empty_files(tmp_path: Path) -> None:
    text = "Harbour reopens\n\nThe harbour reopened on Monday."
    (tmp_path / "utf16.md").write_bytes(text.encode("utf-16"))
    (tmp_path / "utf16be.txt").write_bytes(codecs.BOM_UTF16_BE + text.encode("utf-16-be"))
    (tmp_path / "random.txt").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "bad.html").write_bytes(b"<p>caf\xe9 \xff\xfe</p>")
    (tmp_path / "late_nul.txt").write_bytes(b"Some text\n" * 2000 + b"\x00 and more")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "empty.jsonl").write_bytes(b"\n \n")
    result = load_articles([tmp_path])
    assert [article.text for article in result.articles] == [text, text]
    assert reasons(result) == {
        "bad.html": "not UTF-8 text",
        "empty.jsonl": "empty",
        "empty.txt": "empty",
        "late_nul.txt": "binary file",
        "random.txt": "binary file",
    }


def test_huge_article_file_is_skipped_before_reading(tmp_path: Path) -> None:
    for name in ("huge.txt", "huge.md", "huge.html"):
        with open(tmp_path / name, "wb") as handle:
            handle.write(b"A title\n\nSome text. " * 100)
            handle.truncate(100 * MB)  # sparse: fast, and no disk used
    result, peak = peak_growth(lambda: load_articles([tmp_path]))
    assert result.articles == ()
    assert set(reasons(result).values()) == {"too large for one article (100.0 MB > 10 MB)"}
    assert len(result.skipped) == 3
    assert peak < 5


def test_file_just_under_the_limit_is_read(tmp_path: Path) -> None:
    with open(tmp_path / "big.txt", "wb") as handle:
        handle.write(b"Big title\n\n" + b"word " * ((MAX_ARTICLE_BYTES - 20) // 5))
    (article,) = load_articles([tmp_path / "big.txt"]).articles
    assert article.title == "Big title"


def test_big_jsonl_is_streamed(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    padding = "x" * 105_000  # a field that is not kept
    with open(path, "w", encoding="utf-8") as handle:
        for number in range(1000):
            record = {"id": str(number), "text": f"Story {number} happened today.", "raw": padding}
            handle.write(json.dumps(record) + "\n")
    assert path.stat().st_size > 100 * MB
    result, peak = peak_growth(lambda: load_articles([path]))
    assert len(result.articles) == 1000 and result.skipped == ()
    assert peak < 20, f"peak {peak:.1f} MB"


def test_jsonl_line_over_the_limit_is_skipped_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "one_big.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({"text": "First story."}) + "\n")
        handle.write('{"text": "' + "y" * (12 * MB) + '"}\n')
        handle.write(json.dumps({"text": "Third story."}) + "\n")
    result, peak = peak_growth(lambda: load_articles([path]))
    assert [article.text for article in result.articles] == ["First story.", "Third story."]
    assert result.skipped == (Skipped(str(path), "too large for one article (12.0 MB > 10 MB) on line 2"),)
    assert peak < 25


def test_huge_json_file_points_to_json_lines(tmp_path: Path) -> None:
    with open(tmp_path / "huge.json", "wb") as handle:
        handle.write(b'[{"text": "x"}')
        handle.truncate(60 * MB)
    (skipped,) = load_articles([tmp_path / "huge.json"]).skipped
    assert skipped.reason == ("too large for a JSON file; use JSON Lines (.jsonl) (60.0 MB > 50 MB)")


def test_json_record_over_the_limit_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "records.json"
    path.write_text(json.dumps([{"text": "z" * (11 * MB)}, {"text": "Kept."}]), encoding="utf-8")
    result = load_articles([path])
    assert [article.text for article in result.articles] == ["Kept."]
    assert result.skipped == (Skipped(str(path), "too large for one article (11.0 MB > 10 MB) on line 1"),)


@pytest.mark.parametrize(
    "line",
    [
        "word " * (MB + MB // 5),
        "[" * (5 * MB) + "](",
        "# x" + " " * (5 * MB) + "y",
        "[a](x" * MB,
        "\x1b]" * (5 * MB // 2),
    ],
    ids=["words", "brackets", "heading-blanks", "links", "escapes"],
)
def test_five_megabyte_line_is_loaded_or_skipped(tmp_path: Path, line: str) -> None:
    path = tmp_path / "line.txt"
    path.write_text(line, encoding="utf-8")
    result = load_articles([path])
    assert len(result.articles) + len(result.skipped) == 1


def test_a_page_on_one_long_html_line_maps_to_that_line(tmp_path: Path) -> None:
    paragraphs = "".join(f"<p>Paragraph {n} says something new about the harbour.</p>" for n in range(20_000))
    path = tmp_path / "one_line.html"
    path.write_text(f"<html><body>{paragraphs}<p>{'1 < 2 ' * 50_000}</p></body></html>", encoding="utf-8")
    (article,) = load_articles([path]).articles
    assert "Paragraph 19999 says" in article.text
    assert article.line_at(0) == 1 and article.line_at(len(article.text) - 1) == 1


def test_deeply_nested_html_does_not_crash(tmp_path: Path) -> None:
    path = tmp_path / "deep.html"
    path.write_text("<html><body>" + "<div>" * 100_000 + "Deep text." + "</div>" * 100_000, encoding="utf-8")
    result = load_articles([path])
    assert result.articles == ()
    assert reasons(result) == {"deep.html": "no text after cleaning"}


@pytest.mark.parametrize("error", [RecursionError(), ValueError("bad"), qa.ingest.etree.ParserError("x")])
def test_html_parser_errors_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    def explode(*args: Any, **kwargs: Any) -> None:
        raise error

    import trafilatura

    monkeypatch.setattr(trafilatura, "bare_extraction", explode)
    (tmp_path / "page.html").write_text("<html><body><p>Hi there.</p></body></html>", encoding="utf-8")
    assert reasons(load_articles([tmp_path])) == {"page.html": "unparseable HTML"}


def test_html_paragraph_missing_from_the_source_has_no_line_map(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        "<html><body><article><p>The harbour\nreopened on Monday after a long repair.</p></article></body></html>",
        encoding="utf-8",
    )
    (article,) = load_articles([tmp_path]).articles
    assert article.line_numbers == () and article.line_at(0) is None


def test_broken_jsonl_lines(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    lines = [
        '{"text": "Good one."}',
        "{not json",
        "[1, 2]",
        '"just a string"',
        '{"title": "no text"}',
        '{"text": 42}',
        '{"text": "   "}',
        "[" * 100_000,
        "1" * 5000,
        '{"text": "Second good one."}',
    ]
    path.write_bytes("\n".join(lines).encode() + b"\n\xff\xfe\n")
    result = load_articles([path])
    assert [article.text for article in result.articles] == ["Good one.", "Second good one."]
    assert [item.reason for item in result.skipped] == [
        "invalid JSON on line 2",
        "record without text on line 3",
        "record without text on line 4",
        "record without text on line 5",
        "record without text on line 6",
        "record without text on line 7",
        "invalid JSON on line 8",
        "invalid JSON on line 9",
        "not UTF-8 text on line 11",
    ]


def test_symlink_loop_and_dangling_link(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "story.txt").write_text("Story\n\nIt happened.", encoding="utf-8")
    os.symlink(tmp_path, tmp_path / "sub" / "up")
    os.symlink(tmp_path / "nowhere.txt", tmp_path / "dangling.txt")
    os.symlink("self.txt", tmp_path / "self.txt")
    result = load_articles([tmp_path])
    assert [article.title for article in result.articles] == ["Story"]
    assert reasons(result) == {
        "dangling.txt": "broken symbolic link", "self.txt": "symbolic link loop", "up": "symbolic link loop"
    }
    with pytest.raises(InputError, match=r"^no such file or directory: .*dangling\.txt$"):
        load_articles([tmp_path / "dangling.txt"])


def test_special_file_is_skipped(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    assert reasons(load_articles([tmp_path / "pipe.txt"])) == {"pipe.txt": "not a regular file"}


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.txt"
    path.write_text("Secret\n\nText.", encoding="utf-8")
    path.chmod(0)
    try:
        assert reasons(load_articles([tmp_path])) == {"secret.txt": "unreadable: Permission denied"}
    finally:
        path.chmod(0o600)


def test_permission_error_becomes_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "secret.txt").write_text("Secret\n\nText.", encoding="utf-8")
    (tmp_path / "secret.jsonl").write_text('{"text": "Secret."}\n', encoding="utf-8")

    def denied(*args: Any, **kwargs: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("builtins.open", denied)
    assert reasons(load_articles([tmp_path])) == {
        "secret.jsonl": "unreadable: Permission denied",
        "secret.txt": "unreadable: Permission denied",
    }


def test_control_characters_and_escapes_never_survive(tmp_path: Path) -> None:
    nasty = "\x1b[2J\x1b]0;title\x07\x9b31m\x9d0;x\x9c\x1bP\x07\x08\x7f\u0085"
    (tmp_path / "a.txt").write_text(f"Title{nasty} one\n\nBody{nasty} text.\r\nMore\x0c.", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(
        json.dumps({"text": f"Body{nasty} \ud800 text.", "title": f"Title{nasty}", "id": f"i{nasty}d"}) + "\n",
        encoding="utf-8",
    )
    (tmp_path / "c.html").write_text(
        f"<html><head><title>Title{nasty}</title></head><body>"
        f"<p>Body text{nasty} that is long enough to be kept as the main text.</p>"
        "</body></html>",
        encoding="utf-8",
    )
    # lxml gives up on character references to control characters: such a page is skipped
    (tmp_path / "d.html").write_text("<html><body><p>Body&#27;[2J text &#7; here.</p></body></html>")
    result = load_articles([tmp_path])
    assert len(result.articles) == 3
    assert reasons(result) == {"d.html": "no text after cleaning"}
    for article in result.articles:
        for value in (article.text, article.title, article.id, article.source, article.byline):
            assert not _BAD_CHARACTER.search(value or ""), repr(value)
    assert [article.title for article in result.articles] == ["Title one", "Title", "Title"]
    assert record_id(result.articles[1].id) == "id"


def check_result(result: IngestResult) -> None:
    for article in result.articles:
        assert not _BAD_CHARACTER.search(article.text)
        assert not _BAD_CHARACTER.search(article.title or "")
        for offset in range(0, len(article.text), max(1, len(article.text) // 20)):
            line = article.line_at(offset)
            assert line is None or line >= 1


_EXTENSIONS = st.sampled_from([".txt", ".md", ".html", ".json", ".jsonl"])
_TEXT = st.text(st.characters(codec="utf-8"), max_size=300)
_MARKUP = st.lists(
    st.sampled_from(
        [
            "<p>",
            "</p>",
            "<div>",
            "<body>",
            "# ",
            "[a](b)",
            "![",
            "](",
            "\x1b[",
            "\x00",
            "\n",
            "\r\n",
            '{"text": "',
            '"}',
            "[",
            "]",
            "{",
            "}",
            ",",
            "&amp;",
            "&#0;",
            "---\n",
            "title: x\n",
            "Read more",
        ]
    )
    | _TEXT,
    max_size=30,
).map("".join)
_CONTENT = st.one_of(st.binary(max_size=400), _TEXT.map(str.encode), _MARKUP.map(str.encode))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.tuples(_CONTENT, _EXTENSIONS), min_size=1, max_size=3))
def test_fuzz_load_articles(tmp_path_factory: pytest.TempPathFactory, files: list[tuple[bytes, str]]) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    for number, (content, extension) in enumerate(files):
        (folder / f"f{number}{extension}").write_bytes(content)
    try:
        result = load_articles([folder])
    except InputError:
        return
    check_result(result)


_QUESTION_MARKUP = st.lists(
    st.sampled_from(['{"question": "', '"}', '"', ",", "\t", "\n", "\r", "question", "id", "[", "{", "1" * 5000])
    | _TEXT,
    max_size=20,
).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    content=st.one_of(st.binary(max_size=300), _QUESTION_MARKUP.map(str.encode)),
    extension=st.sampled_from([".txt", ".csv", ".tsv", ".jsonl"]),
)
def test_fuzz_read_questions(tmp_path_factory: pytest.TempPathFactory, content: bytes, extension: str) -> None:
    path = tmp_path_factory.mktemp("questions") / f"q{extension}"
    path.write_bytes(content)
    try:
        rows = list(read_questions(path))
    except InputError:
        return
    assert all(isinstance(row, (Question, BadRow)) for row in rows)


def test_question_line_too_long(tmp_path: Path) -> None:
    path = tmp_path / "q.txt"
    path.write_text("First?\n" + "x" * (2 * MB) + "\nThird?\n", encoding="utf-8")
    rows, peak = peak_growth(lambda: list(read_questions(path)))
    assert rows == [
        Question(id="1", question="First?", line=1),
        BadRow(2, "line longer than 1048576 characters"),
        Question(id="3", question="Third?", line=3),
    ]
    assert peak < 12
    (tmp_path / "q.csv").write_text("question\n" + "x" * (2 * MB) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="^line 2 is longer than 1048576 characters$"):
        list(read_questions(tmp_path / "q.csv"))


def test_a_file_name_that_is_not_utf8_is_indexed_and_cited(tmp_path):
    from embeddings import HashingEncoder
    from qa.index import Index
    from qa.writer import build_index

    folder = tmp_path / "c"
    folder.mkdir()
    name = os.fsencode(folder) + b"/caf\xe9.txt"
    with open(name, "w") as handle:
        handle.write("Title here\n\nThe council approved the budget on Tuesday.\n")
    build_index([folder], tmp_path / "idx", encoder=HashingEncoder())
    again = build_index([folder], tmp_path / "idx", encoder=HashingEncoder())
    assert (again.unchanged, again.removed) == (1, 0)
    article = next(iter(Index.open(tmp_path / "idx").all_articles().values()))
    assert article.path.endswith("caf\ufffd.txt")

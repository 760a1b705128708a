"""Tests of qa.ingest: files, folders, formats, the demo corpus and the benchmark file."""

from __future__ import annotations

import codecs
import hashlib
import html
import json
import os
import re
from pathlib import Path

import pytest

from qa.errors import InputError
from qa.ingest import Skipped, load_articles, record_id
from qa.models import Article

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo-corpus"
DATA = Path(__file__).resolve().parent / "data"
BENCHMARK = Path("/work/shared/data/realtimeqa-dev/articles.jsonl")
_LINK = re.compile(r"!\[[^\]]*\]\([^)]*\)|\[([^\]]*)\]\([^)]*\)")


def normalize_source_line(line: str) -> str:
    """What a source line reads like after entity decoding and link unwrapping."""
    return _LINK.sub(lambda match: match[1] or "", html.unescape(line))


def kept_lines(text: str, line_starts: tuple[int, ...]) -> list[str]:
    """The text of each kept source line."""
    return [text[start:].split("\n", 1)[0] for start in line_starts]


@pytest.fixture(scope="module")
def demo() -> dict[str, Article]:
    result = load_articles([DEMO])
    assert result.skipped == ()
    return {Path(article.path or "").name[:3]: article for article in result.articles}


def test_demo_metadata(demo: dict[str, Article]) -> None:
    assert sorted(demo) == ["000", "001", "002", "003", "004"]
    first = demo["000"]
    assert first.title is not None and first.title.startswith(
        "Sergey Lavrov, the Foreign Minister of Russia"
    )
    assert first.date == "2016-02-03"
    assert (
        first.url
        == "http://news.yahoo.com/russia-keep-bombing-syria-until-terrorists-defeated-lavrov-093455748.html"
    )
    assert first.source == "AFP via Yahoo! News"
    assert (
        demo["001"].title
        == "Russian Federation says Islamic State group not only airstrike target in Syria"
    )
    assert demo["002"].title == "Russian Federation Maintains Syria Strikes Target ISIL"
    assert demo["003"].title == "Despite Withdrawal, Russia to Continue Bombing in Syria"
    assert demo["004"].title == "Russia Increases Pressure on Islamic State in Syria"
    for article in demo.values():
        assert article.path == str(DEMO / Path(article.path or "").name)
        resolved = (DEMO / Path(article.path or "").name).resolve()
        assert article.id == hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
        assert article.content_hash == hashlib.sha256(article.text.encode()).hexdigest()


def test_demo_text_is_clean(demo: dict[str, Article]) -> None:
    assert '"terrorist organisations"' in demo["000"].text
    for article in demo.values():
        for junk in (
            "&quot;",
            "Related:",
            "_Context:",
            "Source:",
            "Read more",
            "Support The Moscow Times!",
            "](",
        ):
            assert junk not in article.text
        assert "#" not in article.text
    for key in ("003", "004"):
        for junk in (
            "one-time donation",
            "Dear readers",
            "help keep it alive",
            "newsletter",
            "Remind me later",
        ):
            assert junk not in demo[key].text
    assert "Hassan Haj Ali, head of the Liwa Suqour al-Jabal rebel group" in demo["001"].text
    assert "Lavrov accused the U.S.-led coalition" in demo["004"].text
    assert "Lavrov Critiques U.S. Military Operation" in demo["004"].text
    assert demo["003"].text.endswith("Islamic State is a terrorist group banned in Russia.")
    assert demo["004"].text.endswith("by targeting his political opponents.")


def test_demo_line_map(demo: dict[str, Article]) -> None:
    for article in demo.values():
        source = (ROOT / (article.path or "")).read_text(encoding="utf-8").split("\n")
        assert len(article.line_starts) == len(article.line_numbers) > 0
        for start, line in zip(
            article.line_starts, kept_lines(article.text, article.line_starts), strict=True
        ):
            number = article.line_at(start)
            assert number is not None
            assert line in normalize_source_line(source[number - 1])
            assert article.line_at(start + len(line) - 1) == number


def test_html_page() -> None:
    result = load_articles([DATA / "news_page.html"])
    (article,) = result.articles
    assert article.title == "Harbour bridge reopens after repairs"
    assert (
        article.url == "https://www.coastalcourier.example/news/2021/04/12/harbour-bridge-reopens"
    )
    assert article.date == "2021-04-12"
    assert article.source == "Coastal Courier"
    assert article.byline == "Maria Jensen"
    assert 'cost the city "far more than planned", officials said.' in article.text
    assert "Mayor Lena Holt thanked residents" in article.text
    assert "will not require a full closure of the bridge." in article.text
    for junk in (
        "Subscribe today",
        "Ferry operators report record",
        "Related stories",
        "Copyright",
        "Privacy policy",
    ):
        assert junk not in article.text
    page = (DATA / "news_page.html").read_text(encoding="utf-8").split("\n")
    start = article.text.index("Engineers replaced 42 steel cables")
    assert "Engineers replaced 42 steel cables" in page[(article.line_at(start) or 0) - 1]


def test_jsonl_records_and_problems() -> None:
    result = load_articles([DATA / "records.jsonl"])
    path = str(DATA / "records.jsonl")
    assert result.skipped == (
        Skipped(path, "invalid JSON on line 3"),
        Skipped(path, "record without text on line 4"),
    )
    first, second = result.articles
    file = hashlib.sha1(str((DATA / "records.jsonl").resolve()).encode()).hexdigest()[:12]
    assert first.id == f"{file}#101" and record_id(first.id) == "101"  # namespaced by its file
    assert (first.title, first.date) == ("Ferry service resumes", "2022-06-12")
    assert first.source == "cnn.com"
    assert (
        first.text
        == 'The ferry service resumed on Sunday.\n\nOfficials said demand was "very strong".'
    )
    assert first.line_numbers == (1, 1)
    assert first.line_at(len(first.text) - 1) == 1
    assert (
        second.id
        == hashlib.sha1(f"{(DATA / 'records.jsonl').resolve()}#5".encode()).hexdigest()[:12]
    )
    assert record_id(second.id) is None
    assert (second.source, second.date, second.title) == ("Example News", "2022-06-14", None)
    assert second.line_numbers == (5, 5)
    assert first.path == second.path == path


def test_json_array() -> None:
    result = load_articles([DATA / "records.json"])
    assert result.skipped == ()
    first, second = result.articles
    assert (record_id(first.id), first.title, first.date) == ("a-1", "Rail line extended", "2020-03-05")
    assert first.source == "rail.example.com"
    assert first.line_numbers == (2, 2)
    assert record_id(second.id) == "a-2" and second.line_numbers == (9,)
    assert second.text == "Bus fares will rise by 5 percent in July, the transport authority said."


def test_json_object(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text(
        '\n\n{"text": "A single object works too."}\n', encoding="utf-8"
    )
    (article,) = load_articles([tmp_path / "one.json"]).articles
    assert article.text == "A single object works too." and article.line_numbers == (3,)


def test_encodings_and_unreadable_files(tmp_path: Path) -> None:
    text = "Café owners protested on Monday.\n\nThe council listened."
    (tmp_path / "bom8.txt").write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    (tmp_path / "utf16.txt").write_bytes(text.encode("utf-16"))
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 ouvert".encode("latin-1"))
    (tmp_path / "empty.md").write_bytes(b"")
    (tmp_path / "blank.md").write_bytes(b" \n\n \n")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    result = load_articles([tmp_path])
    assert [article.text for article in result.articles] == [text, text]
    assert {Path(item.path).name: item.reason for item in result.skipped} == {
        "binary.txt": "binary file",
        "blank.md": "empty",
        "empty.md": "empty",
        "image.png": "unsupported extension",
        "latin1.txt": "not UTF-8 text",
    }


def test_explicit_unsupported_file_is_read_as_text(tmp_path: Path) -> None:
    (tmp_path / "notes.log").write_text(
        "Storm warning for the coast\n\nWinds reached 100 km/h.", encoding="utf-8"
    )
    (article,) = load_articles([tmp_path / "notes.log"]).articles
    assert article.title == "Storm warning for the coast"
    assert load_articles([tmp_path]).skipped == (
        Skipped(str(tmp_path / "notes.log"), "unsupported extension"),
    )


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^no such file or directory: .*nowhere$"):
        load_articles([tmp_path / "nowhere"])


def test_folders_hidden_files_links_dates_and_duplicates(tmp_path: Path) -> None:
    (tmp_path / "2016" / "02" / "03").mkdir(parents=True)
    (tmp_path / "2016" / "02" / "03" / "story.txt").write_text(
        "Dated by folder\n\nText one.", encoding="utf-8"
    )
    (tmp_path / "b_20191231.md").write_text("Dated by name\n\nText two.", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("Hidden\n\nNo.", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text("Hidden\n\nNo.", encoding="utf-8")
    os.symlink(tmp_path, tmp_path / "loop")
    result = load_articles([tmp_path, tmp_path / "b_20191231.md"])
    assert [(article.title, article.date) for article in result.articles] == [
        ("Dated by folder", "2016-02-03"),
        ("Dated by name", "2019-12-31"),
    ]
    assert result.articles[0].path == str(tmp_path / "2016" / "02" / "03" / "story.txt")


def test_empty_folder_gives_an_empty_result(tmp_path: Path) -> None:
    assert load_articles([tmp_path]).articles == ()


@pytest.mark.skipif(not BENCHMARK.exists(), reason="benchmark data not available")
def test_benchmark_file_loads() -> None:
    result = load_articles([BENCHMARK])
    assert result.skipped == ()
    assert len(result.articles) == 2030
    assert len({article.id for article in result.articles}) == 2030
    assert all(article.date and article.source and article.text for article in result.articles)


_STORY = ("The council met on Monday to debate the budget for the coming year. Members argued "
          "for three hours about the cost of the new bridge over the river.")


def test_text_left_out_after_an_appeal_is_reported_with_its_line(tmp_path: Path) -> None:
    """An appeal in an article's second half ends it; what followed it is reported, not dropped
    silently (hashing-free: ingest only)."""
    (tmp_path / "story.txt").write_text(
        f"Council debates budget\n\n{_STORY}\n\n{_STORY}\n\nSupport The Gazette!\n\n"
        "The bridge opens in May, the mayor said later.\n\nMore appeals here.\n"
    )
    result = load_articles([tmp_path])
    (article,) = result.articles
    assert "The bridge opens in May" not in article.text
    assert result.skipped == ()
    assert [(Path(t.path).name, t.reason) for t in result.trimmed] == [
        ("story.txt", "2 lines of text after the appeal \u201cSupport The Gazette!\u201d on line 7 left out")
    ]


def test_a_json_record_cut_after_an_appeal_names_its_record_line(tmp_path: Path) -> None:
    other = _STORY.replace("budget", "harbour").replace("bridge", "ferry")
    records = [{"id": "a", "text": f"{_STORY}\n\n{_STORY}"},
               {"id": "b", "text": f"{other}\n\n{other}\n\nDear readers,\n\nPlease give."}]
    (tmp_path / "feed.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    result = load_articles([tmp_path / "feed.jsonl"])
    assert len(result.articles) == 2
    assert [t.reason for t in result.trimmed] == [
        "1 line of text after the appeal \u201cDear readers,\u201d in the record on line 2 left out"
    ]


def test_an_article_without_an_appeal_is_not_reported_as_trimmed(tmp_path: Path) -> None:
    (tmp_path / "story.txt").write_text(f"Council debates budget\n\n{_STORY}\n\nSupport The Gazette!\n")
    result = load_articles([tmp_path])
    assert len(result.articles) == 1 and result.trimmed == ()  # the appeal alone goes silently

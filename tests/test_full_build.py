"""A full build streams: the articles are counted in a first reading, then read again and
stored one at a time, so no structure holds every article's text (hashing encoder: these are
tests of storage and cleaning, not of answer quality)."""

from __future__ import annotations

import os
import time
import weakref
from pathlib import Path

import pytest

import qa.ingest
import qa.writer
from embeddings import HashingEncoder
from qa.errors import InputError
from qa.index import Index
from qa.ingest import load_articles
from qa.writer import build_index

HEADER = "Daily Ledger staff report."
FOOTER = "Subscribe to the Daily Ledger newsletter for more stories like this one."


def write_stories(folder: Path, count: int) -> None:
    """``count`` stories sharing a header and a footer (corpus boilerplate), and one that is
    only those."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        body = " ".join(f"Report {n} sentence {s} tells of harbour number {n * 7 + s}." for s in range(6))
        (folder / f"{n:03d}.txt").write_text(f"Story {n}\n\n{HEADER}\n\n{body}\n\n{FOOTER}")
    (folder / "boilerplate-only.txt").write_text(f"{HEADER}\n\n{FOOTER}")
    settled = time.time() - 60  # a file seconds old is never trusted as unchanged
    for path in folder.iterdir():
        os.utime(path, (settled, settled))


def test_a_full_build_holds_only_a_few_articles_at_a_time(tmp_path, monkeypatch):
    write_stories(tmp_path / "c", 40)
    alive: set[int] = set()
    most = 0

    def track(article):
        if article is not None and id(article) not in alive:
            alive.add(id(article))
            weakref.finalize(article, alive.discard, id(article))
        return article

    real_load, real_strip = qa.ingest._load_file, qa.ingest.without_boilerplate

    def load(*args, **kwargs):
        nonlocal most
        loaded, problems = real_load(*args, **kwargs)
        for article in loaded:
            track(article)
        most = max(most, len(alive))
        return loaded, problems

    monkeypatch.setattr(qa.ingest, "_load_file", load)
    monkeypatch.setattr(qa.ingest, "without_boilerplate", lambda *a: track(real_strip(*a)))
    report = build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    assert report.articles == 40
    # The one being stored, the next one read, and their raw versions: a few, not 40.
    assert most <= 6, f"{most} articles held at once while building"


def test_a_full_build_cleans_and_reports_as_reading_everything_at_once_does(tmp_path):
    write_stories(tmp_path / "c", 12)
    report = build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    read = load_articles([tmp_path / "c"])
    index = Index.open(tmp_path / "idx")
    indexed = index.all_articles()
    census = {c.article_id: c for c in index.paragraph_census()}
    files = index.files
    index.close()
    assert indexed == {a.id: a for a in read.articles}
    assert all(HEADER not in a.text and FOOTER not in a.text for a in indexed.values())
    assert census == read.census
    assert report.skipped == read.skipped
    assert [s.path.endswith("boilerplate-only.txt") for s in report.skipped] == [True]
    assert "repeated across the corpus" in report.skipped[0].reason
    assert files == read.files  # every file's state is kept, with what reading it reported


def test_a_file_changed_between_the_two_readings_is_indexed_as_it_is_now(tmp_path, monkeypatch):
    write_stories(tmp_path / "c", 6)
    changed = tmp_path / "c" / "003.txt"
    real_scan = qa.writer.scan_articles

    def scan_then_change(paths):
        scanned = real_scan(paths)
        changed.write_text("Story 3 rewritten\n\nThe comet Hale-Bopp returned to the harbour today.")
        return scanned

    monkeypatch.setattr(qa.writer, "scan_articles", scan_then_change)
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    index = Index.open(tmp_path / "idx")
    texts = {a.path: a.text for a in index.all_articles().values()}
    files = index.files
    index.close()
    assert "Hale-Bopp" in texts[str(changed.resolve())]
    assert str(changed.resolve()) not in files  # so the next update reads it again
    assert len(files) == 6  # the other files (and the boilerplate-only one) are known


def test_a_full_build_of_nothing_usable_fails_with_one_line(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "picture.png").write_bytes(b"\x89PNG")
    with pytest.raises(InputError, match=r"no articles found in .* \(1 files skipped\)"):
        build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    assert not (tmp_path / "idx" / "CURRENT").exists()

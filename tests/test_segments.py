"""An index that grows by segments: an update writes a new segment for what changed and
tombstones for what went, searches merge the segments, and small segments merge (all with the
hashing encoder: these are tests of storage, not of answer quality)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embeddings import HashingEncoder
from qa import layout
from qa.index import Index
from qa.models import Filters
from qa.writer import MAX_SEGMENTS, build_index, remove_articles

TOPICS = ["election", "wildfire", "inflation", "vaccine", "satellite", "earthquake", "strike",
          "tariff", "drought", "merger", "protest", "hurricane"]


def write_story(folder: Path, n: int, topic: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    topic = topic or TOPICS[n % len(TOPICS)]
    rng = np.random.default_rng(n)
    sentences = " ".join(
        f"The {topic} report {n} mentions {TOPICS[int(rng.integers(len(TOPICS)))]} in sentence {s}."
        for s in range(int(rng.integers(4, 20))))
    path = folder / f"{n:03d}.txt"
    path.write_text(f"Story {n} about {topic}\n\n{sentences}")
    return path


def files_of(directory: Path) -> dict[str, tuple[int, int]]:
    """Each file under ``directory``: (inode, modification time in ns)."""
    return {str(p.relative_to(directory)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in directory.rglob("*") if p.is_file()}


def segment_names(index_dir: Path) -> list[str]:
    current = (index_dir / layout.CURRENT_FILE).read_text().strip()
    manifest = json.loads((index_dir / current / layout.MANIFEST).read_text())
    return [s["name"] for s in manifest["segments"]]


def live_layout(index: Index) -> dict[str, tuple]:
    """Each live chunk by id: its place, its sentences' places and the stored vectors."""
    rows = index.live_rows()
    vectors = index.chunk_vectors(rows)
    return {c.id: (c.article_id, c.start, c.end, vectors[n].tobytes(),
                   tuple((s.start, s.end, index.sentence_vectors[s.vector_row].tobytes())
                         for s in c.sentences))
            for n, c in enumerate(index.chunks(list(rows)))}


def test_an_update_touches_only_new_segment_files(tmp_path):
    for n in range(40):
        write_story(tmp_path / "c", n)
    encoder = HashingEncoder()
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=encoder)
    (first,) = segment_names(tmp_path / "idx")
    before = files_of(tmp_path / "idx" / first)
    write_story(tmp_path / "c", 40, "comet")
    report = build_index([tmp_path / "c"], tmp_path / "idx", encoder=encoder)
    assert (report.added, report.unchanged, report.articles) == (1, 40, 41)
    names = segment_names(tmp_path / "idx")
    assert names[0] == first and len(names) == 2
    assert files_of(tmp_path / "idx" / first) == before  # not one file of it rewritten
    index = Index.open(tmp_path / "idx")
    new = index.segments[1]
    assert list(new.article_dates) == [a for a in index.article_dates if index.article(a).title == "Story 40 about comet"]
    top = index.chunks([index.lexical_search(["comet report"], 1)[0][0][0]])[0]
    assert index.article(top.article_id).title == "Story 40 about comet"
    question = encoder.encode(["Story 40 about comet"])
    assert index.article(index.chunks([index.dense_search(question, 1)[0][0][0]])[0].article_id).title \
        == "Story 40 about comet"
    assert index.stats()[:2] == (41, len(index.live_rows()))
    index.close()


def test_deletes_are_tombstones_and_a_readded_article_is_found_again(tmp_path):
    for n in range(12):
        write_story(tmp_path / "c", n)
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    (first,) = segment_names(tmp_path / "idx")
    before = files_of(tmp_path / "idx" / first)
    gone = tmp_path / "c" / "004.txt"
    text = gone.read_text()
    report = remove_articles([str(gone)], tmp_path / "idx")
    assert (report.removed, report.articles) == (1, 11)
    assert segment_names(tmp_path / "idx") == [first] and files_of(tmp_path / "idx" / first) == before
    index = Index.open(tmp_path / "idx")
    removed_id = next(i for i in index.segments[0].article_dates if i not in index.article_dates)
    live = set(index.live_rows().tolist())
    assert len(live) < index.chunk_count  # the removed article's rows stay, dead
    for hits in (index.lexical_search(["vaccine report 4"], 50)[0],
                 index.dense_search(HashingEncoder().encode(["Story 4 about satellite"]), 50)[0]):
        assert hits and all(row in live for row, _ in hits)
    assert all(row in live for row in index.rows_matching(Filters(sources=("",))).tolist() or [])
    assert removed_id not in index.all_articles() and index.stats()[0] == 11
    index.close()

    gone.unlink()
    gone.write_text(text)
    report = build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    assert (report.added, report.articles) == (1, 12)
    index = Index.open(tmp_path / "idx")
    assert removed_id in index.article_dates and index.stats()[0] == 12
    assert index.article(removed_id).text == index.segments[-1].article(removed_id).text
    index.close()


def test_a_changed_article_replaces_its_old_version_everywhere(tmp_path):
    for n in range(10):
        write_story(tmp_path / "c", n)
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    (tmp_path / "c" / "003.txt").write_text("Story 3 rewritten\n\nA glacier report replaced it.")
    report = build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    assert (report.updated, report.articles) == (1, 10)
    index = Index.open(tmp_path / "idx")
    hits = index.lexical_search(["glacier"], 10)[0]
    assert len(hits) == 1
    (chunk,) = index.chunks([hits[0][0]])
    assert index.article(chunk.article_id).title == "Story 3 rewritten"
    old_rows = [r for r, _ in index.lexical_search(["Story 3 about earthquake"], 100)[0]]
    assert all(index.article(c.article_id).title != "Story 3 about earthquake" for c in index.chunks(old_rows))
    index.close()


def test_small_segments_merge_and_the_result_equals_a_fresh_build(tmp_path):
    for n in range(30):
        write_story(tmp_path / "c", n)
    encoder = HashingEncoder()
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=encoder)
    counts = []
    for n in range(30, 38):  # one article an update: segments of 1, 2, 4 ... merge as they go
        write_story(tmp_path / "c", n)
        build_index([tmp_path / "c"], tmp_path / "idx", encoder=encoder)
        counts.append(len(segment_names(tmp_path / "idx")))
    (tmp_path / "c" / "031.txt").unlink()  # and a tombstone in a merged segment
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=encoder)
    assert max(counts) <= 4 and counts[1] == 2  # the second one-article segment merged the first
    assert len(segment_names(tmp_path / "idx")) <= MAX_SEGMENTS
    on_disk = {p.name for p in (tmp_path / "idx").iterdir() if p.name.startswith("gen-")}
    assert on_disk == set(segment_names(tmp_path / "idx")) | {(tmp_path / "idx" / "CURRENT").read_text().strip()}
    build_index([tmp_path / "c"], tmp_path / "fresh", encoder=encoder, rebuild=True)
    grown, fresh = Index.open(tmp_path / "idx"), Index.open(tmp_path / "fresh")
    assert live_layout(grown) == live_layout(fresh)
    assert grown.stats() == fresh.stats()
    # BM25 over segments uses the whole archive's term statistics: the same article on top as
    # with one segment (further down, near-ties may swap)
    for question in ("Story 35", "Story 2 about inflation", "Story 36 hurricane"):
        found = [ix.chunks([ix.lexical_search([question], 1)[0][0][0]])[0].article_id for ix in (grown, fresh)]
        assert found[0] == found[1], question
    grown.close()
    fresh.close()


def test_segments_scores_match_one_segment_within_length_normalisation(tmp_path):
    """The same articles in two segments or in one: the BM25 scores of each chunk agree (only
    the segments' average chunk lengths differ, and all stories here are alike)."""
    for n in range(20):
        write_story(tmp_path / "c", n)
    encoder = HashingEncoder()
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=encoder)
    for n in range(20, 23):
        write_story(tmp_path / "c", n)
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=encoder)
    build_index([tmp_path / "c"], tmp_path / "fresh", encoder=encoder, rebuild=True)
    grown, fresh = Index.open(tmp_path / "idx"), Index.open(tmp_path / "fresh")
    assert len(grown.segments) == 2
    scores = []
    for ix in (grown, fresh):
        hits = ix.lexical_search(["hurricane report"], 200)[0]
        scores.append({c.id: s for c, (_, s) in zip(ix.chunks([r for r, _ in hits]), hits)})
    assert scores[0].keys() == scores[1].keys()
    ratio = np.array([scores[0][k] / scores[1][k] for k in scores[1]])
    assert np.all(np.abs(ratio - 1) < 0.1), ratio
    grown.close()
    fresh.close()


def test_an_update_reads_only_changed_files_and_reports_as_before(tmp_path, monkeypatch):
    """Unchanged files (same size, times and inode) are not read again; what reading them
    reported (skipped, trimmed) is reported again, and the index equals a fresh build."""
    import os

    import qa.ingest

    monkeypatch.setattr(qa.ingest, "_SETTLED_NS", 0)  # these files are seconds old, not minutes
    folder = tmp_path / "c"
    for n in range(8):
        write_story(folder, n)
    appeal = "\n\n".join(f"News sentence number {n} about the harbour." for n in range(6))
    (folder / "appeal.txt").write_text("Harbour news\n\n" + appeal + "\n\nDear readers,\n\nWe need your money.\n\nThanks.")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    encoder = HashingEncoder()
    first = build_index([folder], tmp_path / "idx", encoder=encoder)
    assert first.skipped and first.trimmed

    read: list[str] = []
    load_file = qa.ingest._load_file
    monkeypatch.setattr(qa.ingest, "_load_file", lambda path, *a, **k: read.append(path.name) or load_file(path, *a, **k))
    again = build_index([folder], tmp_path / "idx", encoder=encoder)
    assert read == [] and (again.unchanged, again.added, again.articles) == (9, 0, 9)
    assert (again.skipped, again.trimmed) == (first.skipped, first.trimmed)

    (folder / "003.txt").write_text("Story 3 rewritten\n\nA glacier report replaced it.")
    write_story(folder, 20)
    os.utime(folder / "005.txt")  # touched, not changed: read again, nothing rewritten
    grown = build_index([folder], tmp_path / "idx", encoder=encoder)
    assert sorted(read) == ["003.txt", "005.txt", "020.txt"]
    assert (grown.added, grown.updated, grown.articles) == (1, 1, 10)
    read.clear()
    build_index([folder], tmp_path / "idx", encoder=encoder)
    assert read == []  # the touched file's new stamp was kept

    gone = remove_articles([str(folder / "001.txt")], tmp_path / "idx")
    assert gone.removed == 1
    back = build_index([folder], tmp_path / "idx", encoder=encoder)
    assert read == ["001.txt"] and back.added == 1  # a removed article's file is read again

    build_index([folder], tmp_path / "fresh", encoder=encoder)
    grown_index, fresh = Index.open(tmp_path / "idx"), Index.open(tmp_path / "fresh")
    assert live_layout(grown_index) == live_layout(fresh)
    grown_index.close()
    fresh.close()


def test_a_merge_never_grows_a_segment_past_its_maximum(tmp_path, monkeypatch):
    """A merge stops short of MAX_SEGMENT_CHUNKS: an update rewrites at most about that many
    chunks, however large the archive (hashing encoder)."""
    import qa.writer

    monkeypatch.setattr(qa.writer, "MAX_SEGMENT_CHUNKS", 10)
    encoder = HashingEncoder()
    largest_merge = 0
    for n in range(20):
        write_story(tmp_path / "c", n)
        report = build_index([tmp_path / "c"], tmp_path / "idx", encoder=encoder)
        index = Index.open(tmp_path / "idx")
        largest_merge = max(largest_merge, *(s.chunk_count for s in index.segments))
        index.close()
        assert report.articles == n + 1
    assert largest_merge == 10  # segments did merge, up to the maximum and no further
    build_index([tmp_path / "c"], tmp_path / "fresh", encoder=encoder)
    grown, fresh = Index.open(tmp_path / "idx"), Index.open(tmp_path / "fresh")
    assert live_layout(grown) == live_layout(fresh)


def test_a_full_build_writes_one_segment_per_maximum_size(tmp_path, monkeypatch):
    """A build holds one segment in memory at a time: past MAX_SEGMENT_CHUNKS it seals the
    segment and starts the next, and the index answers as if it were one (hashing encoder)."""
    import qa.writer

    for n in range(20):
        write_story(tmp_path / "c", n)
    encoder = HashingEncoder()
    build_index([tmp_path / "c"], tmp_path / "whole", encoder=encoder)
    monkeypatch.setattr(qa.writer, "MAX_SEGMENT_CHUNKS", 10)
    report = build_index([tmp_path / "c"], tmp_path / "split", encoder=encoder)
    whole, split = Index.open(tmp_path / "whole"), Index.open(tmp_path / "split")
    assert len(whole.segments) == 1 and len(split.segments) == 5
    longest = max(whole.segments[0].chunks_of([i]) for i in whole.article_dates)
    assert all(s.chunk_count < 10 + longest for s in split.segments)  # whole articles, cut past 10
    assert report.chunks == whole.stats()[1] and live_layout(split) == live_layout(whole)
    question = encoder.encode(["the report mentions sentence 3"])
    assert split.dense_search(question, 5) == whole.dense_search(question, 5)
    on_disk = {p.name for p in (tmp_path / "split").iterdir() if p.name.startswith("gen-")}
    assert on_disk == {s.generation.name for s in split.segments}


def test_a_build_that_fails_after_sealing_a_segment_leaves_the_previous_index(tmp_path, monkeypatch):
    """A segment sealed on its own is not part of any generation until the manifest naming it
    is switched in: a build failing at the next one leaves the previous index as it was, and
    the next update deletes the leftover (hashing encoder)."""
    import qa.segment_writer
    import qa.writer

    encoder = HashingEncoder()
    for n in range(4):
        write_story(tmp_path / "c", n)
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=encoder)
    before = live_layout(Index.open(tmp_path / "idx"))
    listed = {p.name for p in (tmp_path / "idx").iterdir()}
    for n in range(4, 20):
        write_story(tmp_path / "c", n)
    monkeypatch.setattr(qa.writer, "MAX_SEGMENT_CHUNKS", 10)
    written = qa.segment_writer.write_segment
    calls = []

    def failing_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return written(*args, **kwargs)

    monkeypatch.setattr(qa.writer, "write_segment", failing_second)
    with pytest.raises(OSError):
        build_index([tmp_path / "c"], tmp_path / "idx", encoder=encoder, rebuild=True)
    leftovers = {p.name for p in (tmp_path / "idx").iterdir()} - listed
    assert len(leftovers) == 1  # the sealed first segment; the partial second one is gone
    assert live_layout(Index.open(tmp_path / "idx")) == before
    monkeypatch.setattr(qa.writer, "write_segment", written)
    report = build_index([tmp_path / "c"], tmp_path / "idx", encoder=encoder)
    assert report.articles == 20
    assert not leftovers & {p.name for p in (tmp_path / "idx").iterdir()}

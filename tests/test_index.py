from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from embeddings import HashingEncoder
from qa.errors import IndexFormatError, IndexMissingError, InputError
from qa.index import Index, index_info
from qa.segment_writer import embedding_text
from qa.writer import build_index

TOPICS = ["election", "wildfire", "inflation", "vaccine", "satellite", "earthquake", "strike",
          "tariff", "drought", "merger", "protest", "hurricane"]


def write_corpus(folder: Path, articles: int = 40) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for n in range(articles):
        topic = TOPICS[n % len(TOPICS)]
        sentences = [
            f"The {topic} report number {n} mentions {TOPICS[int(rng.integers(len(TOPICS)))]} and "
            f"{TOPICS[int(rng.integers(len(TOPICS)))]} in sentence {s}."
            for s in range(int(rng.integers(3, 25)))
        ]
        (folder / f"{n:03d}.txt").write_text(f"Story {n} about {topic}\n\n" + " ".join(sentences))


def test_dense_search_matches_brute_force_over_stored_chunks(tmp_path):
    """FAISS rows line up with the chunk store: its top-k equals a numpy top-k over the texts."""
    write_corpus(tmp_path / "c", articles=60)
    encoder = HashingEncoder()
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=encoder)
    index = Index.open(tmp_path / "idx")
    rows = list(range(index.chunk_count))
    chunks = index.chunks(rows)
    matrix = encoder.encode([embedding_text(index.article(c.article_id), c) for c in chunks])
    queries = encoder.encode([f"{a} and {b}" for a in TOPICS for b in TOPICS[:3]])
    for k in (1, 7, 50, index.chunk_count):
        results = index.dense_search(queries, k)
        expected = matrix @ queries.T
        for q in range(len(queries)):
            found = [row for row, _ in results[q]]
            scores = np.array([score for _, score in results[q]])
            oracle = np.sort(expected[:, q])[::-1][:k]
            np.testing.assert_allclose(scores, oracle, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(expected[found, q], scores, rtol=1e-5, atol=1e-5)


def test_manifest_records_model_and_format(tmp_path):
    write_corpus(tmp_path / "c", articles=5)
    report = build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    info = index_info(tmp_path / "idx")
    assert info.manifest["format_version"] == 4
    assert info.manifest["vectors"] == {"kind": "flat", "requested": "auto", "lists": 0}
    assert info.manifest["model"] == "hashing"
    assert info.manifest["dimension"] == 256
    assert info.articles == report.articles == 5
    assert info.chunks == report.chunks > 5


def test_reindexing_unchanged_folder_embeds_nothing_and_prunes_deleted_files(tmp_path):
    write_corpus(tmp_path / "c", articles=10)
    encoder = HashingEncoder()
    first = build_index([tmp_path / "c"], tmp_path / "idx", encoder=encoder)
    again = build_index([tmp_path / "c"], tmp_path / "idx", encoder=encoder)
    assert (again.added, again.updated, again.unchanged, again.embedded_chunks) == (0, 0, 10, 0)
    (tmp_path / "c" / "003.txt").unlink()
    (tmp_path / "c" / "004.txt").write_text("Story four rewritten\n\nA brand new text about merger.")
    pruned = build_index([tmp_path / "c"], tmp_path / "idx", encoder=encoder)
    assert (pruned.removed, pruned.updated, pruned.articles) == (1, 1, 9)
    assert 0 < pruned.embedded_chunks < first.embedded_chunks


def test_refuses_to_mix_models(tmp_path):
    write_corpus(tmp_path / "c", articles=3)
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    with pytest.raises(IndexFormatError, match="--rebuild --model other-model"):
        build_index([tmp_path / "c"], tmp_path / "idx", model="other-model")


class ExplodingEncoder(HashingEncoder):
    """Fails part-way through embedding, like a crash in the middle of an index run."""

    def encode(self, texts, **kwargs):
        raise RuntimeError("boom")


def test_failed_update_leaves_previous_index_answering(tmp_path):
    write_corpus(tmp_path / "c", articles=8)
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    before = index_info(tmp_path / "idx")
    write_corpus(tmp_path / "more", articles=3)
    for n in range(3):
        (tmp_path / "more" / f"{n:03d}.txt").write_text(f"Unseen text {n} about volcanoes.")
    with pytest.raises(RuntimeError, match="boom"):
        build_index([tmp_path / "more"], tmp_path / "idx", encoder=ExplodingEncoder())
    after = index_info(tmp_path / "idx")
    assert (after.articles, after.chunks) == (before.articles, before.chunks)
    assert not [p for p in (tmp_path / "idx").iterdir() if p.name.endswith(".partial")]


def test_missing_index_and_empty_folder_are_clear_errors(tmp_path):
    with pytest.raises(IndexMissingError, match="qa index"):
        Index.open(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no articles found"):
        build_index([tmp_path / "empty"], tmp_path / "idx", encoder=HashingEncoder())


def test_newer_format_and_corrupt_manifest_are_refused(tmp_path):
    write_corpus(tmp_path / "c", articles=2)
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    generation = tmp_path / "idx" / (tmp_path / "idx" / "CURRENT").read_text().strip()
    manifest = json.loads((generation / "manifest.json").read_text())
    (generation / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(IndexFormatError, match="newer"):
        Index.open(tmp_path / "idx")
    (generation / "manifest.json").write_text("{not json")
    with pytest.raises(IndexFormatError, match="qa index --rebuild"):
        Index.open(tmp_path / "idx")


def test_an_updated_index_holds_the_vectors_a_fresh_build_would(tmp_path, encoder):
    """Reused chunk and sentence vectors (matched by hash) equal those of a build from scratch."""
    write_corpus(tmp_path / "c", articles=8)
    build_index([tmp_path / "c"], tmp_path / "updated", encoder=encoder)
    (tmp_path / "c" / "002.txt").write_text("Story two rewritten\n\nA merger was announced. It closed.")
    report = build_index([tmp_path / "c"], tmp_path / "updated", encoder=encoder)
    assert 0 < report.embedded_chunks < report.chunks
    build_index([tmp_path / "c"], tmp_path / "fresh", encoder=encoder)

    def vectors_by_place(directory: Path) -> dict[tuple[str, int, int], np.ndarray]:
        index = Index.open(directory)
        rows = index.live_rows()
        chunks = index.chunks(list(rows))
        matrix = index.chunk_vectors(rows)
        found = {(c.article_id, c.start, c.end): matrix[n] for n, c in enumerate(chunks)}
        for chunk in chunks:
            for s in chunk.sentences:
                found[(chunk.article_id, s.start, -s.end)] = np.asarray(
                    index.sentence_vectors[s.vector_row], dtype=np.float32)
        index.close()
        return found

    updated, fresh = vectors_by_place(tmp_path / "updated"), vectors_by_place(tmp_path / "fresh")
    assert updated.keys() == fresh.keys()
    # int8 activations are quantized per batch, so a text's vector moves slightly with its batch
    # (cosine ~0.99 to itself); a vector stored at the wrong row would be far off.
    cosines = np.array([float(updated[place] @ vector) for place, vector in fresh.items()])
    assert cosines.min() > 0.98 and cosines.mean() > 0.99, (cosines.min(), cosines.mean())


def write_records(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_two_files_reusing_a_record_id_keep_both_articles(tmp_path):
    write_records(tmp_path / "c" / "a.jsonl", [{"id": "1", "text": "The harbour reopened on Monday."}])
    write_records(tmp_path / "c" / "b.jsonl", [{"id": "1", "text": "The railway closed on Friday."}])
    report = build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    assert (report.articles, report.added, report.skipped) == (2, 2, ())
    index = Index.open(tmp_path / "idx")
    texts = {a.text for a in index.all_articles().values()}
    assert texts == {"The harbour reopened on Monday.", "The railway closed on Friday."}
    assert all(i.endswith("#1") for i in index.all_articles())


def test_a_record_id_repeated_in_one_file_is_reported(tmp_path):
    source = write_records(tmp_path / "a.jsonl", [
        {"id": "7", "text": "The harbour reopened on Monday."},
        {"id": "8", "text": "The bridge closed for repairs."},
        {"id": 7, "text": "The railway closed on Friday."},
    ])
    report = build_index([source], tmp_path / "idx", encoder=HashingEncoder())
    assert report.articles == 2
    assert [(s.path, s.reason) for s in report.skipped] == [
        (str(source), "duplicate id '7' on line 3 (first on line 1)")
    ]


def test_remove_takes_a_record_id_when_one_file_has_it_or_file_and_id(tmp_path):
    from qa.writer import remove_articles

    first = write_records(tmp_path / "c" / "a.jsonl", [
        {"id": "1", "text": "The harbour reopened on Monday."},
        {"id": "2", "text": "The bridge closed for repairs."},
    ])
    write_records(tmp_path / "c" / "b.jsonl", [{"id": "1", "text": "The railway closed on Friday."},
                                               {"id": "3", "text": "The airport added a runway."}])
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    with pytest.raises(InputError, match=r"id '1' is in 2 files .*FILE#ID"):
        remove_articles(["1"], tmp_path / "idx")
    assert remove_articles([f"{first}#1"], tmp_path / "idx").removed == 1
    assert remove_articles(["2"], tmp_path / "idx").removed == 1
    left = {a.text for a in Index.open(tmp_path / "idx").all_articles().values()}
    assert left == {"The railway closed on Friday.", "The airport added a runway."}


SHARED = ("The Harbour Gazette is published by Coastal Media Group, a family-owned company "
          "that has served the towns of the bay since 1952.")


def write_gazette(folder: Path) -> None:
    """Six articles that all end with the same paragraph (site boilerplate)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, topic in enumerate(TOPICS[:6]):
        (folder / f"{n}.txt").write_text(
            f"Story about the {topic}\n\nThe {topic} was the talk of the town on day {n}. "
            f"Reporters from three papers followed the {topic} story through the week, and the "
            f"council promised a full statement on the {topic} by Friday.\n\n{SHARED}\n"
        )


def test_an_article_that_cleaning_empties_is_reported_and_its_indexed_version_kept(tmp_path):
    write_gazette(tmp_path / "c")
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    (tmp_path / "c" / "2.txt").write_text(f"{SHARED}\n")  # now nothing but boilerplate
    report = build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    assert [(Path(s.path).name, s.reason) for s in report.skipped] == [
        ("2.txt", "no text left once paragraphs repeated across the corpus are removed")
    ]
    assert (report.removed, report.articles) == (0, 6)
    texts = [a.text for a in Index.open(tmp_path / "idx").all_articles().values()]
    assert any("The inflation was the talk of the town on day 2." in t for t in texts)


def test_an_unreadable_folder_is_reported_and_its_articles_are_not_pruned(tmp_path, monkeypatch):
    import qa.ingest

    write_corpus(tmp_path / "c" / "sub", articles=3)
    write_corpus(tmp_path / "c" / "other", articles=2)
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    scandir = qa.ingest.os.scandir

    def refuse_sub(path):
        if not isinstance(path, int) and Path(path) == tmp_path / "c" / "sub":
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(qa.ingest.os, "scandir", refuse_sub)
    report = build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    assert [(s.path, s.reason) for s in report.skipped] == [
        (str(tmp_path / "c" / "sub"), "unreadable folder: Permission denied")
    ]
    assert (report.removed, report.articles) == (0, 5)


def test_index_json_reports_every_skipped_input(tmp_path):
    from typer.testing import CliRunner

    from cli import app

    write_gazette(tmp_path / "c")
    (tmp_path / "c" / "2.txt").write_text(f"{SHARED}\n")
    (tmp_path / "c" / "blob.txt").write_bytes(b"\x00\x01" * 10)
    os_loop = tmp_path / "c" / "loop"
    os_loop.symlink_to(tmp_path / "c")
    result = CliRunner().invoke(app, ["index", str(tmp_path / "c"), "--index", str(tmp_path / "idx"),
                                      "--model", "hashing", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["articles"] == 5
    assert {Path(s["path"]).name: s["reason"] for s in report["skipped"]} == {
        "2.txt": "no text left once paragraphs repeated across the corpus are removed",
        "blob.txt": "binary file",
        "loop": "symbolic link loop",
    }


def test_paths_are_stored_resolved_so_prune_and_remove_work_from_any_folder(tmp_path, monkeypatch):
    from qa.writer import remove_articles

    (tmp_path / "here").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    write_corpus(Path("c"), articles=4)
    build_index(["c"], tmp_path / "idx", encoder=HashingEncoder())  # typed relative
    assert {a.path for a in Index.open(tmp_path / "idx").all_articles().values()} == {
        str(tmp_path / "here" / "c" / f"{n:03d}.txt") for n in range(4)}
    monkeypatch.chdir(tmp_path / "elsewhere")
    (tmp_path / "here" / "c" / "000.txt").unlink()
    report = build_index([tmp_path / "here" / "c"], tmp_path / "idx", encoder=HashingEncoder())
    assert (report.removed, report.articles) == (1, 3)
    assert remove_articles([str(tmp_path / "here" / "c" / "001.txt")], tmp_path / "idx").removed == 1


def make_like_older_qa(index_dir: Path, base: Path) -> None:
    """Rewrite an index as an older qa run from ``base`` left it: paths relative as typed, JSON
    record ids not namespaced by their file."""
    import sqlite3

    generation = index_dir / (index_dir / "CURRENT").read_text().strip()
    store = sqlite3.connect(generation / "store.sqlite")
    for article_id, path in store.execute("SELECT id, path FROM articles").fetchall():
        old_id = article_id.partition("#")[2] or article_id
        store.execute("UPDATE articles SET id = ?, path = ? WHERE id = ?",
                      (old_id, os.path.relpath(path, base), article_id))
        store.execute("UPDATE chunks SET article_id = ? WHERE article_id = ?", (old_id, article_id))
    store.commit()
    store.close()


def test_an_index_from_an_older_qa_with_relative_paths_is_never_mispruned(tmp_path, monkeypatch):
    for place in ("a", "b"):
        write_corpus(tmp_path / place / "c", articles=3)
        write_records(tmp_path / place / "c" / "r.jsonl", [{"id": "1", "text": f"Record in {place}."}])
    monkeypatch.chdir(tmp_path / "a")
    build_index(["c"], tmp_path / "idx", encoder=HashingEncoder())
    make_like_older_qa(tmp_path / "idx", tmp_path / "a")
    old = Index.open(tmp_path / "idx").all_articles()
    assert all(not Path(a.path).is_absolute() for a in old.values()) and "1" in old

    # Elsewhere, a folder of the same relative name holds other files: nothing of a/ is pruned.
    monkeypatch.chdir(tmp_path / "b")
    report = build_index(["c"], tmp_path / "idx", encoder=HashingEncoder())
    assert (report.removed, report.articles) == (0, 8)

    # Re-indexed where it was built, each article is found again: no duplicates, no loss.
    monkeypatch.chdir(tmp_path / "a")
    report = build_index(["c"], tmp_path / "idx", encoder=HashingEncoder())
    articles = Index.open(tmp_path / "idx").all_articles().values()
    assert report.articles == 8
    assert sorted(a.text for a in articles if a.text.startswith("Record")) == ["Record in a.", "Record in b."]
    assert all(Path(a.path).is_absolute() for a in articles)


def test_a_record_gone_from_a_file_indexed_again_is_pruned(tmp_path):
    source = write_records(tmp_path / "a.jsonl", [{"id": "1", "text": "The harbour reopened."},
                                                  {"id": "2", "text": "The bridge closed."}])
    build_index([source], tmp_path / "idx", encoder=HashingEncoder())
    write_records(source, [{"id": "1", "text": "The harbour reopened."}])
    kept = build_index([source], tmp_path / "idx", encoder=HashingEncoder(), prune=False)
    assert (kept.removed, kept.articles) == (0, 2)
    pruned = build_index([source], tmp_path / "idx", encoder=HashingEncoder())
    assert (pruned.removed, pruned.unchanged, pruned.articles) == (1, 1, 1)


def test_source_filter_matches_any_case_in_any_script(tmp_path):
    from qa.models import Filters

    sources = {"greek": "ΚΑΘΗΜΕΡΙΝΉ", "german": "Straße Zeitung", "french": "LES ÉCHOS",
               "russian": "КОММЕРСАНТЪ", "decomposed": "Su\u0308ddeutsche"}
    source = write_records(tmp_path / "a.jsonl", [
        {"id": key, "source": name, "text": f"The {key} paper reported on the harbour."}
        for key, name in sources.items()])
    build_index([source], tmp_path / "idx", encoder=HashingEncoder())
    index = Index.open(tmp_path / "idx")

    def matching(name: str) -> set[str]:
        rows = index.rows_matching(Filters(sources=(name,)))
        return {index.chunk_owners[r].partition("#")[2] for r in rows}

    assert matching("Καθημερινή") == {"greek"}
    assert matching("STRASSE") == {"german"}
    assert matching("échos") == {"french"}
    assert matching("коммерсантъ") == {"russian"}
    assert matching("SÜDDEUTSCHE") == {"decomposed"}  # composed filter, decomposed source


def test_filters_read_the_date_source_and_url_indexes_not_the_articles(tmp_path):
    import sqlite3
    from datetime import date

    from qa.layout import STORE
    from qa.models import Filters
    from qa.store import filter_query, fold

    source = write_records(tmp_path / "a.jsonl", [
        {"id": str(n), "source": f"Outlet {n % 3}", "date": f"2024-01-{n + 1:02d}",
         "url": f"https://outlet{n % 3}.example/{n}", "text": f"Story {n} on the harbour."}
        for n in range(9)])
    build_index([source], tmp_path / "idx", encoder=HashingEncoder())
    index = Index.open(tmp_path / "idx")
    store = sqlite3.connect(index.generation / STORE)
    store.create_function("qa_fold", 1, fold)
    filters = Filters(since=date(2024, 1, 2), until=date(2024, 1, 6), sources=("outlet 1", "OUTLET2"))
    plan = " | ".join(r[3] for r in store.execute(
        "EXPLAIN QUERY PLAN " + filter_query(filters, ["Outlet 1"])[0],
        filter_query(filters, ["Outlet 1"])[1]))
    assert "articles_by_source" in plan and "articles_by_url" in plan, plan
    assert "SCAN a" not in plan and "SCAN articles" not in plan, plan
    dated = " | ".join(r[3] for r in store.execute(
        "EXPLAIN QUERY PLAN " + filter_query(Filters(since=date(2024, 1, 8)), [])[0], ["2024-01-08"]))
    assert "articles_by_date" in dated, dated
    found = {index.chunk_owners[r].partition("#")[2] for r in index.rows_matching(filters)}
    assert found == {"1", "2", "4", "5"}  # in the dates: Outlet 1 by name, outlet2.example by URL
    index.close()


def test_an_article_is_cleaned_the_same_alone_or_with_its_folder(tmp_path):
    from qa.ingest import load_articles

    footer = "The Valley Gazette is printed by Valley Media Group in Springfield."
    folder, late = tmp_path / "folder", tmp_path / "late"
    folder.mkdir()
    late.mkdir()
    for n, topic in enumerate(["harbour", "bridge", "school", "market"]):
        (folder / f"{n}.txt").write_text(
            f"{topic.title()} news\n\nThe {topic} board met on Monday about item {n}.\n\n"
            f"Officials said the {topic} plan would cost {n + 2} million.\n\n{footer}\n")
    (late / "x.txt").write_text(
        "Library news\n\nThe library reopened after repairs on Tuesday.\n\n"
        f"Readers queued outside before dawn.\n\n{footer}\n")
    assert footer in load_articles([late]).articles[0].text  # alone, nothing says it repeats
    build_index([folder], tmp_path / "grown", encoder=HashingEncoder())
    build_index([late], tmp_path / "grown", encoder=HashingEncoder())  # the archive's counts apply
    build_index([folder, late], tmp_path / "whole", encoder=HashingEncoder())
    texts = {}
    for name in ("grown", "whole"):
        index = Index.open(tmp_path / name)
        texts[name] = {a.path: a.text for a in index.all_articles().values()}
        index.close()
    late_path = str((late / "x.txt").resolve())
    assert footer not in texts["grown"][late_path]
    assert texts["grown"][late_path] == texts["whole"][late_path]
    assert texts["grown"] == texts["whole"]


def test_an_update_reads_unchanged_articles_chunks_back_and_they_equal_a_rebuild(tmp_path, monkeypatch):
    """Only new or changed articles are split into chunks again; the chunks, sentences and
    their vector rows of the updated index equal those of a full rebuild (hashing encoder)."""
    import qa.segment_writer

    write_corpus(tmp_path / "c", articles=30)
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    (tmp_path / "c" / "030.txt").write_text("Story 30 about a comet\n\nA comet passed. It was bright.")
    (tmp_path / "c" / "003.txt").write_text("Story 3 rewritten\n\nThe tariff vote failed. Talks go on.")
    split = []
    chunk_article = qa.segment_writer.chunk_article
    monkeypatch.setattr(qa.segment_writer, "chunk_article",
                        lambda article, settings: split.append(article.path) or chunk_article(article, settings))
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=HashingEncoder())
    assert sorted(Path(p).name for p in split) == ["003.txt", "030.txt"]
    build_index([tmp_path / "c"], tmp_path / "fresh", encoder=HashingEncoder(), rebuild=True)

    def layout(index: Index) -> dict:
        """Each live chunk's place and its sentences', with each sentence's stored vector."""
        chunks = index.chunks(list(index.live_rows()))
        return {c.id: (c.start, c.end, [(s.start, s.end, index.sentence_vectors[s.vector_row].tobytes())
                                         for s in c.sentences]) for c in chunks}

    updated, fresh = Index.open(tmp_path / "idx"), Index.open(tmp_path / "fresh")
    assert layout(updated) == layout(fresh)

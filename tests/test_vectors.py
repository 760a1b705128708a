"""The ANN structures against brute force on synthetic vectors (storage and search only, no
model), the choice by size, and an index built with --ann answering through them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embeddings import HashingEncoder
from qa.errors import InputError
from qa.index import Index
from qa.layout import CHUNK_VECTORS, MANIFEST
from qa.vectors import HNSW_FROM, IVFPQ_FROM, Vectors, VectorWriter, choose_layout
from qa.writer import build_index

DIMENSION = 384


def clustered(count: int, seed: int) -> np.ndarray:
    """Unit vectors around 200 topics in a 48-dimensional subspace, plus a little noise in every
    dimension: embeddings of news chunks are clustered and of low intrinsic dimension."""
    rng, shape = np.random.default_rng(seed), np.random.default_rng(0)
    basis = np.linalg.qr(shape.standard_normal((DIMENSION, 48)))[0].T.astype(np.float32)
    centres = shape.standard_normal((200, 48)).astype(np.float32)
    topics = centres[rng.integers(200, size=count)] + rng.standard_normal((count, 48)).astype(np.float32) * 0.8
    points = topics @ basis + rng.standard_normal((count, DIMENSION)).astype(np.float32) * 0.15
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def written(tmp_path: Path, vectors: np.ndarray, ann: str) -> Vectors:
    writer = VectorWriter(tmp_path, DIMENSION, ann)
    for start in range(0, len(vectors), 3000):
        writer.add(vectors[start : start + 3000])
    manifest = {"dimension": DIMENSION, **writer.finish()}
    return Vectors(tmp_path, manifest)


def recall_at_10(found: list[list[tuple[int, float]]], exact: np.ndarray) -> float:
    hits = [len({row for row, _ in rows[:10]} & set(truth[:10])) for rows, truth in zip(found, exact)]
    return sum(hits) / (10 * len(exact))


@pytest.mark.parametrize("ann", ["hnsw", "ivfpq"])
def test_ann_recall_at_10_against_brute_force(tmp_path, ann):
    base, queries = clustered(10_000, seed=1), clustered(50, seed=2)
    vectors = written(tmp_path, base, ann)
    assert vectors.layout.kind == ann
    exact = np.argsort(-(queries @ base.T), axis=1)[:, :10]
    found = vectors.search(queries, 10)
    assert recall_at_10(found, exact) >= 0.95
    for rows, query in zip(found, queries):  # scores are the vectors' cosines, best first
        scores = [score for _, score in rows]
        assert scores == sorted(scores, reverse=True)
        np.testing.assert_allclose(scores, base[[r for r, _ in rows]] @ query, atol=2e-3)
    if ann == "ivfpq":  # its lossy codes are re-scored from the exact vectors kept beside them
        assert (tmp_path / CHUNK_VECTORS).stat().st_size == len(base) * DIMENSION * 2
    else:
        assert not (tmp_path / CHUNK_VECTORS).exists()
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("ann", ["hnsw", "ivfpq"])
def test_a_filtered_ann_search_stays_within_the_allowed_rows(tmp_path, ann):
    base, queries = clustered(3_000, seed=3), clustered(10, seed=4)
    vectors = written(tmp_path, base, ann)
    allowed = np.arange(5, 3_000, 7, dtype=np.int64)  # few enough: searched exactly
    exact = allowed[np.argsort(-(queries @ base[allowed].T), axis=1)[:, :10]]
    found = vectors.search(queries, 10, allowed)
    assert recall_at_10(found, exact) == 1.0
    assert all(row in set(allowed) for rows in found for row, _ in rows)


def test_the_structure_is_chosen_by_size_unless_asked():
    assert choose_layout("auto", HNSW_FROM - 1).kind == "flat"
    assert choose_layout("auto", HNSW_FROM).kind == "hnsw"
    assert choose_layout("auto", IVFPQ_FROM).kind == "ivfpq"
    assert choose_layout("hnsw", 10).kind == "hnsw"
    assert choose_layout("ivfpq", 10).kind == "flat"  # nothing to train codebooks on
    assert choose_layout("ivfpq", 1_000_000).lists == 1024
    with pytest.raises(InputError, match="unknown --ann 'annoy'"):
        choose_layout("annoy", 10)


def write_corpus(folder: Path, count: int) -> None:
    folder.mkdir()
    for n in range(count):
        (folder / f"{n:03d}.txt").write_text(
            f"Story {n}\n\n" + " ".join(f"Item {n}.{s} of the harbour budget was debated." for s in range(12)))


def test_an_index_built_with_hnsw_keeps_it_on_update_and_answers_like_flat(tmp_path):
    write_corpus(tmp_path / "c", 30)
    encoder = HashingEncoder()
    build_index([tmp_path / "c"], tmp_path / "flat", encoder=encoder)
    build_index([tmp_path / "c"], tmp_path / "hnsw", encoder=encoder, ann="hnsw")
    (tmp_path / "c" / "900.txt").write_text("A late story\n\nThe harbour budget passed at last.")
    build_index([tmp_path / "c"], tmp_path / "flat", encoder=encoder)
    build_index([tmp_path / "c"], tmp_path / "hnsw", encoder=encoder)  # no --ann: kept
    flat, graph = Index.open(tmp_path / "flat"), Index.open(tmp_path / "hnsw")
    assert graph.manifest["vectors"]["kind"] == "hnsw" and flat.manifest["vectors"]["kind"] == "flat"
    questions = encoder.encode(["harbour budget passed", "item 7 debated", "late story"])
    for approximate, exact in zip(graph.dense_search(questions, 10), flat.dense_search(questions, 10)):
        assert [s for _, s in approximate] == pytest.approx([s for _, s in exact])  # ties in any order
        last = exact[-1][1] + 1e-6
        assert {r for r, s in approximate if s > last} == {r for r, s in exact if s > last}
    flat.close()
    graph.close()


def test_a_format_2_index_is_read_as_flat_and_upgraded_by_the_next_update(tmp_path):
    write_corpus(tmp_path / "c", 5)
    encoder = HashingEncoder()
    build_index([tmp_path / "c"], tmp_path / "idx", encoder=encoder)
    index = Index.open(tmp_path / "idx")
    questions = encoder.encode(["harbour budget"])
    before = index.dense_search(questions, 5)
    manifest_path = index.generation / MANIFEST
    index.close()
    manifest = json.loads(manifest_path.read_text())  # format 2 wrote no "vectors" or "segments"
    del manifest["vectors"], manifest["segments"]
    manifest_path.write_text(json.dumps({**manifest, "format_version": 2}))
    old = Index.open(tmp_path / "idx")
    assert old.segments[0].vectors.layout.kind == "flat" and old.dense_search(questions, 5) == before
    old.close()
    (tmp_path / "c" / "900.txt").write_text("A late story\n\nThe railway timetable changed.")
    report = build_index([tmp_path / "c"], tmp_path / "idx", encoder=encoder)
    assert report.added == 1 and report.embedded_chunks == 1  # only the new article was embedded
    upgraded = Index.open(tmp_path / "idx")
    assert upgraded.manifest["format_version"] == 4 and len(upgraded.segments) == 2
    assert upgraded.segments[0].vectors.layout.kind == "flat"  # the format 2 files, read as they are
    assert upgraded.dense_search(questions, 5) == before
    upgraded.close()

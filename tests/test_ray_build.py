"""``qa index --ray``: chunking and embedding as Ray Data map_batches on a local Ray cluster
(2 CPUs, its temp dir under the test's tmp) give the same Milvus index as the in-process build
(storage logic: hashing encoder)."""

from __future__ import annotations

from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray not installed: pip install '.[ray]'")
pytest.importorskip("milvus_lite", reason="Milvus Lite not installed: pip install '.[milvus]'")

from embeddings import HashingEncoder  # noqa: E402
from qa.milvus_store import CHUNKS, SENTENCES, connect  # noqa: E402
from qa.milvus_writer import build_milvus_index  # noqa: E402


def _stored(spec: str) -> tuple[dict, dict]:
    client = connect(spec)
    chunks = {r["row"]: (r["article_id"], r["sentences"], [round(x, 5) for x in r["dense"]])
              for r in client.query(CHUNKS, filter="", output_fields=["article_id", "sentences", "dense"],
                                    limit=10_000)}
    sentences = {r["row"]: r["vector"][0] for r in client.query(SENTENCES, filter="", output_fields=["vector"],
                                                                limit=10_000)}
    client.close()
    return chunks, sentences


def _start_local_ray(ray_dir: Path) -> None:
    """Start a local Ray; once more if its startup ran out of time.

    CI saw Ray's fixed 30 s raylet registration wait run out on a loaded 2-core machine ("The
    current node timed out during startup"), and once its 30 s wait for the GCS server's port
    ("Timed out waiting for file ...gcs_server_port..."; the caller gives that one 120 s). It is
    Ray's startup, not the build under test.
    """
    try:
        ray.init(num_cpus=2, _temp_dir=str(ray_dir), include_dashboard=False, log_to_driver=False)
    except Exception as error:  # Ray raises a bare Exception or a RuntimeError for these timeouts
        if "timed out" not in str(error).lower():
            raise
        ray.shutdown()
        ray.init(num_cpus=2, _temp_dir=str(ray_dir), include_dashboard=False, log_to_driver=False)


def test_ray_build_writes_the_same_index(tmp_path, tmp_path_factory, monkeypatch, corpus_copy):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("RAY_gcs_server_port_wait_time_s", "120")  # Ray's default 30 s ran out in CI
    encoder = HashingEncoder()
    plain = f"milvus:{tmp_path / 'plain.db'}"
    build_milvus_index([corpus_copy], plain, encoder=encoder)
    expected = _stored(plain)  # read before Ray loads the machine
    # Under the test tmp, on a short path: Ray's socket paths must stay under 107 bytes.
    ray_dir = tmp_path_factory.mktemp("r")
    _start_local_ray(ray_dir)
    try:
        spread = f"milvus:{tmp_path / 'ray.db'}"
        report = build_milvus_index([corpus_copy], spread, encoder=encoder, ray_address="")
        again = build_milvus_index([corpus_copy], spread, encoder=encoder, ray_address="")
    finally:
        ray.shutdown()
    assert (report.articles, report.embedded_chunks) == (5, report.chunks)
    assert (again.unchanged, again.embedded_chunks) == (5, 0)  # incremental as without Ray
    assert _stored(spread) == expected

"""The Milvus store against the real engine: Milvus Lite started by each test in its tmp dir
(TMPDIR holds its logs), and a Milvus server reached over the network (``milvus://HOST:PORT``):
the deployment QA_TEST_MILVUS_URI names, or else Milvus Lite's engine serving gRPC on a free
127.0.0.1 port, started by the test and stopped after. Storage logic uses the hashing encoder;
the same-top-quote checks use the real model."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="Milvus support not installed: pip install '.[test,milvus]'")
pytest.importorskip("milvus_lite", reason="Milvus Lite not installed: pip install '.[test,milvus]'")

from embeddings import HashingEncoder  # noqa: E402
from qa.answer import ask  # noqa: E402
from qa.errors import IndexMissingError  # noqa: E402
from qa.index import Index  # noqa: E402
from qa.milvus_store import CHUNKS, MilvusIndex, connect  # noqa: E402
from qa.milvus_writer import build_milvus_index, remove_milvus_articles  # noqa: E402
from qa.retrieve import Filters  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
QUESTION = "Who leads the Liwa Suqour al-Jabal rebel group?"


@pytest.fixture()
def lite(tmp_path, monkeypatch) -> str:
    """A Milvus Lite index file in this test's tmp dir (its logs go there too)."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    return f"milvus:{tmp_path / 'qa.db'}"


@pytest.fixture()
def server(tmp_path, monkeypatch) -> Iterator[str]:
    """A Milvus server's ``milvus://HOST:PORT``: QA_TEST_MILVUS_URI where set (a standalone or
    distributed deployment), else Milvus Lite's engine serving gRPC on 127.0.0.1, which a client
    reaches exactly as it reaches a deployment."""
    named = os.environ.get("QA_TEST_MILVUS_URI")
    if named:
        yield named
        return
    from milvus_lite.server import Server

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = Server(str(tmp_path / "server.db"), address=f"127.0.0.1:{port}")
    assert engine.init() and engine.start(), "Milvus Lite's server did not start"
    try:
        deadline = time.monotonic() + 120  # a loaded 2-core machine starts it slowly
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"Milvus did not listen on 127.0.0.1:{port}"
                time.sleep(0.2)
        yield f"milvus://127.0.0.1:{port}"
    finally:
        engine.stop()


@pytest.fixture(params=["lite", "server"])
def store(request) -> str:
    """Each Milvus deployment in turn: a Milvus Lite file, then a server over the network."""
    return request.getfixturevalue(request.param)


def _quotes_verbatim(index, answer) -> None:
    for quote in answer.quotes:
        assert index.article(quote.article.id).text[quote.start:quote.end] == quote.text


def test_same_top_quote_and_citation_as_the_local_store(lite, tmp_path, encoder, demo_index):
    """The goal check: `qa index demo-corpus --index milvus:FILE` then `qa ask --json` gives the
    local store's top quote and citation (real model)."""
    env = {**os.environ, "TMPDIR": str(tmp_path), "HF_HUB_OFFLINE": "1", "QA_INDEX": lite}
    built = subprocess.run([sys.executable, "-m", "cli", "index", str(REPO / "demo-corpus")], env=env,
                           capture_output=True, text=True, cwd=REPO, timeout=300)
    assert built.returncode == 0, built.stderr
    asked = subprocess.run([sys.executable, "-m", "cli", "ask", QUESTION, "--json"], env=env,
                           capture_output=True, text=True, cwd=REPO, timeout=300)
    assert asked.returncode == 0, asked.stderr
    milvus_top = json.loads(asked.stdout)["quotes"][0]
    local_top = ask(demo_index, QUESTION, k=3).quotes[0]
    assert milvus_top["text"] == local_top.text
    assert milvus_top["text"].startswith("Hassan Haj Ali")
    assert (milvus_top["article"]["id"], milvus_top["start"], milvus_top["end"], milvus_top["line"]) == \
        (local_top.article.id, local_top.start, local_top.end, local_top.line)
    assert milvus_top["article"]["path"] == local_top.article.path
    # Nothing but the Milvus Lite file and its writer lock is written (beside Milvus Lite's own
    # logs and .ses session file): no FAISS, bm25s or SQLite files.
    written = {p.name for p in tmp_path.rglob("*") if not p.name.startswith(("milvus.", ".ses"))}
    assert written == {"qa.db", "qa.db.lock"}, written


def test_incremental_update_remove_and_filters(store, corpus_copy):
    """Storage logic (hashing encoder): only a changed article is embedded again, a removed one
    is gone from every collection, filters act inside the searches, quotes stay verbatim."""
    encoder = HashingEncoder()
    first = build_milvus_index([corpus_copy], store, encoder=encoder, rebuild=True)
    assert (first.added, first.articles, first.embedded_chunks) == (5, 5, first.chunks)

    again = build_milvus_index([corpus_copy], store, encoder=encoder)
    assert (again.unchanged, again.embedded_chunks, again.chunks) == (5, 0, first.chunks)

    target = corpus_copy / "001_0a13e2fcd2c43a4f.txt"
    target.write_text(target.read_text().replace("Hassan Haj Ali", "Hassan Haji Ali"))
    changed = build_milvus_index([corpus_copy], store, encoder=encoder)
    assert (changed.updated, changed.unchanged, changed.chunks) == (1, 4, first.chunks)
    assert 0 < changed.embedded_chunks < first.chunks

    index = MilvusIndex.open(store)
    index.use_encoder(encoder)
    answer = ask(index, QUESTION, k=3)
    assert "Hassan Haji Ali" in answer.quotes[0].text
    _quotes_verbatim(index, answer)
    # The old version's rows are gone: every stored chunk belongs to its article's current text.
    client = connect(store)
    stored = client.query(CHUNKS, filter="", output_fields=["article_id", "content_hash"], limit=1000)
    assert len(stored) == index.chunk_count
    assert all(index.article(r["article_id"]).content_hash == r["content_hash"] for r in stored)
    client.close()

    dated = ask(index, QUESTION, k=3, filters=Filters(since=__import__("datetime").date(2020, 1, 1)))
    assert dated.quotes == ()  # every demo article is older (or undated)
    sourced = ask(index, QUESTION, k=3, filters=Filters(sources=("YAHOO",)))
    assert sourced.quotes and {q.article.source for q in sourced.quotes} == {"AFP via Yahoo! News"}
    index.group_in_engine = True  # hybrid_search with group_by_field (a server's default)
    grouped = ask(index, QUESTION, k=3)
    assert grouped.quotes[0].text == answer.quotes[0].text
    _quotes_verbatim(index, grouped)
    index.close()

    removed = remove_milvus_articles([str(target)], store)
    assert (removed.removed, removed.articles) == (1, 4)
    index = MilvusIndex.open(store)
    assert "34acba2809b5" not in index.article_dates
    assert index.stats()[:2] == (4, removed.chunks)
    index.close()


def test_missing_milvus_index_is_one_clear_error(store, tmp_path):
    with pytest.raises(IndexMissingError, match="qa index ARTICLES_DIR --index milvus:"):
        MilvusIndex.open(store)
    result = subprocess.run([sys.executable, "-m", "cli", "info", "--index", "milvus:nowhere"],
                            capture_output=True, text=True, cwd=REPO, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert result.returncode == 2 and result.stderr.startswith("error: a Milvus Lite index is a file ending in .db")
    assert "Traceback" not in result.stderr


def test_commands_against_a_server(server, tmp_path, demo_index):
    """`qa index`, `ask --json`, `remove` and `info` with --index milvus://HOST:PORT (real model):
    the same top quote and citation as the local store."""
    env = {**os.environ, "TMPDIR": str(tmp_path), "HF_HUB_OFFLINE": "1", "QA_INDEX": server}

    def qa(*arguments: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "cli", *arguments], env=env, capture_output=True,
                              text=True, cwd=REPO, timeout=300)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        return done

    built = qa("index", str(REPO / "demo-corpus"), "--rebuild", "--json")
    assert json.loads(built.stdout)["articles"] == 5
    top = json.loads(qa("ask", QUESTION, "--json").stdout)["quotes"][0]
    local_top = ask(demo_index, QUESTION, k=3).quotes[0]
    assert (top["text"], top["article"]["id"], top["start"], top["end"], top["line"]) == \
        (local_top.text, local_top.article.id, local_top.start, local_top.end, local_top.line)
    assert top["text"].startswith("Hassan Haj Ali")
    assert qa("remove", local_top.article.path).stdout.startswith("removed 1 articles; 4 articles")
    assert qa("info").stdout.splitlines()[1].split() == ["articles", "4"]
    after = json.loads(qa("ask", QUESTION, "--json").stdout)["quotes"]
    assert all(q["article"]["id"] != local_top.article.id for q in after)


def test_local_store_unchanged_by_dispatch(demo_index_dir):
    """A directory still opens as the local store."""
    from qa.backends import open_index

    opened = open_index(str(demo_index_dir))
    assert isinstance(opened, Index)
    opened.close()

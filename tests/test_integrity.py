"""qa remove, and damaged index files: one clear line with the fix, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app

runner = CliRunner()


@pytest.fixture()
def index_copy(demo_index_dir, tmp_path) -> Path:
    target = tmp_path / "idx"
    shutil.copytree(demo_index_dir, target)
    return target


def generation(index: Path) -> Path:
    return index / (index / "CURRENT").read_text().strip()


def test_remove_by_file_id_and_url(index_copy):
    result = runner.invoke(app, ["remove", "demo-corpus/001_0a13e2fcd2c43a4f.txt",
                                 "--index", str(index_copy)])
    assert result.exit_code == 0, result.stderr
    assert "removed 1 articles; 4 articles" in result.stdout
    asked = runner.invoke(app, ["ask", "Who leads the Liwa Suqour al-Jabal rebel group?", "--json",
                                "--index", str(index_copy)])
    assert "001_0a13e2fcd2c43a4f" not in asked.stdout
    url = "http://news.yahoo.com/russia-keep-bombing-syria-until-terrorists-defeated-lavrov-093455748.html"
    assert runner.invoke(app, ["remove", url, "--index", str(index_copy)]).exit_code == 0
    missing = runner.invoke(app, ["remove", "no-such-article", "--index", str(index_copy)])
    assert missing.exit_code == 2 and "nothing in the index" in missing.stderr


def test_remove_everything_is_refused(index_copy):
    result = runner.invoke(app, ["remove", "demo-corpus", "--index", str(index_copy)])
    assert result.exit_code == 2 and "delete" in result.stderr


@pytest.mark.parametrize("damage", ["vectors", "sentences", "store", "current", "bm25"])
def test_damaged_files_give_one_line_with_the_rebuild_command(index_copy, damage):
    gen = generation(index_copy)
    if damage == "vectors":
        data = (gen / "vectors.faiss").read_bytes()
        (gen / "vectors.faiss").write_bytes(data[: len(data) // 2])
    elif damage == "sentences":
        with open(gen / "sentences.f16", "r+b") as handle:
            handle.truncate(100)
    elif damage == "store":
        (gen / "store.sqlite").write_bytes(b"not a database" * 100)
    elif damage == "current":
        (index_copy / "CURRENT").write_text("gen-that-does-not-exist\n")
    else:
        for path in (gen / "bm25").iterdir():
            path.write_bytes(b"\x00garbage")
    result = runner.invoke(app, ["ask", "Who leads the rebel group?", "--index", str(index_copy)])
    assert result.exit_code == 4, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "qa index --rebuild" in lines[0]
    assert "Traceback" not in result.stderr


def test_running_out_of_memory_while_loading_is_not_called_damage(index_copy, monkeypatch):
    import bm25s

    def no_memory(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(bm25s.BM25, "load", no_memory)
    question = ["ask", "Who leads the rebel group?", "--index", str(index_copy)]
    result = runner.invoke(app, question)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: MemoryError") and "--debug" in lines[0]
    assert "damaged" not in result.stderr and "Traceback" not in result.stderr
    for debug in (runner.invoke(app, ["--debug", *question]),
                  runner.invoke(app, question, env={"QA_DEBUG": "1"})):
        assert debug.exit_code == 1
        assert "Traceback (most recent call last)" in debug.stderr and "MemoryError" in debug.stderr


def test_an_unexpected_error_is_one_line_with_its_type(index_copy, monkeypatch):
    import qa.answer

    def broken(*args, **kwargs):
        raise RuntimeError("something odd\nsecond line")

    monkeypatch.setattr(qa.answer, "answer_questions", broken)
    result = runner.invoke(app, ["ask", "Who leads the rebel group?", "--index", str(index_copy)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: RuntimeError: something odd (rerun with --debug to see the traceback)"
    ]


@pytest.mark.parametrize("lost", ["article", "chunk"])
def test_a_store_that_lost_a_row_is_damaged_not_bad_input(index_copy, lost):
    import sqlite3

    store = sqlite3.connect(generation(index_copy) / "store.sqlite")
    if lost == "article":
        store.execute("DELETE FROM articles WHERE path LIKE '%001_0a13e2fcd2c43a4f.txt'")
    else:
        store.execute("DELETE FROM chunks WHERE article_id IN "
                      "(SELECT id FROM articles WHERE path LIKE '%001_0a13e2fcd2c43a4f.txt')")
    store.commit()
    store.close()
    result = runner.invoke(app, ["ask", "Who leads the Liwa Suqour al-Jabal rebel group?",
                                 "--index", str(index_copy)])
    assert result.exit_code == 4, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "damaged" in lines[0] and "qa index --rebuild" in lines[0]


def test_an_unknown_backend_is_bad_input(tmp_path):
    demo = Path(__file__).resolve().parent.parent / "demo-corpus"
    result = runner.invoke(app, ["index", str(demo), "--index", str(tmp_path / "i"), "--backend", "tpu"])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown backend 'tpu'")
    assert not (tmp_path / "i").exists()


def test_remove_loads_no_model_in_a_fresh_process(index_copy):
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    code = (
        "import sys\n"
        f"sys.argv = ['qa', 'remove', {str(repo / 'demo-corpus' / '001_0a13e2fcd2c43a4f.txt')!r}, "
        f"'--index', {str(index_copy)!r}]\n"
        "import cli\n"
        "try:\n    cli.main()\nexcept SystemExit as done:\n    assert not done.code, done.code\n"
        "heavy = {'torch', 'onnxruntime', 'sentence_transformers'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "removed 1 articles; 4 articles" in done.stdout


def test_remove_keeps_the_vectors_of_the_kept_chunks_as_they_were(tmp_path, monkeypatch):
    import numpy as np

    import qa.sink
    from embeddings import HashingEncoder
    from qa.index import Index
    from qa.writer import build_index, remove_articles

    folder = tmp_path / "c"
    folder.mkdir()
    for n in range(4):
        (folder / f"{n}.txt").write_text(f"Story {n}\n\n" + f"Item {n} of the harbour budget was debated. " * 30)
    build_index([folder], tmp_path / "idx", encoder=HashingEncoder())

    def vectors(index_dir: Path) -> dict[tuple[str, int, int], np.ndarray]:
        index = Index.open(index_dir)
        rows = index.live_rows()
        chunks = index.chunks(list(rows))
        matrix = index.chunk_vectors(rows)
        found = {(c.article_id, c.start, c.end): matrix[n] for n, c in enumerate(chunks)}
        for c in chunks:
            for s in c.sentences:
                found[(c.article_id, s.start, -s.end)] = np.asarray(index.sentence_vectors[s.vector_row])
        index.close()
        return found

    before = vectors(tmp_path / "idx")
    monkeypatch.setattr(qa.sink, "load_encoder", lambda *a: pytest.fail("remove loaded a model"))
    assert remove_articles([str(folder / "2.txt")], tmp_path / "idx").removed == 1
    after = vectors(tmp_path / "idx")
    assert after and after.keys() < before.keys()
    for place, vector in after.items():
        np.testing.assert_array_equal(vector, before[place])

"""The CLI as a user meets it: exit codes, one-line errors, the --json contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from cli import app

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_ask_json_prints_exactly_one_object_with_the_contract(demo_index_dir):
    result = run("ask", "Who leads the Liwa Suqour al-Jabal rebel group?", "--json", "-k", "4",
                 "--index", str(demo_index_dir))
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) >= {"question", "answered", "quotes"}
    assert payload["answered"] is True
    assert len(payload["quotes"]) == 4
    for rank, quote in enumerate(payload["quotes"], start=1):
        assert quote["rank"] == rank
        assert isinstance(quote["text"], str) and isinstance(quote["score"], float)
        assert set(quote["article"]) >= {"id", "title", "url", "path", "date"}
        assert isinstance(quote["start"], int) and isinstance(quote["end"], int)
        assert quote["line"] is None or isinstance(quote["line"], int)
    assert "Hassan Haj Ali" in payload["quotes"][0]["text"]
    assert payload["quotes"][0]["article"]["path"].endswith("001_0a13e2fcd2c43a4f.txt")
    first = payload["quotes"][0]
    assert first["start"] <= first["answer_start"] < first["answer_end"] <= first["end"]
    inside = first["text"][first["answer_start"] - first["start"] : first["answer_end"] - first["start"]]
    assert inside == first["answer"] == "Hassan Haj Ali"
    for quote in payload["quotes"]:
        assert set(quote) >= {"answer_start", "answer_end", "answer"}


def test_ask_renders_quote_and_citation(demo_index_dir):
    result = run("ask", "Who leads the Liwa Suqour al-Jabal rebel group?", "--index",
                 str(demo_index_dir))
    assert result.exit_code == 0
    assert "Hassan Haj Ali" in result.stdout
    assert "001_0a13e2fcd2c43a4f.txt:" in result.stdout


def test_info_shows_counts_model_and_dates(demo_index_dir):
    result = run("info", "--index", str(demo_index_dir))
    assert result.exit_code == 0
    assert "articles   5" in result.stdout
    assert "all-MiniLM-L6-v2" in result.stdout
    assert "2016-02-03" in result.stdout
    facts = json.loads(run("info", "--json", "--index", str(demo_index_dir)).stdout)
    assert facts["articles"] == 5 and facts["manifest"]["backend"] == "onnx"


def one_error_line(result, code: int, words: str) -> None:
    assert result.exit_code == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_missing_index(tmp_path):
    one_error_line(run("ask", "anything?", "--index", str(tmp_path / "none")), 3, "qa index")
    one_error_line(run("info", "--index", str(tmp_path / "none")), 3, "no index")


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    one_error_line(run("index", str(tmp_path / "empty"), "--index", str(tmp_path / "i")), 2,
                   "no articles found")


def test_missing_path(tmp_path):
    one_error_line(run("index", str(tmp_path / "nope"), "--index", str(tmp_path / "i")), 2,
                   "no such file")


def test_binary_file_is_skipped_and_counted(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "blob.txt").write_bytes(b"\x00\x01\x02binary\x00" * 100)
    result = run("index", str(folder), "--index", str(tmp_path / "i"))
    assert result.exit_code == 2
    assert "no articles found" in result.stderr and "1 files skipped" in result.stderr


def test_binary_file_beside_articles_does_not_stop_indexing(tmp_path, corpus_copy):
    (corpus_copy / "blob.txt").write_bytes(b"\x00\xff" * 500)
    result = run("index", str(corpus_copy), "--index", str(tmp_path / "i"), "--model", "hashing")
    assert result.exit_code == 0, result.stderr
    assert "skipped" in result.stderr and "blob.txt" in result.stderr
    assert "indexed 5 articles" in result.stdout


def test_empty_question(demo_index_dir):
    one_error_line(run("ask", "  ", "--index", str(demo_index_dir)), 2, "empty")


def test_help_and_info_do_not_import_torch(demo_index_dir):
    for args in (["--help"], ["info", "--index", str(demo_index_dir)]):
        code = (
            "import sys; sys.argv = ['qa', *%r]\n"
            "import cli\n"
            "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n"
            "assert 'sentence_transformers' not in sys.modules\n" % (args,)
        )
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_first_run_exports_the_model_quietly(tmp_path):
    """The one-time ONNX export must not leave log noise on the user's terminal."""
    import os

    env = {**os.environ, "QA_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "index", str(REPO / "demo-corpus"), "--index",
         str(tmp_path / "idx")], capture_output=True, text=True, cwd=REPO, env=env,
    )
    assert done.returncode == 0, done.stderr
    # Only the report's own lines (two demo files end in appeals), no export or runtime logs.
    assert [line.split()[0] for line in done.stderr.splitlines()] == ["trimmed"] * 2, done.stderr
    assert done.stdout.startswith("indexed 5 articles")
    assert list((tmp_path / "cache" / "onnx").glob("*/model.int8.onnx"))


def test_citations_show_paths_relative_to_the_current_folder_json_absolute(demo_index_dir, monkeypatch,
                                                                          tmp_path):
    question = ["ask", "Who leads the Liwa Suqour al-Jabal rebel group?", "--index", str(demo_index_dir)]
    monkeypatch.chdir(REPO)
    shown = run(*question)
    assert "demo-corpus/001_0a13e2fcd2c43a4f.txt:" in shown.stdout and str(REPO) not in shown.stdout
    path = json.loads(run(*question, "--json").stdout)["quotes"][0]["article"]["path"]
    assert path == str(REPO / "demo-corpus" / "001_0a13e2fcd2c43a4f.txt")
    monkeypatch.chdir(tmp_path)
    unwrapped = "".join(run(*question).stdout.split())  # rich folds lines at 80 columns here
    assert f"{REPO}/demo-corpus/001_0a13e2fcd2c43a4f.txt:" in unwrapped


def test_index_reports_text_left_out_after_an_appeal(tmp_path, corpus_copy):
    """The demo file whose newsletter appeal is followed by more appeals: one stderr line names
    the file and says how much was left out; --json carries the same."""
    result = run("index", str(corpus_copy), "--index", str(tmp_path / "i"), "--model", "hashing")
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("trimmed ")]
    assert any("004_ac5a1b7d9f08b570.txt: 12 lines of text after the appeal \u201cSign up for our "
               "free weekly newsletter\u201d on line 41 left out" in line for line in lines), lines
    report = json.loads(run("index", str(corpus_copy), "--index", str(tmp_path / "i"), "--json").stdout)
    assert {Path(t["path"]).name for t in report["trimmed"]} == {
        Path(line.split(":")[0].split()[-1]).name for line in lines}


def test_a_summary_paragraph_title_is_cut_in_the_citation_but_whole_in_json(demo_index_dir):
    """demo-corpus/000 gives a 330-character summary as its title: the citation line shows its
    first words and an ellipsis, --json the whole title (real model: demo index)."""
    question = "Until when will Russia keep bombing Syria, according to Lavrov?"
    shown = run("ask", question, "--index", str(demo_index_dir), "-k", "5")
    assert shown.exit_code == 0, shown.stderr
    line = next(line for line in shown.stdout.splitlines() if "000_2ec843d0655f57f2.txt:" in line)
    title = line.removeprefix("   — ").split(" · ")[0]
    assert title.endswith("…") and len(title) <= 100
    assert title.startswith("Sergey Lavrov, the Foreign Minister of Russia, says that Russia's bombing")
    payload = json.loads(run("ask", question, "--index", str(demo_index_dir), "-k", "5", "--json").stdout)
    whole = next(q["article"]["title"] for q in payload["quotes"] if q["article"]["path"].endswith("000_2ec843d0655f57f2.txt"))
    assert len(whole) > 300 and whole.startswith(title[:-1])

"""qa batch: every input and output format, bad rows, and an interrupted run resumed."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()
QUESTIONS = [
    "Who leads the Liwa Suqour al-Jabal rebel group?",
    "How many planes and helicopters are involved in the Russian military operation in Syria?",
    "What reward does the FSB offer?",
]


def batch(index_dir, *args, stdin=None):
    return runner.invoke(app, ["batch", *map(str, args), "--index", str(index_dir)], input=stdin)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture()
def inputs(tmp_path) -> dict[str, Path]:
    files = {}
    files["txt"] = tmp_path / "q.txt"
    files["txt"].write_text("# analyst questions\n\n" + "\n".join(QUESTIONS) + "\n")
    for name, delimiter in (("csv", ","), ("tsv", "\t")):
        files[name] = tmp_path / f"q.{name}"
        with open(files[name], "w", newline="") as handle:
            writer = csv.writer(handle, delimiter=delimiter)
            writer.writerow(["id", "question", "topic"])
            for n, question in enumerate(QUESTIONS):
                writer.writerow([f"q{n}", question, "syria"])
    files["jsonl"] = tmp_path / "q.jsonl"
    files["jsonl"].write_text("".join(
        json.dumps({"id": f"q{n}", "question": q, "desk": "world"}) + "\n" for n, q in enumerate(QUESTIONS)))
    return files


@pytest.mark.parametrize("kind", ["txt", "csv", "tsv", "jsonl"])
def test_every_input_format_to_jsonl(demo_index_dir, inputs, tmp_path, kind):
    out = tmp_path / f"answers-{kind}.jsonl"
    result = batch(demo_index_dir, inputs[kind], "-o", out, "-k", "2")
    assert result.exit_code == 0, result.stderr
    records = read_jsonl(out)
    assert [r["question"] for r in records] == QUESTIONS
    assert "Hassan Haj Ali" in records[0]["quotes"][0]["text"]
    for record in records:
        assert set(record) >= {"id", "question", "answered", "quotes"}
        assert len(record["quotes"]) == 2
    if kind == "txt":
        assert [r["id"] for r in records] == ["3", "4", "5"]  # line numbers
    else:
        assert [r["id"] for r in records] == ["q0", "q1", "q2"]
    if kind in ("csv", "tsv"):
        assert records[0]["topic"] == "syria"  # other columns carried through
    if kind == "jsonl":
        assert records[0]["desk"] == "world"


def test_stdin_to_stdout(demo_index_dir):
    result = batch(demo_index_dir, "-", stdin="\n".join(QUESTIONS[:2]) + "\n")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["quotes"]


def test_csv_and_markdown_outputs(demo_index_dir, inputs, tmp_path):
    out_csv = tmp_path / "a.csv"
    assert batch(demo_index_dir, inputs["csv"], "-o", out_csv).exit_code == 0
    rows = list(csv.DictReader(open(out_csv, newline="")))
    assert [r["id"] for r in rows] == ["q0", "q1", "q2"]
    assert rows[0]["answered"] == "yes" and "Hassan Haj Ali" in rows[0]["quote"]
    assert "001_0a13e2fcd2c43a4f.txt:" in rows[0]["citation"]
    out_md = tmp_path / "a.md"
    assert batch(demo_index_dir, inputs["jsonl"], "-o", out_md).exit_code == 0
    report = out_md.read_text()
    assert report.startswith("# Answers") and "## q0: Who leads" in report
    assert "Hassan Haj Ali" in report and "demo-corpus/001_0a13e2fcd2c43a4f.txt:" in report


def test_bad_rows_are_reported_with_line_numbers_and_the_rest_answered(demo_index_dir, tmp_path):
    source = tmp_path / "q.jsonl"
    source.write_text(
        json.dumps({"id": "a", "question": QUESTIONS[0]}) + "\n"
        + "{not json\n"
        + json.dumps({"id": "b"}) + "\n"
        + json.dumps({"id": "c", "question": QUESTIONS[1]}) + "\n"
    )
    out = tmp_path / "a.jsonl"
    result = batch(demo_index_dir, source, "-o", out)
    assert result.exit_code == 6
    assert f"{source}:2: skipped: invalid JSON" in result.stderr
    assert f"{source}:3: skipped: no question" in result.stderr
    assert "error: 2 rows" in result.stderr
    assert [r["id"] for r in read_jsonl(out)] == ["a", "c"]


def test_bad_csv_quoting_is_a_bad_row(demo_index_dir, tmp_path):
    source = tmp_path / "q.csv"
    source.write_text('id,question\n1,"Who leads the rebel group?"\n2,"unclosed "quote" here\n')
    result = batch(demo_index_dir, source, "-o", tmp_path / "a.jsonl")
    assert result.exit_code == 6 and "skipped: bad CSV" in result.stderr


def test_resume_skips_answered_ids_and_repairs_a_half_written_line(demo_index_dir, inputs, tmp_path):
    out = tmp_path / "a.jsonl"
    assert batch(demo_index_dir, inputs["jsonl"], "-o", out).exit_code == 0
    complete = out.read_text().splitlines(keepends=True)
    out.write_text(complete[0] + complete[1][: len(complete[1]) // 2])  # killed mid-line
    result = batch(demo_index_dir, inputs["jsonl"], "-o", out, "--resume")
    assert result.exit_code == 0, result.stderr
    assert "answered 2 questions, 1 already in" in result.stderr
    assert [r["id"] for r in read_jsonl(out)] == ["q0", "q1", "q2"]


def test_a_killed_run_resumes_where_it_stopped(demo_index_dir, tmp_path):
    source = tmp_path / "many.txt"
    source.write_text("".join(f"{QUESTIONS[n % 3]} (variant {n})\n" for n in range(100)))
    out = tmp_path / "a.jsonl"
    command = [sys.executable, str(REPO / "cli.py"), "batch", str(source), "-o", str(out),
               "--index", str(demo_index_dir)]
    process = subprocess.Popen(command, cwd=REPO, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not out.exists() or out.stat().st_size == 0):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = len(out.read_text().splitlines())
    assert 0 < before < 100
    done = subprocess.run(command + ["--resume"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ids = [r["id"] for r in read_jsonl(out)]
    assert ids == [str(n) for n in range(1, 101)]


def test_unknown_formats_and_resume_to_stdout_are_refused(demo_index_dir, tmp_path):
    (tmp_path / "q.xlsx").write_text("x")
    assert batch(demo_index_dir, tmp_path / "q.xlsx").exit_code == 2
    source = tmp_path / "q.txt"
    source.write_text("Who?\n")
    assert batch(demo_index_dir, source, "-o", tmp_path / "a.pdf").exit_code == 2
    assert batch(demo_index_dir, source, "--resume").exit_code == 2
    missing = batch(demo_index_dir, tmp_path / "nope.txt")
    assert missing.exit_code == 2 and "cannot read" in missing.stderr


def test_repeated_ids_are_all_answered_and_reported(demo_index_dir, tmp_path):
    """Without --resume every row is answered, even when its id came in an earlier batch."""
    filler = [(f"f{n}", QUESTIONS[n % 3]) for n in range(64)]  # the repeat lands in batch two
    rows = [("q1", QUESTIONS[0]), *filler, ("q1", QUESTIONS[2]), ("q2", QUESTIONS[1])]
    source = tmp_path / "q.csv"
    source.write_text("id,question\n" + "".join(f"{i},{q}\n" for i, q in rows))
    out = tmp_path / "a.jsonl"
    result = batch(demo_index_dir, source, "-o", out, "-k", "1")
    assert result.exit_code == 0, result.stderr
    assert [(r["id"], r["question"]) for r in read_jsonl(out)] == rows
    assert f"{source}:67: id 'q1' repeats line 2 (both are answered)" in result.stderr
    assert "answered 67 questions" in result.stderr and "already in" not in result.stderr
    # A resumed run skips each id as often as OUT already holds it.
    out.write_text("".join(out.read_text().splitlines(keepends=True)[:66]))
    resumed = batch(demo_index_dir, source, "-o", out, "-k", "1", "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    assert "answered 1 questions, 66 already in" in resumed.stderr
    assert [(r["id"], r["question"]) for r in read_jsonl(out)] == rows

"""An index update killed at any moment leaves the previous index answering exactly as before,
and the next run completes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "cli.py"), *args], capture_output=True,
                          text=True, cwd=REPO, env=env)


def write_articles(folder: Path, count: int, topic: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        sentences = " ".join(
            f"Report {n} on the {topic} says officials met on day {d} to discuss budget item {d * n}."
            for d in range(40)
        )
        (folder / f"{topic}-{n:03d}.txt").write_text(f"{topic.title()} story {n}\n\n{sentences}\n")


def test_kill_during_index_keeps_previous_index(tmp_path):
    corpus = tmp_path / "corpus"
    write_articles(corpus, 3, "harbour")
    index = tmp_path / "idx"
    assert run_cli("index", str(corpus), "--index", str(index)).returncode == 0
    question = ["ask", "What did officials discuss about the harbour budget?", "--json", "--index",
                str(index)]
    before = json.loads(run_cli(*question).stdout)

    write_articles(corpus, 60, "railway")  # a big update to kill part-way
    current = (index / "CURRENT").read_text()
    before_switch = 0
    after_switch = []  # answers read after a kill that came once the new index was switched in
    for delay in (0.5, 1.5, 3.0):
        process = subprocess.Popen(
            [sys.executable, str(REPO / "cli.py"), "index", str(corpus), "--index", str(index)],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        after = json.loads(run_cli(*question).stdout)
        if (index / "CURRENT").read_text() != current:  # killed during cleanup, or it finished
            after_switch.append(after)
            break
        if process.returncode == -signal.SIGKILL:
            before_switch += 1
            assert after == before, f"answer changed after a kill at {delay}s"
    assert before_switch >= 1
    finished = run_cli("index", str(corpus), "--index", str(index))
    assert finished.returncode == 0, finished.stderr
    complete = json.loads(run_cli(*question).stdout)
    assert complete != before  # the railway articles now answer too
    for after in after_switch:  # a switched-in index is the whole update, never part of it
        assert after == complete
    if not after_switch:
        assert "indexed 63 articles" in finished.stdout
    leftovers = [p.name for p in index.iterdir() if p.name.endswith(".partial")]
    assert leftovers == []
    generations = [p.name for p in index.iterdir() if p.name.startswith("gen-")]
    assert len(generations) == 1


def test_a_second_writer_fails_with_a_clear_line(tmp_path):
    import fcntl

    corpus = tmp_path / "corpus"
    write_articles(corpus, 1, "harbour")
    index = tmp_path / "idx"
    index.mkdir()
    with open(index / ".lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = run_cli("index", str(corpus), "--index", str(index), "--model", "hashing")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: another qa process is updating the index")


# Runs `qa` with a crash (os._exit, as abrupt as kill -9) injected at one step of writing and
# switching to a new generation.
CRASH_AT = """
import os, sys
import qa.layout as layout
step = sys.argv.pop(1)
def crash(*args, **kwargs):
    os._exit(9)
if step == "before-fsync":  # every file of the new generation written, none fsynced
    layout.fsync_tree = crash
elif step == "after-rename":  # gen-*.partial renamed to gen-*, CURRENT not yet rewritten
    layout.switch_to = crash
elif step == "before-current-rename":  # CURRENT.<pid>.tmp written, not yet renamed over CURRENT
    replace = os.replace
    layout.os.replace = lambda source, target: (
        crash() if os.path.basename(target) == "CURRENT" else replace(source, target))
elif step == "before-cleanup":  # CURRENT names the new generation, the old one is still there
    layout.remove_stale_generations = crash
import cli
cli.main()
"""
STEPS = ["before-fsync", "after-rename", "before-current-rename", "before-cleanup"]


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_each_step_of_the_switch_leaves_an_answering_index(tmp_path, step):
    corpus = tmp_path / "corpus"
    write_articles(corpus, 3, "harbour")
    index = tmp_path / "idx"
    assert run_cli("index", str(corpus), "--index", str(index), "--model", "hashing").returncode == 0
    ask = ["ask", "What did officials discuss about the railway budget?", "--json", "--index", str(index)]
    before = json.loads(run_cli(*ask).stdout)

    write_articles(corpus, 2, "railway")
    crashed = subprocess.run([sys.executable, "-c", CRASH_AT, step, "index", str(corpus), "--index",
                              str(index)], cwd=REPO, capture_output=True, text=True, check=False)
    assert crashed.returncode == 9, crashed.stderr  # the crash happened at that step
    assert all("harbour-" in q["article"]["path"] for q in before["quotes"])
    after = run_cli(*ask)
    assert after.returncode == 0, after.stderr
    if step == "before-cleanup":  # the switch was done: the new index answers
        assert "railway-" in json.loads(after.stdout)["quotes"][0]["article"]["path"]
        assert len([p for p in index.iterdir() if p.name.startswith("gen-")]) == 2
    else:
        assert json.loads(after.stdout) == before, f"answer changed after a crash {step}"

    finished = run_cli("index", str(corpus), "--index", str(index))
    assert finished.returncode == 0, finished.stderr
    assert "indexed 5 articles" in finished.stdout
    names = sorted(p.name for p in index.iterdir())
    current = (index / "CURRENT").read_text().strip()
    in_use = {current, *(s["name"] for s in json.loads((index / current / "manifest.json").read_text())["segments"])}
    assert {n for n in names if n.startswith("gen-")} == in_use  # the update's segment and the one before
    assert not [n for n in names if n.endswith((".partial", ".tmp"))], names


@pytest.mark.parametrize("step", ["before-fsync", "before-current-rename"])
def test_a_crash_during_a_merge_leaves_the_previous_segments_answering(tmp_path, step):
    corpus = tmp_path / "corpus"
    write_articles(corpus, 10, "harbour")  # big enough to stay its own segment
    index = tmp_path / "idx"
    assert run_cli("index", str(corpus), "--index", str(index), "--model", "hashing").returncode == 0
    write_articles(corpus, 2, "railway")
    assert run_cli("index", str(corpus), "--index", str(index)).returncode == 0  # a second segment
    current = (index / "CURRENT").read_text().strip()
    segments = json.loads((index / current / "manifest.json").read_text())["segments"]
    assert len(segments) == 2
    ask = ["ask", "What did officials discuss about the railway budget?", "--json", "--index", str(index)]
    before = json.loads(run_cli(*ask).stdout)

    write_articles(corpus, 4, "railway")  # two more: this update merges the railway segment
    crashed = subprocess.run([sys.executable, "-c", CRASH_AT, step, "index", str(corpus), "--index",
                              str(index)], cwd=REPO, capture_output=True, text=True, check=False)
    assert crashed.returncode == 9, crashed.stderr
    assert (index / "CURRENT").read_text().strip() == current
    assert json.loads(run_cli(*ask).stdout) == before, f"answer changed after a crash {step}"

    assert run_cli("index", str(corpus), "--index", str(index)).returncode == 0
    current = (index / "CURRENT").read_text().strip()
    merged = json.loads((index / current / "manifest.json").read_text())["segments"]
    assert [s["name"] for s in merged] == [segments[0]["name"], current]  # railway folded in
    assert {p.name for p in index.iterdir() if p.name.startswith("gen-")} == {s["name"] for s in merged}

"""qa chat in a real pseudo-terminal, piped, and its session logic."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pexpect

import json

from qa.chat import ChatSession

REPO = Path(__file__).resolve().parent.parent


def chat_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"), TERM="xterm-256color",
               PROMPT_TOOLKIT_NO_CPR="1", COLUMNS="120", LINES="40")
    return env


def test_chat_in_a_pseudo_terminal(demo_index_dir, tmp_path):
    child = pexpect.spawn(
        sys.executable, [str(REPO / "cli.py"), "chat", "--index", str(demo_index_dir)],
        cwd=str(REPO), env=chat_env(tmp_path), encoding="utf-8", timeout=60, dimensions=(40, 120),
    )
    try:
        child.expect("qa>")
        child.sendline("Who leads the Liwa Suqour al-Jabal rebel group?")
        child.expect("Hassan Haj Ali")
        child.expect("qa>")
        child.sendline("Where is his base?")
        child.expect(r"understood as: Where is his base\? \(Hassan Haj Ali")
        child.expect("qa>")
        child.sendline("/open 1")
        child.expect("struck by around 20")
        child.expect("qa>")
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    history = (tmp_path / "data" / "qa" / "chat_history").read_text()
    assert "Who leads the Liwa Suqour al-Jabal rebel group?" in history


def test_chat_reads_a_pipe_without_prompts_or_colours(demo_index_dir, tmp_path):
    lines = "Who leads the Liwa Suqour al-Jabal rebel group?\n/sources\n/k x\n"
    done = subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "chat", "--index", str(demo_index_dir)],
        input=lines, capture_output=True, text=True, cwd=REPO, env=chat_env(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert "Hassan Haj Ali" in done.stdout
    assert "qa> " not in done.stdout and "\x1b" not in done.stdout
    assert "error: /k takes a number" in done.stdout


def test_terminal_escapes_in_articles_never_reach_the_screen(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "evil.txt").write_text(
        "Evil headline\n\nThe mayor \x1b[2J\x1b]0;pwned\x07announced a \x1b[31mred\x1b[0m budget.\n"
    )
    index = tmp_path / "idx"
    env = chat_env(tmp_path)
    built = subprocess.run([sys.executable, str(REPO / "cli.py"), "index", str(corpus), "--index",
                            str(index), "--model", "hashing"], capture_output=True, text=True,
                           cwd=REPO, env=env)
    assert built.returncode == 0, built.stderr
    done = subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "chat", "--index", str(index)],
        input="What did the mayor announce?\n/open 1\n", capture_output=True, text=True, cwd=REPO,
        env=env,
    )
    assert "budget" in done.stdout
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout


def test_piped_json_is_one_object_a_line_and_answers_are_not_wrapped(demo_index_dir, tmp_path):
    questions = ["Who leads the Liwa Suqour al-Jabal rebel group?", "What did he say about Bashar?"]
    env = chat_env(tmp_path) | {"COLUMNS": "40"}
    done = subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "chat", "--index", str(demo_index_dir)],
        input="/json\n" + "\n".join(questions) + "\n", capture_output=True, text=True,
        cwd=REPO, env=env,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "JSON output on."
    objects = [json.loads(line) for line in lines[1:]]
    assert [o["question"] for o in objects] == questions
    plain = subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "chat", "--index", str(demo_index_dir)],
        input=questions[0] + "\n", capture_output=True, text=True, cwd=REPO, env=env,
    )
    top = objects[0]["quotes"][0]["text"]
    assert top in plain.stdout  # the whole quote on one line, though COLUMNS is 40
    asked = subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "ask", questions[0], "--index", str(demo_index_dir)],
        capture_output=True, text=True, cwd=REPO, env=env,
    )
    assert top in asked.stdout and "\x1b" not in asked.stdout


def harbour_index(tmp_path: Path) -> tuple[Path, Path]:
    """A folder with one article and its index built with the hashing encoder (storage only)."""
    from qa.writer import build_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Harbour news\n\nThe harbour reopened after the storm on Monday.\n")
    index_dir = tmp_path / "index"
    build_index([corpus], index_dir, model="hashing")
    return corpus, index_dir


def test_an_open_chat_answers_from_an_article_indexed_after_it_started(tmp_path):
    from qa.index import Index
    from qa.writer import build_index

    corpus, index_dir = harbour_index(tmp_path)
    session = ChatSession(Index.open(index_dir), k=2)
    assert "harbour" in session.handle("When did the harbour reopen?").answer.quotes[0].text
    (corpus / "b.txt").write_text(
        "Volcano news\n\nThe volcano Mount Ember erupted and covered the village in grey ash.\n"
    )
    build_index([corpus], index_dir, model="hashing")
    reply = session.handle("Which volcano erupted and covered the village in ash?")
    assert reply.answer is not None, reply.text
    assert "Mount Ember" in reply.answer.quotes[0].text
    assert session.index.is_current()


def test_a_reader_keeps_its_generation_while_a_writer_switches(tmp_path):
    from qa.index import Index
    from qa.writer import build_index

    corpus, index_dir = harbour_index(tmp_path)
    reader = Index.open(index_dir)
    (corpus / "b.txt").write_text("Bridge news\n\nThe old bridge was closed for repairs in May.\n")
    build_index([corpus], index_dir, model="hashing")
    assert not reader.is_current()
    assert reader.generation.is_dir()  # held by the reader: not deleted under it
    assert reader.chunks(list(range(reader.chunk_count)))  # and still readable, vectors too
    assert len(reader.chunk_vectors(reader.live_rows())) == reader.chunk_count
    fresh = reader.refreshed()
    assert fresh.is_current() and len(fresh.all_articles()) == 2
    (corpus / "c.txt").write_text("Park news\n\nThe city park got new benches this spring.\n")
    build_index([corpus], index_dir, model="hashing")
    fresh.close()
    build_index([corpus], index_dir, model="hashing")  # nothing changed: only leftovers go
    current = json.loads((index_dir / (index_dir / "CURRENT").read_text().strip() / "manifest.json").read_text())
    assert {d.name for d in index_dir.iterdir() if d.name.startswith("gen-")} == {
        s["name"] for s in current["segments"]}


def test_session_commands(demo_index, tmp_path):
    session = ChatSession(demo_index, k=2)
    assert "ask a question first" in session.handle("/more").text
    first = session.handle("Russian air strikes in Syria")
    assert len(first.answer.quotes) == 2
    more = session.handle("/more")
    assert more.first_rank == 3 and len(more.answer.quotes) == 4
    assert session.handle("/source moscow").text == "Filters: source 'moscow'"
    assert session.handle("/since 2016-01-01").text.startswith("Filters: since 2016-01-01")
    assert session.handle("/since").text == "Filters: source 'moscow'"
    assert "not a date" in session.handle("/until yesterday").text
    assert session.handle("/json").text == "JSON output on."
    saved = session.handle(f"/save {tmp_path / 't.md'}")
    assert "Saved 1 questions" in saved.text
    assert "## Russian air strikes in Syria" in (tmp_path / "t.md").read_text()
    assert session.handle("/quit").quit

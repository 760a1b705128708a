"""qa chat in a real pseudo-terminal, piped, and its session logic."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pexpect

from qa.chat import ChatSession, expand_follow_up

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
        child.expect(r"understood as: Where is his base\? \(.*Liwa Suqour")
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


def test_follow_ups_carry_the_previous_subject():
    question, subject = expand_follow_up("Who leads the Liwa Suqour al-Jabal rebel group?", [])
    assert question == "Who leads the Liwa Suqour al-Jabal rebel group?"
    follow, _ = expand_follow_up("Who said that?", subject)
    assert "Liwa" in follow and follow.startswith("Who said that?")
    fresh, _ = expand_follow_up("How many planes does the Russian air force use in Syria?", subject)
    assert fresh == "How many planes does the Russian air force use in Syria?"


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

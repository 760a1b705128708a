"""Docs cannot drift: every command has help text and appears in the README."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_command_has_help_and_is_in_the_readme():
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert {"index", "ask", "chat", "batch", "info", "eval", "remove"} <= set(names)
    for name in names:
        result = CliRunner().invoke(app, [name, "--help"])
        assert result.exit_code == 0 and "Usage" in result.stdout
        assert f"qa {name}" in README, f"qa {name} is not documented in README.md"

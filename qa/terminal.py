"""The terminal side of ``qa chat``: prompt_toolkit line editing and history when a person is at
the keyboard, plain line-by-line reading and writing when stdin or stdout is a pipe."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from qa.chat import ChatSession, Reply
from qa.render import answer_as_dict, output_console, render_answer, safe_text

GREETING = "Ask the archive a question. /help lists the commands; Ctrl-D or /quit leaves."


def history_path() -> Path:
    """The chat history file, in the user's data directory."""
    from platformdirs import user_data_path

    return user_data_path("qa") / "chat_history"


def run_chat(session: ChatSession, *, interactive: bool) -> None:
    """Read lines until end of input or /quit, answering each."""
    console = output_console()
    if interactive:
        console.print(GREETING, style="dim")
        for line in _prompt_lines():
            if not _show(session.handle(line), session, console):
                break
    else:
        for line in sys.stdin:
            if not _show(session.handle(line), session, console):
                break


def _prompt_lines() -> Any:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    path = history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    prompt = PromptSession(history=FileHistory(str(path)), enable_history_search=True)
    while True:
        try:
            yield prompt.prompt("qa> ")
        except KeyboardInterrupt:  # Ctrl-C drops the line being typed
            continue
        except EOFError:  # Ctrl-D leaves
            return


def _show(reply: Reply, session: ChatSession, console: Any) -> bool:
    """Print a reply; False when the conversation is over."""
    from rich.text import Text

    if reply.quit:
        return False
    if reply.text:
        console.print(Text(safe_text(reply.text)))
    if reply.answer is not None:
        if session.json_mode:  # one object a line, never wrapped, whatever the console width
            console.file.write(json.dumps(answer_as_dict(reply.answer), ensure_ascii=False) + "\n")
        else:
            if reply.understood_as:
                console.print(Text(f"(understood as: {safe_text(reply.understood_as)})", style="dim"))
            render_answer(reply.answer, console, first_rank=reply.first_rank)
    sys.stdout.flush()
    return True

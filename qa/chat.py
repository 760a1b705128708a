"""A conversation with the archive: questions, follow-ups resolved against the conversation,
and slash commands. The session is plain state and text; the CLI supplies the terminal."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from qa.answer import AnswerSettings, ask
from qa.errors import InputError, QAError
from qa.followup import resolve_follow_up
from qa.index import Index
from qa.models import Answer, Filters, Quote
from qa.render import quote_citation, safe_text
from qa.when import parse_day

HELP = """\
Ask a question in plain words; follow-ups like "What did he say?" or "Where?" are read
against the previous answer (the person or thing it named) and question.
  /k N            how many quotes to show (now {k})
  /more           the next quotes for the last question
  /open N         the whole paragraph around quote N, with its article's title, date and source
  /sources        the citations of the last answer
  /since DATE     only articles from DATE on (YYYY-MM-DD); /since alone clears it
  /until DATE     only articles up to DATE; /until alone clears it
  /source NAME    only articles from this source (several allowed); /source alone clears them
  /filters        show the filters in force
  /json           toggle raw JSON output
  /save FILE      write this conversation as Markdown with citations
  /help           this help
  /quit           leave (or Ctrl-D)"""

@dataclass
class Turn:
    """One exchange, kept for /more, /open, /sources and /save."""

    question: str
    understood_as: str
    answer: Answer
    shown: int
    referent: str | None = None  # what a pronoun of the question was resolved to
    context: tuple[str, ...] = ()  # the articles it followed up on (favoured by /more too)


@dataclass
class Reply:
    """What the terminal should show for one input line."""

    text: str = ""  # a message (help, filters, errors, paragraphs)
    answer: Answer | None = None
    first_rank: int = 1  # show the answer's quotes from this rank on (for /more)
    understood_as: str | None = None  # the expanded question, when it was a follow-up
    quit: bool = False


@dataclass
class ChatSession:
    """The state of one conversation: settings, filters and the turns so far."""

    index: Index
    k: int = 3
    as_of: date | None = None
    filters: Filters = field(default_factory=Filters)
    json_mode: bool = False
    turns: list[Turn] = field(default_factory=list)
    settings: AnswerSettings = field(default_factory=AnswerSettings)

    def handle(self, line: str) -> Reply:
        """Answer a question or run a command; user mistakes come back as a message."""
        line = " ".join(line.split())
        if not line:
            return Reply()
        try:
            if line.startswith("/"):
                return self._command(line)
            return self._question(line)
        except QAError as exc:
            return Reply(text=f"error: {exc}")

    # -- questions

    def _question(self, question: str) -> Reply:
        self.index = self.index.refreshed()  # an update since the last question is seen now
        resolved = resolve_follow_up(question, self.turns)
        answer = ask(self.index, resolved.searched, k=self.k, as_of=self.as_of,
                     filters=self.filters, settings=self.settings, context=resolved.context)
        answer = replace(answer, question=question)
        self.turns.append(Turn(question, resolved.searched, answer, len(answer.quotes),
                               resolved.referent, resolved.context))
        return Reply(answer=answer, understood_as=resolved.searched if resolved.expanded else None)

    def _more(self) -> Reply:
        turn = self._last_turn()
        self.index = self.index.refreshed()
        wider = ask(self.index, turn.understood_as, k=turn.shown + self.k, as_of=self.as_of,
                    filters=self.filters, settings=self.settings, context=turn.context)
        if len(wider.quotes) <= turn.shown:
            return Reply(text="No more quotes for that question.")
        first = turn.shown + 1
        turn.answer = replace(wider, question=turn.question)
        turn.shown = len(wider.quotes)
        return Reply(answer=turn.answer, first_rank=first)

    # -- commands

    def _command(self, line: str) -> Reply:
        name, _, argument = line.partition(" ")
        name = name.lower()
        if name in ("/quit", "/exit", "/q"):
            return Reply(quit=True)
        if name == "/help":
            return Reply(text=HELP.format(k=self.k))
        if name == "/k":
            if not argument.isdigit() or not 1 <= int(argument) <= 50:
                raise InputError("/k takes a number from 1 to 50")
            self.k = int(argument)
            return Reply(text=f"Showing {self.k} quotes.")
        if name == "/more":
            return self._more()
        if name == "/open":
            return Reply(text=self._open(argument))
        if name == "/sources":
            turn = self._last_turn()
            lines = [f"{q.rank}. {quote_citation(q)}" for q in turn.answer.quotes]
            return Reply(text="\n".join(lines) or "The last answer has no quotes.")
        if name in ("/since", "/until"):
            day = parse_day_or_fail(argument) if argument else None
            key = name[1:]
            self.filters = replace(self.filters, **{key: day})
            return Reply(text=self.filters.describe())
        if name == "/source":
            sources = self.filters.sources + (argument,) if argument else ()
            self.filters = replace(self.filters, sources=sources)
            return Reply(text=self.filters.describe())
        if name == "/filters":
            return Reply(text=self.filters.describe())
        if name == "/json":
            self.json_mode = not self.json_mode
            return Reply(text=f"JSON output {'on' if self.json_mode else 'off'}.")
        if name == "/save":
            if not argument:
                raise InputError("/save needs a file name")
            path = save_transcript(self.turns, Path(argument).expanduser())
            return Reply(text=f"Saved {len(self.turns)} questions to {path}.")
        raise InputError(f"unknown command {name}: /help lists the commands")

    def _last_turn(self) -> Turn:
        if not self.turns:
            raise InputError("ask a question first")
        return self.turns[-1]

    def _open(self, argument: str) -> str:
        turn = self._last_turn()
        if not argument.isdigit():
            raise InputError("/open takes the number of a quote, e.g. /open 1")
        number = int(argument)
        quote = next((q for q in turn.answer.quotes if q.rank == number), None)
        if quote is None:
            raise InputError(f"no quote {number} in the last answer")
        return open_paragraph(quote)


def parse_day_or_fail(value: str) -> date:
    try:
        return parse_day(value)
    except ValueError:
        raise InputError(f"not a date: {value!r} (use YYYY-MM-DD)") from None


def open_paragraph(quote: Quote) -> str:
    """The paragraph of the article that holds a quote, under its article's citation."""
    text = quote.article.text
    start = text.rfind("\n\n", 0, quote.start)
    start = 0 if start < 0 else start + 2
    end = text.find("\n\n", quote.end)
    end = len(text) if end < 0 else end
    header = quote_citation(quote)
    return f"{header}\n\n{safe_text(text[start:end])}"


def save_transcript(turns: list[Turn], path: Path) -> Path:
    """Write the conversation as Markdown: each question, its quotes and their citations."""
    lines = ["# qa conversation", ""]
    for turn in turns:
        lines += [f"## {turn.question}", ""]
        if turn.understood_as != turn.question:
            lines += [f"_Understood as: {turn.understood_as}_", ""]
        if not turn.answer.answered:
            lines += ["_The archive does not seem to answer this. Closest passages:_", ""]
        for quote in turn.answer.quotes:
            lines.append(f"{quote.rank}. > {' '.join(safe_text(quote.text).split())}")
            lines.append(f"   — {quote_citation(quote)}")
            lines.append("")
    try:
        path.write_text("\n".join(lines), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path

"""Answer question files: read .txt/.csv/.tsv/.jsonl (or stdin), answer in batches, write
.jsonl/.csv/.md as it goes, and resume an interrupted run from what is already written."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, Sequence

from qa.answer import AnswerSettings, answer_questions
from qa.errors import InputError
from qa.index import Index
from qa.models import Answer, Filters
from qa.render import answer_as_dict, quote_citation

INPUT_FORMATS = (".txt", ".csv", ".tsv", ".jsonl")
OUTPUT_FORMATS = (".jsonl", ".csv", ".md")
CSV_COLUMNS = ["id", "question", "answered", "quote", "citation", "score"]
_MAX_LINE_CHARS = 1024 * 1024  # a question line longer than this is not a question


@dataclass(frozen=True)
class Question:
    """One row of a question file: its id, text, line, and the other fields carried through."""

    id: str
    question: str
    line: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BadRow:
    """A row that could not be read: where and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class RepeatedId:
    """A question whose id an earlier row of the file already has (both are answered)."""

    id: str
    line: int
    first_line: int


@dataclass(frozen=True)
class BatchReport:
    answered: int  # questions answered in this run (declined ones included)
    resumed: int  # questions skipped because OUT already had them (with --resume)
    bad_rows: tuple[BadRow, ...]
    repeated: tuple[RepeatedId, ...] = ()


def read_questions(source: str | Path, stream: IO[str] | None = None) -> Iterator[Question | BadRow]:
    """Rows of a question file, in order; ``-`` reads ``stream`` (stdin) as plain text lines."""
    name = str(source)
    if name == "-":
        yield from _text_rows(stream if stream is not None else sys.stdin)
        return
    path = Path(name)
    suffix = path.suffix.lower()
    if suffix not in INPUT_FORMATS:
        raise InputError(f"{path}: questions must be {', '.join(INPUT_FORMATS)} or - for stdin")
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        try:
            if suffix == ".txt":
                yield from _text_rows(handle)
            elif suffix == ".jsonl":
                yield from _jsonl_rows(handle)
            else:
                yield from _table_rows(handle, "\t" if suffix == ".tsv" else ",")
        except UnicodeDecodeError:
            raise InputError(f"{path} is not UTF-8 text") from None


def _lines(handle: IO[str]) -> Iterator[tuple[int, str | None]]:
    """``(number, line)`` per line of ``handle``; None for a line over ``_MAX_LINE_CHARS``, which
    is skipped without being held in memory."""
    number = 0
    while line := handle.readline(_MAX_LINE_CHARS + 1):
        number += 1
        if len(line) > _MAX_LINE_CHARS:
            while line and not line.endswith(("\n", "\r")):
                line = handle.readline(_MAX_LINE_CHARS)
            yield number, None
        else:
            yield number, line


def _too_long(number: int) -> BadRow:
    return BadRow(number, f"line longer than {_MAX_LINE_CHARS} characters")


def _text_rows(handle: IO[str]) -> Iterator[Question | BadRow]:
    for number, line in _lines(handle):
        if line is None:
            yield _too_long(number)
            continue
        text = line.strip()
        if text and not text.startswith("#"):
            yield Question(id=str(number), question=text, line=number)


def _jsonl_rows(handle: IO[str]) -> Iterator[Question | BadRow]:
    for number, line in _lines(handle):
        if line is None:
            yield _too_long(number)
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadRow(number, f"invalid JSON ({exc.msg})")
            continue
        except (ValueError, RecursionError):  # too long an integer, too deep nesting
            yield BadRow(number, "invalid JSON (too large or too deeply nested)")
            continue
        if not isinstance(record, dict):
            yield BadRow(number, "not a JSON object")
            continue
        yield _question(record, number)


def _table_lines(handle: IO[str]) -> Iterator[str]:
    """The lines of a CSV/TSV file; an over-long one stops the file (a quoted field may span it)."""
    for number, line in _lines(handle):
        if line is None:
            raise InputError(f"line {number} is longer than {_MAX_LINE_CHARS} characters")
        yield line


def _table_rows(handle: IO[str], delimiter: str) -> Iterator[Question | BadRow]:
    reader = csv.DictReader(_table_lines(handle), delimiter=delimiter, strict=True)
    try:
        columns = reader.fieldnames or []
    except csv.Error as exc:
        raise InputError(f"cannot read the header row: {exc}") from None
    if "question" not in columns:
        raise InputError(f"no 'question' column (columns: {', '.join(columns) or 'none'})")
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield BadRow(reader.line_num, f"bad CSV ({exc})")
            continue
        if None in record:
            yield BadRow(reader.line_num, "more fields than columns")
            continue
        yield _question(record, reader.line_num)


def _question(record: dict[str, Any], number: int) -> Question | BadRow:
    text = record.get("question")
    if not isinstance(text, str) or not text.strip():
        return BadRow(number, "no question")
    identifier = record.get("id")
    identifier = str(identifier) if identifier not in (None, "") else str(number)
    extra = {k: v for k, v in record.items() if k not in ("id", "question")}
    return Question(id=identifier, question=text.strip(), line=number, extra=extra)


# ---------------------------------------------------------------------------------------------
# Writers: each writes whole records and flushes, so a killed run leaves only complete lines.


class _Writer:
    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle

    def write(self, item: Question, answer: Answer) -> None:
        self.handle.write(self.format(item, answer))
        self.handle.flush()

    def format(self, item: Question, answer: Answer) -> str:
        raise NotImplementedError

    def close(self) -> None:
        if self.handle is not sys.stdout:
            os.fsync(self.handle.fileno())
            self.handle.close()


class _JsonLinesWriter(_Writer):
    def format(self, item: Question, answer: Answer) -> str:
        record = {"id": item.id, **item.extra, **answer_as_dict(answer)}
        return json.dumps(record, ensure_ascii=False) + "\n"


class _CsvWriter(_Writer):
    def __init__(self, handle: IO[str], header: bool) -> None:
        super().__init__(handle)
        if header:
            self.handle.write(self._row(CSV_COLUMNS))

    def format(self, item: Question, answer: Answer) -> str:
        top = answer.quotes[0] if answer.quotes else None
        return self._row([
            item.id, item.question, "yes" if answer.answered else "no",
            top.text if top else "", quote_citation(top) if top else "",
            f"{top.score:.4f}" if top else "",
        ])

    @staticmethod
    def _row(values: Sequence[str]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(values)
        return buffer.getvalue()


class _MarkdownWriter(_Writer):
    def __init__(self, handle: IO[str], header: bool) -> None:
        super().__init__(handle)
        if header:
            self.handle.write("# Answers\n\n")

    def format(self, item: Question, answer: Answer) -> str:
        lines = [f"## {item.id}: {item.question}", ""]
        if not answer.quotes:
            lines.append("_Nothing in the archive matches this question._")
        elif not answer.answered:
            lines.append("_The archive does not seem to answer this. Closest passages:_")
            lines.append("")
        for quote in answer.quotes:
            text = " ".join(quote.text.split())
            lines.append(f"{quote.rank}. > {text}")
            lines.append(f"   — {quote_citation(quote)}")
            lines.append("")
        return "\n".join(lines).rstrip("\n") + "\n\n"


def _done_ids(path: Path) -> Counter[str]:
    """How often each id is answered in an output file; a partial last line (killed run) is cut
    off."""
    if not path.exists():
        return Counter()
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    if len(complete) != len(data):
        with open(path, "r+b") as handle:
            handle.truncate(len(complete))
    text = complete.decode("utf-8", errors="replace")
    if path.suffix.lower() == ".jsonl":
        done: Counter[str] = Counter()
        for line in text.splitlines():
            try:
                done[str(json.loads(line)["id"])] += 1
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
        return done
    return Counter(row["id"] for row in csv.DictReader(io.StringIO(text)) if row.get("id"))


def open_writer(output: str | None, resume: bool) -> tuple[_Writer, Counter[str]]:
    """The writer for ``output`` (stdout JSON Lines when None) and, with ``resume``, how often
    each id is already answered in it."""
    if output is None or output == "-":
        if resume:
            raise InputError("--resume needs an output file (-o OUT.jsonl or OUT.csv)")
        return _JsonLinesWriter(sys.stdout), Counter()
    path = Path(output)
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise InputError(f"{path}: output must be one of {', '.join(OUTPUT_FORMATS)}")
    if resume and suffix == ".md":
        raise InputError("--resume needs a .jsonl or .csv output (a Markdown report is rewritten)")
    done = _done_ids(path) if resume else Counter()
    fresh = not (resume and path.exists() and path.stat().st_size > 0)
    try:
        handle = open(path, "a" if not fresh else "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    if suffix == ".jsonl":
        return _JsonLinesWriter(handle), done
    if suffix == ".csv":
        return _CsvWriter(handle, header=fresh), done
    return _MarkdownWriter(handle, header=fresh), done


def answer_file(
    index: Index,
    source: str | Path,
    *,
    output: str | None = None,
    k: int = 5,
    resume: bool = False,
    as_of: date | None = None,
    filters: Filters = Filters(),
    batch_size: int = 64,
    settings: AnswerSettings = AnswerSettings(),
    on_bad_row: Callable[[BadRow], None] = lambda row: None,
    on_repeated_id: Callable[[RepeatedId], None] = lambda row: None,
    show_progress: bool = False,
) -> BatchReport:
    """Answer every question of ``source`` into ``output``, ``batch_size`` questions at a time.

    Every row is answered, also one whose id an earlier row has (it is reported); with
    ``resume``, a row is skipped while ``output`` holds more answers with its id than the rows
    before it used.
    """
    from tqdm import tqdm

    rows = read_questions(source)
    writer, done = open_writer(output, resume)
    bad: list[BadRow] = []
    repeated: list[RepeatedId] = []
    first_lines: dict[str, int] = {}
    answered = resumed = 0
    try:
        total = _count_lines(source) if show_progress else None
        with tqdm(total=total, unit="q", desc="answering", disable=not show_progress,
                  leave=False) as progress:
            for batch in _batches(rows, batch_size, bad, on_bad_row):
                todo = []
                for item in batch:
                    if item.id in first_lines:
                        repeated.append(RepeatedId(item.id, item.line, first_lines[item.id]))
                        on_repeated_id(repeated[-1])
                    first_lines.setdefault(item.id, item.line)
                    if done[item.id] > 0:
                        done[item.id] -= 1
                    else:
                        todo.append(item)
                resumed += len(batch) - len(todo)
                if todo:
                    answers = answer_questions(
                        index, [q.question for q in todo], k=k, settings=settings,
                        as_of=[as_of] * len(todo), filters=filters,
                    )
                    for item, answer in zip(todo, answers):
                        writer.write(item, answer)
                    answered += len(todo)
                progress.update(len(batch))
    finally:
        writer.close()
    return BatchReport(answered=answered, resumed=resumed, bad_rows=tuple(bad), repeated=tuple(repeated))


def _count_lines(source: str | Path) -> int | None:
    """Lines in a question file (an upper bound on its questions, for the progress bar's ETA)."""
    if str(source) == "-":
        return None
    try:
        with open(source, "rb") as handle:
            return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return None


def _batches(
    rows: Iterable[Question | BadRow],
    size: int,
    bad: list[BadRow],
    on_bad_row: Callable[[BadRow], None],
) -> Iterator[list[Question]]:
    batch: list[Question] = []
    for row in rows:
        if isinstance(row, BadRow):
            bad.append(row)
            on_bad_row(row)
            continue
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch

"""The ``qa`` command: each command parses its arguments, makes one library call and renders.

Heavy modules (torch, sentence-transformers, faiss) are imported inside the commands that need
them, so ``qa --help`` and ``qa info`` start fast.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer

app = typer.Typer(
    name="qa",
    help="Answer questions over a folder of news articles by quoting them verbatim, with citations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

IndexOption = typer.Option(
    ".qa-index", "--index", envvar="QA_INDEX", show_default=True,
    help="Index directory, or a Milvus index: milvus:FILE.db (Milvus Lite), milvus://HOST:PORT "
         "or http(s)://HOST:PORT (a Milvus server).",
)
JsonOption = typer.Option(False, "--json", help="Print JSON instead of text.")
SinceOption = typer.Option(None, "--since", metavar="YYYY-MM-DD", help="Only articles from this day on.")
UntilOption = typer.Option(None, "--until", metavar="YYYY-MM-DD", help="Only articles up to this day.")
SourceOption = typer.Option(
    None, "--source", help="Only articles from this source (part of its name or URL); repeatable."
)
CorsOption = typer.Option(
    None, "--cors", metavar="ORIGIN", help="Allow browser pages from this origin; repeatable."
)
RerankerOption = typer.Option(
    "default", "--reranker", envvar="QA_RERANKER", metavar="NAME",
    help="Cross-encoder that rereads the best sentences: default (packaged), none, or a "
         "sentence-transformers CrossEncoder name or path.",
)


_debug = False  # set by --debug / QA_DEBUG: show the traceback of an error


@app.callback()
def _options(
    debug: bool = typer.Option(
        False, "--debug", envvar="QA_DEBUG", help="Show the traceback of an error (and debug logs)."
    ),
) -> None:
    """Answer questions over a folder of news articles by quoting them verbatim, with citations."""
    global _debug
    _debug = debug
    if debug:
        import logging

        logger = logging.getLogger("qa")
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
            logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)


def _fails_cleanly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a QAError into one line on stderr and its exit code, Ctrl-C into exit 130, and any
    other exception (a bug) into one line with its type and exit 1; --debug adds the traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        import click

        from qa.errors import QAError

        try:
            return command(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except QAError as exc:
            _show_traceback()
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback with --debug
            _show_traceback()
            what = (str(exc).strip().splitlines() or [""])[0]
            hint = "" if _debug else " (rerun with --debug to see the traceback)"
            typer.echo(f"error: {type(exc).__name__}{': ' + what if what else ''}{hint}", err=True)
            raise typer.Exit(1) from None

    return run


def _show_traceback() -> None:
    if _debug:
        import traceback

        traceback.print_exc(file=sys.stderr)


def _stdout() -> Any:
    from qa.render import output_console

    return output_console()


@app.command()
@_fails_cleanly
def index(
    paths: List[Path] = typer.Argument(..., help="Article files or folders (searched recursively)."),
    index_dir: str = IndexOption,
    model: Optional[str] = typer.Option(
        None, "--model", envvar="QA_MODEL",
        help="sentence-transformers model name or path [default: all-MiniLM-L6-v2, or the index's]",
    ),
    backend: str = typer.Option(
        "auto", "--backend", envvar="QA_BACKEND",
        help="auto (int8 ONNX when the model allows, else torch), onnx or torch.",
    ),
    rebuild: bool = typer.Option(False, "--rebuild", help="Start a new index instead of updating."),
    prune: bool = typer.Option(
        True, "--prune/--no-prune", help="Drop articles whose files are gone from indexed folders."
    ),
    ann: Optional[str] = typer.Option(
        None, "--ann", envvar="QA_ANN",
        help="Vector search: auto (exact below 200k chunks, approximate above), flat (exact), "
        "hnsw or ivfpq [default: the index's choice, else auto]",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
    milvus_index_type: str = typer.Option(
        "AUTOINDEX", "--milvus-index-type", envvar="QA_MILVUS_INDEX_TYPE",
        help="Vector index of a new Milvus index: AUTOINDEX, FLAT, IVF_FLAT (Milvus Lite takes "
             "these), HNSW (a server).",
    ),
    ray: Optional[str] = typer.Option(
        None, "--ray", envvar="QA_RAY", metavar="ADDRESS",
        help="Chunk and embed on Ray Data (Milvus indexes): 'local' starts a local Ray cluster, "
             "else a cluster address (auto, ray://HOST:10001). Needs pip install '.[ray]'.",
    ),
) -> None:
    """Build or update the index from article files (.txt .md .html .json .jsonl)."""
    from dataclasses import asdict

    from qa.render import shown_path
    from qa.backends import build

    report = build(
        paths, index_dir, model=model, backend=backend, rebuild=rebuild, prune=prune,
        show_progress=sys.stderr.isatty(), ann=ann, milvus_index_type=milvus_index_type.upper(),
        ray_address=ray,
    )
    if as_json:
        typer.echo(json.dumps(asdict(report), ensure_ascii=False))
        return
    for skipped in report.skipped:
        typer.echo(f"skipped {shown_path(skipped.path)}: {skipped.reason}", err=True)
    for trimmed in report.trimmed:
        typer.echo(f"trimmed {shown_path(trimmed.path)}: {trimmed.reason}", err=True)
    typer.echo(
        f"indexed {report.articles} articles ({report.chunks} chunks) in {report.index_dir}: "
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.removed} removed, {len(report.skipped)} skipped; "
        f"embedded {report.embedded_chunks} chunks in {report.seconds:.1f}s"
    )


@app.command()
@_fails_cleanly
def remove(
    targets: List[str] = typer.Argument(..., help="Article ids, URLs, files or folders."),
    index_dir: str = IndexOption,
) -> None:
    """Remove articles from the index (by id, URL, file, or every file under a folder)."""
    from qa.backends import remove

    report = remove(targets, index_dir, show_progress=sys.stderr.isatty())
    typer.echo(f"removed {report.removed} articles; {report.articles} articles "
               f"({report.chunks} chunks) remain in {report.index_dir}")


@app.command()
@_fails_cleanly
def ask(
    question: str = typer.Argument(..., help="The question, in plain words."),
    index_dir: str = IndexOption,
    k: int = typer.Option(3, "-k", "--top", min=1, max=50, help="How many quotes."),
    as_of: Optional[str] = typer.Option(
        None, "--as-of", envvar="QA_AS_OF", metavar="YYYY-MM-DD",
        help="Ask as of this day: later articles are left out, recent ones favoured.",
    ),
    since: Optional[str] = SinceOption,
    until: Optional[str] = UntilOption,
    source: Optional[List[str]] = SourceOption,
    reranker: str = RerankerOption,
    as_json: bool = JsonOption,
) -> None:
    """Answer a question with verbatim quotes from the indexed articles."""
    from qa.answer import ask as answer_question
    from qa.errors import InputError
    from qa.backends import open_index
    from qa.render import answer_as_dict, render_answer

    if not question.strip():
        raise InputError("the question is empty")
    day = _day(as_of)
    filters = _filters(since, until, source)
    archive = open_index(index_dir)
    answer = answer_question(archive, question, k=k, as_of=day, filters=filters,
                             settings=_answer_settings(reranker))
    if as_json:
        typer.echo(json.dumps(answer_as_dict(answer), ensure_ascii=False))
    else:
        render_answer(answer, _stdout())


@app.command()
@_fails_cleanly
def batch(
    questions: str = typer.Argument(..., help="Question file (.txt .csv .tsv .jsonl) or - for stdin."),
    output: Optional[str] = typer.Option(
        None, "-o", "--output", help="Answers file: .jsonl, .csv or .md [default: JSON Lines on stdout]."
    ),
    index_dir: str = IndexOption,
    k: int = typer.Option(5, "-k", "--top", min=1, max=50, help="Quotes per question."),
    resume: bool = typer.Option(False, "--resume", help="Skip questions whose ids OUT already has."),
    as_of: Optional[str] = typer.Option(
        None, "--as-of", envvar="QA_AS_OF", metavar="YYYY-MM-DD", help="Ask as of this day."
    ),
    since: Optional[str] = SinceOption,
    until: Optional[str] = UntilOption,
    source: Optional[List[str]] = SourceOption,
    reranker: str = RerankerOption,
) -> None:
    """Answer a file of questions in batches, writing answers as it goes."""
    from qa.batch import answer_file
    from qa.errors import RowsFailedError
    from qa.backends import open_index

    day = _day(as_of)
    filters = _filters(since, until, source)
    archive = open_index(index_dir)
    report = answer_file(
        archive, questions, output=output, k=k, resume=resume, as_of=day, filters=filters,
        settings=_answer_settings(reranker),
        on_bad_row=lambda row: typer.echo(f"{questions}:{row.line}: skipped: {row.reason}", err=True),
        on_repeated_id=lambda row: typer.echo(
            f"{questions}:{row.line}: id {row.id!r} repeats line {row.first_line} (both are answered)",
            err=True,
        ),
        show_progress=sys.stderr.isatty(),
    )
    summary = f"answered {report.answered} questions"
    if report.resumed:
        summary += f", {report.resumed} already in {output}"
    typer.echo(summary, err=True)
    if report.bad_rows:
        raise RowsFailedError(f"{len(report.bad_rows)} rows of {questions} could not be read")


@app.command()
@_fails_cleanly
def chat(
    index_dir: str = IndexOption,
    k: int = typer.Option(3, "-k", "--top", min=1, max=50, help="Quotes per answer."),
    as_of: Optional[str] = typer.Option(
        None, "--as-of", envvar="QA_AS_OF", metavar="YYYY-MM-DD", help="Ask as of this day."
    ),
    reranker: str = RerankerOption,
) -> None:
    """Talk with the archive: questions, follow-ups and /commands (/help lists them)."""
    from qa.chat import ChatSession
    from qa.backends import open_index
    from qa.terminal import run_chat

    session = ChatSession(open_index(index_dir), k=k, as_of=_day(as_of),
                          settings=_answer_settings(reranker))
    run_chat(session, interactive=sys.stdin.isatty() and sys.stdout.isatty())


@app.command()
@_fails_cleanly
def serve(
    index_dir: str = IndexOption,
    host: str = typer.Option("127.0.0.1", "--host", envvar="QA_HOST",
                             help="Address to listen on (0.0.0.0: every interface, with a warning)."),
    port: int = typer.Option(8000, "--port", envvar="QA_PORT", min=0, max=65535, help="TCP port."),
    token: str | None = typer.Option(
        None, "--token", envvar="QA_TOKEN", help="Require 'Authorization: Bearer TOKEN' on /api."
    ),
    cors: list[str] | None = CorsOption,
    reranker: str = RerankerOption,
) -> None:
    """Serve the JSON API and the chat page (http://127.0.0.1:8000/) over one index."""
    from qa.serve import serve as run_server

    run_server(_engine(index_dir, reranker), host=host, port=port, token=token or None,
               cors_origins=tuple(cors or ()))


@app.command()
@_fails_cleanly
def mcp(index_dir: str = IndexOption, reranker: str = RerankerOption) -> None:
    """Answer assistants over the Model Context Protocol (stdio): tools ask and article."""
    from qa.mcp_server import run_stdio

    run_stdio(_engine(index_dir, reranker))


@app.command()
@_fails_cleanly
def info(index_dir: str = IndexOption, as_json: bool = JsonOption) -> None:
    """Show what is indexed: articles, chunks, model, dates covered, sources, size."""
    from qa.render import info_as_dict
    from qa.backends import info as index_info

    facts = index_info(index_dir)
    if as_json:
        typer.echo(json.dumps(info_as_dict(facts), ensure_ascii=False))
        return
    manifest = facts.manifest
    lines = [
        f"index      {facts.index_dir} (format {manifest['format_version']}, built {manifest['created']})",
        f"articles   {facts.articles}",
        f"chunks     {facts.chunks}",
        f"model      {manifest['model']} ({manifest['dimension']} dimensions, {manifest['backend']})",
        f"dates      {facts.first_date or '?'} to {facts.last_date or '?'}",
        f"sources    {', '.join(f'{s} ({n})' for s, n in facts.sources[:10]) or 'unknown'}"
        + (f" and {len(facts.sources) - 10} more" if len(facts.sources) > 10 else ""),
        f"size       {facts.size_bytes / 1e6:.1f} MB",
    ]
    typer.echo("\n".join(lines))


@app.command(name="eval")
@_fails_cleanly
def evaluate(
    gold_file: Path = typer.Argument(..., help="JSON Lines: question, sources and/or answers."),
    index_dir: str = IndexOption,
    k: int = typer.Option(10, "-k", "--top", min=1, max=50, help="Quotes per question."),
    misses: bool = typer.Option(False, "--misses", help="List the questions that were missed."),
    dates: bool = typer.Option(
        True, "--dates/--no-dates", help="Ask each question as of its gold 'date', when it has one."
    ),
    reranker: str = RerankerOption,
    as_json: bool = JsonOption,
) -> None:
    """Measure answers against gold questions: hit@k, MRR@10, answers in quotes, abstention."""
    from qa.evaluate import evaluate as run_evaluation
    from qa.evaluate import load_gold
    from qa.backends import open_index

    report = run_evaluation(
        open_index(index_dir), load_gold(gold_file), k=k, use_dates=dates,
        settings=_answer_settings(reranker), show_progress=sys.stderr.isatty(),
    )
    missed = report.misses() if misses else []
    if as_json:
        payload: dict[str, Any] = {"metrics": report.metrics}
        if misses:
            payload["misses"] = [_miss_as_dict(r) for r in missed]
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    for name, value in report.metrics.items():
        typer.echo(f"{name:24} {'-' if value is None else value}")
    for result in missed:
        miss = _miss_as_dict(result)
        typer.echo(f"\nmissed {miss['id']}: {miss['question']}")
        typer.echo(f"  source rank {miss['source_rank']}, answer rank {miss['answer_rank']}, "
                   f"answered {miss['answered']}; top quote: {miss['top_quote']}")


def _day(value: str | None) -> Any:
    from qa.when import day_option

    return day_option(value)


def _answer_settings(reranker: str) -> Any:
    from qa.answer import AnswerSettings
    from qa.rerank import load_reranker

    load_reranker(reranker.strip() or "default")  # a reranker that cannot load fails here, once
    return AnswerSettings(reranker=reranker.strip() or "default")


def _engine(index_dir: str, reranker: str) -> Any:
    from qa.service import AnswerEngine, IndexHolder

    return AnswerEngine(IndexHolder(index_dir), _answer_settings(reranker))


def _filters(since: str | None, until: str | None, sources: list[str] | None) -> Any:
    from qa.models import Filters

    return Filters(_day(since), _day(until), tuple(s for s in sources or () if s.strip()))


def _miss_as_dict(result: Any) -> dict[str, Any]:
    top = result.answer.quotes[0].text if result.answer.quotes else None
    return {
        "id": result.gold.id, "question": result.gold.question,
        "sources": list(result.gold.sources), "answers": list(result.gold.answers),
        "source_rank": result.source_rank, "answer_rank": result.answer_rank,
        "answered": result.answer.answered, "top_quote": top,
    }


def main() -> None:
    """Entry point of the ``qa`` console script."""
    app()


if __name__ == "__main__":
    main()

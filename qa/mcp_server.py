"""``qa mcp``: the archive as Model Context Protocol tools on stdio (the official ``mcp`` SDK).
``ask`` returns the ``qa ask --json`` object as structured content; ``article`` an article whole.
Stdout carries the protocol only: logs go to stderr."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from qa import __version__
from qa.errors import QAError
from qa.service import AnswerEngine, ask_request

INSTRUCTIONS = (
    "This server answers from a news archive with verbatim quotes. When you use its answers, "
    "quote the sentences word for word in quotation marks and cite each (title, date, source, "
    "URL or file:line); never paraphrase them as if they were your own words, and say so when "
    "'answered' is false: the archive then holds no answer, only the closest passages."
)

ASK = (
    "Answer a question from the news archive with sentences quoted verbatim from its articles. "
    "Returns {question, answered, quotes: [{rank, text, score, article: {id, title, url, path, "
    "date, source}, start, end, line, answer, answer_start, answer_end, copies, ...}], "
    "time_scope}. Quote 'text' exactly, in quotation marks, with its citation (article title, "
    "date, source, url or path:line); do not paraphrase or merge quotes. 'answer' is the span "
    "that most likely answers. If 'answered' is false the archive does not answer the question: "
    "say so instead of guessing. Dates are YYYY-MM-DD; 'as_of' asks as of that day (later "
    "articles are left out); 'source' keeps articles whose source name or URL contains it."
)

ARTICLE = (
    "Read a whole article of the news archive by its id (quotes[].article.id from 'ask'): "
    "metadata, cleaned text, paragraph offsets and other outlets' copies. Quote from 'text' "
    "verbatim, with the article's citation."
)


def build_server(engine: AnswerEngine) -> MCPServer:
    """An MCP server whose tools answer through ``engine``."""
    server = MCPServer("qa", version=__version__, instructions=INSTRUCTIONS)

    @server.tool(description=ASK)
    async def ask(
        question: str, k: int = 3, since: str | None = None, until: str | None = None,
        source: list[str] | None = None, as_of: str | None = None,
    ) -> dict[str, Any]:
        try:
            request = ask_request(question, k=k, since=since, until=until, source=source,
                                  as_of=as_of, limits=engine.limits)
            return await anyio.to_thread.run_sync(engine.ask, request)
        except QAError as exc:
            raise ToolError(str(exc)) from None

    @server.tool(description=ARTICLE)
    async def article(id: str) -> dict[str, Any]:
        try:
            return await anyio.to_thread.run_sync(engine.article, id)
        except QAError as exc:
            raise ToolError(str(exc)) from None

    return server


def run_stdio(engine: AnswerEngine) -> None:
    """Serve on stdin/stdout until the client closes the connection."""
    build_server(engine).run("stdio")

"""``qa serve``: a JSON API (FastAPI) and a chat page over one index, answered by
``qa.service.AnswerEngine``. Every answer is the ``qa ask --json`` object; every error is
``{"error": message}`` with the CLI's message and an HTTP status."""

from __future__ import annotations

import ipaddress
import json
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import AliasChoices, BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa import __version__
from qa.errors import (
    BusyError,
    IndexFormatError,
    IndexMissingError,
    InputError,
    ModelError,
    NotFoundError,
    QAError,
)
from qa.service import AnswerEngine, ask_request, follow_up, shown_as

STATIC = Path(__file__).parent / "static"
MAX_BODY_BYTES = 256 * 1024  # a batch of max_batch long questions fits
ANSWER_TIMEOUT = 120.0  # seconds a request waits for the worker before it is told the server is busy

_STATUS = [  # the first class an error is an instance of gives its HTTP status
    (InputError, 400), (NotFoundError, 404), (BusyError, 503), (IndexMissingError, 503),
    (IndexFormatError, 500), (ModelError, 500), (QAError, 500),
]
_BEARER = HTTPBearer(auto_error=False, description="Needed when qa serve runs with --token.")
_PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


class AskBody(BaseModel):
    """The fields of ``GET /api/ask``, as JSON."""

    q: str = Field(validation_alias=AliasChoices("q", "question"), description="The question.")
    k: int = Field(3, description="How many quotes.")
    since: str | None = Field(None, description="Only articles from this day on (YYYY-MM-DD).")
    until: str | None = Field(None, description="Only articles up to this day (YYYY-MM-DD).")
    source: list[str] | str | None = Field(None, description="Only articles from this source "
                                           "(part of its name or URL); a list allows several.")
    as_of: str | None = Field(None, description="Ask as of this day (YYYY-MM-DD).")
    after: str | None = Field(None, description="The previous question, for a follow-up such as "
                              "'Who said that?' (the answer then has understood_as).")


class BatchQuestion(BaseModel):
    id: str | None = None
    question: str


class BatchBody(BaseModel):
    """Questions answered with the same settings; answers stream back as JSON Lines in order."""

    questions: list[BatchQuestion | str]
    k: int = 5
    since: str | None = None
    until: str | None = None
    source: list[str] | str | None = None
    as_of: str | None = None


def create_app(engine: AnswerEngine, *, token: str | None = None,
               cors_origins: tuple[str, ...] = (), max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The API and the page over ``engine``; with ``token``, /api needs ``Authorization: Bearer``."""
    app = FastAPIOffline(
        title="qa", version=__version__,
        description="Answers from a news archive as verbatim quotes with citations.",
    )
    limits = engine.limits

    def authorized(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> None:
        if token is None:
            return
        given = credentials.credentials if credentials else ""
        if not secrets.compare_digest(given.encode(), token.encode()):
            raise _Unauthorized()

    def answer(body: AskBody) -> dict[str, Any]:
        request = ask_request(body.q, k=body.k, since=body.since, until=body.until,
                              source=body.source, as_of=body.as_of, limits=limits)
        searched = follow_up(request.question, body.after)
        if searched != request.question:
            request = ask_request(searched, k=body.k, since=body.since, until=body.until,
                                  source=body.source, as_of=body.as_of, limits=limits)
        try:
            result = engine.ask(request, timeout=ANSWER_TIMEOUT)
        except TimeoutError:
            raise BusyError("the server is busy: the answer took too long; ask again shortly") from None
        return shown_as(result, " ".join(body.q.split()), request.question)

    api = [Depends(authorized)]

    @app.get("/api/ask", dependencies=api, summary="Answer a question (the qa ask --json object)")
    def ask_get(
        q: Annotated[str, Query(description="The question.")], k: int = 3,
        since: str | None = None, until: str | None = None,
        source: Annotated[list[str] | None, Query()] = None, as_of: str | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        return answer(AskBody(q=q, k=k, since=since, until=until, source=source, as_of=as_of,
                              after=after))

    @app.post("/api/ask", dependencies=api, summary="Answer a question (the qa ask --json object)")
    def ask_post(body: AskBody) -> dict[str, Any]:
        return answer(body)

    @app.post("/api/batch", dependencies=api, summary="Answer many questions; JSON Lines")
    def batch(body: BatchBody) -> StreamingResponse:
        if len(body.questions) > limits.max_batch:
            raise InputError(f"a batch holds at most {limits.max_batch} questions, not {len(body.questions)}")
        rows = [(q.id, q.question) if isinstance(q, BatchQuestion) else (None, q) for q in body.questions]
        requests = [ask_request(question, k=body.k, since=body.since, until=body.until,
                                source=body.source, as_of=body.as_of, limits=limits)
                    for _, question in rows]
        ids = [row_id if row_id is not None else str(n) for n, (row_id, _) in enumerate(rows, start=1)]

        def lines() -> Iterator[str]:
            for row_id, result in zip(ids, engine.ask_many(requests)):
                if isinstance(result, QAError):
                    yield json.dumps({"id": row_id, "error": str(result)}, ensure_ascii=False) + "\n"
                else:
                    yield json.dumps({"id": row_id, **result}, ensure_ascii=False) + "\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @app.get("/api/articles/{article_id:path}", dependencies=api, summary="An article, whole")
    def article(article_id: str) -> dict[str, Any]:
        return engine.article(article_id)

    @app.get("/api/info", dependencies=api, summary="What is indexed (the qa info --json object)")
    def info() -> dict[str, Any]:
        return engine.info()

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": _PAGE_POLICY})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(QAError)
    def qa_error(_: Request, exc: QAError) -> JSONResponse:
        status = next(code for kind, code in _STATUS if isinstance(exc, kind))
        headers = {"Retry-After": "1"} if isinstance(exc, BusyError) else None
        return JSONResponse({"error": str(exc)}, status_code=status, headers=headers)

    @app.exception_handler(_Unauthorized)
    def unauthorized(_: Request, __: _Unauthorized) -> JSONResponse:
        return JSONResponse({"error": "this server needs a bearer token (Authorization: Bearer TOKEN)"},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid request')}".lstrip(": ")},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    app.add_middleware(_BodyLimit, max_bytes=max_body_bytes)
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    return app


class _Unauthorized(Exception):
    pass


class _BodyLimit:
    """Refuse a request body over ``max_bytes`` with 413, by its Content-Length or as it streams."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge(413, f"the request is larger than {self.max_bytes} bytes")
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"error": f"the request is larger than {self.max_bytes} bytes"},
                                status_code=413)
        await response(scope, receive, send)


class _TooLarge(StarletteHTTPException):
    """A body that grew past the limit while it was read (FastAPI passes HTTP errors through)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(engine: AnswerEngine, *, host: str, port: int, token: str | None,
          cors_origins: tuple[str, ...]) -> None:
    """Run the app on uvicorn until interrupted (logs on stderr)."""
    import uvicorn

    if not is_loopback(host):
        print(f"warning: qa serve listens on {host}: anyone who can reach this machine can ask"
              + ("" if token else " (set --token or QA_TOKEN to require a token)"), file=sys.stderr)
    app = create_app(engine, token=token, cors_origins=cors_origins)
    print(f"qa serve: http://{'[' + host + ']' if ':' in host else host}:{port}/ "
          f"(index {engine.holder.root}, generation {engine.holder.current().generation.name})",
          file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)

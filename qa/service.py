"""Answering for many callers at once (``qa serve``, ``qa mcp``): the index held open and switched
to a new generation when ``qa index`` replaces it, and one worker thread that answers waiting
questions together (one encode call, one search per micro-batch) behind an LRU answer cache."""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.answer import AnswerSettings, answer_questions
from qa.errors import BusyError, InputError, NotFoundError, QAError
from qa.followup import resolve_follow_up
from qa.backends import info as index_info
from qa.backends import open_index
from qa.index import CURRENT_FILE, Index
from qa.milvus_store import is_milvus
from qa.models import Answer, Filters
from qa.render import answer_as_dict, article_as_dict, info_as_dict
from qa.rerank import load_reranker
from qa.when import day_option

if TYPE_CHECKING:
    from embeddings import Encoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What one request may ask for."""

    max_k: int = 50  # as `qa ask -k`
    max_question_chars: int = 2000
    max_batch: int = 100  # questions in one /api/batch request
    max_waiting: int = 256  # questions queued for the worker before new ones are refused


@dataclass(frozen=True)
class AskRequest:
    """One question as the worker answers it (hashable: the cache key with the generation)."""

    question: str
    k: int = 3
    since: date | None = None
    until: date | None = None
    sources: tuple[str, ...] = ()
    as_of: date | None = None

    @property
    def filters(self) -> Filters:
        return Filters(self.since, self.until, self.sources)


def ask_request(
    question: str | None,
    *,
    k: int = 3,
    since: str | None = None,
    until: str | None = None,
    source: str | Sequence[str] | None = None,
    as_of: str | None = None,
    limits: Limits = Limits(),
) -> AskRequest:
    """Check what a caller sent, with the CLI's messages for the CLI's mistakes."""
    question = " ".join((question or "").split())
    if not question:
        raise InputError("the question is empty")
    if len(question) > limits.max_question_chars:
        raise InputError(f"the question is longer than {limits.max_question_chars} characters")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= limits.max_k:
        raise InputError(f"k must be a number from 1 to {limits.max_k}")
    sources = [source] if isinstance(source, str) else list(source or ())
    return AskRequest(
        question=question, k=k, since=day_option(since), until=day_option(until),
        sources=tuple(s.strip() for s in sources if s.strip()), as_of=day_option(as_of),
    )


@dataclass(frozen=True)
class _PreviousQuestion:
    """An earlier question known only by its text (the API's ``after``)."""

    question: str
    understood_as: str
    answer: Answer


def follow_up(question: str, previous: str | None) -> str:
    """The question to search: a follow-up ("Who said that?") is resolved against the previous
    question as in ``qa chat`` (without its answer, a pronoun takes the question's names)."""
    if not previous:
        return question
    turn = _PreviousQuestion(previous, previous, Answer(question=previous, answered=False, quotes=()))
    return resolve_follow_up(question, [turn]).searched


class IndexHolder:
    """The index at a directory, kept open; ``current()`` re-opens it when ``qa index`` has
    switched CURRENT to a new generation, and keeps the open one when the new one cannot open.

    Not ``Index.refreshed()`` (what the chat uses): that closes the open index, which requests
    still in flight may be reading, and it neither warms the new one nor keeps the old on failure.
    """

    def __init__(self, index_dir: str | Path, encoder: Encoder | None = None) -> None:
        self.root = str(index_dir) if is_milvus(index_dir) else Path(index_dir)
        self._lock = threading.Lock()
        self._index = open_index(self.root)
        if encoder is not None:
            self._index.use_encoder(encoder)
        _warm(self._index)
        self._refused: str | None = None  # a generation that failed to open (not retried)

    def current(self) -> Index:
        """The index of the current generation."""
        name = self._current_name()
        index = self._index
        if name is None or name == index.generation.name or name == self._refused:
            return index
        with self._lock:
            if self._index.generation.name != name and name != self._refused:
                self._switch(name)
            return self._index

    def _current_name(self) -> str | None:
        if isinstance(self.root, str):  # Milvus: the manifest names the generation
            return self._index.current_generation()
        try:
            return (self.root / CURRENT_FILE).read_text().strip() or None
        except OSError:
            return None  # being replaced, or removed: keep answering from the open one

    def _switch(self, name: str) -> None:
        try:
            fresh = open_index(self.root)
            old = self._index
            if (fresh.manifest["model"], fresh.manifest["backend"]) == \
                    (old.manifest["model"], old.manifest["backend"]):
                fresh.use_encoder(old.encoder)
            _warm(fresh)
        except QAError as exc:
            log.warning("keeping index generation %s: the new one does not open: %s",
                        self._index.generation.name, exc)
            self._refused = name
            return
        log.info("switched to index generation %s", fresh.generation.name)
        # The previous Index is not closed: a request may still be reading it; it closes when
        # the last reference goes.
        self._index = fresh


def _warm(index: Index) -> None:
    """Load everything an answer reads, so a generation that ``qa index`` deletes after the
    switch keeps answering from memory and open files until the next one is in use."""
    for part in getattr(index, "warm_parts", ("encoder", "vectors", "bm25", "sentence_vectors",
                       "document_frequency", "copies", "chunk_owners", "article_dates", "newest_date")):
        getattr(index, part)


@dataclass
class EngineStats:
    asked: int = 0  # questions submitted
    cached: int = 0  # answered from the cache
    merged: int = 0  # answered together with an identical waiting question
    answered: int = 0  # questions the worker answered
    batches: int = 0  # answer_questions calls
    largest_batch: int = 0


@dataclass
class _Job:
    request: AskRequest
    future: Future


class AnswerEngine:
    """Answers on one worker thread: encoder and answer work are not thread-safe and gain
    nothing from two threads on this machine, while waiting questions (up to ``batch_size``)
    share one encode and one search. Identical waiting questions are answered once, and answers
    are kept in an LRU cache keyed by (generation, request)."""

    def __init__(
        self,
        holder: IndexHolder,
        settings: AnswerSettings | None = None,
        *,
        limits: Limits = Limits(),
        cache_size: int = 2048,
        batch_size: int = 8,
        start: bool = True,
    ) -> None:
        self.holder = holder
        self.settings = settings or AnswerSettings()
        self.limits = limits
        self.batch_size = batch_size
        self.stats = EngineStats()
        self._cache: OrderedDict[tuple[str, AskRequest], dict[str, Any]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        load_reranker(self.settings.reranker)  # loads (or fails) now, not on the first question
        self._thread = threading.Thread(target=self._work, name="qa-answers", daemon=True)
        if start:
            self.start()

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop the worker after the questions already waiting."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def submit(self, request: AskRequest) -> Future:
        """A future of the ``qa ask --json`` object for ``request``."""
        future: Future = Future()
        key = (self.holder.current().generation.name, request)
        with self._lock:
            self.stats.asked += 1
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self.stats.cached += 1
                future.set_result(cached)
                return future
            if self._queue.qsize() >= self.limits.max_waiting:
                raise BusyError(f"the server is busy: {self.limits.max_waiting} questions are "
                                "waiting; ask again shortly")
        self._queue.put(_Job(request, future))
        return future

    def ask(self, request: AskRequest, timeout: float | None = None) -> dict[str, Any]:
        """The ``qa ask --json`` object for ``request`` (blocks until it is answered)."""
        return self.submit(request).result(timeout)

    def ask_many(self, requests: Iterable[AskRequest]) -> Iterator[dict[str, Any] | QAError]:
        """Answers in the order asked, each as soon as it and those before it are ready; a
        question that fails gives its error instead."""
        futures = [self.submit(r) for r in requests]
        for future in futures:
            try:
                yield future.result()
            except QAError as exc:
                yield exc

    def article(self, article_id: str) -> dict[str, Any]:
        """An article for reading whole: metadata, cleaned text, paragraphs and copies."""
        index = self.holder.current()
        if article_id not in index.article_dates:
            raise NotFoundError(f"no article {article_id!r} in the index at {index.root}")
        article = index.article(article_id)
        return {
            **article_as_dict(article),
            "byline": article.byline,
            "text": article.text,
            "paragraphs": [
                {"start": start, "end": end, "line": article.line_at(start)}
                for start, end in paragraph_spans(article.text)
            ],
            "copies": [article_as_dict(c) for c in index.copies_of(article_id)],
        }

    def info(self) -> dict[str, Any]:
        """The ``qa info --json`` object, with the generation answering and the worker's counts."""
        index = self.holder.current()
        facts = info_as_dict(index_info(index.root))
        facts["generation"] = index.generation.name
        facts["service"] = {**vars(self.stats), "limits": vars(self.limits)}
        return facts

    # -- the worker

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            jobs = [job]
            while len(jobs) < self.batch_size:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # close after this batch
                    break
                jobs.append(more)
            self._answer(jobs)

    def _answer(self, jobs: list[_Job]) -> None:
        waiting: dict[AskRequest, list[Future]] = {}
        for job in jobs:
            waiting.setdefault(job.request, []).append(job.future)
        try:
            index = self.holder.current()
        except QAError as exc:
            for futures in waiting.values():
                for future in futures:
                    future.set_exception(exc)
            return
        generation = index.generation.name
        with self._lock:  # answered since it was queued (an identical question just before)
            for request in list(waiting):
                cached = self._cache.get((generation, request))
                if cached is not None:
                    self._cache.move_to_end((generation, request))
                    self.stats.cached += len(waiting[request])
                    for future in waiting.pop(request):
                        future.set_result(cached)
        groups: dict[tuple[int, Filters], list[AskRequest]] = {}
        for request in waiting:
            groups.setdefault((request.k, request.filters), []).append(request)
        for (k, filters), requests in groups.items():
            try:
                answers = answer_questions(
                    index, [r.question for r in requests], k=k, as_of=[r.as_of for r in requests],
                    filters=filters, settings=self.settings,
                )
            except Exception as exc:  # handed to every caller of this group
                if not isinstance(exc, QAError):
                    log.exception("answering failed")
                    exc = QAError(f"{type(exc).__name__}: {exc}")
                for request in requests:
                    for future in waiting[request]:
                        future.set_exception(exc)
                continue
            results = [answer_as_dict(answer) for answer in answers]
            with self._lock:
                self.stats.batches += 1
                self.stats.answered += len(requests)
                self.stats.largest_batch = max(self.stats.largest_batch, len(requests))
                self.stats.merged += sum(len(waiting[r]) - 1 for r in requests)
                for request, result in zip(requests, results):
                    self._cache[(generation, request)] = result
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            for request, result in zip(requests, results):
                for future in waiting[request]:
                    future.set_result(result)


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph of an article's cleaned text (blank-line separated), as
    ``qa chat``'s /open shows them."""
    spans = []
    start = 0
    while start < len(text):
        end = text.find("\n\n", start)
        end = len(text) if end < 0 else end
        if text[start:end].strip():
            spans.append((start, end))
        start = end + 2
    return spans


def shown_as(answer: dict[str, Any], asked: str, searched: str) -> dict[str, Any]:
    """An answer as the caller asked it: the question they wrote, and ``understood_as`` (the
    question searched) when a follow-up was expanded."""
    if asked == searched:
        return answer
    return {**answer, "question": asked, "understood_as": searched}


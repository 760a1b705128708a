"""The writer: builds a new generation of the index from articles (``build_index``) or
drops articles from it (``remove_articles``), reusing stored vectors, and switches to it."""

from __future__ import annotations

import json
import os
import time
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa import layout
from qa.analysis import ANALYSIS_VERSION
from qa.chunk import CHUNKING_VERSION, ChunkSettings
from qa.boilerplate import ParagraphCensus
from qa.copies import copy_groups, find_copies, grown_copies, signature
from qa.errors import IndexFormatError, InputError
from qa.index import Index
from qa.ingest import (
    READING_VERSION,
    FileState,
    ScannedArticles,
    Skipped,
    Trimmed,
    file_id,
    load_articles,
    record_id,
    scan_articles,
)
from qa.models import Article
from qa.segment_writer import PendingArticles, progress_bar, write_segment
from qa.sink import StoredModel, load_encoder, same_model
from qa.vectors import VectorLayout, choose_layout

if TYPE_CHECKING:

    from embeddings import Encoder


@dataclass(frozen=True)
class IndexReport:
    """What an ``index`` run did."""

    index_dir: str
    added: int
    updated: int
    unchanged: int
    removed: int
    skipped: tuple[Skipped, ...]
    articles: int
    chunks: int
    embedded_chunks: int
    seconds: float
    trimmed: tuple[Trimmed, ...] = ()  # articles indexed without some of their text, and why



def build_index(
    paths: Sequence[str | Path],
    index_dir: str | Path,
    *,
    model: str | None = None,
    backend: str = "auto",
    settings: ChunkSettings = ChunkSettings(),
    rebuild: bool = False,
    prune: bool = True,
    show_progress: bool = False,
    encoder: Encoder | None = None,
    ann: str | None = None,
) -> IndexReport:
    """Index the articles under ``paths`` into ``index_dir``, keeping what is already indexed.

    Articles already in the index with the same content are not embedded again; with ``prune``,
    articles that came from a folder given here but whose files are gone are removed. The new
    index is written beside the old one and switched in atomically, so a failed or killed run
    leaves the previous index answering as before. ``ann`` chooses the vector search structure
    (``qa.vectors.ANN_CHOICES``; None: what the index was built with, else ``auto``).
    """
    from embeddings import BACKENDS

    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
    if ann is not None:
        choose_layout(ann, 0)
    started = time.monotonic()
    root = Path(index_dir)
    root.mkdir(parents=True, exist_ok=True)
    with layout.writer_lock(root):
        previous = None if rebuild else Index.open_if_present(root)
        model_name = _resolve_model_name(model, previous)
        if previous is None:  # a full build, in bounded memory
            scanned = scan_articles(paths)
            if not scanned.count:
                raise _no_articles(paths, scanned.skipped)
            generation = _stream_generation(root, scanned, encoder or load_encoder(model_name, backend),
                                            settings, show_progress, ann or "auto")
            return IndexReport(
                index_dir=str(root), added=generation.article_count, updated=0, unchanged=0, removed=0,
                skipped=tuple(scanned.skipped), articles=generation.article_count,
                chunks=generation.chunk_count, embedded_chunks=generation.embedded,
                seconds=time.monotonic() - started, trimmed=tuple(scanned.trimmed),
            )
        known_files = previous.files if previous.manifest.get("reading") == READING_VERSION else {}
        ingested = load_articles(paths, previous.paragraph_census(), known_files)
        old_articles = previous.all_articles(texts=False)  # texts stay on disk
        new_articles = {a.id: a for a in ingested.articles}
        if ingested.unchanged:  # files not read again: their articles as indexed
            unchanged_files = set(ingested.unchanged)
            new_articles.update((i, a) for i, a in old_articles.items()
                                if a.path in unchanged_files and i not in new_articles)
        if not new_articles:
            raise _no_articles(paths, ingested.skipped)
        removed = pruned_ids(old_articles, new_articles, paths, ingested.skipped) if prune else set()
        merged = {i: a for i, a in old_articles.items() if i not in removed and i not in new_articles}
        merged.update(new_articles)
        added = sum(1 for i in new_articles if i not in old_articles)
        unchanged = sum(
            1 for i, a in new_articles.items()
            if i in old_articles and old_articles[i].content_hash == a.content_hash
        )
        updated = len(new_articles) - added - unchanged
        # What an update writes: the articles that are new or not stored exactly as read now.
        written = [a for i, a in new_articles.items() if not _stored_as(old_articles.get(i), a, previous)]
        articles, skipped, census = list(merged.values()), ingested.skipped, ingested.census
        trimmed, files = ingested.trimmed, ingested.files
        del ingested, old_articles, new_articles, merged  # the writer lets each article go once stored

        if encoder is None:
            encoder = load_encoder(model_name, previous.manifest.get("backend") or backend)
        if ann is None:
            ann = VectorLayout.from_manifest(previous.manifest).requested
        if _can_add_segment(previous, encoder, settings, ann):
            replaced = {a.id for a in written} | removed
            generation = _update_generation(root, previous, written, articles, replaced, encoder,
                                            settings, show_progress, ann, census, files)
        else:
            articles = _with_texts(articles, previous)
            generation = _replace_generation(
                root, articles, encoder, settings, previous, show_progress, ann, census, files)
    return IndexReport(
        index_dir=str(root),
        added=added,
        updated=updated,
        unchanged=unchanged,
        removed=len(removed),
        skipped=skipped,
        articles=generation.article_count,
        chunks=generation.chunk_count,
        embedded_chunks=generation.embedded,
        seconds=time.monotonic() - started,
        trimmed=trimmed,
    )


def _no_articles(paths: Sequence[str | Path], skipped: Sequence[Skipped]) -> InputError:
    where = ", ".join(str(p) for p in paths)
    detail = f" ({len(skipped)} files skipped)" if skipped else ""
    return InputError(f"no articles found in {where}{detail}")


def remove_articles(
    targets: Sequence[str], index_dir: str | Path, *, show_progress: bool = False
) -> IndexReport:
    """Drop the articles matching ``targets`` (article ids, URLs, files, or folders holding
    their files) from the index, atomically; nothing is embedded again."""
    started = time.monotonic()
    root = Path(index_dir)
    if not root.is_dir():
        Index.open(root)  # says there is no index there, and how to build one
    with layout.writer_lock(root):
        previous = Index.open(root)
        old = previous.all_articles(texts=False)
        gone = set().union(*(named_by(target, old) for target in targets))
        if not gone:
            raise InputError(f"nothing in the index at {root} matches {', '.join(targets)}")
        if len(gone) == len(old):
            raise InputError(
                f"that would remove all {len(old)} articles: delete {root} instead"
            )
        kept = [a for i, a in old.items() if i not in gone]
        # A file that held a removed article is read again by the next update (which re-adds
        # the article if the file still has it, as before segments).
        emptied = {old[i].path for i in gone}
        files = {p: state for p, state in previous.files.items() if p not in emptied}
        del old
        settings = ChunkSettings(**previous.manifest["chunker"])
        model = StoredModel(previous.manifest)
        requested = VectorLayout.from_manifest(previous.manifest).requested
        if _can_add_segment(previous, model, settings, requested):
            generation = _update_generation(root, previous, [], kept, gone, model, settings,
                                            show_progress, requested, files=files)
        else:
            generation = _replace_generation(root, _with_texts(kept, previous), model, settings,
                                             previous, show_progress, requested, files=files)
    return IndexReport(
        index_dir=str(root), added=0, updated=0, unchanged=generation.article_count,
        removed=len(gone), skipped=(), articles=generation.article_count, chunks=generation.chunk_count,
        embedded_chunks=generation.embedded, seconds=time.monotonic() - started,
    )


def _replace_generation(
    root: Path,
    articles: list[Article],
    encoder: Encoder,
    settings: ChunkSettings,
    previous: Index | None,
    show_progress: bool,
    ann: str,
    census: Mapping[str, ParagraphCensus] | None = None,
    files: Mapping[str, FileState] | None = None,
) -> _Generation:
    """Write a generation of one segment holding ``articles`` (the list is emptied as they are
    stored), switch to it, and drop the older ones (the caller holds the writer lock)."""
    reuse = previous is not None and same_model(previous.manifest, encoder)
    known: tuple[dict[str, np.ndarray], dict[str, np.ndarray]] = ({}, {})
    if reuse and previous is not None:
        known = previous.stored_vectors()
    signatures = {a.id: signature(a.text) for a in articles}
    copies = find_copies(articles, signatures)
    generation = _write_generation(root, PendingArticles.of(articles), encoder, settings, previous,
                                   show_progress, ann, dict(census or {}), kept=[], copies=lambda: copies,
                                   known=known, signatures=signatures, files=files or {})
    return _switch(root, previous, generation)


def _stream_generation(
    root: Path, scanned: ScannedArticles, encoder: Encoder, settings: ChunkSettings, show_progress: bool, ann: str
) -> _Generation:
    """Write a generation holding the ``scanned`` articles, read again as they are stored, and
    switch to it: of each article only its date and copy signature stay in memory (about 100
    bytes and 4 bytes a sampled shingle), next to the segment being written."""
    signatures: dict[str, np.ndarray] = {}  # the writer takes each out as it stores it
    shingles, bounds = array("I"), array("q", [0])  # every signature, end to end
    dates: dict[str, str | None] = {}

    def signed() -> Iterator[Article]:
        for article in scanned.articles():
            found = signatures[article.id] = signature(article.text)
            shingles.frombytes(found.tobytes())
            bounds.append(len(shingles))
            dates[article.id] = article.date
            yield article

    def copies() -> dict[str, str]:
        values = np.array(shingles, dtype=np.uint32)
        return copy_groups(list(dates), dates, [values[bounds[n]:bounds[n + 1]] for n in range(len(dates))])

    # scanned.files is complete once every article is read: _write_generation writes it last.
    generation = _write_generation(
        root, PendingArticles(signed()), encoder, settings, None, show_progress, ann, scanned.census,
        kept=[], copies=copies, known=({}, {}), signatures=signatures, files=scanned.files,
        to_write=scanned.count)
    return _switch(root, None, generation)


def _stored_as(stored: Article | None, article: Article, previous: Index | None) -> bool:
    """Whether ``stored`` (an article as indexed, its text left on disk) is ``article`` as read
    now: same metadata and line map, same text."""
    if stored is None or previous is None:
        return False
    return stored is article or (replace(stored, text=article.text) == article
                                 and previous.holds_text(article.id, article.text))


def _with_texts(articles: list[Article], previous: Index | None) -> list[Article]:
    """The articles with their texts: those read from the index without one get it."""
    return [a if a.text or previous is None else previous.article(a.id) for a in articles]


def _can_add_segment(previous: Index, encoder: Encoder, settings: ChunkSettings, ann: str) -> bool:
    """Whether an update may add a segment beside the previous generation's: same model, same
    chunking and analysis of sentences, same requested vector structure."""
    return (same_model(previous.manifest, encoder)
            and previous.manifest.get("analysis") == ANALYSIS_VERSION
            and previous.manifest.get("chunker") == settings.as_dict()
            and previous.manifest.get("chunking") == CHUNKING_VERSION
            and VectorLayout.from_manifest(previous.manifest).requested == ann)


def _update_generation(
    root: Path,
    previous: Index,
    written: list[Article],
    articles: list[Article],
    replaced: set[str],
    encoder: Encoder,
    settings: ChunkSettings,
    show_progress: bool,
    ann: str,
    census: Mapping[str, ParagraphCensus] | None = None,
    files: Mapping[str, FileState] | None = None,
) -> _Generation:
    """An update in proportion to what changed: the previous segments stay as they are, the
    articles in ``replaced`` (changed or removed) become tombstones in the segment holding
    them, and a new segment (more past MAX_SEGMENT_CHUNKS) holds ``written`` (new and changed
    articles) together with the live articles of the segments that the merge policy folds into it. ``articles`` is every
    article of the new generation (for its copy table). Nothing changed: nothing is written."""
    entries = layout.segment_entries(previous.generation, previous.manifest)
    homes = previous.article_homes()
    tombstones: dict[int, set[str]] = {}
    for article_id in replaced:
        if article_id in homes:
            tombstones.setdefault(homes[article_id], set()).add(article_id)
    files = files or {}
    if not written and not tombstones and files == previous.files:  # nothing to write; leftovers still go
        chunks_now = previous.stats()[1]
        previous.close()
        layout.remove_stale_generations(root, keep={previous.generation.name, *(e["name"] for e in entries)})
        return _Generation(previous.generation.name, len(articles), chunks_now, 0)
    sizes = []  # (segment number, live articles, stored articles, live chunks)
    newly_dead: dict[int, tuple[set[str], int]] = {}  # tombstones this update adds, and their chunks
    for number, segment in enumerate(previous.segments):
        stored, entry = len(segment.article_dates), entries[number]
        fresh = tombstones.get(number, set()) - set(entry.get("deleted", ()))
        newly_dead[number] = fresh, segment.chunks_of(fresh) if fresh else 0
        dead_chunks = int(entry.get("deleted_chunks", 0)) + newly_dead[number][1]
        sizes.append((number, stored - len(entry.get("deleted", ())) - len(fresh), stored,
                      int(entry["chunks"]) - dead_chunks))
    per_article = sum(size[3] for size in sizes) / max(1, sum(size[1] for size in sizes))
    folded = _segments_to_merge(sizes, len(written), round(len(written) * per_article))
    live_ids = set(homes) - replaced
    moved = [previous.article(i) for i in sorted(live_ids) if homes[i] in folded]
    kept = []
    for number, live, _, _ in sizes:
        if number in folded or live == 0:
            continue
        entry = dict(entries[number])
        fresh, fresh_chunks = newly_dead[number]
        entry["deleted"] = sorted(set(entry.get("deleted", ())) | fresh)
        entry["deleted_chunks"] = entry.get("deleted_chunks", 0) + fresh_chunks
        kept.append(entry)
    chunks, sentences = previous.stored_vectors([previous.segments[n] for n in folded])
    changed = [i for i in (a.id for a in written) if i in homes]
    for number in {homes[i] for i in changed} - folded:
        more_chunks, more_sentences = previous.segments[number].vectors_of_articles(
            [i for i in changed if homes[i] == number])
        chunks.update(more_chunks)
        sentences.update(more_sentences)
    signatures = _signatures(previous, articles, {a.id for a in written})
    copies = grown_copies(previous.copies, {a.id: a.date for a in articles}, signatures,
                          [a.id for a in written], replaced)
    generation = _write_generation(
        root, PendingArticles.of(written + moved), encoder, settings, previous, show_progress, ann,
        dict(census or {}), kept=kept, copies=lambda: copies, known=(chunks, sentences),
        article_count=len(articles), signatures=signatures, files=files, to_write=len(written) + len(moved))
    return _switch(root, previous, generation)


def _signatures(previous: Index, articles: list[Article], written: set[str]) -> dict[str, np.ndarray]:
    """The copy-detection signature of every article of the new generation: stored ones as
    they are, computed for the ``written`` articles and those of segments that kept none."""
    stored: dict[str, np.ndarray] = {}
    for segment in previous.segments:
        stored.update(segment.signatures() or {})
    return {a.id: stored[a.id] if a.id in stored and a.id not in written
            else signature(a.text or previous.article(a.id).text) for a in articles}


# The merge policy (after Lucene's tiered merge, in its simplest, logarithmic form): the new
# segment takes in every older segment no larger (in live articles) than MERGE_RATIO times
# what it holds so far, smallest first, so segments double in size as they merge and each
# article is rewritten O(log n) times; and any segment at least MAX_DELETED_SHARE deleted (its
# tombstones are dropped by rewriting its live articles). No segment is written past
# MAX_SEGMENT_CHUNKS (Lucene's maximum merged segment size): a full build writes one segment
# per that many chunks, and a merge stops short of it, so neither the memory of a build nor
# what an update rewrites grows with the archive. MAX_SEGMENTS bounds how many segments below
# that size a search visits.
MERGE_RATIO = 1.0
MAX_DELETED_SHARE = 0.5
MAX_SEGMENTS = 12
# 200,000 chunks: about 300 MB of 384-dimension float32 vectors in FAISS, plus the BM25
# arrays, while a segment is written (bench/scale.py update reports the peak RSS of a build).
MAX_SEGMENT_CHUNKS = 200_000


def _segments_to_merge(sizes: list[tuple[int, int, int, int]], incoming: int, incoming_chunks: int) -> set[int]:
    """Which segments (numbers in ``sizes``: (number, live articles, stored articles, live
    chunks)) the new segment of ``incoming`` articles (about ``incoming_chunks`` chunks) takes in."""
    folded = {n for n, live, stored, _ in sizes if stored and (stored - live) / stored >= MAX_DELETED_SHARE}
    holding = incoming + sum(live for n, live, _, _ in sizes if n in folded)
    chunks = incoming_chunks + sum(c for n, _, _, c in sizes if n in folded)
    rest = sorted((live, c, n) for n, live, _, c in sizes if n not in folded and live > 0)
    rest = [(live, c, n) for live, c, n in rest if c + incoming_chunks <= MAX_SEGMENT_CHUNKS]  # full ones stay
    for position, (live, more_chunks, number) in enumerate(rest):
        if chunks + more_chunks > MAX_SEGMENT_CHUNKS:
            break
        segments_left = len(rest) - position + 1  # these and the new one
        if live <= MERGE_RATIO * holding or segments_left > MAX_SEGMENTS:
            folded.add(number)
            holding += live
            chunks += more_chunks
        else:
            break
    return folded


def _switch(root: Path, previous: Index | None, generation: _Generation) -> _Generation:
    """Point CURRENT at the new generation and drop the generations it does not use."""
    layout.switch_to(root, generation.name)
    if previous:
        previous.close()
    layout.remove_stale_generations(root, keep={generation.name, *generation.segments})
    return generation


def named_by(target: str, articles: dict[str, Article]) -> set[str]:
    """Ids of the articles ``target`` names: an article id, a URL, a file or a folder holding
    articles, a JSON record's own id (when only one file has it) or ``FILE#ID``."""
    named = {i for i, a in articles.items() if target in (i, a.url) or _lies_in(a, target)}
    by_record = {i for i in articles if record_id(i) == target}
    files = sorted({articles[i].path or "?" for i in by_record - named})
    if len(files) > 1:
        raise InputError(
            f"id {target!r} is in {len(files)} files ({', '.join(files)}): give FILE#ID, "
            f"e.g. {files[0]}#{target}"
        )
    named |= by_record
    for split in (i for i, mark in enumerate(target) if mark == "#"):
        file, given = target[:split], target[split + 1 :]
        named |= {i for i, a in articles.items() if record_id(i) == given and _lies_in(a, file, exact=True)}
    return named


def _lies_in(article: Article, target: str, exact: bool = False) -> bool:
    """Whether ``article``'s file is the file ``target`` or (unless ``exact``) lies under it."""
    location = _location(article)
    if location is None or not target:
        return False
    wanted = Path(os.path.realpath(target))
    return location == wanted or (not exact and location.is_relative_to(wanted))


def _resolve_model_name(model: str | None, previous: Index | None) -> str:
    from embeddings import DEFAULT_MODEL

    if previous is None:
        return model or DEFAULT_MODEL
    indexed_with = previous.manifest["model"]
    if model and model != indexed_with:
        raise IndexFormatError(
            f"the index at {previous.root} was built with model {indexed_with!r}, not {model!r}; "
            f"to switch models rebuild it: qa index --rebuild --model {model} ARTICLES"
        )
    return indexed_with


def pruned_ids(
    old: dict[str, Article],
    new: dict[str, Article],
    paths: Sequence[str | Path],
    skipped: Sequence[Skipped],
) -> set[str]:
    """Ids of indexed articles that are gone: their file lies under a folder indexed now but was
    not found, or was read now without giving them. An article whose file (or folder) was skipped
    this run keeps its indexed version."""
    folders = [Path(p).resolve() for p in paths if Path(p).is_dir()]
    read = {Path(a.path) for a in new.values() if a.path}
    # A skipped link is not followed: a link looping back to its folder must not shield it.
    unread = [Path(os.path.realpath(Path(s.path).parent)) / Path(s.path).name for s in skipped]
    gone = set()
    for article_id, article in old.items():
        location = None if article_id in new else _location(article, new)
        if location is None:
            continue
        if (location in read or any(location.is_relative_to(f) for f in folders)) and not any(
            location.is_relative_to(place) for place in unread
        ):
            gone.add(article_id)
    return gone


def _location(article: Article, new: Mapping[str, Article] | None = None) -> Path | None:
    """The resolved path of an article's file, None when unknown. qa stores resolved paths; an
    older qa stored them as typed, and such a relative path is trusted only when it is proven to
    have been typed in this folder: the article's id derives from the resolved path, or (a JSON
    record, whose id an older qa did not namespace) the same record is indexed now, same text,
    under its file's id."""
    if not article.path:
        return None
    if os.path.isabs(article.path):
        return Path(os.path.realpath(article.path))
    candidate = os.path.realpath(article.path)
    proofs = {file_id(candidate), *(file_id(f"{candidate}#{n}") for n in article.line_numbers[:1])}
    again = (new or {}).get(f"{file_id(candidate)}#{article.id}")
    if article.id in proofs or (again is not None and again.content_hash == article.content_hash):
        return Path(candidate)
    return None


@dataclass
class _Generation:
    name: str
    article_count: int
    chunk_count: int
    embedded: int
    segments: tuple[str, ...] = ()  # the generations whose files it uses


def _write_generation(
    root: Path,
    articles: PendingArticles,
    encoder: Encoder,
    settings: ChunkSettings,
    previous: Index | None,
    show_progress: bool,
    ann: str,
    census: dict[str, ParagraphCensus],
    *,
    kept: list[dict[str, Any]],
    copies: Callable[[], Mapping[str, str]],
    known: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
    signatures: dict[str, np.ndarray],
    files: Mapping[str, FileState],
    to_write: int,
    article_count: int | None = None,
) -> _Generation:
    """Seal a new generation made of the ``kept`` segments (manifest entries) and, when there
    are ``articles`` (about ``to_write``), new segments holding them: one for every
    MAX_SEGMENT_CHUNKS chunks, each written and let go before the next, so a build's memory
    does not grow with the archive. A segment that is not the last is sealed in a directory of
    its own; until the generation naming it is switched in, it is a leftover that the next
    update deletes, like any partial write. ``copies`` (the copy table) and ``files`` are read
    once the articles are written; ``article_count`` (None: the articles written) is the
    generation's."""
    segments = list(kept)
    embedded = 0
    structure = {"vectors": previous.manifest["vectors"]} if previous and "vectors" in previous.manifest else {}
    progress = progress_bar(show_progress, unit="article", desc="indexing", total=to_write)
    try:
        while True:
            with layout.new_generation(root) as (name, work_dir):
                if articles:
                    entry, count = write_segment(work_dir, articles, encoder, settings, previous, progress,
                                                 ann, census, known, signatures, MAX_SEGMENT_CHUNKS)
                    embedded += count
                    segments.append({"name": name, **entry})
                    structure = {"vectors": entry["vectors"]}
                if articles:  # more segments to come
                    layout.seal_generation(root, work_dir, name, {"format_version": layout.FORMAT_VERSION,
                                                                  "segment": segments[-1]})
                    continue
                total = articles.taken if article_count is None else article_count
                (work_dir / layout.COPIES).write_text(json.dumps(copies(), separators=(",", ":")))
                (work_dir / layout.FILES).write_text(json.dumps(
                    {path: state.to_json() for path, state in files.items()}, separators=(",", ":")))
                manifest = {
                    "format_version": layout.FORMAT_VERSION,
                    "model": encoder.name,
                    "dimension": encoder.dimension,
                    "backend": encoder.backend,
                    "chunker": settings.as_dict(),
                    "articles": total,
                    "chunks": sum(int(e["chunks"]) for e in segments),
                    "sentences": sum(int(e["sentences"]) for e in segments),
                    "analysis": ANALYSIS_VERSION,
                    "chunking": CHUNKING_VERSION,
                    "reading": READING_VERSION,
                    **structure,
                    "segments": segments,
                    "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "qa_version": qa_version(),
                }
                layout.seal_generation(root, work_dir, name, manifest)
                break
    finally:
        progress.close()
    live_chunks = sum(int(e["chunks"]) - int(e.get("deleted_chunks", 0)) for e in segments)
    return _Generation(name=name, article_count=total, chunk_count=live_chunks,
                       embedded=embedded, segments=tuple(e["name"] for e in segments))


def qa_version() -> str:
    from qa import __version__

    return __version__

"""The index directory on disk: generations, their manifest, the writer lock and the atomic
switch of CURRENT from one generation to the next. See docs/index-format.md."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qa.errors import IndexFormatError, QAError

log = logging.getLogger(__name__)

# Written: 4 (a generation lists the segments it is made of). Read too: 3 (one generation, one
# segment) and 2 (flat vectors only, no "vectors" entry).
FORMAT_VERSION = 4
READABLE_VERSIONS = (2, 3, 4)
DEFAULT_INDEX_DIR = ".qa-index"
CURRENT_FILE = "CURRENT"
LOCK_FILE = ".lock"
MANIFEST = "manifest.json"
STORE = "store.sqlite"
VECTORS = "vectors.faiss"
BM25_DIR = "bm25"
TERMS = "terms.json"
SENTENCE_VECTORS = "sentences.f16"
CHUNK_VECTORS = "chunks.f16"
COPIES = "copies.json"
FILES = "files.json"


@contextlib.contextmanager
def writer_lock(root: Path) -> Iterator[None]:
    """One writer per index directory: a second ``index`` run fails at once with a clear line."""
    with exclusive_lock(root / LOCK_FILE, str(root)):
        yield


@contextlib.contextmanager
def exclusive_lock(lock_file: Path, index: str) -> Iterator[None]:
    """Hold ``lock_file`` (flock) for the one writer of ``index``; fail at once if it is held."""
    handle = open(lock_file, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise QAError(
                f"another qa process is updating the index at {index}; wait for it to finish"
            ) from None
        yield
    finally:
        handle.close()


@contextlib.contextmanager
def new_generation(root: Path) -> Iterator[tuple[str, Path]]:
    """A fresh ``gen-….partial`` directory to write a generation into, with the name it gets
    once sealed; removed again if writing it fails."""
    name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"
    work_dir = root / f"{name}.partial"
    work_dir.mkdir()
    try:
        yield name, work_dir
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise


def seal_generation(root: Path, work_dir: Path, name: str, manifest: dict[str, Any]) -> None:
    """Write the manifest, fsync every file and rename ``work_dir`` to its final name."""
    (work_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    fsync_tree(work_dir)
    os.rename(work_dir, root / name)
    fsync_dir(root)


def switch_to(root: Path, name: str) -> None:
    """Point CURRENT at the generation ``name`` with one atomic rename."""
    temporary = root / f"{CURRENT_FILE}.{os.getpid()}.tmp"
    with open(temporary, "w") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, root / CURRENT_FILE)
    fsync_dir(root)


def segment_entries(generation: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The segments a generation is made of, oldest first: each names the generation directory
    holding its files, its chunk and sentence counts, its vector structure and the articles
    deleted from it since (tombstones). A format 2 or 3 generation is one segment: itself."""
    listed = manifest.get("segments")
    if listed is not None:
        return list(listed)
    entry = {"name": generation.name, "chunks": manifest.get("chunks", 0),
             "sentences": manifest.get("sentences", 0), "deleted": []}
    if "vectors" in manifest:
        entry["vectors"] = manifest["vectors"]
    return [entry]


def remove_stale_generations(root: Path, keep: set[str]) -> None:
    """Delete the generations that the current one does not use as segments (``keep``) and that
    no reader holds (each open Index holds a shared flock on each of its segments); one in use
    is kept until a later update finds it free."""
    for entry in root.iterdir():
        if entry.is_dir() and entry.name.startswith("gen-") and entry.name not in keep:
            try:
                descriptor = os.open(entry, os.O_RDONLY)
            except OSError:
                continue
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.debug("generation %s is in use by a reader: kept", entry.name)
                os.close(descriptor)
                continue
            try:
                shutil.rmtree(entry, ignore_errors=True)
            finally:
                os.close(descriptor)
        elif entry.name.startswith(f"{CURRENT_FILE}.") and entry.name.endswith(".tmp"):
            entry.unlink(missing_ok=True)


def fsync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    fsync_dir(directory)


def fsync_dir(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def open_current(root: Path) -> tuple[Path, dict[str, Any], list[int]] | None:
    """The generation CURRENT names, its manifest and a shared flock on each generation it uses
    as a segment (so no writer deletes one while it is read); None when there is no index at
    ``root``."""
    current = root / CURRENT_FILE
    if not current.exists():
        return None
    for _ in range(5):  # a writer may switch (and remove the old ones) between read and lock
        name = current.read_text().strip()
        lock = _lock_generation(root / name) if name else None
        if lock is None or current.read_text().strip() != name:
            if lock is not None:
                os.close(lock)
            continue
        locks = [lock]
        try:
            manifest = read_manifest(root, root / name)
            for entry in segment_entries(root / name, manifest):
                if entry["name"] != name:
                    held = _lock_generation(root / entry["name"])
                    if held is None:
                        break  # a merge removed it before we held it: CURRENT has moved on
                    locks.append(held)
            else:
                return root / name, manifest, locks
        except BaseException:
            for held in locks:
                os.close(held)
            raise
        for held in locks:
            os.close(held)
        if current.read_text().strip() == name:
            raise corrupt(root, "a segment its manifest lists is missing")
    raise corrupt(root, "its CURRENT file points at a missing generation")


def read_manifest(root: Path, generation: Path) -> dict[str, Any]:
    """A generation's manifest, refused with the rebuild command when its format is not read."""
    manifest_path = generation / MANIFEST
    if not manifest_path.is_file():
        raise corrupt(root, "its CURRENT file points at a missing generation")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise corrupt(root, "its manifest is unreadable") from exc
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if not isinstance(version, int):
        raise corrupt(root, "its manifest has no format version")
    if version not in READABLE_VERSIONS:
        age = "newer" if version > FORMAT_VERSION else "older"
        raise IndexFormatError(
            f"the index at {root} has format {version}, {age} than this qa reads "
            f"({FORMAT_VERSION}): rebuild it: qa index --rebuild ARTICLES --index {root}"
        )
    return manifest


def _lock_generation(generation: Path) -> int | None:
    """A shared flock on a generation directory, or None when it is gone."""
    try:
        descriptor = os.open(generation, os.O_RDONLY)
    except OSError:
        return None
    fcntl.flock(descriptor, fcntl.LOCK_SH)
    return descriptor


def size_on_disk(generation: Path) -> dict[str, int]:
    """Bytes of each top-level file or folder of a generation."""
    sizes: dict[str, int] = {}
    for path in generation.rglob("*"):
        if path.is_file():
            top = path.relative_to(generation).parts[0]
            sizes[top] = sizes.get(top, 0) + path.stat().st_size
    return sizes


def corrupt(root: Path, why: str) -> IndexFormatError:
    return IndexFormatError(
        f"the index at {root} is damaged: {why}; rebuild it: qa index --rebuild ARTICLES --index {root}"
    )

"""Syndicated copies: the same story published by several outlets, found by shared word
shingles, so that it is quoted once with every outlet listed."""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Collection, Iterator, Mapping, Sequence

import numpy as np

from qa.models import Article

_WORD = re.compile(r"\w+")
SHINGLE = 5  # words per shingle
SAMPLE = 4  # keep one shingle in SAMPLE (by hash), enough to compare long texts cheaply
# Both articles must have this share of their sampled shingles in the other: a brief inside a
# long article, a newsletter quoting a story, two updates of a story or two pages sharing a photo
# gallery are not copies (bench/copies.py: on the dev archive such pairs share 7-78% of the
# larger side; copies share 86-100%).
CONTAINMENT = 0.8
# Sampled shingles (about 35 words) an article needs before it can be a copy: two short briefs
# that differ in a name may share every sampled shingle by chance.
MIN_SHINGLES = 8


def _shingles(text: str) -> set[int]:
    words = _WORD.findall(unicodedata.normalize("NFC", text).lower())
    hashes = set()
    for i in range(max(len(words) - SHINGLE + 1, 1)):
        value = zlib.crc32(" ".join(words[i : i + SHINGLE]).encode())
        if value % SAMPLE == 0:
            hashes.add(value)
    return hashes


def shingle_overlaps(signatures: Sequence[np.ndarray]) -> Iterator[tuple[int, int, int]]:
    """``(i, j, shared)`` for every pair ``i < j`` of signatures (sorted, unique uint32 arrays)
    that share ``shared`` shingles. All values sit in one sorted array (8 bytes a shingle), and
    each signature looks its values up there in turn, so memory stays a few bytes a shingle."""
    values, owners = _lookup_table(signatures)
    for position, mine in enumerate(signatures):
        found, counts = _shared_with(values, owners, mine)
        later = found > position  # each pair once, and not the signature with itself
        for other, count in zip(found[later].tolist(), counts[later].tolist()):
            yield position, other, count


def _lookup_table(signatures: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All the values of ``signatures``, sorted, with the position of the signature each is from."""
    sizes = np.array([len(s) for s in signatures], dtype=np.int64)
    if not sizes.sum():
        return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int32)
    values = np.concatenate([np.asarray(s, dtype=np.uint32) for s in signatures])
    owners = np.repeat(np.arange(len(signatures), dtype=np.int32), sizes)
    order = np.argsort(values, kind="stable")
    return values[order], owners[order]


def _shared_with(values: np.ndarray, owners: np.ndarray, mine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The owners in a ``_lookup_table`` that share values with ``mine``, and how many each."""
    if not len(mine) or not len(values):
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)
    low = np.searchsorted(values, mine, "left")
    lengths = np.searchsorted(values, mine, "right") - low
    total = int(lengths.sum())
    starts = np.repeat(low - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return np.unique(owners[starts + np.arange(total)], return_counts=True)


def signature(text: str) -> np.ndarray:
    """An article's sampled shingle hashes, sorted (what the index stores for later updates)."""
    return np.array(sorted(_shingles(text)), dtype=np.uint32)


def find_copies(articles: Sequence[Article], known: Mapping[str, np.ndarray] | None = None) -> dict[str, str]:
    """Map the id of every article that has near-duplicates to its group's id (the earliest
    dated member's id); articles without copies are left out. ``known``: signatures already
    computed, by article id."""
    signatures = [known[a.id] if known and a.id in known else signature(a.text) for a in articles]
    return copy_groups([a.id for a in articles], {a.id: a.date for a in articles}, signatures)


def copy_groups(
    ids: Sequence[str], dates: Mapping[str, str | None], signatures: Sequence[np.ndarray]
) -> dict[str, str]:
    """``find_copies`` of the articles with these ``ids``, ``dates`` (by id) and ``signatures``
    (in the order of ``ids``)."""
    usable = [_usable(values) for values in signatures]
    groups = _UnionFind()
    for position, other, count in shingle_overlaps(usable):
        if _copies(count, len(usable[position]), len(usable[other])):
            groups.join(ids[position], ids[other])
    return groups.named(dates)


def grown_copies(
    previous: Mapping[str, str],
    dates: Mapping[str, str | None],
    signatures: Mapping[str, np.ndarray],
    written: Collection[str],
    gone: Collection[str],
) -> dict[str, str]:
    """The copy groups after an update, without comparing the articles that did not change
    with each other again: ``previous`` groups minus the ``gone`` articles (a group that lost a
    member is checked again, in case it held the others together), and every ``written``
    article compared with all. ``dates`` and ``signatures``: every article of the archive now."""
    groups = _UnionFind()
    members: dict[str, list[str]] = {}
    for article_id, group in previous.items():
        if article_id not in gone and article_id in dates:
            members.setdefault(group, []).append(article_id)
    broken = {previous[i] for i in gone if i in previous}
    for group, ids in members.items():
        if group not in broken:
            for other in ids[1:]:
                groups.join(ids[0], other)
            continue
        arrays = [_usable(signatures[i]) for i in ids]
        for position, other, count in shingle_overlaps(arrays):
            if _copies(count, len(arrays[position]), len(arrays[other])):
                groups.join(ids[position], ids[other])
    new_ids = [i for i in written if i in signatures]
    new = [_usable(signatures[i]) for i in new_ids]
    values, owners = _lookup_table(new)  # each article looks its values up among the new ones
    for article_id, article_values in signatures.items():
        mine = _usable(article_values)
        found, counts = _shared_with(values, owners, mine)
        for position, shared in zip(found.tolist(), counts.tolist()):
            other = new_ids[position]
            if other != article_id and _copies(shared, len(mine), len(new[position])):
                groups.join(article_id, other)
    return groups.named(dates)


def _usable(values: np.ndarray) -> np.ndarray:
    """A signature as compared: empty when too short to tell a copy (MIN_SHINGLES)."""
    values = np.asarray(values, dtype=np.uint32)
    return values if len(values) >= MIN_SHINGLES else values[:0]


def _copies(shared: int, first: int, second: int) -> bool:
    """Whether two signatures of these sizes are copies: each holds CONTAINMENT of the other."""
    return bool(first and second) and shared >= CONTAINMENT * max(first, second)


class _UnionFind:
    """Groups of article ids, joined pair by pair."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}

    def root(self, item: str) -> str:
        parent = self._parent
        parent.setdefault(item, item)
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def join(self, first: str, second: str) -> None:
        self._parent[self.root(second)] = self.root(first)

    def named(self, dates: Mapping[str, str | None]) -> dict[str, str]:
        """Every grouped id -> its group's earliest dated member's id."""
        groups: dict[str, list[str]] = {}
        for item in self._parent:
            groups.setdefault(self.root(item), []).append(item)
        copies = {}
        for ids in groups.values():
            if len(ids) > 1:
                first = min(ids, key=lambda i: (dates.get(i) or "9999", i))
                copies.update((i, first) for i in ids)
        return copies

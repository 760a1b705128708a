"""Syndicated copies: the same story published by several outlets, found by shared word
shingles, so that it is quoted once with every outlet listed."""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Iterator, Sequence

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


def shingle_overlaps(signatures: Sequence[set[int]]) -> Iterator[tuple[int, int, int]]:
    """``(i, j, shared)`` for every pair ``i < j`` of signatures that share ``shared`` shingles."""
    postings: dict[int, list[int]] = {}
    for position, signature in enumerate(signatures):
        for value in signature:
            postings.setdefault(value, []).append(position)
    for position, signature in enumerate(signatures):
        shared: dict[int, int] = {}
        for value in signature:
            for other in postings[value]:
                if other > position:
                    shared[other] = shared.get(other, 0) + 1
        for other, count in shared.items():
            yield position, other, count


def find_copies(articles: Sequence[Article]) -> dict[str, str]:
    """Map the id of every article that has near-duplicates to its group's id (the earliest
    dated member's id); articles without copies are left out."""
    signatures = [_shingles(a.text) for a in articles]
    signatures = [s if len(s) >= MIN_SHINGLES else set() for s in signatures]
    parent = list(range(len(articles)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for position, other, count in shingle_overlaps(signatures):
        if count >= CONTAINMENT * max(len(signatures[position]), len(signatures[other])):  # both ways
            parent[root(other)] = root(position)
    groups: dict[int, list[int]] = {}
    for position in range(len(articles)):
        groups.setdefault(root(position), []).append(position)
    copies = {}
    for members in groups.values():
        if len(members) > 1:
            first = min(members, key=lambda m: (articles[m].date or "9999", articles[m].id))
            for member in members:
                copies[articles[member].id] = articles[first].id
    return copies

"""Syndicated copies: the same story published by several outlets, found by shared word
shingles, so that it is quoted once with every outlet listed."""

from __future__ import annotations

import re
import zlib
from typing import Sequence

from qa.models import Article

_WORD = re.compile(r"\w+")
SHINGLE = 5  # words per shingle
SAMPLE = 4  # keep one shingle in SAMPLE (by hash), enough to compare long texts cheaply
CONTAINMENT = 0.8  # share of the shorter article's shingles found in the other


def _shingles(text: str) -> set[int]:
    words = _WORD.findall(text.lower())
    hashes = set()
    for i in range(max(len(words) - SHINGLE + 1, 1)):
        value = zlib.crc32(" ".join(words[i : i + SHINGLE]).encode())
        if value % SAMPLE == 0:
            hashes.add(value)
    return hashes


def find_copies(articles: Sequence[Article]) -> dict[str, str]:
    """Map the id of every article that has near-duplicates to its group's id (the earliest
    dated member's id); articles without copies are left out."""
    signatures = [_shingles(a.text) for a in articles]
    postings: dict[int, list[int]] = {}
    for position, signature in enumerate(signatures):
        for value in signature:
            postings.setdefault(value, []).append(position)
    parent = list(range(len(articles)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for position, signature in enumerate(signatures):
        if not signature:
            continue
        shared: dict[int, int] = {}
        for value in signature:
            for other in postings[value]:
                if other > position:
                    shared[other] = shared.get(other, 0) + 1
        for other, count in shared.items():
            smaller = min(len(signature), len(signatures[other]))
            if count >= CONTAINMENT * smaller:
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

"""Syndicated-copy detection on the RealtimeQA dev archive: the groups qa.copies finds, and every
pair that the shorter side alone would call a copy, with how much of each side the other holds.

    python bench/copies.py [--data ../shared/data/realtimeqa-dev]

Pairs whose larger side shares little (a brief inside a long article, a newsletter quoting a
story, two updates of one story, pages sharing a photo gallery) are what CONTAINMENT, required
both ways, keeps apart. Takes about half a minute (cleaning the archive).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from qa.copies import CONTAINMENT, MIN_SHINGLES, find_copies, shingle_overlaps, signature  # noqa: E402
from qa.ingest import load_articles  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared/data/realtimeqa-dev"))
    articles = load_articles([Path(parser.parse_args().data) / "articles.jsonl"]).articles
    signatures = [signature(a.text) for a in articles]
    rows = []
    for position, other, count in shingle_overlaps(signatures):
        sizes = sorted((len(signatures[position]), len(signatures[other])))
        if count >= CONTAINMENT * sizes[0]:
            rows.append((count / sizes[1], count / sizes[0], sizes[0], position, other))
    groups: dict[str, list[str]] = {}
    for article_id, group in find_copies(articles).items():
        groups.setdefault(group, []).append(article_id)
    print(f"## Copies in {len(articles)} dev articles (containment {CONTAINMENT} both ways, "
          f"at least {MIN_SHINGLES} sampled shingles)\n")
    print(f"{len(groups)} groups, {sum(map(len, groups.values()))} articles\n")
    print("| larger side shared | shorter side shared | shorter's shingles | grouped | urls |")
    print("| --- | --- | --- | --- | --- |")
    for larger, smaller, size, first, second in sorted(rows):
        if larger == 1.0:
            continue
        grouped = larger >= CONTAINMENT and size >= MIN_SHINGLES
        print(f"| {larger:.2f} | {smaller:.2f} | {size} | {'yes' if grouped else 'no'} | "
              f"{articles[first].url} {articles[second].url} |")
    identical = sum(1 for row in rows if row[0] == 1.0)
    print(f"\n{identical} more pairs share every sampled shingle.")


if __name__ == "__main__":
    main()

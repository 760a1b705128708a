"""Syndicated copies are quoted once, with every outlet in the citation."""

from __future__ import annotations

import json

from qa.answer import ask
from qa.copies import find_copies
from qa.index import Index
from qa.ingest import record_id
from qa.models import Article
from qa.writer import build_index

STORY = (
    "The city council approved a new budget on Tuesday that doubles spending on public transit. "
    "Mayor Jane Alvarez said the plan would add forty electric buses by next spring. "
    "Opponents argued that property taxes would rise to pay for the expansion. "
    "The vote was seven to two after a debate that lasted late into the night. "
)


def test_near_duplicates_are_grouped_and_different_stories_are_not():
    articles = [
        Article(id="a", text=STORY * 3, date="2024-05-02"),
        Article(id="b", text="WIRE — " + STORY * 3 + "Copyright 2024.", date="2024-05-01"),
        Article(id="c", text="A different story about a football match and its final score. " * 5),
    ]
    assert find_copies(articles) == {"a": "b", "b": "b"}


def test_a_syndicated_story_is_quoted_once_with_every_outlet(tmp_path, encoder):
    records = [
        {"id": "wire-1", "url": "https://www.example-times.com/2024/05/02/budget", "text": STORY * 2},
        {"id": "wire-2", "url": "https://news.example-post.org/budget-vote", "text": STORY * 2},
        {"id": "other", "url": "https://sports.example.net/match",
         "text": "The home team won the final match three to one in front of a record crowd. " * 3},
    ]
    source = tmp_path / "articles.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    build_index([source], tmp_path / "idx", encoder=encoder)
    index = Index.open(tmp_path / "idx")
    index.use_encoder(encoder)
    answer = ask(index, "How many electric buses will the budget add?", k=3)
    first = answer.quotes[0]
    assert "forty electric buses" in first.text
    outlets = {first.article.source} | {c.source for c in first.copies}
    assert outlets == {"example-times.com", "news.example-post.org"}
    quoted = [record_id(q.article.id) for q in answer.quotes]
    assert not {"wire-1", "wire-2"} <= set(quoted)  # the story fills one slot, not two


def test_dates_come_from_the_url_when_a_record_has_none(tmp_path):
    from qa.ingest import load_articles

    source = tmp_path / "a.jsonl"
    source.write_text(json.dumps({"id": "x", "url": "https://www.cnn.com/2022/06/12/media/show/index.html",
                                  "text": "Netflix announced a second season."}) + "\n")
    assert load_articles([source]).articles[0].date == "2022-06-12"


def test_a_source_filter_still_fills_k_quotes(tmp_path, encoder):
    """Filtering happens inside retrieval: rare matching articles are not crowded out."""
    from qa.models import Filters

    records = [{"id": f"big-{n}", "url": f"https://big.example.com/{n}",
                "text": f"The council approved budget plan number {n} for electric buses. " * 3}
               for n in range(40)]
    small = ["Local volunteers planted trees along the river on Sunday.",
             "The library extended its opening hours for the summer holidays.",
             "A new bakery opened on the main square, drawing long queues."]
    records += [{"id": f"small-{n}", "url": f"https://small.example.org/{n}", "text": text}
                for n, text in enumerate(small)]
    source = tmp_path / "articles.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    build_index([source], tmp_path / "idx", encoder=encoder)
    index = Index.open(tmp_path / "idx")
    index.use_encoder(encoder)
    answer = ask(index, "What did the council approve for electric buses?", k=3,
                 filters=Filters(sources=("SMALL.example",)))
    assert len(answer.quotes) == 3
    assert all(q.article.source == "small.example.org" for q in answer.quotes)


LEAD = ("LONDON, May 3 (Reuters) - Britain's transport ministry announced new rail funding for the "
        "north of England on Tuesday, in a package worth two billion pounds that ministers said "
        "would be spent over the next five years.")
TRAINS = "The money will pay for electric trains between Leeds and Manchester."
BUSES = "The mayor of Liverpool welcomed the plan but asked for more buses."


def test_a_brief_inside_a_long_article_is_not_its_copy():
    rest = " ".join(f"Council member {n} asked how the route {n} service would be paid for." for n in range(30))
    articles = [Article(id="brief", text=STORY), Article(id="long", text=STORY + rest)]
    assert find_copies(articles) == {}


def test_short_briefs_that_differ_in_a_name_are_not_copies():
    brief = ("PARIS, May 3 (Reuters) - Shares in {} rose four percent on Tuesday after the "
             "government announced new rail funding, traders said.")
    articles = [Article(id=name, text=brief.format(name)) for name in ("Hitachi", "Kawasaki")]
    assert find_copies(articles) == {}


def test_stories_sharing_a_dateline_and_first_sentence_are_both_answerable(tmp_path, encoder):
    records = [
        {"id": "trains", "url": "https://wire.example.com/trains", "text": f"{LEAD} {TRAINS}"},
        {"id": "buses", "url": "https://wire.example.com/buses", "text": f"{LEAD} {BUSES}"},
    ]
    source = tmp_path / "articles.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    build_index([source], tmp_path / "idx", encoder=encoder)
    index = Index.open(tmp_path / "idx")
    index.use_encoder(encoder)
    for question, wanted, words in (
        ("Which trains will the rail money pay for?", "trains", "electric trains"),
        ("What did the mayor of Liverpool ask for?", "buses", "more buses"),
    ):
        first = ask(index, question, k=2).quotes[0]
        assert record_id(first.article.id) == wanted and words in first.text
        assert first.copies == ()


def test_an_update_finds_copies_as_a_fresh_build_does_without_comparing_the_old_again(tmp_path, monkeypatch):
    """Copies found across segments: a new copy joins its group, a removed member that held
    the group together splits it (hashing encoder: storage logic)."""
    import qa.copies
    from embeddings import HashingEncoder

    folder = tmp_path / "c"
    folder.mkdir()
    other = "A different story about a football match and its final score. " * 5
    (folder / "a.txt").write_text("Budget\n\n" + STORY * 3)
    (folder / "x.txt").write_text("Match\n\n" + other)
    for n in range(6):
        (folder / f"filler-{n}.txt").write_text(f"Filler {n}\n\n" + f"Item {n} on the harbour works was read. " * (n + 8))
    encoder = HashingEncoder()
    build_index([folder], tmp_path / "idx", encoder=encoder)
    assert Index.open(tmp_path / "idx").copies == {}
    (folder / "b.txt").write_text("Budget wire\n\nWIRE — " + STORY * 3 + "Copyright 2024.")
    shingled = []
    shingles = qa.copies._shingles
    monkeypatch.setattr(qa.copies, "_shingles", lambda text: shingled.append(text) or shingles(text))
    build_index([folder], tmp_path / "idx", encoder=encoder)
    assert len(shingled) == 1  # only the new article's text was shingled
    grown = Index.open(tmp_path / "idx")
    assert len(grown.segments) == 2
    pair = {i for i, a in grown.all_articles().items() if a.title.startswith("Budget")}
    assert set(grown.copies) == pair and len(set(grown.copies.values())) == 1
    grown.close()
    (folder / "a.txt").unlink()
    build_index([folder], tmp_path / "idx", encoder=encoder)
    assert Index.open(tmp_path / "idx").copies == {}  # one member left: no group
    build_index([folder], tmp_path / "fresh", encoder=encoder)
    assert Index.open(tmp_path / "fresh").copies == {}


def test_an_update_of_a_store_without_signatures_shingles_its_texts(tmp_path):
    """A segment written before signatures were kept: its articles' texts are read back."""
    import sqlite3

    from embeddings import HashingEncoder
    from qa import layout

    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "a.txt").write_text("Budget\n\n" + STORY * 3)
    (folder / "x.txt").write_text("Match\n\n" + "A different story about a football match. " * 9)
    build_index([folder], tmp_path / "idx", encoder=HashingEncoder())
    generation = tmp_path / "idx" / (tmp_path / "idx" / "CURRENT").read_text().strip()
    with sqlite3.connect(generation / layout.STORE) as store:
        store.execute("DROP TABLE signatures")
    (folder / "b.txt").write_text("Budget wire\n\nWIRE — " + STORY * 3 + "Copyright 2024.")
    build_index([folder], tmp_path / "idx", encoder=HashingEncoder())
    index = Index.open(tmp_path / "idx")
    assert len(index.segments) == 2
    budget = {i for i, a in index.all_articles().items() if a.title.startswith("Budget")}
    assert set(index.copies) == budget and len(budget) == 2

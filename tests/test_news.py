"""News awareness: publication dates from datelines and JSON-LD, time words in questions."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from qa.answer import ask
from qa.ingest import load_articles, record_id
from qa.when import time_scope

PAGE = """<html><head><title>Council approves budget | Example Times</title>
<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle",
"headline":"Council approves budget","datePublished":"2021-03-04T10:00:00Z"}</script></head>
<body><nav>Home | World | Sports</nav><article><h1>Council approves budget</h1>
<p>The city council approved a new budget on Tuesday that doubles spending on public transit.</p>
<p>Mayor Jane Alvarez said the plan would be funded by a new levy on parking in the centre.</p>
</article><footer>Copyright Example Times</footer></body></html>"""


def test_dates_from_json_ld_and_datelines(tmp_path):
    (tmp_path / "page.html").write_text(PAGE)
    (tmp_path / "wire.txt").write_text(
        "Russia to continue strikes\n\nMOSCOW, Nov. 3, 2015 (Reuters) - Russia said on Tuesday "
        "it would continue its air strikes in Syria.\n"
    )
    found = {a.path.rsplit("/", 1)[-1]: a for a in load_articles([tmp_path]).articles}
    assert found["page.html"].date == "2021-03-04"
    assert found["wire.txt"].date == "2015-11-03"


def test_time_words_in_questions():
    today = date(2022, 6, 16)
    week = time_scope("Which show was green lit this week?", today)
    assert (week.start, week.end) == (date(2022, 6, 9), today)
    month = time_scope("What did Lavrov say in November 2015?", today)
    assert (month.start, month.end) == (date(2015, 11, 1), date(2015, 11, 30))
    assert time_scope("Who leads the rebel group?", today) is None
    assert time_scope("What is new in New York?", today) is None  # "new" is not a time word


# Three reports of one statement in different words (so they are not copies), and a later one.
REPORTS = [
    {"id": "november", "date": "2015-11-10", "source": "Moscow Daily",
     "text": "Foreign Minister Sergey Lavrov said Russia would keep striking militant targets in Syria "
             "until the terrorists were defeated, speaking to reporters in Moscow."},
    {"id": "march", "date": "2016-03-15", "source": "Kremlin Wire",
     "text": "Russia will go on bombing terrorist positions in Syria until they are beaten, Sergey "
             "Lavrov told journalists during a visit to Geneva."},
    {"id": "undated", "source": "Archive Notes",
     "text": "Sergey Lavrov repeated that Russian air strikes against terrorists in Syria would "
             "continue until their defeat, according to a transcript."},
    {"id": "june", "date": "2016-06-01", "source": "Kremlin Wire",
     "text": "Russia announced a three-hour daily pause in its strikes on Aleppo so that aid convoys "
             "could reach the city, the defence ministry said."},
]
LAVROV = "What did Lavrov say about Russian strikes in Syria?"


@pytest.fixture(scope="module")
def dated_index(tmp_path_factory, encoder):
    from qa.index import Index
    from qa.writer import build_index

    folder = tmp_path_factory.mktemp("dated")
    (folder / "reports.jsonl").write_text("".join(json.dumps(r) + "\n" for r in REPORTS))
    build_index([folder / "reports.jsonl"], folder / "idx", encoder=encoder)
    index = Index.open(folder / "idx")
    index.use_encoder(encoder)
    yield index
    index.close()


def quoted(answer) -> list[str]:
    return [record_id(q.article.id) for q in answer.quotes]


def test_as_of_leaves_later_and_undated_articles_out_and_favours_the_week_before(dated_index):
    early = ask(dated_index, LAVROV, k=4, as_of=date(2016, 1, 1))
    assert quoted(early) == ["november"]  # march and june are later; undated passes no date filter
    assert early.time_scope.reason == "asked on 2016-01-01"
    for day, first in ((date(2015, 11, 12), "november"), (date(2016, 3, 16), "march")):
        answer = ask(dated_index, LAVROV, k=4, as_of=day)
        assert quoted(answer)[0] == first
        assert (answer.time_scope.start, answer.time_scope.end) == (day - timedelta(days=7), day)


def test_since_and_until_keep_undated_articles_out(dated_index):
    from qa.models import Filters

    since = ask(dated_index, LAVROV, k=4, filters=Filters(since=date(2015, 1, 1)))
    assert sorted(quoted(since)) == ["june", "march", "november"]
    until = ask(dated_index, LAVROV, k=4, filters=Filters(until=date(2016, 3, 15)))
    assert sorted(quoted(until)) == ["march", "november"]
    everything = ask(dated_index, LAVROV, k=4)
    assert sorted(quoted(everything)) == ["june", "march", "november", "undated"]


def test_a_time_in_the_question_favours_articles_from_then(dated_index):
    for when, first in (("in November 2015", "november"), ("in March 2016", "march")):
        answer = ask(dated_index, f"What did Lavrov say {when} about Russian strikes in Syria?", k=3)
        assert quoted(answer)[0] == first, (when, quoted(answer))
        assert answer.time_scope is not None and when in answer.time_scope.reason


def test_as_of_from_the_command_line_and_its_environment_variable(dated_index):
    from typer.testing import CliRunner

    from cli import app

    runner = CliRunner()
    for args, env in ((["--as-of", "2016-01-01"], {}), ([], {"QA_AS_OF": "2016-01-01"})):
        result = runner.invoke(app, ["ask", LAVROV, "--json", "-k", "4", "--index",
                                     str(dated_index.root), *args], env=env)
        assert result.exit_code == 0, result.stderr
        payload = json.loads(result.stdout)
        assert [q["article"]["date"] for q in payload["quotes"]] == ["2015-11-10"]
        assert payload["time_scope"]["reason"] == "asked on 2016-01-01"
    bad = runner.invoke(app, ["ask", LAVROV, "--as-of", "yesterday", "--index", str(dated_index.root)])
    assert bad.exit_code == 2 and "not a date" in bad.stderr

"""News awareness: publication dates from datelines and JSON-LD, time words in questions."""

from __future__ import annotations

from datetime import date

from qa.ingest import load_articles
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

"""Follow-ups resolved against the conversation (qa/followup.py): with the real model on the demo
index, and the referent rules on previous turns built by hand."""

from __future__ import annotations

from dataclasses import dataclass

from qa.chat import ChatSession
from qa.followup import resolve_follow_up
from qa.models import Answer, Article, Quote

BASHAR = "“Russia is challenging everyone and saying there is no alternative to Bashar”, Haj Ali said."


def test_he_is_the_man_the_answer_named(demo_index):
    session = ChatSession(demo_index, k=3)
    first = session.handle("Who leads the Liwa Suqour al-Jabal rebel group?")
    assert "Hassan Haj Ali" in first.answer.quotes[0].text
    follow = session.handle("What did he say about Bashar?")
    assert "Hassan Haj Ali" in follow.understood_as
    assert any(BASHAR in q.text for q in follow.answer.quotes)


def test_a_complete_question_is_never_expanded(demo_index):
    session = ChatSession(demo_index, k=3)
    session.handle("Who leads the Liwa Suqour al-Jabal rebel group?")
    fresh = session.handle("Who is Putin?")
    assert fresh.understood_as is None
    assert session.turns[-1].understood_as == "Who is Putin?"
    other = session.handle("How many planes does the Russian air force use in Syria?")
    assert other.understood_as is None


def test_elliptical_questions_take_the_previous_frame(demo_index):
    session = ChatSession(demo_index, k=3)
    session.handle("When did Russia start air strikes in Syria?")
    where = resolve_follow_up("Where?", session.turns)
    assert where.searched == "Where did Russia start air strikes in Syria?"
    assert resolve_follow_up("Where?", []).searched == "Where?"


def test_the_chat_keeps_what_a_pronoun_was_resolved_to(demo_index):
    session = ChatSession(demo_index, k=3)
    session.handle("Who leads the Liwa Suqour al-Jabal rebel group?")
    session.handle("What did he say about Bashar?")
    assert session.turns[0].referent is None
    assert session.turns[-1].referent == "Hassan Haj Ali"


# The rules below rank the names of a previous turn built by hand (no retrieval involved).

@dataclass
class _Turn:
    question: str
    understood_as: str
    answer: Answer
    referent: str | None = None


def _turn(question: str, article_text: str, quote: str, span: str | None = None,
          referent: str | None = None) -> _Turn:
    article = Article(id="a", text=article_text)
    start = article_text.index(quote)
    answer_start = article_text.index(span, start) if span else None
    top = Quote(rank=1, text=quote, score=1.0, article=article, start=start,
                end=start + len(quote), line=None, chunk_id="a:0", answer_start=answer_start,
                answer_end=answer_start + len(span) if span else None)
    return _Turn(question, question, Answer(question=question, answered=True, quotes=(top,)),
                 referent)


def test_it_is_never_a_person():
    text = ("Sri Lanka is bankrupt. Prime Minister Ranil Wickremesinghe said he was willing to "
            "resign after protesters breached his residence in Sri Lanka.")
    turn = _turn("Which Sri Lankan leader said he was willing to resign?", text, text[23:],
                 span="Ranil Wickremesinghe")
    resolved = resolve_follow_up("Who is the speaker of its parliament?", [turn])
    assert resolved.referent == "Sri Lanka"
    assert resolve_follow_up("How old is he?", [turn]).referent == "Prime Minister Ranil Wickremesinghe"


def test_a_place_adjective_is_not_a_person():
    text = "A Russian court extended Brittney Griner’s detention by six months, her lawyer said."
    turn = _turn("By how many months did a Russian court extend Brittney Griner’s detention?",
                 text, text, span="six months")
    resolved = resolve_follow_up("Who is her lawyer?", [turn])
    assert resolved.referent == "Brittney Griner"
    assert resolved.searched.startswith("Who is her lawyer? (Brittney Griner ")
    # A named referent carries the subject: only a few topic words follow it, none repeating it.
    assert 1 < len(resolved.added_terms) <= 5 and "Griner’s" not in resolved.added_terms


def test_she_is_not_the_man_the_answer_named():
    text = ("Brittney Griner appeared in court on Friday, where she was told her trial will go on. "
            "Her lawyer Maria Blagovolina spoke later. Kirill Kudryavstev, another lawyer, said he "
            "expects a verdict soon; he said his client was calm. Kudryavstev added that he would "
            "appeal. Griner said she was sorry.")
    quote = "Kirill Kudryavstev, another lawyer, said he expects a verdict soon; he said his client was calm."
    turn = _turn("Who is her lawyer?", text, quote, span="Kirill Kudryavstev",
                 referent="Brittney Griner")
    assert resolve_follow_up("When was she arrested?", [turn]).referent == "Brittney Griner"
    assert resolve_follow_up("When was he hired?", [turn]).referent == "Kirill Kudryavstev"


def test_he_is_the_person_the_previous_question_asked_for():
    text = ("Gustavo Petro won Colombia’s presidential election on Sunday, defeating Rodolfo "
            "Hernández, 77, a businessman. Petro, 62, said he would govern for all.")
    first = text[: text.index(". ") + 1]
    turn = _turn("Who won Colombia’s presidential election?", text, first, span="Gustavo Petro")
    assert resolve_follow_up("How old is he?", [turn]).referent == "Gustavo Petro"
    defeated = _turn("Who did he defeat?", text, first, span="Rodolfo Hernández",
                     referent="Gustavo Petro")
    assert resolve_follow_up("How old is he?", [defeated]).referent == "Rodolfo Hernández"


def test_they_are_a_group_before_one_person():
    text = "For the Colorado Avalanche, winger Artturi Lehkonen, 26, scored the game-deciding goal."
    turn = _turn("Who scored the game-deciding goal?", text, text, span="Artturi Lehkonen")
    assert resolve_follow_up("Who is their head coach?", [turn]).referent == "Colorado Avalanche"
    assert resolve_follow_up("How old is he?", [turn]).referent == "Artturi Lehkonen"


def test_and_x_keeps_the_question_with_the_frame_words():
    text = "US consumer prices rose 9.1% year over year in June."
    turn = _turn("How much did US consumer prices rise year over year in June?", text, text,
                 span="9.1%")
    resolved = resolve_follow_up("And eggs?", [turn])
    assert resolved.searched.startswith("And eggs? (")
    assert {"consumer", "prices", "June"} <= set(resolved.added_terms)


def test_their_is_the_team_the_question_asked_for_not_the_cup_it_asked_with():
    text = "The Colorado Avalanche beat the Tampa Bay Lightning to win the Stanley Cup on Sunday."
    turn = _turn("Which team won the 2022 Stanley Cup?", text, text, span="Colorado Avalanche")
    assert resolve_follow_up("Who is their head coach?", [turn]).referent == "Colorado Avalanche"


def test_a_weekday_a_contraction_or_a_time_zone_is_no_referent():
    text = "The Canadian rapper announced on Instagram Thursday the release of his seventh album."
    turn = _turn("Which rapper released a new album this week?", text, text)
    assert resolve_follow_up("Which city is he from?", [turn]).referent is None
    text = "You're less likely to die within a decade if you can stand on one leg, the study found."
    turn = _turn("What did the study find?", text, text)
    assert resolve_follow_up("How many people took part in it?", [turn]).referent != "You're"
    text = "The strawberry moon will reach its peak at 7:52 a.m. EDT on Tuesday, NASA said."
    turn = _turn("When will the strawberry moon reach its peak?", text, text, span="7:52 a.m.")
    assert resolve_follow_up("How far from Earth is it?", [turn]).referent != "EDT"


def test_a_follow_up_is_about_the_article_of_the_previous_answer(demo_index):
    session = ChatSession(demo_index, k=3)
    first = session.handle("Who leads the Liwa Suqour al-Jabal rebel group?")
    resolved = resolve_follow_up("What did he say about Bashar?", session.turns)
    assert resolved.context == (first.answer.quotes[0].article.id,)
    assert resolve_follow_up("Who is Putin?", session.turns).context == ()

"""Follow-ups resolved against the conversation (qa/followup.py), with the real model."""

from __future__ import annotations

from qa.chat import ChatSession
from qa.followup import resolve_follow_up

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

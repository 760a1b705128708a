"""What a question asks for, what a sentence names, and which paragraphs are page furniture
(pure functions: no model)."""

from __future__ import annotations

import pytest

from qa.candidates import furniture_kind
from qa.entities import article_name_kinds, asked_kind, find_mentions


@pytest.mark.parametrize("question, kind", [
    ("How many people died on the Russian plane?", "number"),
    ("What percentage of US adults disapprove of the decision?", "number"),
    ("When are loan payments set to restart?", "date"),
    ("Who leads the Liwa Suqour al-Jabal rebel group?", "person"),
    ("Which NFL star announced his retirement on Tuesday?", "person"),
    ("Which automaker recalled 2.9 million vehicles this week?", "organisation"),
    ("Where was the event?", "place"),
    ("What country elected its first-ever leftist leader this week?", "place"),
    ("What did he say about Bashar?", "quote"),
    ("Which show received the most Emmy nominations?", "name"),
    ("Why did some cities cancel their fireworks displays?", None),
])
def test_the_asked_kind_of_answer(question, kind):
    assert asked_kind(question) == kind


def mentions(text: str) -> list[tuple[str, str]]:
    return [(text[m.start : m.end], m.kind) for m in find_mentions(text)]


def test_people_organisations_places_numbers_and_dates_are_told_apart():
    text = ("Hassan Haj Ali, head of the Liwa Suqour al-Jabal rebel group, told Reuters the base in "
            "Idlib province was struck by around 20 missiles on Tuesday.")
    found = mentions(text)
    assert ("Hassan Haj Ali", "person") in found
    assert ("Reuters", "organisation") in found
    assert ("Idlib", "place") in found
    assert ("20", "number") in found
    assert ("Tuesday", "date") in found


def test_money_percentages_quotes_and_titled_people():
    text = ('UK Prime Minister Boris Johnson said gas costs $5.02 a gallon, up 60% since June 2021: '
            '“We will not stop until prices come down again,” he said.')
    found = mentions(text)
    assert ("UK Prime Minister Boris Johnson", "person") in found
    assert ("$5.02", "number") in found
    assert ("60%", "number") in found
    assert ("June 2021", "date") in found
    assert ("“We will not stop until prices come down again,”", "quote") in found


def test_a_sentence_s_capitalized_first_word_and_possessives_are_not_names():
    found = mentions("The plane crashed. Russia’s FSB said so.")
    assert ("The", "name") not in found and all(text != "The plane" for text, _ in found)
    assert ("Russia", "place") in found and ("FSB", "organisation") in found


@pytest.mark.parametrize("paragraph, kind", [
    ("Lavrov Critiques U.S. Military Operation", "heading"),
    ("What lawmakers left out", "heading"),
    ("Video Ad Feedback 00:59 - Source: CNN Watch moment house collapses into flood water", "caption"),
    ("Police arrested 31 men near a Pride event on Saturday. John Rudoff/Reuters", "caption"),
    ("Gas prices are displayed at a station in Sacramento. (AP Photo/Rich Pedroncelli)", "caption"),
    ("By Lindsay H. Jones, USA TODAY Sports", "byline"),
    ("Washington CNN —", "dateline"),
    ("- Read more about the storm", "list"),
    ("Also left out is a federal ban on military-style assault weapons.", "prose"),
    ("“We have never had this moment before,” Booker said.", "prose"),
])
def test_page_furniture_is_recognised(paragraph, kind):
    assert furniture_kind(paragraph) == kind


def test_the_article_types_a_name_from_its_other_mentions_for_spans_and_referents_alike():
    """One rule serves the answer span and the chat's referents: a name takes the kind its typed
    mentions agree on; an untyped one that reads as a person is a person unless typed otherwise;
    a name typed two ways is left out."""
    text = ("Rob Gronkowski retired on Tuesday. Gronkowski, 33, wrote that he was grateful. "
            "Drake said the album was done. Mr. Jordan met the press in Amman, and Jordan "
            "told the Jordan Times it would hold talks.")
    kinds = article_name_kinds(text, find_mentions(text))
    assert kinds["Gronkowski"] == "person"
    assert kinds["Drake"] == "person"
    assert "Jordan" not in kinds  # "Mr. Jordan" a person, "Jordan told" a place
    assert kinds["Amman"] == "place"

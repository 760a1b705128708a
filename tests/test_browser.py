"""The chat page in a real browser: Debian's chromium, headless, driven by Playwright, against
qa serve on 127.0.0.1 (real model; the demo corpus plus an article full of markup)."""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest

from qa.service import AnswerEngine, IndexHolder
from qa.writer import build_index

LEADER = "Who leads the Liwa Suqour al-Jabal rebel group?"
HOSTILE = (
    "Harbour council bans <script>window.pwned = 1</script> tags\n\n"
    "The Harbour council voted on Tuesday to ban the tag <script>window.pwned = 1</script> from its "
    "website after a prank, said spokesman Arthur Penhaligon.\n\n"
    'The council meets again in March <img src=x onerror="window.pwned = 2">.\n'
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

if CHROMIUM is None and os.environ.get("CI"):
    raise RuntimeError("CI needs chromium for the browser test (.ci/run installs it)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium: apt-get install chromium")


@pytest.fixture(scope="module")
def base_url(tmp_path_factory, corpus_copy_module, encoder):
    import uvicorn

    from qa.serve import create_app

    (corpus_copy_module / "harbour.txt").write_text(HOSTILE, encoding="utf-8")
    index_dir = tmp_path_factory.mktemp("browser") / "index"
    build_index([corpus_copy_module], index_dir, encoder=encoder)
    engine = AnswerEngine(IndexHolder(index_dir, encoder))
    server = uvicorn.Server(uvicorn.Config(create_app(engine), host="127.0.0.1", port=0,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "qa serve did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    engine.close()


@pytest.fixture(scope="module")
def corpus_copy_module(tmp_path_factory):
    from tests.conftest import DEMO_CORPUS

    target = tmp_path_factory.mktemp("corpus") / "corpus"
    shutil.copytree(DEMO_CORPUS, target)
    return target


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"])
        yield browser
        browser.close()


def test_the_page_asks_on_load_and_shows_quote_answer_and_citation(browser, base_url):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base_url}/?q={LEADER.replace(' ', '%20')}")
    first = page.locator(".turn .quote").first
    first.wait_for(timeout=60_000)
    assert "Hassan Haj Ali" in first.locator("blockquote").inner_text()
    assert first.locator("mark.answer").inner_text() == "Hassan Haj Ali"
    assert "Liwa" in first.locator("mark.term").all_inner_texts()
    assert "001_0a13e2fcd2c43a4f.txt:" in first.locator(".cite").inner_text()
    assert page.locator("#about").inner_text().startswith("6 articles")

    first.get_by_role("button", name="open").click()
    paragraph = first.locator(".paragraph")
    paragraph.wait_for()
    assert "Hassan Haj Ali" in paragraph.inner_text()

    shown = page.locator(".turn").first.locator(".quote").count()
    page.locator(".turn").first.locator("button.more").click()
    page.locator(".turn").first.locator(".quote").nth(shown).wait_for(timeout=60_000)

    # Keyboard only: Esc leaves the box, / comes back, Enter asks; the follow-up leans on the last question.
    page.keyboard.press("Escape")
    page.keyboard.press("/")
    page.keyboard.type("Where is his group's base?")
    page.keyboard.press("Enter")
    second = page.locator(".turn").nth(1)
    second.locator(".quote").first.wait_for(timeout=60_000)
    assert "Understood as:" in second.inner_text() and "Liwa" in second.inner_text()
    assert "q=Where" in page.url  # the address is a shareable link to the last question
    assert errors == []


def test_article_text_is_shown_as_text_never_run(browser, base_url):
    page = browser.new_page()
    page.goto(base_url)
    page.fill("#q", "What did the Harbour council ban from its website?")
    page.press("#q", "Enter")
    quote = page.locator(".turn .quote").first
    quote.wait_for(timeout=60_000)
    assert "<script>window.pwned = 1</script>" in quote.locator("blockquote").inner_text()
    assert "<script>window.pwned = 1</script>" in quote.locator(".cite").inner_text()  # the title
    quote.get_by_role("button", name="open").click()
    quote.locator(".paragraph").wait_for()
    assert page.locator("#log script, #log img").count() == 0
    assert page.evaluate("window.pwned") is None


def test_filters_apply_and_the_colours_follow_the_system(browser, base_url):
    page = browser.new_page()
    page.goto(base_url)
    page.click("#filters summary")
    page.fill("#source", "no-such-outlet")
    page.fill("#q", LEADER)
    page.press("#q", "Enter")
    note = page.locator(".turn .note", has_text="Nothing in the archive matches")
    note.wait_for(timeout=60_000)
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.emulate_media(color_scheme="dark")
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert light != dark

"""The judging pages in a real browser (Debian's Chromium, driven by Playwright) against a live
service process: votes in the arena, by button and by key, until the leaderboard ranks every
contender; a model judge started from the run page; the run page's flag toggle and exports;
model output shown as text in the arena; a phone's width."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import NARROW
from tests.web.conftest import Live, Tab

# Starts a service process and drives a browser: `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow

expect.set_options(timeout=30_000)

THREE = [
    "echo",
    {"model": "echo", "label": "echo [INST]", "template": "llama2-chat"},
    {"model": "echo", "label": "echo chatml", "template": "chatml"},
]
VOTES = ("a", "b", "t", "x")  # A better, B better, tie, both bad: the arena's keys


def _next_battle_shown(page: Page) -> None:
    expect(page.locator("#arena [data-battle] button[data-winner]").first).to_be_enabled()
    expect(page.locator("#arena [data-reveal]")).to_be_empty()


def test_votes_in_the_arena_until_the_leaderboard_ranks_every_contender(
    tab: Tab, live: Live
) -> None:
    run = live.submit(name="arena", prompts=["Who is the boss?", "What of Mars?"], models=THREE)
    page = tab.goto(f"/ui/runs/{run['id']}")
    page.get_by_role("link", name="Vote in the arena").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Arena: arena")
    page.get_by_label("Voting as").fill("ann")

    # The first vote by button, then by the keys, with the next battle by key too.
    _next_battle_shown(page)
    expect(page.locator("#arena .side .output")).to_have_count(2)
    expect(page.locator("#arena .who")).to_have_text(["", ""])  # blind
    page.get_by_role("button", name="A is better").click()
    reveal = page.locator("#arena [data-reveal]")
    expect(reveal).to_contain_text("Your vote: A is better")
    expect(page.locator("#arena .who").first).to_have_text(re.compile(r"^: echo"))
    expect(page.get_by_role("button", name="Next battle")).to_be_focused()
    expect(page.locator("#vote-count")).to_have_text("1 vote on this visit.")
    for i in range(1, 6):
        page.keyboard.press("n")
        _next_battle_shown(page)
        page.keyboard.press(VOTES[i % len(VOTES)])
        expect(reveal.locator("[data-voted]")).to_be_visible()
        expect(page.locator("#vote-count")).to_have_text(f"{i + 1} votes on this visit.")

    # Six votes on three contenders' pairs: the fewest-voted pair comes first, so each
    # contender met both others.
    page.get_by_role("link", name="Its leaderboard").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Leaderboard of run")
    rows = page.locator("#scores tbody tr")
    expect(rows).to_have_count(3)
    labels = rows.locator("th .label").all_text_contents()  # in the order the votes made
    assert sorted(labels) == ["echo", "echo [INST]", "echo chatml"]
    expect(page.locator("#scores svg.bar")).to_have_count(3)  # every contender has a score
    for i in range(3):
        expect(rows.nth(i).locator("td").first).to_have_text(str(i + 1))
    expect(page.locator("#win-rates tbody tr")).to_have_count(3)
    expect(page.locator("#win-rates tbody td:not(.none)")).to_have_count(6)
    # Whose votes: people's alone are the same six.
    page.get_by_label("Votes by").select_option("people")
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".summary")).to_contain_text("6 votes by people")
    assert tab.errors == []


def test_an_arena_with_no_battle_left_says_so(tab: Tab, live: Live) -> None:
    run = live.submit(prompts=["alone"], models=["echo"])
    page = tab.goto(f"/ui/runs/{run['id']}/arena")
    expect(page.get_by_role("heading", name="No battles left")).to_be_visible()
    expect(page.locator("#arena")).to_contain_text("fewer than two succeeded answers")
    page.get_by_role("link", name="See the leaderboard").click()
    expect(page).to_have_url(re.compile(r"/ui/leaderboard\?run="))
    refused = "Failed to load resource: the server responded with a status of 409"
    assert [e for e in tab.errors if not e.startswith(refused)] == []


MARKUP = '<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'">'


def test_the_arena_shows_an_answer_holding_markup_as_text(tab: Tab, live: Live) -> None:
    run = live.submit(prompts=[MARKUP], models=THREE[:2], name=MARKUP)
    dialogs: list[str] = []
    tab.page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    page = tab.goto(f"/ui/runs/{run['id']}/arena")
    expect(page.locator("#arena .battle-prompt")).to_have_text(MARKUP)
    expect(page.locator("#arena .output", has_text=re.compile(r"^<script>"))).to_have_text(MARKUP)
    page.keyboard.press("t")
    expect(page.locator("#arena [data-voted]")).to_be_visible()
    assert page.title() != "pwned"
    assert page.locator("main img").count() == 0
    assert page.locator("main script").count() == 0
    assert dialogs == []
    assert tab.errors == []


def test_a_model_judges_the_run_from_its_page(tab: Tab, live: Live) -> None:
    run = live.submit(name="to judge", prompts=["Which is better?"], models=THREE[:2])
    page = tab.goto(f"/ui/runs/{run['id']}")
    page.get_by_label("Judge model").select_option("echo")
    page.get_by_role("button", name="Judge the answers").click()
    message = page.locator("#judge-message")
    expect(message).to_contain_text("echo has 2 judge prompts to answer")
    message.get_by_role("link", name="its judging run").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("judge echo: to judge")
    expect(page.locator("#run-status .status")).to_have_text("succeeded")
    # The same pair again: this judge judged it already, and the page says so.
    page = tab.goto(f"/ui/runs/{run['id']}")
    page.get_by_role("button", name="Judge the answers").click()
    expect(message).to_contain_text("judged by it already")
    # Unless judged again: the judge is asked anew, not answered from the cache.
    page.get_by_label("Judge again (ask the model anew)").check()
    page.get_by_role("button", name="Judge the answers").click()
    expect(message).to_contain_text("echo has 2 judge prompts to answer")
    anew = live.linked_run(message.get_by_role("link", name="its judging run"))
    assert (anew["counts"]["succeeded"], anew["counts"]["cached"]) == (2, 0)
    refused = "Failed to load resource: the server responded with a status of 409"
    assert [e for e in tab.errors if not e.startswith(refused)] == []


def test_the_flag_toggle_and_the_exports(tab: Tab, live: Live) -> None:
    # `short` cuts the long prompt off (the `truncated` flag); the short one has no flag.
    models = ["echo", {"model": "echo", "label": "short", "params": {"max_new_tokens": 3}}]
    run = live.submit(prompts=["one two", "one two three four five"], models=models)
    page = tab.goto(f"/ui/runs/{run['id']}")
    expect(page.locator("#prompt-1 .badge.flag", has_text="truncated")).to_be_visible()
    page.get_by_label("Only prompts with a flag").check()
    expect(page.locator("#prompt-0")).to_be_hidden()
    expect(page.locator("#prompt-1")).to_be_visible()
    expect(page).to_have_url(re.compile(r"flagged=1"))
    page.get_by_label("Only prompts with a flag").uncheck()
    expect(page.locator("#prompt-0")).to_be_visible()
    for fmt, first_line in (("JSONL", '{"run_id"'), ("CSV", "run_id,")):
        with page.expect_download() as download:
            page.get_by_role("link", name=fmt, exact=True).click()
        saved = download.value.path().read_text()
        assert saved.startswith(first_line), saved[:200]
        assert "one two three four five" in saved
    assert tab.errors == []


def test_a_phone_reads_the_arena_and_the_leaderboard(tab: Tab, live: Live) -> None:
    run = live.submit(prompts=["a rather long prompt " * 30], models=THREE)
    tab.page.set_viewport_size(NARROW)
    page = tab.goto(f"/ui/runs/{run['id']}/arena")
    _next_battle_shown(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
    page.get_by_role("button", name="Both are bad").click()
    expect(page.locator("#arena [data-voted]")).to_be_visible()
    page = tab.goto(f"/ui/leaderboard?run={run['id']}")
    expect(page.locator("#scores svg.bar")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]

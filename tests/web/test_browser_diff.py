"""Replay and diff in a real browser (Debian's Chromium, driven by Playwright) against a live
service process: the run page's Replay button makes a new run and goes to its page, whose
"Diff with its source" link shows the two runs compared."""

import re

import pytest
from playwright.sync_api import expect

from tests.web.conftest import Live, Tab

# Starts a service process and drives a browser: `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow

expect.set_options(timeout=30_000)


def test_replay_goes_to_the_new_run_and_its_diff_with_the_source(tab: Tab, live: Live) -> None:
    source = live.submit(prompts=["one two", "three four"], models=["echo"])
    page = tab.goto(f"/ui/runs/{source['id']}")
    page.get_by_role("button", name="Replay the run").click()
    expect(page).not_to_have_url(re.compile(f"/ui/runs/{source['id']}$"))
    expect(page).to_have_url(re.compile(r"/ui/runs/[0-9a-f-]{36}$"))
    replay_id = page.url.rsplit("/", 1)[1]
    assert live.api.get(f"/runs/{replay_id}").json()["parent_id"] == source["id"]
    expect(page.locator("#run-status .status")).to_have_text("succeeded")

    page.get_by_role("link", name="Diff with its source").click()
    expect(page).to_have_url(re.compile(f"/ui/runs/{source['id']}/diff/{replay_id}$"))
    expect(page.locator("#paired-answers tbody tr")).to_have_count(2)
    expect(page.locator("#paired-answers tr.changed")).to_have_count(0)
    expect(page.locator(".diff-stats").first).to_contain_text("Changed: 0 of 2")

    # A model judges b's answers against a's; its votes make the win rate, shown on reload.
    expect(page.locator(".win-rate")).to_contain_text("no vote or judgement")
    page.get_by_label("Judge model").select_option("echo")
    page.get_by_role("button", name="Judge these two runs").click()
    message = page.locator("#judge-message")
    expect(message).to_contain_text("echo has 4 judge prompts to answer")
    judging = live.linked_run(message.get_by_role("link", name="its judging run"))
    assert judging["status"] == "succeeded"
    message.get_by_role("link", name="this diff's win rate").click()
    expect(page.locator(".win-rate")).to_contain_text("of 2 votes")

    # Judged again, the judge is asked anew; its latest verdict on each pair is what counts.
    page.get_by_label("Judge again (ask the model anew)").check()
    page.get_by_role("button", name="Judge these two runs").click()
    expect(message).to_contain_text("echo has 4 judge prompts to answer")
    anew = live.linked_run(message.get_by_role("link", name="its judging run"))
    assert (anew["counts"]["succeeded"], anew["counts"]["cached"]) == (4, 0)
    page.reload()
    expect(page.locator(".win-rate")).to_contain_text("of 2 votes")
    assert tab.errors == []

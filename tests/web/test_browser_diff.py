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
    assert tab.errors == []

"""Signing in to the pages in a real browser (Debian's Chromium, driven by Playwright) against
a live service process with auth on: sign in with a key, make a comparison with the form and
watch it finish (its requests carry the session's CSRF token), sign out."""

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.access import ADMIN_KEY, bearer
from tests.support.browser import NARROW, WIDE, launched
from tests.support.service_process import ServiceProcess

pytestmark = pytest.mark.slow

expect.set_options(timeout=30_000)


@dataclass
class Guarded:
    url: str
    key: str  # a read, write and vote key of the project "team"


@pytest.fixture(scope="module")
def guarded(live_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guarded]:
    folder = tmp_path_factory.mktemp("login")
    env = {
        "DATABASE_URL": live_db,
        "LLM_COMPARE_MIGRATE_ON_START": "false",
        "LLM_COMPARE_POLL_INTERVAL_S": "0.1",
        "LLM_COMPARE_AUTH": "on",
        "LLM_COMPARE_ADMIN_KEY": ADMIN_KEY,
    }
    with ServiceProcess(env, folder / "service.log") as service:
        with httpx.Client(base_url=service.url, headers=bearer(ADMIN_KEY)) as admin:
            assert admin.post("/projects", json={"name": "team"}).status_code == 201
            made = admin.post(
                "/keys",
                json={"name": "browser key", "project": "team", "scopes": ["read", "write"]},
            )
            assert made.status_code == 201, made.text
        yield Guarded(service.url, made.json()["key"])


@pytest.fixture(scope="module")
def chromium(guarded: Guarded) -> Iterator[Browser]:
    # After the service, whose database fixture is async (see tests/web/conftest.py).
    with launched() as browser:
        yield browser


def _page(chromium: Browser, guarded: Guarded, errors: list[str], narrow: bool = False) -> Page:
    context = chromium.new_context(base_url=guarded.url, viewport=NARROW if narrow else WIDE)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


def test_sign_in_compare_and_sign_out(chromium: Browser, guarded: Guarded) -> None:
    errors: list[str] = []
    page = _page(chromium, guarded, errors)
    page.goto("/ui/compare")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=/ui/compare$"))
    key_field = page.get_by_label("API key")
    expect(key_field).to_be_focused()
    key_field.fill("lc_not-a-key-anybody-made-0123456789abcdef")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("unknown or revoked")
    expect(page.get_by_label("API key")).to_have_value("")  # the key is not echoed back
    assert [e for e in errors if "401" not in e] == []  # the form's own 401, reported
    errors.clear()

    page.get_by_label("API key").fill(guarded.key)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/ui/compare$"))
    who = page.locator("header.site .who")
    expect(who).to_contain_text("Signed in as browser key")
    expect(who).to_contain_text(guarded.key[:11])
    expect(who).to_contain_text("project team")
    assert guarded.key not in page.content()

    page.get_by_label("Model", exact=True).nth(0).select_option("echo")
    page.get_by_label("Model", exact=True).nth(1).select_option("echo")
    page.get_by_label("Label").nth(1).fill("second echo")
    page.get_by_label("Prompts, one per line").fill("Hello from a signed-in page")
    page.get_by_label("Name").fill("made while signed in")
    page.get_by_role("button", name="Start the comparison").click()
    expect(page).to_have_url(re.compile(r"/ui/runs/[0-9a-f-]{36}$"))
    expect(page.locator("#run-status .status")).to_have_text("succeeded")
    run_id = page.url.rsplit("/", 1)[1]
    with httpx.Client(base_url=guarded.url) as api:
        run = api.get(f"/runs/{run_id}", headers=bearer(guarded.key))
        assert run.status_code == 200  # the key's project's run
        assert run.json()["created_by"]["name"] == "browser key"

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/ui/login$"))
    page.goto(f"/ui/runs/{run_id}")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=/ui/runs/"))
    assert errors == []


def test_the_sign_in_form_fits_a_phone(chromium: Browser, guarded: Guarded) -> None:
    errors: list[str] = []
    page = _page(chromium, guarded, errors, narrow=True)
    page.goto("/ui/login")
    box = page.get_by_label("API key").bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= NARROW["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
    page.keyboard.press("Tab")  # from the focused field to the button, by keyboard
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    assert errors == []

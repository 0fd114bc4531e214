"""The pages in a real browser (Debian's Chromium, driven by Playwright) against a live
service process: a comparison made with the form and watched to its end, the side-by-side
table and its toggles, cancel and retry, model output shown as text, the offline pages under
their Content-Security-Policy, the keyboard and a phone's width."""

import re

import pytest
from playwright.sync_api import FilePayload, Route, expect

from tests.support.browser import NARROW
from tests.web.conftest import Live, Tab

# Starts a service process and drives a browser: `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow

# How long a page may take to show what a test waits for (runs finish within seconds).
expect.set_options(timeout=30_000)


def test_a_comparison_made_with_the_form_is_watched_to_its_end(tab: Tab) -> None:
    page = tab.goto("/ui/compare")
    page.get_by_label("Model", exact=True).nth(0).select_option("echo")
    page.get_by_label("Model", exact=True).nth(1).select_option("slow")
    page.get_by_label("Label").nth(1).fill("slow [INST]")
    page.get_by_label(re.compile("^Template")).nth(1).fill("llama2-chat")
    page.get_by_role("button", name="Add a contender").click()
    expect(page.get_by_role("group", name="Contender 3")).to_be_visible()
    expect(page.get_by_label("Model", exact=True).nth(2)).to_be_focused()
    page.get_by_label("Model", exact=True).nth(2).select_option("echo")
    page.get_by_label("Label").nth(2).fill("chatml, 4 tokens")
    page.get_by_label(re.compile("^Template")).nth(2).fill("chatml")
    page.get_by_role("group", name="Contender 3").get_by_text("Generation parameters").click()
    page.get_by_label("Max new tokens").nth(2).fill("4")
    page.get_by_label("Prompts, one per line").fill(
        "Tell me how to train my dog to sit\nWhat do you think of Mars?\nWho is the boss?"
    )
    page.get_by_label("Name").fill("made with the form")
    page.get_by_label("Tags").fill("ckpt=42, team=eval")
    page.get_by_role("button", name="Start the comparison").click()

    expect(page).to_have_url(re.compile(r"/ui/runs/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("made with the form")
    page.evaluate("window.stillTheSamePage = true")
    # The slow contender answers one prompt at a time: the page follows the run's events.
    expect(page.locator("#run-status .status")).to_have_text("succeeded")
    assert page.evaluate("window.stillTheSamePage") is True  # updated in place, not reloaded
    expect(page.locator("#run-status")).to_contain_text("9/9 done")
    expect(page.locator("#answers tbody tr")).to_have_count(3)
    slow = page.locator("#prompt-0 td").nth(1)
    expect(slow.locator(".output")).to_have_text(
        "[INST] Tell me how to train my dog to sit [/INST]"
    )
    expect(page.locator("#prompt-0 td").nth(2).locator(".badge.truncated")).to_be_visible()
    expect(page.locator(".tag")).to_have_text(["ckpt:42", "team:eval"])
    assert tab.errors == []


def test_the_answers_side_by_side_and_the_toggles(tab: Tab, live: Live) -> None:
    run = live.submit(
        name="toggles",
        prompts=["one two", "one two three four five"],
        models=["echo", {"model": "echo", "label": "short", "params": {"max_new_tokens": 3}}],
    )
    page = tab.goto(f"/ui/runs/{run['id']}")
    headers = page.locator("#answers thead th .label")
    expect(headers).to_have_text(["echo", "short"])
    expect(page.locator("#answers thead th").nth(2)).to_contain_text(re.compile(r"Truncated\s*1"))
    long_row = page.locator("#prompt-1")
    expect(long_row.locator("td").nth(1).locator(".badge.truncated")).to_be_visible()
    expect(long_row.locator("td").nth(0).locator(".badge.truncated")).to_have_count(0)
    expect(long_row.locator("td").nth(0).locator(".output")).to_have_text("one two three four five")

    # The prompt actually sent, on demand.
    sent = long_row.locator("td").nth(1).locator("pre.sent")
    expect(sent).to_be_hidden()
    long_row.locator("td").nth(1).locator("summary").click()
    expect(sent).to_have_text("one two three four five")

    # Only the prompts whose answers differ: the short one's answers are the same.
    expect(page.get_by_role("button", name="Apply")).to_be_hidden()  # scripts apply at once
    toggle = page.get_by_label("Only prompts where the answers differ")
    toggle.check()
    expect(page.locator("#prompt-0")).to_be_hidden()
    expect(long_row).to_be_visible()
    expect(page).to_have_url(re.compile(r"differ=1"))
    page.reload()  # the URL keeps the choice
    expect(page.locator("#prompt-0")).to_be_hidden()
    page.get_by_label("Only prompts where the answers differ").uncheck()
    expect(page.locator("#prompt-0")).to_be_visible()
    assert tab.errors == []


MARKUP = '<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'">'


def test_an_answer_holding_markup_is_shown_as_text(tab: Tab, live: Live) -> None:
    run = live.submit(prompts=[MARKUP], models=["echo"], name=MARKUP)
    dialogs: list[str] = []
    tab.page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    for url in (f"/ui/runs/{run['id']}", "/ui"):
        page = tab.goto(url)
        expect(page.get_by_text(MARKUP).first).to_be_visible()
        assert page.title() != "pwned"
        assert page.locator("main img").count() == 0
        assert page.locator("main script").count() == 0
    output = tab.page.locator("#answers .output")
    assert tab.goto(f"/ui/runs/{run['id']}").title() != "pwned"
    expect(output).to_have_text(MARKUP)
    assert dialogs == []


def test_cancel_stops_a_run_and_retry_sends_the_failed_pairs_again(tab: Tab, live: Live) -> None:
    going = live.submit(prompts=[f"prompt {i}" for i in range(40)], models=["slow"], wait=0)
    page = tab.goto(f"/ui/runs/{going['id']}")
    page.get_by_role("button", name="Cancel the run").click()
    expect(page.locator("#run-status .status")).to_have_text("cancelled")
    expect(page.get_by_role("button", name="Cancel the run")).to_have_count(0)
    expect(page.locator("#action-message")).to_contain_text("Cancelled")

    failed = live.submit(prompts=["try again"], models=["flaky", "echo"])
    assert failed["status"] == "partial"
    page = tab.goto(f"/ui/runs/{failed['id']}")
    expect(page.locator("#prompt-0 td").nth(0).locator(".error-text")).to_contain_text("fail")
    page.get_by_role("button", name="Retry the 1 failed").click()
    expect(page.locator("#run-status .status")).to_have_text("succeeded")
    expect(page.locator("#prompt-0 td").nth(0).locator(".output")).to_have_text("try again")
    assert tab.errors == []


def _csv_file(content: bytes) -> FilePayload:
    return {"name": "p.csv", "mimeType": "text/csv", "buffer": content}


def test_a_file_of_prompts_and_the_services_errors_at_their_fields(tab: Tab) -> None:
    page = tab.goto("/ui/compare")
    page.get_by_label("Model", exact=True).nth(0).select_option("echo")
    page.get_by_role("button", name="Remove this contender").nth(1).click()
    expect(page.get_by_label("Model", exact=True)).to_have_count(1)
    page.get_by_label(re.compile("^Template")).fill("no placeholder")
    page.get_by_label("Or a file of prompts").set_input_files(
        files=_csv_file(b"prompt\nok\nbad,row\n")
    )
    page.get_by_role("button", name="Start the comparison").click()
    error = page.locator("#prompts-error")
    expect(error).to_have_text("p.csv:3: 2 columns; the header has 1")
    expect(page.get_by_label("Prompts, one per line")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Or a file of prompts").set_input_files(
        files=_csv_file(b"key,prompt\nk1,ok\n")
    )
    page.get_by_role("button", name="Start the comparison").click()
    template = page.get_by_label(re.compile("^Template"))
    expect(template).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#models-0-template-error")).to_contain_text("unknown template")
    expect(error).to_be_hidden()

    template.fill("")
    page.get_by_role("button", name="Start the comparison").click()
    expect(page).to_have_url(re.compile(r"/ui/runs/"))
    expect(page.locator("#prompt-0 .key")).to_have_text("k1")
    # The browser logs each refused request; nothing else went wrong.
    refused = "Failed to load resource: the server responded with a status of 422"
    assert [e for e in tab.errors if not e.startswith(refused)] == []


def test_an_example_is_one_click_away(tab: Tab) -> None:
    page = tab.goto("/ui/compare")
    page.get_by_role("link", name="echo", exact=True).click()
    expect(page.get_by_label("Label").nth(1)).to_have_value("echo [INST]")
    page.get_by_role("button", name="Start the comparison").click()
    expect(page.locator("#run-status .status")).to_have_text("succeeded")
    expect(page.locator("#answers thead th .label")).to_have_text(["echo", "echo [INST]"])


def test_the_runs_list_follows_runs_still_going(tab: Tab, live: Live) -> None:
    run = live.submit(name="followed", prompts=["a", "b", "c", "d"], models=["slow"], wait=0)
    page = tab.goto("/ui")
    row = page.locator("#runs tbody tr", has_text="followed")
    page.evaluate("window.stillTheSamePage = true")
    expect(row.locator(".status")).to_have_text("succeeded")
    assert page.evaluate("window.stillTheSamePage") is True
    page.get_by_label("Search prompts and answers").fill("zebra")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#runs tbody")).to_contain_text("No run matches.")
    page.get_by_label("Status").select_option("succeeded")
    page.get_by_label("Search prompts and answers").fill("")
    page.get_by_label("Model", exact=True).fill("slow")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#runs tbody tr", has_text="followed")).to_have_count(1)
    page.get_by_role("link", name="followed").click()
    expect(page).to_have_url(re.compile(run["id"]))


def test_the_pages_work_offline_within_their_policy(tab: Tab, live: Live) -> None:
    run = live.submit(prompts=["offline"], models=["echo"])
    elsewhere: list[str] = []

    def only_the_service(route: Route) -> None:
        if route.request.url.startswith(live.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    tab.page.route("**/*", only_the_service)
    for url in ("/ui", "/ui/compare?example=classic", f"/ui/runs/{run['id']}"):
        page = tab.goto(url)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.classList.contains('js')")
    page = tab.goto("/docs")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/compare")).to_have_count(1)
    page = tab.goto("/redoc")
    expect(page.get_by_role("heading", name=re.compile("llm-compare"))).to_be_visible()
    assert elsewhere == []
    # No request or script was refused by a policy, but ReDoc's own "API docs by Redocly"
    # logo, an image on Redocly's site: refused as the policy allows nothing from elsewhere.
    logo = "Loading the image 'https://cdn.redoc.ly/redoc/logo-mini.svg' violates"
    assert [e for e in tab.errors if not e.startswith(logo)] == []


def test_the_keyboard_reaches_everything(tab: Tab, live: Live) -> None:
    models = ["echo", {"model": "echo", "label": "short", "params": {"max_new_tokens": 3}}]
    run = live.submit(prompts=["one two", "one two three four"], models=models)
    page = tab.goto("/ui")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()

    page = tab.goto(f"/ui/runs/{run['id']}")
    toggle = page.get_by_label("Only prompts where the answers differ")
    for _ in range(40):
        page.keyboard.press("Tab")
        if toggle.evaluate("element => element === document.activeElement"):
            break
    expect(toggle).to_be_focused()
    page.keyboard.press("Space")
    expect(toggle).to_be_checked()
    expect(page.locator("#prompt-0")).to_be_hidden()  # its answers are the same
    # On through the other controls (the flag toggle, the table's scrolling region) to the
    # first "Prompt sent" shown.
    summary = page.locator("#prompt-1 summary").first
    for _ in range(10):
        page.keyboard.press("Tab")
        if summary.evaluate("element => element === document.activeElement"):
            break
    expect(summary).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#prompt-1 pre.sent").first).to_be_visible()


def test_a_phone_reads_every_page_without_sideways_scrolling(tab: Tab, live: Live) -> None:
    run = live.submit(
        prompts=["a rather long prompt " * 20],
        models=["echo", {"model": "echo", "label": "second", "template": "chatml"}],
    )
    tab.page.set_viewport_size(NARROW)
    for url in ("/ui", "/ui/compare?example=classic", f"/ui/runs/{run['id']}"):
        page = tab.goto(url)
        assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"], url
    # The table scrolls in its own region: the prompt stays, each answer most of a screen wide.
    page.locator("#prompt-0").evaluate("row => row.scrollIntoView({block: 'start'})")
    answer = page.locator("#prompt-0 td").nth(0)
    assert answer.evaluate("e => e.getBoundingClientRect().width") >= NARROW["width"] / 2
    prompt = page.locator("#prompt-0 th")
    left = prompt.evaluate("e => e.getBoundingClientRect().left")
    page.locator("#answers-scroll").evaluate("element => { element.scrollLeft = 10_000; }")
    expect(page.locator("#prompt-0 td").nth(1)).to_be_in_viewport()
    assert prompt.evaluate("e => e.getBoundingClientRect().left") == left

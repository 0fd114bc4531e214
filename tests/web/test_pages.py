"""The pages under /ui, read as a browser would get them (HTML), on the real service and
database: what each page shows, its filters, its errors, and that it shows model output as
text. The browser itself drives them in test_browser.py."""

import html
import re
import urllib.parse
import uuid
from collections.abc import Callable

import httpx
import pytest

from app.config import Settings
from app.runs.schemas import ResponseOut
from tests.support.app import serve
from tests.support.pages import HTML, html_page
from tests.support.runs import submitted


def _row(page: str, row_id: str) -> str:
    """The HTML of the table row with this id."""
    match = re.search(rf'<tr id="{row_id}"[^>]*>.*?</tr>', page, re.DOTALL)
    assert match, f"no row {row_id}"
    return match.group(0)


def _cells(row: str) -> list[str]:
    return re.findall(r"<td>(.*?)</td>", row, re.DOTALL)


async def test_a_browser_at_the_root_goes_to_the_pages(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 303
    assert response.headers["location"] == "/ui"
    # Scripts keep the 404 they always got, which now says where to look.
    other = await client.get("/", headers={"Accept": "*/*"})
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    assert "/docs" in other.json()["detail"]


async def test_runs_are_listed_newest_first_with_status_and_progress(
    client: httpx.AsyncClient,
) -> None:
    older = await submitted(client, name="older run", tags={"ckpt": "41"})
    newer = await submitted(client, name="newer run", models=["echo", "echo-flaky"])
    page = await html_page(client, "/ui")
    assert page.index("newer run") < page.index("older run")
    assert f'href="/ui/runs/{newer["id"]}"' in page
    assert f'href="/ui/runs/{older["id"]}"' in page
    assert '<span class="status status-succeeded">succeeded</span>' in page
    assert "2/2 done" in page  # two contenders answered the newer run's one prompt
    assert '<span class="tag">ckpt:41</span>' in page
    assert '<th scope="col">Status</th>' in page
    assert "data-following" not in page  # nothing going: nothing to follow


async def test_a_run_still_going_is_followed(client: httpx.AsyncClient) -> None:
    response = await client.post("/compare", json={"prompts": ["x"], "models": ["echo-slow"]})
    assert response.status_code == 202
    page = await html_page(client, "/ui")
    assert re.search(r'<section id="runs-section" data-live data-following', page)


async def test_search_and_filters_use_the_apis_meaning(client: httpx.AsyncClient) -> None:
    dogs = await submitted(client, prompts=["train my dog"], tags={"team": "eval"})
    mars = await submitted(client, prompts=["life on mars"], models=["echo-flaky"])

    async def shown(**params: str) -> set[str]:
        page = await html_page(client, f"/ui?{urllib.parse.urlencode(params)}")
        return {m for m in (dogs["id"], mars["id"]) if f"/ui/runs/{m}" in page}

    both = {dogs["id"], mars["id"]}
    # A browser's form sends its empty fields: they filter nothing.
    assert await shown(q="", status="", model="", tag="") == both
    assert await shown(q="dog") == {dogs["id"]}
    assert await shown(q="mars -dog") == {mars["id"]}
    assert await shown(model="echo-flaky") == {mars["id"]}
    assert await shown(tag="team:eval") == {dogs["id"]}
    assert await shown(status="succeeded") == both
    assert await shown(status="failed") == set()
    page = await html_page(client, "/ui", q="dog", status="succeeded")
    assert 'value="dog"' in page  # the form shows the search it made
    assert '<option value="succeeded" selected>' in page


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"q": "-dog"}, "q", "needs a word to find"),
        ({"tag": "nocolon"}, "tag", "String should match pattern"),
        ({"status": "done"}, "status", "Input should be"),
        ({"cursor": "garbage!"}, "cursor", "String should match pattern"),
    ],
)
async def test_bad_filters_are_explained_on_the_page(
    client: httpx.AsyncClient, params: dict[str, str], field: str, message: str
) -> None:
    page = await html_page(client, "/ui", 422, **params)
    error = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page, re.DOTALL)
    assert error, page
    assert message in html.unescape(error.group(1))


async def test_runs_come_in_pages(client: httpx.AsyncClient) -> None:
    ids = [(await submitted(client, name=f"run {i}"))["id"] for i in range(26)]
    first = await html_page(client, "/ui")
    assert f"/ui/runs/{ids[0]}" not in first  # 25 a page: the oldest is on the next one
    assert all(f"/ui/runs/{i}" in first for i in ids[1:])
    older = re.search(r'href="(/ui\?[^"]*cursor=[^"]+)" rel="next"', first)
    assert older, "no link to the older runs"
    second = await html_page(client, html.unescape(older.group(1)))
    assert f"/ui/runs/{ids[0]}" in second
    assert f"/ui/runs/{ids[1]}" not in second
    assert 'rel="next"' not in second
    assert 'href="/ui?"' in second or 'href="/ui"' in second  # back to the newest


async def test_a_run_is_shown_side_by_side(client: httpx.AsyncClient) -> None:
    run = await submitted(
        client,
        name="side by side",
        prompts=[{"text": "Tell me how to train my dog to sit", "key": "dog"}, "Hi there"],
        models=[
            "echo",
            {"model": "echo", "template": "llama2-chat", "label": "echo [INST]"},
            {"model": "echo", "label": "short", "params": {"max_new_tokens": 3}},
        ],
    )
    page = await html_page(client, f"/ui/runs/{run['id']}")
    assert "<h1>side by side</h1>" in page
    # A column per contender, with its counts, latency and tokens in its header.
    column = r'<th scope="col"><div class="cell">\s*<span class="label">(.*?)</span>'
    headers = re.findall(column, page)
    assert headers == ["echo", "echo [INST]", "short"]
    assert page.count("<dt>Latency p50 / p95</dt>") == 3
    assert page.count("<dt>Tokens in / out</dt>") == 3
    assert "<dt>Truncated</dt><dd>1</dd>" in page  # `short` cut the long prompt
    # A row per prompt, each answer in full, the truncated one marked.
    dog = _row(page, "prompt-0")
    assert '<span class="key">dog</span>' in dog
    plain, inst, short = _cells(dog)
    assert '<div class="output">Tell me how to train my dog to sit</div>' in plain
    assert "[INST] Tell me how to train my dog to sit [/INST]</div>" in inst
    assert '<div class="output cut">Tell me how</div>' in short
    assert "truncated" in short
    assert "truncated" not in plain
    # The prompt each contender was sent, on demand.
    assert re.search(r"<summary>Prompt sent.*?</summary>\s*<pre class=\"sent\">\[INST\] Tell", inst)
    # Exports and the actions that need scripts.
    assert f'href="/runs/{run["id"]}/responses?format=csv"' in page
    assert f'href="/runs/{run["id"]}/responses?format=jsonl"' in page
    assert 'data-action="cancel"' not in page  # finished: nothing to cancel
    assert 'data-action="retry"' not in page  # nothing failed
    assert 'http-equiv="refresh"' not in page


async def test_prompts_whose_answers_differ_are_marked(client: httpx.AsyncClient) -> None:
    # `short` answers with three words at most: the same as `echo` for short prompts only.
    models = ["echo", {"model": "echo", "label": "short", "params": {"max_new_tokens": 3}}]
    run = await submitted(client, prompts=["one two", "one two three four"], models=models)
    page = await html_page(client, f"/ui/runs/{run['id']}")
    assert "data-differs" not in _row(page, "prompt-0")
    assert "data-differs" in _row(page, "prompt-1")
    assert "1 of these 2 have answers that differ" in page
    assert 'class="answers"' in page
    # Without scripts, the toggle is a form; the page it asks for hides the other rows.
    toggled = await html_page(client, f"/ui/runs/{run['id']}", differ="1")
    assert 'class="answers only-differs"' in toggled
    assert 'id="differ" name="differ" value="1" data-hides="differs" checked' in toggled


async def test_the_flag_toggle_appears_with_the_flags(client: httpx.AsyncClient) -> None:
    run = await submitted(client)
    page = await html_page(client, f"/ui/runs/{run['id']}")
    assert ('name="flagged"' in page) == ("flags" in ResponseOut.model_fields)


async def test_a_failed_run_offers_a_retry(make_settings: Callable[..., Settings]) -> None:
    async with serve(make_settings(max_attempts=1)) as client:
        run = await submitted(client, models=["echo-flaky"])
        page = await html_page(client, f"/ui/runs/{run['id']}")
    assert run["status"] == "failed"
    assert f'data-action="retry" data-url="/runs/{run["id"]}/retry"' in page
    assert '<p class="error-text">' in page  # the provider's message, in its cell


async def test_a_run_still_going_can_be_cancelled_and_follows_itself(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/compare", json={"prompts": ["x"], "models": ["echo-slow"]})
    run_id = response.json()["id"]
    page = await html_page(client, f"/ui/runs/{run_id}")
    assert f'data-action="cancel" data-url="/runs/{run_id}/cancel"' in page
    assert f'data-run="{run_id}" data-following' in page  # the script follows its events
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page


async def test_long_runs_come_in_pages_of_prompts(client: httpx.AsyncClient) -> None:
    run = await submitted(client, prompts=[f"prompt {i}" for i in range(60)])
    first = await html_page(client, f"/ui/runs/{run['id']}")
    assert "Prompts 1–50 of 60." in first
    assert 'id="prompt-49"' in first
    assert 'id="prompt-50"' not in first
    second = await html_page(client, f"/ui/runs/{run['id']}", prompt_offset="50", differ="1")
    assert "Prompts 51–60 of 60." in second
    assert 'rel="prev"' in second
    assert 'rel="next"' not in second
    assert "differ=1&amp;prompt_offset=0" in second  # the toggle stays on across pages


@pytest.mark.parametrize("run_id", ["not-a-run", str(uuid.uuid4())])
async def test_an_unknown_run_is_a_404_page(client: httpx.AsyncClient, run_id: str) -> None:
    page = await html_page(client, f"/ui/runs/{run_id}", 404)
    assert f"no run with id {run_id}" in page


MARKUP = '<script>document.title="pwned"</script><img src=x onerror="alert(1)"> & <b>bold</b>'


async def test_model_output_is_shown_as_text(client: httpx.AsyncClient) -> None:
    # echo answers with its prompt: the answer, the prompt and the prompt sent all hold markup.
    run = await submitted(
        client,
        name=MARKUP,
        prompts=[{"text": MARKUP, "key": MARKUP}],
        models=["echo", {"model": "echo", "label": MARKUP, "template": "llama2-chat"}],
        tags={MARKUP[:50]: MARKUP[:50]},
    )
    for url in (f"/ui/runs/{run['id']}", "/ui"):
        page = await html_page(client, url)
        assert "<script>document" not in page
        assert "<img src=x" not in page
        assert "<b>bold</b>" not in page
        assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in page
    row = _row(page := await html_page(client, f"/ui/runs/{run['id']}"), "prompt-0")
    assert html.unescape(re.findall(r'<div class="output">(.*?)</div>', row)[0]) == MARKUP


@pytest.mark.parametrize("url", ["/ui", "/ui/compare", "/ui/runs/{run}", "/ui/runs/nothing"])
async def test_pages_run_only_their_own_scripts(client: httpx.AsyncClient, url: str) -> None:
    run = await submitted(client)
    response = await client.get(url.format(run=run["id"]), headers=HTML)
    policy = dict(
        d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    # So the pages must not need more: no inline script, style or event handler.
    page = response.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert not re.search(r"<[^>]+\sstyle=", page)
    assert not re.search(r"<[^>]+\son[a-z]+=", page)


async def test_every_control_has_a_label(client: httpx.AsyncClient) -> None:
    run = await submitted(client, models=["echo-flaky"])
    for url in ("/ui", "/ui/compare", f"/ui/runs/{run['id']}"):
        page = await html_page(client, url)
        template_free = re.sub(r"<template.*?</template>", "", page, flags=re.DOTALL)
        control_tag = r'<(?:input|select|textarea)\b(?![^>]*type="hidden")[^>]*>'
        controls = re.findall(control_tag, template_free)
        assert controls
        for control in controls:
            found = re.search(r'\bid="([^"]+)"', control)
            assert found, control
            assert f'<label for="{found.group(1)}"' in page, control


async def test_the_static_files_ship_with_the_package(client: httpx.AsyncClient) -> None:
    for name, kind in (("app.js", "javascript"), ("app.css", "text/css"), ("run.js", "javascript")):
        response = await client.get(f"/ui/static/{name}")
        assert response.status_code == 200
        assert kind in response.headers["content-type"]


async def test_samples_and_cached_answers_are_shown(client: httpx.AsyncClient) -> None:
    body = {"prompts": ["hello there"], "samples": 3, "params": {"temperature": 0}}
    await submitted(client, **body)
    run = await submitted(client, **body)
    assert run["counts"]["cached"] == 3
    page = await html_page(client, f"/ui/runs/{run['id']}")
    row = _row(page, "prompt-0")
    assert "All 3 samples" in row
    assert [int(n) for n in re.findall(r"Sample (\d)", row)] == [0, 1, 2]
    assert 'class="badge cached"' in row
    assert "3 reused, not asked again" in page
    assert "100% identical, similarity 1.00 (3 a prompt)" in page

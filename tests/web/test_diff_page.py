"""The diff page (`GET /ui/runs/{a}/diff/{b}`) and the run page's replay button and link, read
as a browser gets them, on the real service and database. The echo model answers with its
prompt cut to `max_new_tokens` words, so a replay with a smaller limit changes (and
truncates) the answers to the longer prompts only."""

import re
import uuid
from typing import Any

import httpx

from tests.support.pages import html_page
from tests.support.runs import succeeded_replay, succeeded_run

LONG = [f"please write about topic number {i} in some detail" for i in range(7)]
SHORT = "hi there"
HOSTILE = "<script>alert('x')</script> is what this long prompt starts with today"


def _echo(prompts: list[str]) -> dict[str, Any]:
    return {"prompts": prompts, "models": ["echo"], "params": {"max_new_tokens": 50}}


def _pair_rows(page: str) -> list[str]:
    return re.findall(r'<tr id="pair-\d+-\d+"[^>]*>.*?</tr>', page, re.DOTALL)


async def test_the_diff_page_shows_flag_rates_and_highlights_changed_answers(
    client: httpx.AsyncClient,
) -> None:
    a = await succeeded_run(client, _echo([*LONG, SHORT]))
    b = await succeeded_replay(client, a, {"params": {"max_new_tokens": 3}})
    page = await html_page(client, f"/ui/runs/{a}/diff/{b}")
    # Every long answer was cut in b: `truncated` is significantly worse (7 of 7, p < 0.05).
    truncated = re.search(r'<tr class="flag-row worse" data-flag="truncated">.*?</tr>', page, re.S)
    assert truncated, page
    # Rates over the 8 pairs (the short answer is not cut), the exact p-value 2 / 2**7.
    assert re.findall(r"<td>(.*?)</td>", truncated.group(0))[:3] == ["0%", "88%", "0.0156"]
    assert "worse in b" in truncated.group(0)
    assert 'data-flag="empty">' in page
    assert 'class="flag-row" data-flag="failed"' in page
    assert "Changed: <strong>7 of 8</strong> (88%)" in page
    rows = _pair_rows(page)
    assert len(rows) == 8
    changed = [r for r in rows if "data-changed" in r]
    assert len(changed) == 7
    assert all("please write about topic" in r for r in changed)
    (same,) = [r for r in rows if "data-changed" not in r]
    assert SHORT in same
    assert 'class="badge changed-badge"' not in same

    only = await html_page(client, f"/ui/runs/{a}/diff/{b}", only="changed")
    assert len(_pair_rows(only)) == 7
    assert all("data-changed" in r for r in _pair_rows(only))
    assert f'href="/ui/runs/{a}/diff/{b}">Show every paired prompt' in only


async def test_the_diff_page_pages_its_prompts(client: httpx.AsyncClient) -> None:
    a = await succeeded_run(client, _echo([*LONG, SHORT]))
    b = await succeeded_replay(client, a, {"params": {"max_new_tokens": 3}})
    first = await html_page(client, f"/ui/runs/{a}/diff/{b}", prompt_limit=3)
    assert [r.split('"')[1] for r in _pair_rows(first)] == ["pair-0-0", "pair-1-0", "pair-2-0"]
    assert "prompt_limit=3&amp;prompt_offset=3" in first
    assert 'rel="prev"' not in first
    last = await html_page(client, f"/ui/runs/{a}/diff/{b}", prompt_limit=3, prompt_offset=6)
    assert [r.split('"')[1] for r in _pair_rows(last)] == ["pair-6-0", "pair-7-0"]
    assert 'rel="next"' not in last
    assert 'rel="prev"' in last


async def test_model_output_on_the_diff_page_is_text(client: httpx.AsyncClient) -> None:
    a = await succeeded_run(client, _echo([HOSTILE]))
    b = await succeeded_replay(client, a, {"params": {"max_new_tokens": 3}})
    page = await html_page(client, f"/ui/runs/{a}/diff/{b}")
    assert "<script>alert" not in page
    # The prompt, a's whole answer and b's cut one, each escaped.
    assert page.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") == 3


async def test_a_replay_links_to_its_diff_and_every_run_has_a_replay_button(
    client: httpx.AsyncClient,
) -> None:
    a = await succeeded_run(client, _echo([SHORT]))
    b = await succeeded_replay(client, a, {})
    source = await html_page(client, f"/ui/runs/{a}")
    assert f'data-action="replay" data-url="/runs/{a}/replay"' in source
    assert "Diff with its source" not in source
    replay = await html_page(client, f"/ui/runs/{b}")
    assert f'<a id="diff-source" href="/ui/runs/{a}/diff/{b}">Diff with its source</a>' in replay


async def test_an_unknown_run_is_a_404_page(client: httpx.AsyncClient) -> None:
    a = await succeeded_run(client, _echo([SHORT]))
    missing = uuid.uuid4()
    page = await html_page(client, f"/ui/runs/{a}/diff/{missing}", expect=404)
    assert str(missing) in page
    await html_page(client, f"/ui/runs/{a}/diff/not-an-id", expect=404)


async def test_the_diff_page_shows_the_win_rate_and_a_judge_button(
    client: httpx.AsyncClient,
) -> None:
    a = await succeeded_run(client, _echo([*LONG, SHORT]))
    b = await succeeded_replay(client, a, {"params": {"max_new_tokens": 3}})
    page = await html_page(client, f"/ui/runs/{a}/diff/{b}")
    assert f'data-url="/runs/{a}/diff/{b}/judge"' in page
    assert ">Judge these two runs</button>" in page
    assert '<option value="echo">echo</option>' in page
    assert 'data-votes="0"' in page
    reason = "no vote or judgement compares these paired answers yet"
    assert f"Win rate of b: {reason}: POST /runs/{a}/diff/{b}/judge" in page

    # People prefer a's whole answers to b's cut ones on three prompts, and tie on a fourth.
    rows = [p["answers"][0] for p in (await client.get(f"/runs/{a}/diff/{b}")).json()["prompts"]]
    for answer, winner in zip(rows, ["a", "a", "a", "tie"], strict=False):
        body = {"a": answer["response_id_a"], "b": answer["response_id_b"], "winner": winner}
        vote = await client.post("/votes", json={**body, "voter": "ann"})
        assert vote.status_code == 201, vote.text
    page = await html_page(client, f"/ui/runs/{a}/diff/{b}")
    win = re.search(r'<p class="win-rate" data-votes="4">(.*?)</p>', page, re.S)
    assert win, page
    text = " ".join(win.group(1).split())
    assert "b wins <strong>12%</strong>" in text  # half a tie of 4 votes
    assert "of 4 votes: 0 won, 3 lost, 1 tied" in text
    assert "people: 12% of 4" in text

"""The arena and the leaderboard pages, read and used as a browser would (HTML), on the real
service and database: battles and votes through the pages' own routes, the reveal, the
leaderboard they feed, the guard against cross-site requests, and model output as text. The
browser itself drives them in test_browser.py."""

import html
import re

import httpx

from tests.support.pages import HTML, html_page
from tests.support.runs import submitted

# What the arena's script sends: JSON, or a header no cross-site form can carry.
SCRIPT = {"Accept": "text/html", "X-Requested-With": "llm-compare"}
MARKUP = '<script>document.title="pwned"</script><img src=x onerror="alert(1)">'


async def _battle(client: httpx.AsyncClient, run_id: str, expect: int = 200) -> str:
    response = await client.post(f"/ui/runs/{run_id}/arena/battles", headers=SCRIPT)
    assert response.status_code == expect, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def _battle_id(fragment: str) -> str:
    found = re.search(r'data-battle="([0-9a-f-]{36})"', fragment)
    assert found, fragment
    return found.group(1)


async def _vote(
    client: httpx.AsyncClient, battle_id: str, winner: str, expect: int = 200, **more: str
) -> str:
    response = await client.post(
        f"/ui/battles/{battle_id}/vote", json={"winner": winner, **more}, headers=HTML
    )
    assert response.status_code == expect, response.text
    return response.text


def _outputs(fragment: str) -> list[str]:
    return [html.unescape(o) for o in re.findall(r'<div class="output">(.*?)</div>', fragment)]


async def test_the_arena_shows_two_answers_blind_and_reveals_them_after_the_vote(
    client: httpx.AsyncClient,
) -> None:
    models = ["echo", {"model": "echo", "label": "inst", "template": "llama2-chat"}]
    run = await submitted(client, name="arena run", prompts=["Who is the boss?"], models=models)
    page = await html_page(client, f"/ui/runs/{run['id']}/arena")
    assert "<h1>Arena: arena run</h1>" in page
    assert f'data-run="{run["id"]}"' in page
    assert 'src="/ui/static/arena.js"' in page

    fragment = await _battle(client, run["id"])
    assert "Who is the boss?" in fragment
    assert sorted(_outputs(fragment)) == ["Who is the boss?", "[INST] Who is the boss? [/INST]"]
    # Blind: neither label shows before the vote; each vote has its button and its key.
    assert "inst" not in fragment.replace("[INST]", "").replace("[/INST]", "")
    for winner, key in (("a", "A"), ("b", "B"), ("tie", "T"), ("both_bad", "X")):
        assert f'data-winner="{winner}" aria-keyshortcuts="{key}"' in fragment

    reveal = await _vote(client, _battle_id(fragment), "a", voter="ann")
    a_label = re.search(r'data-label="a">(.*?)</strong>', reveal)
    b_label = re.search(r'data-label="b">(.*?)</strong>', reveal)
    assert a_label
    assert b_label
    a_output = _outputs(fragment)[0]
    assert a_label.group(1) == ("inst" if a_output.startswith("[INST]") else "echo")
    assert {a_label.group(1), b_label.group(1)} == {"echo", "inst"}
    assert 'data-voted="a"' in reveal
    assert "data-next" in reveal
    # The vote is the service's: the API's leaderboard counts it, as the person who cast it.
    board = (await client.get("/leaderboard", params={"run": run["id"]})).json()
    winner = next(c for c in board["contenders"] if c["label"] == a_label.group(1))
    assert (winner["wins"], winner["votes"]) == (1, 1)
    votes = await client.get("/leaderboard", params={"run": run["id"], "voter": "people"})
    assert sum(c["votes"] for c in votes.json()["contenders"]) == 2

    # A second vote on the same battle is refused, and says so in the arena's terms.
    again = await _vote(client, _battle_id(fragment), "b", expect=409)
    assert "already has a vote" in again
    assert "data-voted" not in again


async def test_a_run_without_battles_says_so(client: httpx.AsyncClient) -> None:
    run = await submitted(client, models=["echo"])
    fragment = await _battle(client, run["id"], expect=409)
    assert "No battles left" in fragment
    assert f'href="/ui/leaderboard?run={run["id"]}"' in fragment


async def test_the_arena_shows_answers_holding_markup_as_text(client: httpx.AsyncClient) -> None:
    models = ["echo", {"model": "echo", "label": "chatml", "template": "chatml"}]
    run = await submitted(client, prompts=[MARKUP], models=models, name=MARKUP)
    page = await html_page(client, f"/ui/runs/{run['id']}/arena")
    fragment = await _battle(client, run["id"])
    for text in (page, fragment):
        assert "<script>document" not in text
        assert "<img src=x" not in text
    assert "&lt;script&gt;document.title=" in fragment
    assert "&lt;img src=x onerror=" in fragment
    assert MARKUP in _outputs(fragment)


async def test_the_arenas_posts_refuse_cross_site_forms(client: httpx.AsyncClient) -> None:
    models = ["echo", {"model": "echo", "label": "inst", "template": "llama2-chat"}]
    run = await submitted(client, models=models)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    forged = await client.post(f"/ui/runs/{run['id']}/arena/battles", headers=form, content="")
    assert forged.status_code == 415
    battle_id = _battle_id(await _battle(client, run["id"]))
    forged = await client.post(f"/ui/battles/{battle_id}/vote", headers=form, content="winner=a")
    assert forged.status_code == 415
    assert forged.json()["errors"][0]["field"] == "Content-Type"
    # Nothing was counted; the battle is still open for the real vote.
    await _vote(client, battle_id, "tie")
    bad = await client.post(f"/ui/battles/{battle_id}/vote", json={"winner": "c"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "winner"


async def test_the_leaderboard_draws_scores_intervals_and_win_rates(
    client: httpx.AsyncClient,
) -> None:
    models = ["echo", {"model": "echo", "label": "inst", "template": "llama2-chat"}]
    run = await submitted(client, prompts=[f"prompt {i}" for i in range(4)], models=models)
    empty = await html_page(client, "/ui/leaderboard", run=run["id"])
    assert "No votes yet" in empty
    for _ in range(4):
        fragment = await _battle(client, run["id"])
        shown = _outputs(fragment)
        winner = "a" if shown[0].startswith("[INST]") else "b"  # inst always wins
        await _vote(client, _battle_id(fragment), winner)
    page = await html_page(client, "/ui/leaderboard", run=run["id"])
    rows = re.findall(r'<th scope="row"><span class="label">(.*?)</span>', page)
    assert rows == ["inst", "echo"]
    bars = re.findall(r'<svg class="bar"[^>]*aria-label="(\d+), 95% interval (\d+) to (\d+)"', page)
    assert len(bars) == 2
    (best, best_low, best_high), (worst, worst_low, worst_high) = bars
    assert int(best) > 1000 > int(worst)
    assert int(best_low) <= int(best) <= int(best_high)
    assert "4 / 0 / 0" in page
    assert "0 / 4 / 0" in page
    # The matrix: inst beat echo in every one of their four votes.
    matrix = page[page.index('id="win-rates"') :]
    won = r'<td class="shade-10"><strong>100%</strong> <span class="sub">\d+–100%, 4 votes'
    assert re.search(won, matrix)
    assert re.search(r'<td class="shade-0"><strong>0%</strong>', matrix)


async def test_the_leaderboards_bad_choices_are_named(client: httpx.AsyncClient) -> None:
    page = await html_page(client, "/ui/leaderboard", expect=422, voter="nobody")
    assert 'id="voter-error"' in page
    missing = await html_page(
        client, "/ui/leaderboard", expect=404, run="00000000-0000-0000-0000-000000000000"
    )
    assert "no run with id" in missing


async def test_the_run_page_links_the_arena_and_offers_a_judge(client: httpx.AsyncClient) -> None:
    models = ["echo", {"model": "echo", "label": "inst", "template": "llama2-chat"}]
    run = await submitted(client, models=models)
    page = await html_page(client, f"/ui/runs/{run['id']}")
    assert f'href="/ui/runs/{run["id"]}/arena"' in page
    assert f'href="/ui/leaderboard?run={run["id"]}"' in page
    assert f'data-url="/runs/{run["id"]}/judge"' in page
    assert '<label for="judge-model">Judge model</label>' in page
    assert '<option value="echo">echo</option>' in page
    # One contender: nothing to compare, so no arena and no judge.
    alone = await submitted(client, models=["echo"])
    page = await html_page(client, f"/ui/runs/{alone['id']}")
    assert "/arena" not in page
    assert "judge-form" not in page


async def test_an_arena_of_no_run_is_a_404_page(client: httpx.AsyncClient) -> None:
    page = await html_page(client, "/ui/runs/not-a-run/arena", expect=404)
    assert "no run with id not-a-run" in page

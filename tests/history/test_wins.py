"""The win rate of run b over run a in their diff: a model judging b's answers against a's
(`POST /runs/{a}/diff/{b}/judge`), people's votes across the two runs (`POST /votes`), and
what neither changes: the leaderboard of either run.

Run a is the echo model cut at 3 words, its replay b the same at 50: b's answers are the
prompts whole, better by construction for a judge that prefers the longer answer.
"""

import re
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.support.app import serve
from tests.support.catalogues import openai_catalogue
from tests.support.fakes.openai_server import FakeOpenAI
from tests.support.judging import answers, fetch

JUDGE = "judge-gpt"
PROMPTS = [f"please write about topic number {i} in some detail" for i in range(8)]


def longer_wins(prompt: str) -> str:
    """A judge that prefers the longer answer, whichever side it is on."""
    a = re.search(r"Assistant A's Answer\]\n(.*?)\n\[The End of Assistant A", prompt, re.S)
    b = re.search(r"Assistant B's Answer\]\n(.*?)\n\[The End of Assistant B", prompt, re.S)
    assert a, prompt
    assert b, prompt
    return "[[A]]" if len(a[1]) > len(b[1]) else "[[B]]"


@pytest.fixture
async def two_runs(
    make_settings: Callable[..., Settings], tmp_path: Path, fake_openai: FakeOpenAI
) -> AsyncIterator[tuple[httpx.AsyncClient, str, str]]:
    catalogue = openai_catalogue(tmp_path, **{JUDGE: {"base_url": f"{fake_openai.url}/v1"}})
    fake_openai.reply = longer_wins
    async with serve(make_settings(catalogue_file=catalogue)) as client:
        accepted = await client.post(
            "/compare",
            params={"wait": 30},
            json={"prompts": PROMPTS, "models": ["echo"], "params": {"max_new_tokens": 3}},
        )
        assert accepted.json()["status"] == "succeeded", accepted.text
        a = accepted.json()["id"]
        replay = await client.post(f"/runs/{a}/replay", json={"params": {"max_new_tokens": 50}})
        b = replay.json()["id"]
        assert (await client.get(f"/runs/{b}", params={"wait": 30})).json()["status"] == (
            "succeeded"
        )
        yield client, a, b


async def judge_diff(client: httpx.AsyncClient, a: str, b: str, **body: Any) -> dict[str, Any]:
    response = await client.post(f"/runs/{a}/diff/{b}/judge", json={"judge": JUDGE, **body})
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/runs/{response.json()['id']}"
    judging = (await client.get(response.headers["location"], params={"wait": 30})).json()
    assert judging["status"] == "succeeded"
    return dict(judging)


async def leaderboard(client: httpx.AsyncClient, run: str | None) -> dict[str, Any]:
    params: dict[str, str | int] = {"bootstrap": 0, **({"run": run} if run else {})}
    response = await client.get("/leaderboard", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def win_rate(client: httpx.AsyncClient, a: str, b: str) -> dict[str, Any]:
    diff = await client.get(f"/runs/{a}/diff/{b}")
    assert diff.status_code == 200, diff.text
    (echo,) = diff.json()["contenders"]
    return dict(echo)


async def test_judged_better_answers_win_with_an_interval_above_one_half(
    two_runs: tuple[httpx.AsyncClient, str, str], fake_openai: FakeOpenAI
) -> None:
    client, a, b = two_runs
    judging = await judge_diff(client, a, b)
    assert judging["judges"] == a
    assert judging["counts"]["succeeded"] == 2 * len(PROMPTS)  # both orders
    # The judge saw a's and b's answers, each on either side.
    sent = [request.body["messages"][-1]["content"] for request in fake_openai.requests]
    assert sum("Assistant A's Answer]\nplease write about\n" in p for p in sent) == len(PROMPTS)
    assert sum("Assistant B's Answer]\nplease write about\n" in p for p in sent) == len(PROMPTS)

    echo = await win_rate(client, a, b)
    rate = echo["win_rate"]
    assert (rate["votes"], rate["wins"], rate["losses"], rate["ties"]) == (8, 8, 0, 0)
    assert rate["rate"] == 1
    assert 0.5 < rate["ci_low"] < 0.75  # Wilson's for 8 of 8: 0.676
    assert rate["ci_high"] == 1
    assert echo["win_rate_reason"] is None
    assert echo["win_rate_by_voter"] == {f"judge:{JUDGE}": rate}

    # Seen the other way round, a lost every vote.
    reverse = (await win_rate(client, b, a))["win_rate"]
    assert (reverse["wins"], reverse["losses"], reverse["rate"]) == (0, 8, 0)
    assert reverse["ci_high"] < 0.5

    # The judging run's verdicts name each answer's own contender; judged again: nothing left.
    judgements = (await client.get(f"/runs/{judging['id']}/judgements")).json()
    assert (judgements["judged_run_id"], judgements["other_run_id"]) == (a, b)
    assert judgements["counts"]["votes"] == len(PROMPTS)
    assert {j["a"]["label"] for j in judgements["items"]} == {"echo"}
    again = await client.post(f"/runs/{a}/diff/{b}/judge", json={"judge": JUDGE})
    assert again.status_code == 409
    assert "judged by it already" in again.json()["detail"]


async def test_a_judge_that_cannot_choose_makes_ties(
    two_runs: tuple[httpx.AsyncClient, str, str], fake_openai: FakeOpenAI
) -> None:
    client, a, b = two_runs
    fake_openai.reply = lambda prompt: "Alike. [[C]]"
    await judge_diff(client, a, b, max_prompts=3)
    rate = (await win_rate(client, a, b))["win_rate"]
    assert (rate["votes"], rate["ties"], rate["rate"]) == (3, 3, 0.5)
    assert rate["ci_low"] < 0.5 < rate["ci_high"]
    # A judge that always says A is inconsistent: a tie too.
    fake_openai.reply = lambda prompt: "[[A]]"
    await judge_diff(client, a, b, max_prompts=2)
    rate = (await win_rate(client, a, b))["win_rate"]
    assert (rate["votes"], rate["ties"]) == (5, 5)


async def test_without_votes_the_win_rate_is_null_and_says_why(
    two_runs: tuple[httpx.AsyncClient, str, str],
) -> None:
    client, a, b = two_runs
    echo = await win_rate(client, a, b)
    assert echo["win_rate"] is None
    assert echo["win_rate_by_voter"] == {}
    assert f"POST /runs/{a}/diff/{b}/judge" in echo["win_rate_reason"]


async def test_peoples_votes_across_the_runs_count_and_leave_the_leaderboard_alone(
    two_runs: tuple[httpx.AsyncClient, str, str], db_url: str
) -> None:
    client, a, b = two_runs
    run_a = (await client.get(f"/runs/{a}")).json()
    run_b = (await client.get(f"/runs/{b}")).json()
    # Each run's leaderboard, and every run's (run=None).
    boards = {run: await leaderboard(client, run) for run in (a, b, None)}
    in_a, in_b = await answers(db_url, run_a), await answers(db_url, run_b)
    # b's answer on the left, winning; then a's on the left, losing; then a tie.
    for body in (
        {"a": in_b[0].id, "b": in_a[0].id, "winner": "a"},
        {"a": in_a[1].id, "b": in_b[1].id, "winner": "b"},
        {"a": in_a[2].id, "b": in_b[2].id, "winner": "both_bad"},
    ):
        vote = await client.post("/votes", json={"voter": "ann", **body})
        assert vote.status_code == 201, vote.text
    assert vote.json()["run_id"] == a
    assert vote.json()["other_run_id"] == b
    assert vote.json()["b"]["label"] == "echo"

    echo = await win_rate(client, a, b)
    people = echo["win_rate_by_voter"]["people"]
    assert (people["votes"], people["wins"], people["losses"], people["ties"]) == (3, 2, 0, 1)
    assert echo["win_rate"] == people
    assert abs(people["rate"] - 2.5 / 3) < 1e-12

    await judge_diff(client, a, b)
    for run in (a, b, None):
        assert await leaderboard(client, run) == boards[run]
    assert boards[None]["contenders"] == []
    assert len(await fetch(db_url, "SELECT id FROM votes WHERE other_run_id IS NULL")) == 0
    # Answers to prompts that do not pair cannot be compared.
    unpaired = await client.post(
        "/votes", json={"a": in_a[0].id, "b": in_b[1].id, "winner": "a", "voter": "ann"}
    )
    assert unpaired.status_code == 422
    assert unpaired.json()["errors"][0]["field"] == "b"
    assert "paired prompts of two" in unpaired.json()["errors"][0]["message"]


async def test_judging_a_diff_refuses_bad_input(
    two_runs: tuple[httpx.AsyncClient, str, str],
) -> None:
    client, a, b = two_runs
    unknown = uuid.uuid4()
    for path in (f"/runs/{unknown}/diff/{b}/judge", f"/runs/{a}/diff/{unknown}/judge"):
        response = await client.post(path, json={"judge": JUDGE})
        assert response.status_code == 404, path
        assert str(unknown) in response.json()["detail"]
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        (f"/runs/{a}/diff/{a}/judge", {"judge": JUDGE}, "b", "judged against itself"),
        (f"/runs/{a}/diff/{b}/judge", {"judge": "nobody"}, "judge", "unknown model"),
        (f"/runs/{a}/diff/{b}/judge", {"judge": JUDGE, "map": ["nope:echo"]}, "map", "'nope'"),
        (f"/runs/{a}/diff/{b}/judge", {"judge": JUDGE, "max_prompts": 0}, "max_prompts", ""),
        (f"/runs/{a}/diff/{b}/judge", {"judge": JUDGE, "contenders": ["x", "y"]}, "contenders", ""),
    ]
    for path, body, field, message in cases:
        response = await client.post(path, json=body)
        assert response.status_code == 422, body
        (error,) = response.json()["errors"]
        assert error["field"] == field, body
        assert message in error["message"], body
    assert (await client.get(f"/runs/{a}/diff/{b}")).json()["contenders"][0]["win_rate"] is None


async def test_a_diff_too_big_for_one_judging_run_says_how_much_fits(
    make_settings: Callable[..., Settings], tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    catalogue = openai_catalogue(tmp_path, **{JUDGE: {"base_url": f"{fake_openai.url}/v1"}})
    async with serve(make_settings(catalogue_file=catalogue, max_prompts=10)) as client:
        a = (
            await client.post(
                "/compare", params={"wait": 30}, json={"prompts": PROMPTS, "models": ["echo"]}
            )
        ).json()["id"]
        b = (await client.post(f"/runs/{a}/replay", json={})).json()["id"]
        await client.get(f"/runs/{b}", params={"wait": 30})
        # 8 paired answers, 16 calls: more than a run of 10 prompts holds; 5 prompts fit.
        response = await client.post(f"/runs/{a}/diff/{b}/judge", json={"judge": JUDGE})
        assert response.status_code == 422
        (error,) = response.json()["errors"]
        assert error["field"] == "max_prompts"
        assert "pass max_prompts=5 or less" in error["message"]
        fitting = await client.post(
            f"/runs/{a}/diff/{b}/judge", json={"judge": JUDGE, "max_prompts": 5}
        )
        assert fitting.status_code == 202, fitting.text
        assert fitting.json()["prompt_count"] == 10


async def test_a_diff_judged_again_counts_the_judges_latest_verdicts(
    two_runs: tuple[httpx.AsyncClient, str, str], fake_openai: FakeOpenAI
) -> None:
    client, a, b = two_runs
    await judge_diff(client, a, b, max_prompts=3)
    assert len(fake_openai.requests) == 6
    rate = (await win_rate(client, a, b))["win_rate"]
    assert (rate["votes"], rate["wins"]) == (3, 3)

    # Asked anew, the judge now prefers the shorter answer: b lost those pairs.
    fake_openai.reply = lambda prompt: "[[B]]" if longer_wins(prompt) == "[[A]]" else "[[A]]"
    judging = await judge_diff(client, a, b, max_prompts=3, again=True)
    assert judging["counts"]["cached"] == 0
    assert len(fake_openai.requests) == 12
    echo = await win_rate(client, a, b)
    assert (echo["win_rate"]["votes"], echo["win_rate"]["losses"]) == (3, 3)
    assert echo["win_rate_by_voter"][f"judge:{JUDGE}"]["votes"] == 3

    # With the cache, the answers just given are reused: no call, the same verdicts.
    fake_openai.reply = longer_wins
    judging = await judge_diff(client, a, b, max_prompts=3, again=True, cache=True)
    assert judging["counts"]["cached"] == 6
    assert len(fake_openai.requests) == 12
    assert (await win_rate(client, a, b))["win_rate"]["losses"] == 3

"""Blind battles: which pair comes next, sides, expiry, and what is refused."""

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.support.app import serve
from tests.support.catalogues import echo_catalogue
from tests.support.judging import JSON, THREE, fetch, finished_run


def pair_of(reveal: dict[str, Any]) -> tuple[int, frozenset[str]]:
    return reveal["prompt_index"], frozenset((reveal["a"]["label"], reveal["b"]["label"]))


async def battle(client: httpx.AsyncClient, run_id: str, **body: Any) -> dict[str, Any]:
    response = await client.post(f"/runs/{run_id}/battles", json=body or None, headers=JSON)
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


async def vote(
    client: httpx.AsyncClient, battle_id: str, winner: str = "a", **extra: Any
) -> httpx.Response:
    return await client.post(f"/battles/{battle_id}/vote", json={"winner": winner, **extra})


async def test_every_pair_gets_a_vote_before_any_gets_a_second(
    client: httpx.AsyncClient,
) -> None:
    run = await finished_run(client, ["one", "two", "three"], THREE)
    pairs = 3 * 3  # prompts x pairs of three contenders
    seen: Counter[tuple[int, frozenset[str]]] = Counter()
    for round_ in range(1, 3):
        for _ in range(pairs):
            shown = await battle(client, run["id"])
            response = await vote(client, shown["id"], "tie", voter="ann")
            assert response.status_code == 200, response.text
            seen[pair_of(response.json())] += 1
        assert len(seen) == pairs
        assert set(seen.values()) == {round_}


async def test_a_battle_shows_the_prompt_and_two_answers_blind_and_the_vote_reveals_them(
    client: httpx.AsyncClient,
) -> None:
    run = await finished_run(client, ["Tell me how to train my dog to sit"], THREE[:2])
    shown = await battle(client, run["id"])
    assert shown["prompt"] == {
        "index": 0,
        "key": None,
        "text": "Tell me how to train my dog to sit",
    }
    outputs = {
        "plain": "Tell me how to train my dog to sit",
        "inst": "[INST] Tell me how to train my dog to sit [/INST]",
    }
    assert {shown["a"]["output"], shown["b"]["output"]} == set(outputs.values())
    # Nothing says whose they are.
    assert set(shown) == {"id", "prompt", "a", "b", "expires_at"}
    assert set(shown["a"]) == set(shown["b"]) == {"output"}

    response = await vote(client, shown["id"], "b", voter="ann")
    assert response.status_code == 200
    reveal = response.json()
    assert reveal["battle_id"] == shown["id"]
    assert reveal["voter"] == "people:ann"
    assert reveal["winner"] == "b"
    assert outputs[reveal["a"]["label"]] == shown["a"]["output"]
    assert outputs[reveal["b"]["label"]] == shown["b"]["output"]
    assert {reveal["a"]["model"], reveal["b"]["model"]} == {"echo"}


async def test_sides_are_random(client: httpx.AsyncClient) -> None:
    run = await finished_run(client, ["one"], THREE[:2])
    left: Counter[str] = Counter()
    for _ in range(40):  # both sides in 40 fair draws: all but certain (1 - 2**-39)
        shown = await battle(client, run["id"])
        left[(await vote(client, shown["id"])).json()["a"]["label"]] += 1
    assert set(left) == {"plain", "inst"}


async def test_the_pair_of_two_named_contenders(client: httpx.AsyncClient) -> None:
    run = await finished_run(client, ["one", "two"], THREE)
    for _ in range(5):
        shown = await battle(client, run["id"], contenders=["alpaca", "plain"])
        reveal = (await vote(client, shown["id"])).json()
        assert {reveal["a"]["label"], reveal["b"]["label"]} == {"alpaca", "plain"}


async def test_an_open_battle_holds_its_pair_until_it_expires(
    make_settings: Callable[..., Settings], db_url: str
) -> None:
    async with serve(make_settings(battle_ttl_s=42)) as client:
        run = await finished_run(client, ["one"], THREE[:2])
        first = await battle(client, run["id"])
        (lasts,) = await fetch(db_url, "SELECT expires_at - created_at AS ttl FROM battles")
        assert lasts["ttl"] == timedelta(seconds=42)
        busy = await client.post(f"/runs/{run['id']}/battles", headers=JSON)
        assert busy.status_code == 409
        assert "open battle" in busy.json()["detail"]

        # 42 seconds later, as far as the database can tell.
        for table, column in (("battles", "expires_at"), ("battle_slots", "busy_until")):
            await fetch(db_url, f"UPDATE {table} SET {column} = {column} - interval '42 s'")
        second = await battle(client, run["id"])  # the pair is free again
        late = await vote(client, first["id"])
        assert late.status_code == 409
        assert "expired" in late.json()["detail"]
        assert (await vote(client, second["id"])).status_code == 200


async def test_a_second_vote_on_a_battle_is_a_409(client: httpx.AsyncClient, db_url: str) -> None:
    run = await finished_run(client, ["one"], THREE[:2])
    shown = await battle(client, run["id"])
    assert (await vote(client, shown["id"], "a")).status_code == 200
    again = await vote(client, shown["id"], "b")
    assert again.status_code == 409
    assert "already has a vote" in again.json()["detail"]
    assert [row["winner"] for row in await fetch(db_url, "SELECT winner FROM votes")] == ["a"]


@pytest.mark.parametrize(
    ("models", "why"),
    [
        (["echo"], "one contender"),
        (["echo", "broken"], "one contender's answers all failed"),
    ],
)
async def test_a_run_without_two_succeeded_answers_to_pair_is_a_409(
    make_settings: Callable[..., Settings], tmp_path: Path, models: list[str], why: str
) -> None:
    catalogue = echo_catalogue(
        tmp_path, broken={"options": {"fail_first_attempts": 9, "fail_status": 400}}
    )
    async with serve(make_settings(catalogue_file=catalogue)) as client:
        response = await client.post(
            "/compare", params={"wait": 30}, json={"prompts": ["one", "two"], "models": models}
        )
        run = response.json()
        refused = await client.post(f"/runs/{run['id']}/battles", headers=JSON)
        assert refused.status_code == 409, why
        assert "fewer than two succeeded answers" in refused.json()["detail"]


async def test_bad_battle_requests(client: httpx.AsyncClient) -> None:
    run = await finished_run(client, ["one"], THREE)
    unknown = await client.post(f"/runs/{uuid.uuid4()}/battles", headers=JSON)
    assert unknown.status_code == 404
    cases = [
        ({"contenders": ["plain", "nobody"]}, "contenders[1]", "no contender 'nobody'"),
        ({"contenders": ["plain", "plain"]}, "contenders[1]", "two different"),
        ({"contenders": ["plain"]}, "contenders", "at least 2"),
        ({"rounds": 3}, "rounds", "Extra inputs"),
    ]
    for body, field, message in cases:
        response = await client.post(f"/runs/{run['id']}/battles", json=body)
        assert response.status_code == 422, body
        (error,) = response.json()["errors"]
        assert error["field"] == field
        assert message in error["message"]

    no_battle = await vote(client, str(uuid.uuid4()))
    assert no_battle.status_code == 404
    shown = await battle(client, run["id"])
    for body, field in [
        ({"winner": "left"}, "winner"),
        ({}, "winner"),
        ({"winner": "a", "voter": " "}, "voter"),
    ]:
        response = await client.post(f"/battles/{shown['id']}/vote", json=body)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field


async def test_concurrent_voting_never_loses_or_double_counts_a_vote(
    client: httpx.AsyncClient, db_url: str
) -> None:
    run = await finished_run(client, ["one", "two", "three", "four"], THREE)

    async def voter(name: str, rounds: int) -> int:
        cast = 0
        while cast < rounds:
            response = await client.post(f"/runs/{run['id']}/battles", headers=JSON)
            if response.status_code == 409:  # every pair is in an open battle just now
                await asyncio.sleep(0.01)
                continue
            assert response.status_code == 201, response.text
            result = await vote(client, response.json()["id"], "a", voter=name)
            assert result.status_code == 200, result.text
            cast += 1
        return cast

    cast = sum(await asyncio.gather(*(voter(f"p{i}", 5) for i in range(16))))
    assert cast == 80

    # Many voters on one battle at once: exactly one vote counts.
    shown = await battle(client, run["id"])
    results = await asyncio.gather(*(vote(client, shown["id"], "b") for _ in range(20)))
    assert sorted(r.status_code for r in results) == [200] + [409] * 19

    (stored,) = await fetch(
        db_url, "SELECT count(*) AS n, count(DISTINCT battle_id) AS battles FROM votes"
    )
    assert (stored["n"], stored["battles"]) == (81, 81)
    (slots,) = await fetch(db_url, "SELECT sum(votes) AS n FROM battle_slots")
    assert slots["n"] == 81
    board = (await client.get("/leaderboard", params={"run": run["id"], "bootstrap": 0})).json()
    assert sum(c["votes"] for c in board["contenders"]) == 2 * 81  # each vote counts for two


async def test_answers_that_succeed_later_are_battled_before_second_votes(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    # Fails its first call for good (400); a retry of the run answers.
    catalogue = echo_catalogue(
        tmp_path, late={"options": {"fail_first_attempts": 1, "fail_status": 400}}
    )
    async with serve(make_settings(catalogue_file=catalogue)) as client:
        run = await finished_run(client, ["one", "two"], [*THREE[:2], {"model": "late"}])
        assert run["status"] == "partial"
        seen: Counter[tuple[int, frozenset[str]]] = Counter()
        for _ in range(2):
            shown = await battle(client, run["id"])
            seen[pair_of((await vote(client, shown["id"])).json())] += 1
        assert set(seen) == {(p, frozenset(("plain", "inst"))) for p in (0, 1)}

        retried = await client.post(f"/runs/{run['id']}/retry", headers=JSON)
        assert retried.status_code == 202
        finished = await client.get(f"/runs/{run['id']}", params={"wait": 30})
        assert finished.json()["status"] == "succeeded"
        for _ in range(4):
            shown = await battle(client, run["id"])
            seen[pair_of((await vote(client, shown["id"])).json())] += 1
        assert len(seen) == 6
        assert set(seen.values()) == {1}

"""GET /leaderboard: the numbers are ranking.py's on the same votes; runs are selected by id or
tag, voters by kind; contenders are labels across runs."""

from dataclasses import asdict
from typing import Any

import httpx
import pytest

from app.judging.ranking import Vote, leaderboard
from tests.support.judging import answers, finished_run

LABELS = ["ckpt-1", "ckpt-2", "ckpt-3"]


def contenders(first_model: str = "echo") -> list[dict[str, str]]:
    return [
        {"model": first_model, "label": "ckpt-1"},
        {"model": "echo", "label": "ckpt-2", "template": "llama2-chat"},
        {"model": "echo", "label": "ckpt-3", "template": "alpaca"},
    ]


# (prompt, left, right, winner, voter) per run: people and an outside judge, on the same pairs.
VOTES = [
    (0, "ckpt-1", "ckpt-2", "b", "ann"),
    (0, "ckpt-2", "ckpt-1", "a", "bob"),
    (0, "ckpt-2", "ckpt-1", "a", "judge:ext"),
    (0, "ckpt-3", "ckpt-2", "b", "ann"),
    (0, "ckpt-2", "ckpt-3", "tie", "judge:ext"),
    (1, "ckpt-1", "ckpt-3", "both_bad", "ann"),
    (1, "ckpt-3", "ckpt-1", "a", "bob"),
    (1, "ckpt-3", "ckpt-1", "a", "judge:ext"),
    (1, "ckpt-2", "ckpt-3", "a", "cy"),
    (1, "ckpt-1", "ckpt-2", "a", "cy"),
]


async def cast(
    client: httpx.AsyncClient, db_url: str, run: dict[str, Any], votes: list[Any]
) -> list[Vote]:
    """Post the votes on the run's answers; the same votes as ranking.py takes them."""
    ids = {(a.prompt_index, a.label): a.id for a in await answers(db_url, run)}
    made = []
    for prompt, left, right, winner, voter in votes:
        response = await client.post(
            "/votes",
            json={
                "a": ids[prompt, left],
                "b": ids[prompt, right],
                "winner": winner,
                "voter": voter,
            },
        )
        assert response.status_code == 201, response.text
        kind = voter if voter.startswith("judge:") else "people"
        made.append(Vote(left, right, winner, kind, item=f"{run['id']}:{prompt}"))
    return made


def expected(votes: list[Vote], voter: str, runs: list[str], **models: str) -> dict[str, Any]:
    board = leaderboard(votes, voter=voter, labels=LABELS, bootstrap=200, seed=7)
    found = asdict(board)
    for c in found["contenders"]:
        c["model"] = models.get(c["label"], "echo")
    return {"runs": sorted(runs), "voter": voter, **found}


async def get_board(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/leaderboard", params={"bootstrap": 200, "seed": 7, **params})
    assert response.status_code == 200, response.text
    board: dict[str, Any] = response.json()
    return board


async def test_the_numbers_are_rankings_on_the_same_votes(
    client: httpx.AsyncClient, db_url: str
) -> None:
    nightly = [
        await finished_run(client, ["p0", "p1"], contenders(), tags={"job": "nightly"}),
        await finished_run(client, ["p0", "p1"], contenders("echo-flaky"), tags={"job": "nightly"}),
    ]
    other = await finished_run(client, ["p0", "p1"], contenders())
    votes = await cast(client, db_url, nightly[0], VOTES)
    votes += await cast(client, db_url, nightly[1], VOTES[:6])
    elsewhere = await cast(client, db_url, other, [(0, "ckpt-3", "ckpt-1", "a", "dee")] * 5)

    tagged = [run["id"] for run in nightly]
    models = {"ckpt-1": "echo, echo-flaky"}
    for voter in ("all", "people", "judge:ext"):
        board = await get_board(client, tag="job:nightly", voter=voter)
        assert board == expected(votes, voter, tagged, **models), voter
    assert board["agreement"][0]["votes"] > 0  # people and the judge met on some pairs

    one = await get_board(client, run=other["id"])
    assert one == expected(elsewhere, "all", [other["id"]])
    both = await get_board(client, run=other["id"], tag="job:nightly")
    all_runs = [*tagged, other["id"]]
    assert both == expected(votes + elsewhere, "all", all_runs, **models)
    every = await get_board(client)
    assert every == both


async def test_contenders_without_votes_are_listed_last(client: httpx.AsyncClient) -> None:
    run = await finished_run(client, ["p0"], contenders())
    board = await get_board(client, run=run["id"])
    assert [(c["label"], c["score"], c["votes"]) for c in board["contenders"]] == [
        (label, None, 0) for label in LABELS
    ]
    assert board["win_rates"] == []
    assert board["position_bias"]["share_a"] is None
    empty = await get_board(client, tag="job:none")
    assert (empty["runs"], empty["contenders"]) == ([], [])


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"run": "00000000-0000-0000-0000-000000000001"}, 404, None),
        ({"run": "not-a-run"}, 422, "run"),
        ({"voter": "judges"}, 422, "voter"),
        ({"voter": "people:ann"}, 422, "voter"),
        ({"voter": "judge:"}, 422, "voter"),
        ({"tag": "no-colon"}, 422, "tag"),
        ({"bootstrap": 10_001}, 422, "bootstrap"),
    ],
)
async def test_bad_leaderboard_queries(
    client: httpx.AsyncClient, params: dict[str, str], status: int, field: str | None
) -> None:
    response = await client.get("/leaderboard", params=params)
    assert response.status_code == status
    if field is not None:
        assert response.json()["errors"][0]["field"] == field

"""POST /votes: verdicts reached elsewhere on two stored answers, and what is refused."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.support.app import serve
from tests.support.catalogues import echo_catalogue
from tests.support.judging import THREE, answers, fetch, finished_run


async def test_a_verdict_on_two_stored_answers_is_recorded(
    client: httpx.AsyncClient, db_url: str
) -> None:
    run = await finished_run(client, ["one", "two"], THREE)
    plain, inst, _ = (await answers(db_url, run))[3:6]  # the second prompt's
    response = await client.post(
        "/votes", json={"a": inst.id, "b": plain.id, "winner": "a", "voter": "grader-7"}
    )
    assert response.status_code == 201, response.text
    vote = response.json()
    assert (vote["run_id"], vote["prompt_index"], vote["battle_id"]) == (run["id"], 1, None)
    assert vote["a"] == {"response_id": inst.id, "label": "inst", "model": "echo"}
    assert vote["b"] == {"response_id": plain.id, "label": "plain", "model": "echo"}
    assert vote["voter"] == "people:grader-7"

    judged = await client.post(
        "/votes", json={"a": plain.id, "b": inst.id, "winner": "tie", "voter": "judge:gpt-4o"}
    )
    assert judged.json()["voter"] == "judge:gpt-4o"
    rows = await fetch(
        db_url,
        "SELECT a_response_id, b_response_id, winner, voter, created_at FROM votes ORDER BY id",
    )
    assert [(r["a_response_id"], r["b_response_id"], r["winner"], r["voter"]) for r in rows] == [
        (inst.id, plain.id, "a", "people:grader-7"),
        (plain.id, inst.id, "tie", "judge:gpt-4o"),
    ]
    assert all(r["created_at"] is not None for r in rows)


async def test_votes_on_answers_that_cannot_be_compared_are_refused(
    make_settings: Callable[..., Settings], tmp_path: Path, db_url: str
) -> None:
    catalogue = echo_catalogue(
        tmp_path, broken={"options": {"fail_first_attempts": 9, "fail_status": 400}}
    )
    async with serve(make_settings(catalogue_file=catalogue)) as client:
        run = await finished_run(client, ["one", "two"], ["echo", "broken", *THREE[1:]])
        other = await finished_run(client, ["one"], THREE)
        found = await answers(db_url, run)
        echo_0, broken_0, inst_0, _ = found[:4]
        echo_1 = found[4]
        (elsewhere, *_) = await answers(db_url, other)
        assert broken_0.status == "failed"

        cases: list[tuple[dict[str, Any], str, str]] = [
            ({"a": 999_999, "b": echo_0.id}, "a", "no response with id 999999"),
            ({"a": echo_0.id, "b": 999_999}, "b", "no response with id 999999"),
            ({"a": echo_0.id, "b": echo_0.id}, "b", "two different answers"),
            ({"a": echo_0.id, "b": echo_1.id}, "b", "two answers to one prompt"),
            # Another run's answer to another prompt (to the same one, it is a vote across
            # two runs: tests/history/test_wins.py).
            ({"a": echo_1.id, "b": elsewhere.id}, "b", "two answers to one prompt"),
            ({"a": broken_0.id, "b": inst_0.id}, "a", "is failed"),
            ({"a": inst_0.id, "b": broken_0.id}, "b", "is failed"),
            ({"a": 0, "b": inst_0.id}, "a", "greater than or equal to 1"),
            ({"a": echo_0.id, "b": inst_0.id, "winner": "draw"}, "winner", "'a', 'b'"),
        ]
        for body, field, message in cases:
            response = await client.post("/votes", json={"winner": "a", "voter": "ann", **body})
            assert response.status_code == 422, body
            (error,) = response.json()["errors"]
            assert error["field"] == field, body
            assert message in error["message"], body
        assert await fetch(db_url, "SELECT id FROM votes") == []


@pytest.mark.parametrize("voter", ["", " ", "x" * 201])
async def test_a_vote_names_its_voter(client: httpx.AsyncClient, voter: str) -> None:
    response = await client.post("/votes", json={"a": 1, "b": 2, "winner": "a", "voter": voter})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "voter"

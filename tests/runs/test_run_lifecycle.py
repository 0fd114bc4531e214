"""Idempotent submission, cancel, retry and delete, through the API with the echo adapter."""

import asyncio
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.config import Settings
from tests.support.app import serve
from tests.support.catalogues import echo_catalogue

RUN = {"prompts": ["one", "two"], "models": ["echo"], "name": "idem"}
# What a state-changing request without a body carries (the command line's does).
JSON = {"Content-Type": "application/json"}


async def _wait_until(client: httpx.AsyncClient, run_id: str, done: Callable[[Any], bool]) -> Any:
    for _ in range(200):
        run = (await client.get(f"/runs/{run_id}")).json()
        if done(run):
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never got there: {run}")


async def test_the_same_key_and_body_return_the_same_run(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "nightly-2026-11-25"}
    first = await client.post("/compare", json=RUN, headers=headers)
    assert first.status_code == 202
    assert "idempotent-replayed" not in first.headers
    # The same content, spelled differently, is the same request.
    spaced = json.dumps(dict(reversed(RUN.items())), indent=2)
    again = await client.post(
        "/compare", content=spaced, headers={**headers, "Content-Type": "application/json"}
    )
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert [p["text"] for p in again.json()["prompts"]] == ["one", "two"]  # the run itself
    assert again.headers["location"] == first.headers["location"]
    listed = (await client.get("/runs")).json()["items"]
    assert [run["id"] for run in listed] == [first.json()["id"]]


async def test_the_same_key_with_another_body_is_refused(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "k1"}
    first = await client.post("/compare", json=RUN, headers=headers)
    other = await client.post("/compare", json={**RUN, "name": "other"}, headers=headers)
    assert other.status_code == 422
    problem = other.json()
    assert problem["errors"][0]["field"] == "Idempotency-Key"
    assert first.json()["id"] in problem["detail"]
    assert "different request body" in problem["detail"]
    assert len((await client.get("/runs")).json()["items"]) == 1


async def test_concurrent_requests_with_one_key_make_one_run(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "race"}
    answers = await asyncio.gather(
        *(client.post("/compare", json=RUN, headers=headers) for _ in range(8))
    )
    assert sorted(a.status_code for a in answers) == [200] * 7 + [202]
    assert len({a.json()["id"] for a in answers}) == 1
    assert len((await client.get("/runs")).json()["items"]) == 1


async def test_an_overlong_key_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/compare", json=RUN, headers={"Idempotency-Key": "k" * 256})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_cancel_stops_queued_pairs_and_the_run_ends_cancelled(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    catalogue = echo_catalogue(tmp_path, slow={"concurrency": 1, "options": {"delay_ms": 300}})
    async with serve(make_settings(catalogue_file=catalogue)) as client:
        body = {"prompts": [f"p{i}" for i in range(20)], "models": ["slow"]}
        run_id = (await client.post("/compare", json=body)).json()["id"]
        await _wait_until(client, run_id, lambda run: run["counts"]["running"] > 0)

        cancelled = await client.post(f"/runs/{run_id}/cancel", headers=JSON)
        assert cancelled.status_code in (200, 202)
        assert cancelled.json()["counts"]["queued"] == 0

        run = (await client.get(f"/runs/{run_id}", params={"wait": 5})).json()
        assert run["status"] == "cancelled"
        assert run["finished_at"] is not None
        counts = run["counts"]
        # The call in flight finished and its answer was kept; nothing else was sent.
        assert 1 <= counts["succeeded"] <= 2
        assert counts["cancelled"] == 20 - counts["succeeded"]
        assert counts["running"] == counts["queued"] == 0
        answers = [p["responses"]["slow"] for p in run["prompts"]]
        assert answers[0]["output"] == "p0"
        assert {a["status"] for a in answers[2:]} == {"cancelled"}
        assert all(a["output"] is None for a in answers[2:])

        again = await client.post(f"/runs/{run_id}/cancel", headers=JSON)
        assert again.status_code == 200
        assert again.json()["status"] == "cancelled"


async def test_a_finished_run_cannot_be_cancelled(client: httpx.AsyncClient) -> None:
    run_id = (await client.post("/compare", params={"wait": 10}, json=RUN)).json()["id"]
    response = await client.post(f"/runs/{run_id}/cancel", headers=JSON)
    assert response.status_code == 409
    assert "already finished (succeeded)" in response.json()["detail"]


async def test_retry_sends_only_the_failed_pairs_again(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    # Each pair's first two calls fail; with two attempts per pair, the first round fails.
    catalogue = echo_catalogue(
        tmp_path, flaky={"options": {"fail_first_attempts": 2, "fail_status": 503}}
    )
    settings = make_settings(catalogue_file=catalogue, max_attempts=2)
    async with serve(settings) as client:
        body = {"prompts": ["a", "b"], "models": ["echo", "flaky"]}
        first = await client.post("/compare", params={"wait": 10}, json=body)
        run_id = first.json()["id"]
        assert first.json()["status"] == "partial"
        before = (await client.get(f"/runs/{run_id}")).json()
        assert (
            before["prompts"][0]["responses"]["flaky"]["error"] == "HTTP 503: echo was told to fail"
        )

        retried = await client.post(f"/runs/{run_id}/retry", headers=JSON)
        assert retried.status_code == 202
        assert retried.json()["counts"]["succeeded"] == 2  # echo's answers are kept
        assert retried.json()["status"] in ("queued", "running", "succeeded")

        after = (await client.get(f"/runs/{run_id}", params={"wait": 10})).json()
        assert after["status"] == "succeeded"
        for old, new in zip(before["prompts"], after["prompts"], strict=True):
            assert new["responses"]["echo"] == old["responses"]["echo"]
            flaky = new["responses"]["flaky"]
            assert flaky["output"] == new["text"]
            assert flaky["error"] is None
            assert flaky["attempts"] == 3  # two failed calls before, one good call now

        nothing = await client.post(f"/runs/{run_id}/retry", headers=JSON)
        assert nothing.status_code == 200
        assert nothing.json()["status"] == "succeeded"


async def test_delete_removes_a_finished_run_and_its_rows(
    client: httpx.AsyncClient, db_url: str
) -> None:
    run_id = (await client.post("/compare", params={"wait": 10}, json=RUN)).json()["id"]
    assert (await client.delete(f"/runs/{run_id}")).status_code == 204
    assert (await client.get(f"/runs/{run_id}")).status_code == 404
    assert (await client.delete(f"/runs/{run_id}")).status_code == 404
    connection = await asyncpg.connect(db_url)
    try:
        for table in ("runs", "prompts", "responses"):
            assert await connection.fetchval(f"SELECT count(*) FROM {table}") == 0
    finally:
        await connection.close()


async def test_a_running_run_cannot_be_deleted(client: httpx.AsyncClient) -> None:
    run_id = (await client.post("/compare", json={**RUN, "models": ["echo-slow"]})).json()["id"]
    response = await client.delete(f"/runs/{run_id}")
    assert response.status_code == 409
    assert "cancel it first" in response.json()["detail"]
    await client.post(f"/runs/{run_id}/cancel", headers=JSON)
    await _wait_until(client, run_id, lambda run: run["status"] == "cancelled")
    assert (await client.delete(f"/runs/{run_id}")).status_code == 204


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/cancel"),
        ("POST", "/retry"),
        ("DELETE", ""),
        ("GET", "/events"),
        ("GET", "/responses"),
    ],
)
async def test_unknown_runs_are_404(client: httpx.AsyncClient, method: str, path: str) -> None:
    url = f"/runs/00000000-0000-4000-8000-000000000000{path}"
    response = await client.request(method, url, headers=JSON)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_cancel_from_another_process_drops_pairs_claimed_here(
    tmp_path: Path, make_settings: Callable[..., Settings], db_url: str
) -> None:
    # Concurrency 1 claims two pairs: one in flight (2 s), one waiting for the slot.
    catalogue = echo_catalogue(tmp_path, slow={"concurrency": 1, "options": {"delay_ms": 2000}})
    async with serve(make_settings(catalogue_file=catalogue, lease_s=0.6)) as client:
        body = {"prompts": [f"p{i}" for i in range(10)], "models": ["slow"]}
        run_id = (await client.post("/compare", json=body)).json()["id"]
        await _wait_until(client, run_id, lambda run: run["counts"]["running"] == 2)
        # What POST /runs/{id}/cancel does, but from another process's connection.
        connection = await asyncpg.connect(db_url)
        try:
            await connection.execute(
                "UPDATE runs SET cancel_requested_at = now() WHERE id = $1", uuid.UUID(run_id)
            )
            await connection.execute(
                "UPDATE responses SET status = 'cancelled' WHERE run_id = $1 AND status = 'queued'",
                uuid.UUID(run_id),
            )
        finally:
            await connection.close()
        # The lease loop (every 0.2 s) finds the cancel and drops the waiting pair.
        run = await _wait_until(client, run_id, lambda run: run["counts"]["cancelled"] == 9)
        assert run["counts"]["running"] == 1
        run = (await client.get(f"/runs/{run_id}", params={"wait": 5})).json()
        assert run["status"] == "cancelled"
        assert run["counts"]["succeeded"] == 1

"""Runs made through the API, as the tests of runs, diffs and pages need them."""

from typing import Any

import httpx


async def submitted(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    """A run of `body` (one prompt to echo unless given), as `POST /compare?wait=10` answers."""
    body = {"prompts": ["hello"], "models": ["echo"], **body}
    response = await client.post("/compare", params={"wait": 10}, json=body)
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


async def succeeded_run(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    """The id of a run of `body`, once it has succeeded."""
    accepted = await client.post("/compare", params={"wait": 20}, json=body)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "succeeded"
    run_id: str = accepted.json()["id"]
    return run_id


async def succeeded_replay(client: httpx.AsyncClient, run_id: str, body: dict[str, Any]) -> str:
    """The id of a replay of `run_id` with `body`, once it has succeeded."""
    accepted = await client.post(f"/runs/{run_id}/replay", json=body)
    assert accepted.status_code == 202, accepted.text
    replay_id: str = accepted.json()["id"]
    run = (await client.get(f"/runs/{replay_id}", params={"wait": 20})).json()
    assert run["status"] == "succeeded"
    return replay_id

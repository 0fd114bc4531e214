"""GET /runs/{id}/events: progress as server-sent events, then one final event."""

import json
from collections.abc import Callable
from pathlib import Path

import httpx
from httpx_sse import aconnect_sse

from app.config import Settings
from tests.support.app import serve
from tests.support.catalogues import echo_catalogue


async def test_progress_events_then_one_end_event(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    catalogue = echo_catalogue(tmp_path, steady={"concurrency": 1, "options": {"delay_ms": 150}})
    async with serve(make_settings(catalogue_file=catalogue)) as client:
        body = {"prompts": [f"p{i}" for i in range(10)], "models": ["steady"]}
        run_id = (await client.post("/compare", json=body)).json()["id"]
        async with aconnect_sse(client, "GET", f"/runs/{run_id}/events") as source:
            assert source.response.headers["content-type"].startswith("text/event-stream")
            events = [(sse.event, json.loads(sse.data)) async for sse in source.aiter_sse()]

    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "end"
    assert set(kinds[:-1]) == {"progress"}
    assert len(kinds) >= 4  # ten 150 ms answers one at a time, polled every 0.5 s
    done = [data["counts"]["succeeded"] for _, data in events]
    assert done == sorted(done)
    assert len(set(done)) >= 3
    final = events[-1][1]
    assert final["id"] == run_id
    assert final["status"] == "succeeded"
    assert final["counts"] == {
        "queued": 0,
        "running": 0,
        "succeeded": 10,
        "failed": 0,
        "cancelled": 0,
        "total": 10,
        "cached": 0,
    }


async def test_a_finished_run_sends_only_the_end_event(client: httpx.AsyncClient) -> None:
    body = {"prompts": ["hi"], "models": ["echo"]}
    run_id = (await client.post("/compare", params={"wait": 10}, json=body)).json()["id"]
    async with aconnect_sse(client, "GET", f"/runs/{run_id}/events") as source:
        events = [sse async for sse in source.aiter_sse()]
    assert [e.event for e in events] == ["end"]
    assert json.loads(events[0].data)["status"] == "succeeded"

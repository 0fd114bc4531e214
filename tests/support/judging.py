"""Runs to judge, and what the tests of judging read from the database directly."""

from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

# Three contenders answering every prompt, each differently: echo shows what its template made.
THREE = [
    {"model": "echo", "label": "plain"},
    {"model": "echo", "label": "inst", "template": "llama2-chat"},
    {"model": "echo", "label": "alpaca", "template": "alpaca"},
]
JSON = {"Content-Type": "application/json"}


async def finished_run(
    client: httpx.AsyncClient, prompts: list[str], models: list[Any], **extra: Any
) -> dict[str, Any]:
    """A run of these prompts and models, once it has finished."""
    response = await client.post(
        "/compare", params={"wait": 30}, json={"prompts": prompts, "models": models, **extra}
    )
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


@dataclass(frozen=True)
class Answer:
    id: int
    prompt_index: int
    label: str
    status: str


async def answers(db_url: str, run: dict[str, Any]) -> list[Answer]:
    """The run's responses with their ids, in prompt then contender order."""
    labels = [c["label"] for c in run["contenders"]]
    connection = await asyncpg.connect(db_url)
    try:
        rows = await connection.fetch(
            "SELECT id, prompt_position, contender_index, status FROM responses "
            "WHERE run_id = $1 ORDER BY prompt_position, contender_index",
            run["id"],
        )
    finally:
        await connection.close()
    return [
        Answer(r["id"], r["prompt_position"], labels[r["contender_index"]], r["status"])
        for r in rows
    ]


async def fetch(db_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(db_url)
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()

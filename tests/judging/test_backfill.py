"""Answers stored without diagnostics (before they existed) or with an older version of them
get them from `llm-compare diagnose`, the same as the dispatcher would have written; answers
with current ones are left alone unless recomputed, and failed pairs never get any."""

import asyncio
import os
from asyncio.subprocess import PIPE
from typing import Any

import asyncpg
import httpx
import pytest

from app.db.engine import create_engine
from app.diagnostics import DIAGNOSTICS_VERSION
from app.judging.backfill import Batch, backfill
from tests.support.service_process import LLM_COMPARE

DIAGNOSTICS = ("flags", "repetition", "prompt_overlap", "words", "diagnostics_version")
RUN = {
    "prompts": [
        "Tell me how to train my dog to sit",
        "What do you think of Mars?",
        "hi",
        "Write [INST] as the first word",
    ],
    "models": [
        "echo",
        {"model": "echo", "template": "llama2-chat", "label": "inst"},
        {"model": "echo", "template": "chat", "label": "chat"},
        {"model": "echo", "label": "short", "params": {"max_new_tokens": 2}},
    ],
}


async def _stored(db_url: str, run_id: str) -> dict[int, tuple[Any, ...]]:
    """Each pair's diagnostics, by id."""
    connection = await asyncpg.connect(db_url)
    try:
        rows = await connection.fetch(
            f"SELECT id, {', '.join(DIAGNOSTICS)} FROM responses WHERE run_id = $1", run_id
        )
    finally:
        await connection.close()
    return {row["id"]: tuple(row[c] for c in DIAGNOSTICS) for row in rows}


async def _sql(db_url: str, statement: str, *args: Any) -> None:
    connection = await asyncpg.connect(db_url)
    try:
        await connection.execute(statement, *args)
    finally:
        await connection.close()


async def _run(client: httpx.AsyncClient) -> str:
    accepted = await client.post("/compare", params={"wait": 20}, json=RUN)
    assert accepted.json()["status"] == "succeeded", accepted.text
    run_id: str = accepted.json()["id"]
    return run_id


async def _backfill(db_url: str, **options: Any) -> list[Batch]:
    engine = create_engine(db_url, pool_size=1)
    try:
        return [batch async for batch in backfill(engine, batch=5, **options)]
    finally:
        await engine.dispose()


@pytest.fixture
async def written(client: httpx.AsyncClient) -> tuple[str, str]:
    """Two runs, with the diagnostics the dispatcher wrote."""
    return await _run(client), await _run(client)


async def test_answers_stored_without_diagnostics_get_the_dispatchers_own(
    written: tuple[str, str], db_url: str
) -> None:
    run_id, _ = written
    by_dispatcher = await _stored(db_url, run_id)
    assert all(d[-1] == DIAGNOSTICS_VERSION for d in by_dispatcher.values())
    assert {d[0] == [] for d in by_dispatcher.values()} == {True, False}
    forget = ", ".join(f"{c} = NULL" for c in DIAGNOSTICS)
    await _sql(db_url, f"UPDATE responses SET {forget}")
    # One pair failed: it has no answer to diagnose.
    await _sql(
        db_url,
        "UPDATE responses SET status = 'failed', output = NULL, error = 'gone' "
        "WHERE id = (SELECT min(id) FROM responses WHERE run_id = $1)",
        run_id,
    )
    failed = min(by_dispatcher)

    batches = await _backfill(db_url)
    assert [b.diagnosed for b in batches] == [5, 5, 5, 5, 5, 5, 1]  # 2 runs x 16 pairs - 1
    assert [b.last_id for b in batches] == sorted(b.last_id for b in batches)
    after = await _stored(db_url, run_id)
    assert after[failed] == (None,) * len(DIAGNOSTICS)
    assert {i: d for i, d in after.items() if i != failed} == {
        i: d for i, d in by_dispatcher.items() if i != failed
    }
    assert await _backfill(db_url) == []  # nothing left: running it again changes nothing


async def test_older_diagnostics_are_recomputed_current_ones_only_when_asked(
    written: tuple[str, str], db_url: str
) -> None:
    run_id, other = written
    by_dispatcher = await _stored(db_url, run_id)
    old, current = sorted(by_dispatcher)[:2]
    await _sql(
        db_url,
        "UPDATE responses SET flags = '{refusal}', words = 0, diagnostics_version = "
        "CASE WHEN id = $1 THEN $2 ELSE diagnostics_version END WHERE id IN ($1, $3)",
        old,
        DIAGNOSTICS_VERSION - 1,
        current,
    )
    assert [b.diagnosed for b in await _backfill(db_url, run_id=run_id)] == [1]
    after = await _stored(db_url, run_id)
    assert after[old] == by_dispatcher[old]
    assert after[current][0] == ["refusal"]  # current by its version: not looked at

    # --recompute, for one run: all its answers, and only its.
    await _sql(db_url, "UPDATE responses SET words = 0 WHERE run_id = $1", other)
    assert sum(b.diagnosed for b in await _backfill(db_url, run_id=run_id, recompute=True)) == 16
    assert await _stored(db_url, run_id) == by_dispatcher
    assert {d[3] for d in (await _stored(db_url, other)).values()} == {0}


@pytest.mark.slow  # starts the command's process
async def test_the_diagnose_command(written: tuple[str, str], db_url: str) -> None:
    run_id, _ = written
    await _sql(db_url, "UPDATE responses SET flags = NULL, diagnostics_version = NULL")
    assert await _command(db_url) == (
        2,
        "error: name one run with --run RUN, or every run with --all\n",
    )
    code, output = await _command(db_url, "--run", "0d7c4f4e-0000-4000-8000-000000000000")
    assert (code, output.splitlines()[-1]) == (
        2,
        "error: no run with id 0d7c4f4e-0000-4000-8000-000000000000",
    )
    code, output = await _command(db_url, "--run", run_id)
    assert code == 0, output
    assert output.splitlines() == [
        "diagnosed 16 answers (up to id 16)",
        "done: 16 answers diagnosed",
    ]
    code, output = await _command(db_url, "--all")
    assert code == 0, output
    assert output.splitlines()[-1] == "done: 16 answers diagnosed"
    assert (await _command(db_url, "--all"))[1] == "done: 0 answers diagnosed\n"


async def _command(db_url: str, *arguments: str) -> tuple[int, str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "DATABASE_URL": db_url,
    }
    process = await asyncio.create_subprocess_exec(
        LLM_COMPARE, "diagnose", *arguments, env=env, stdout=PIPE, stderr=PIPE
    )
    stdout, stderr = await process.communicate()
    assert stdout == b""
    assert process.returncode is not None
    return process.returncode, stderr.decode()

"""Exporting 100,000 pairs from a real service process keeps its memory flat."""

import threading
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

from tests.support.service_process import ServiceProcess

# Starts service processes, loads real models or works through a lot: `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow

PROMPTS, CONTENDERS = 50_000, 2
# Each rendered prompt is 1 KB, so the export is over 100 MB: far more than the growth allowed.
FILLER = "lorem ipsum " * 85


async def _insert_big_run(db_url: str) -> str:
    connection = await asyncpg.connect(db_url)
    try:
        run_id: str = await connection.fetchval(
            """
            INSERT INTO runs (id, status, params, contenders, models, prompt_count, finished_at)
            VALUES (gen_random_uuid(), 'succeeded', '{}',
                    '[{"label": "a", "model": "echo", "template": "raw", "params": {}},
                      {"label": "b", "model": "echo", "template": "raw", "params": {}}]',
                    '{echo}', $1, now())
            RETURNING id::text
            """,
            PROMPTS,
        )
        await connection.execute(
            "INSERT INTO prompts (run_id, position, text) "
            "SELECT $1::uuid, i, 'prompt ' || i FROM generate_series(0, $2 - 1) AS i",
            run_id,
            PROMPTS,
        )
        await connection.execute(
            """
            INSERT INTO responses (run_id, prompt_position, contender_index, model, status,
                                   rendered_prompt, output, finish_reason, attempts)
            SELECT $1::uuid, i, c, 'echo', 'succeeded', $2 || i, 'answer ' || i, 'stop', 1
            FROM generate_series(0, $3 - 1) AS i, generate_series(0, $4 - 1) AS c
            """,
            run_id,
            FILLER,
            PROMPTS,
            CONTENDERS,
        )
    finally:
        await connection.close()
    return run_id


def _export(url: str, pid: int) -> tuple[int, int, int]:
    """Stream the export: (lines, bytes, the service's peak RSS growth while streaming)."""
    process = psutil.Process(pid)
    baseline = process.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, process.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    lines = size = 0
    try:
        with httpx.stream("GET", url, timeout=120) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                lines += 1
                size += len(line) + 1
    finally:
        done.set()
        sampler.join()
    return lines, size, peak - baseline


async def test_export_of_100_000_pairs_streams_in_flat_memory(db_url: str, tmp_path: Path) -> None:
    run_id = await _insert_big_run(db_url)
    env = {"DATABASE_URL": db_url, "LLM_COMPARE_MIGRATE_ON_START": "false"}
    with ServiceProcess(env, tmp_path / "service.log") as service:
        assert service.process is not None
        url = f"{service.url}/runs/{run_id}/responses"
        _export(url + "?status=failed", service.process.pid)  # warm up the code path
        lines, size, growth = _export(url, service.process.pid)
    assert lines == PROMPTS * CONTENDERS
    assert size > 100_000_000
    assert growth < 40_000_000, f"RSS grew {growth / 1e6:.0f} MB for a {size / 1e6:.0f} MB export"

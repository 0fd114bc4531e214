"""Every pair of a run as JSON Lines or CSV, streamed in batches: memory stays flat however
large the run."""

import csv
import io
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

import orjson
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tables import RunRow
from app.runs import repository

ExportFormat = Literal["jsonl", "csv"]
MEDIA_TYPES: dict[ExportFormat, str] = {"jsonl": "application/x-ndjson", "csv": "text/csv"}

COLUMNS = (
    "run_id",
    "prompt_index",
    "prompt_key",
    "prompt",
    "label",
    "model",
    "template",
    "rendered_prompt",
    "status",
    "output",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "latency_ms",
    "attempts",
    "error",
    "id",
    "flags",
    "repetition",
    "prompt_overlap",
    "words",
    "cost_usd",
    "sample",
    "cached_from",
)
FLAGS_SEPARATOR = ";"  # between a pair's flags in CSV
_BATCH = 1000  # pairs per page, at most
AnyRow = Row[*tuple[Any, ...]]


def page_bounds(run: RunRow) -> list[tuple[int, int]]:
    """(first, stop) positions of each page: whole prompts, up to _BATCH pairs a page."""
    pairs_per_prompt = sum(c.get("samples", 1) for c in run.contenders)
    step = max(1, _BATCH // pairs_per_prompt)
    return [(first, first + step) for first in range(0, run.prompt_count, step)]


async def _pages(
    engine: AsyncEngine, run: RunRow, statuses: Sequence[str], flags: Sequence[str]
) -> AsyncIterator[tuple[dict[int, AnyRow], Sequence[AnyRow]]]:
    """The run's pages (prompts by position, pairs), each read on a connection of its own so
    a slow reader holds no database connection between pages."""
    for first, stop in page_bounds(run):
        async with engine.connect() as connection:
            kept = None
            if flags:
                query = repository.flagged_prompts_query(run.id, flags, first, stop)
                kept = list(await connection.scalars(query))
                if not kept:
                    continue
            prompts, answers = repository.export_page_queries(run.id, statuses, first, stop, kept)
            # Prompts first: a run deleted in between leaves no answers without their prompt.
            by_position = {p.position: p for p in await connection.execute(prompts)}
            rows = (await connection.execute(answers)).all()
        if rows:  # a status filter may leave a page empty
            yield by_position, rows


def _record(
    run_id: str, contenders: list[dict[str, Any]], prompt: AnyRow, row: AnyRow
) -> dict[str, Any]:
    contender = contenders[row.contender_index]
    return {
        "run_id": run_id,
        "prompt_index": row.prompt_position,
        "prompt_key": prompt.key,
        "prompt": prompt.text,
        "label": contender["label"],
        "model": row.model,
        "template": contender["template"],
        "rendered_prompt": row.rendered_prompt,
        "status": row.status,
        "output": row.output,
        "finish_reason": row.finish_reason,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "latency_ms": row.latency_ms,
        "attempts": row.attempts,
        "error": row.error,
        "id": row.id,
        "flags": row.flags,
        "repetition": row.repetition,
        "prompt_overlap": row.prompt_overlap,
        "words": row.words,
        "cost_usd": row.cost_usd,
        "sample": row.sample,
        "cached_from": row.cached_from,
    }


def _csv(record: dict[str, Any]) -> dict[str, Any]:
    flags = record["flags"]
    return record if flags is None else {**record, "flags": FLAGS_SEPARATOR.join(flags)}


async def export(
    engine: AsyncEngine,
    run: RunRow,
    fmt: ExportFormat,
    statuses: Sequence[str] = (),
    flags: Sequence[str] = (),
) -> AsyncIterator[bytes]:
    """The run's pairs in `fmt`, one chunk per batch of rows; with `flags`, only the pairs
    of prompts where some answer has one of them."""
    run_id = str(run.id)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
        writer.writeheader()
        yield buffer.getvalue().encode()
    async for prompts, rows in _pages(engine, run, statuses, flags):
        records = (
            _record(run_id, run.contenders, prompts[row.prompt_position], row) for row in rows
        )
        if fmt == "jsonl":
            yield b"".join(orjson.dumps(record) + b"\n" for record in records)
        else:
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(_csv(record) for record in records)
            yield buffer.getvalue().encode()

"""Every pair of a run as JSON Lines or CSV, streamed in batches: memory stays flat however
large the run."""

import csv
import io
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

import orjson
from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.models import Prompt, Response, Run

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
)
_BATCH = 1000  # pairs per page, at most

_query = (
    select(
        Response.prompt_position,
        Response.contender_index,
        Prompt.key,
        Prompt.text,
        Response.model,
        Response.rendered_prompt,
        Response.status,
        Response.output,
        Response.finish_reason,
        Response.prompt_tokens,
        Response.completion_tokens,
        Response.latency_ms,
        Response.attempts,
        Response.error,
    )
    .join(
        Prompt,
        (Prompt.run_id == Response.run_id) & (Prompt.position == Response.prompt_position),
    )
    .order_by(Response.prompt_position, Response.contender_index)
)


def page_query(
    run_id: uuid.UUID, statuses: Sequence[str], first: int, stop: int
) -> Select[*tuple[Any, ...]]:
    """The pairs of the prompts at positions `first` to `stop - 1`, in order.

    A page is a closed range of positions, not "the next 1,000 after (p, c)": whatever plan
    PostgreSQL picks, with statistics or none, it reads that range and no more. Both tables
    get the range, since PostgreSQL carries equalities across a join but not ranges.
    """
    query: Select[*tuple[Any, ...]] = _query.where(
        Response.run_id == run_id,
        Response.prompt_position >= first,
        Response.prompt_position < stop,
        Prompt.position >= first,
        Prompt.position < stop,
    )
    if statuses:
        query = query.where(Response.status.in_(statuses))
    return query


def page_bounds(run: Run) -> list[tuple[int, int]]:
    """(first, stop) positions of each page: whole prompts, up to _BATCH pairs a page."""
    step = max(1, _BATCH // len(run.contenders))
    return [(first, first + step) for first in range(0, run.prompt_count, step)]


async def _batches(
    engine: AsyncEngine, run: Run, statuses: Sequence[str]
) -> AsyncIterator[Sequence[Any]]:
    """The run's pages, each read on a connection of its own so a slow reader holds no
    database connection between pages."""
    for first, stop in page_bounds(run):
        async with engine.connect() as connection:
            rows = (await connection.execute(page_query(run.id, statuses, first, stop))).all()
        if rows:
            yield rows


def _record(run_id: str, contenders: list[dict[str, Any]], row: Row[Any]) -> dict[str, Any]:
    contender = contenders[row.contender_index]
    return {
        "run_id": run_id,
        "prompt_index": row.prompt_position,
        "prompt_key": row.key,
        "prompt": row.text,
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
    }


async def export(
    engine: AsyncEngine, run: Run, fmt: ExportFormat, statuses: Sequence[str] = ()
) -> AsyncIterator[bytes]:
    """The run's pairs in `fmt`, one chunk per batch of rows."""
    run_id = str(run.id)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
        writer.writeheader()
        yield buffer.getvalue().encode()
    async for rows in _batches(engine, run, statuses):
        records = (_record(run_id, run.contenders, row) for row in rows)
        if fmt == "jsonl":
            yield b"".join(orjson.dumps(record) + b"\n" for record in records)
        else:
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(records)
            yield buffer.getvalue().encode()

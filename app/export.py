"""Every pair of a run as JSON Lines or CSV, streamed in batches: memory stays flat however
large the run."""

import csv
import io
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

import orjson
from sqlalchemy import Row, select, tuple_
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
_BATCH = 1000

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
    .limit(_BATCH)
)


async def _batches(
    engine: AsyncEngine, run_id: uuid.UUID, statuses: Sequence[str]
) -> AsyncIterator[Sequence[Any]]:
    """Keyset pages in (prompt, contender) order, each read on a connection of its own so
    a slow reader holds no database connection between pages."""
    query = _query.where(Response.run_id == run_id)
    if statuses:
        query = query.where(Response.status.in_(statuses))
    after: tuple[int, int] = (-1, -1)
    while True:
        page = query.where(
            tuple_(Response.prompt_position, Response.contender_index) > tuple_(*after)
        )
        async with engine.connect() as connection:
            rows = (await connection.execute(page)).all()
        if not rows:
            return
        yield rows
        if len(rows) < _BATCH:
            return
        after = (rows[-1].prompt_position, rows[-1].contender_index)


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
    async for rows in _batches(engine, run.id, statuses):
        records = (_record(run_id, run.contenders, row) for row in rows)
        if fmt == "jsonl":
            yield b"".join(orjson.dumps(record) + b"\n" for record in records)
        else:
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(records)
            yield buffer.getvalue().encode()

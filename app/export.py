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
AnyRow = Row[*tuple[Any, ...]]

_answers = select(
    Response.prompt_position,
    Response.contender_index,
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
).order_by(Response.prompt_position, Response.contender_index)


def page_bounds(run: Run) -> list[tuple[int, int]]:
    """(first, stop) positions of each page: whole prompts, up to _BATCH pairs a page."""
    step = max(1, _BATCH // len(run.contenders))
    return [(first, first + step) for first in range(0, run.prompt_count, step)]


def page_queries(
    run_id: uuid.UUID, statuses: Sequence[str], first: int, stop: int
) -> tuple[Select[*tuple[Any, ...]], Select[*tuple[Any, ...]]]:
    """The prompts at positions `first` to `stop - 1`, and their pairs in order.

    A page is a closed range of positions on one table per query, rather than "the next
    1,000 after (p, c)" or a join: whatever plan PostgreSQL picks, with statistics or none,
    it reads that range and no more (a join planned for one row a side may read one side's
    whole range again for every row of the other).
    """
    prompts = select(Prompt.position, Prompt.key, Prompt.text).where(
        Prompt.run_id == run_id, Prompt.position >= first, Prompt.position < stop
    )
    answers = _answers.where(
        Response.run_id == run_id,
        Response.prompt_position >= first,
        Response.prompt_position < stop,
    )
    if statuses:
        answers = answers.where(Response.status.in_(statuses))
    return prompts, answers


async def _pages(
    engine: AsyncEngine, run: Run, statuses: Sequence[str]
) -> AsyncIterator[tuple[dict[int, AnyRow], Sequence[AnyRow]]]:
    """The run's pages (prompts by position, pairs), each read on a connection of its own so
    a slow reader holds no database connection between pages."""
    for first, stop in page_bounds(run):
        prompts, answers = page_queries(run.id, statuses, first, stop)
        # Prompts first: a run deleted in between leaves no answers without their prompt.
        async with engine.connect() as connection:
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
    async for prompts, rows in _pages(engine, run, statuses):
        records = (
            _record(run_id, run.contenders, prompts[row.prompt_position], row) for row in rows
        )
        if fmt == "jsonl":
            yield b"".join(orjson.dumps(record) + b"\n" for record in records)
        else:
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(records)
            yield buffer.getvalue().encode()

"""Diagnostics for answers stored without current ones: before diagnostics existed, or by
an older version of their rules. `llm-compare diagnose` runs this on the database directly.

The answers are read in batches in id order (a keyset, so each batch starts where the last
ended and nothing is read twice) and diagnosed as the dispatcher does: against the prompt
before its template, recovered from what was sent. Each batch is its own transaction, so the
work can be stopped at any time and run again: answers already diagnosed by the current rules
are skipped.
"""

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.tables import ResponseRow, RunRow
from app.diagnostics import DIAGNOSTICS_VERSION, diagnose
from app.templates import prompt_of

BATCH = 500
log = logging.getLogger(__name__)

r = ResponseRow

_store = (
    update(ResponseRow)
    .where(r.id == bindparam("b_id"), r.status == "succeeded")
    .values(
        flags=bindparam("b_flags", type_=ARRAY(Text)),
        repetition=bindparam("b_repetition"),
        prompt_overlap=bindparam("b_prompt_overlap"),
        words=bindparam("b_words"),
        diagnostics_version=DIAGNOSTICS_VERSION,
    )
)


@dataclass(frozen=True)
class Batch:
    """One batch done: how many answers it diagnosed, and the last id it read."""

    diagnosed: int
    last_id: int


async def run_exists(engine: AsyncEngine, run_id: uuid.UUID) -> bool:
    async with engine.connect() as connection:
        return await connection.scalar(select(RunRow.id).where(RunRow.id == run_id)) is not None


async def backfill(
    engine: AsyncEngine,
    run_id: uuid.UUID | None = None,
    recompute: bool = False,
    batch: int = BATCH,
) -> AsyncIterator[Batch]:
    """Diagnose the succeeded answers (of `run_id`, or of every run) whose diagnostics are
    missing or older than the rules, or all of them with `recompute`; one batch at a time."""
    templates: dict[uuid.UUID, list[str]] = {}  # each run's contenders' templates
    query = select(
        r.id, r.run_id, r.contender_index, r.rendered_prompt, r.output, r.finish_reason
    ).where(r.status == "succeeded")
    if run_id is not None:
        query = query.where(r.run_id == run_id)
    if not recompute:
        query = query.where(
            or_(r.diagnostics_version.is_(None), r.diagnostics_version < DIAGNOSTICS_VERSION)
        )
    last = 0
    while True:
        async with engine.begin() as connection:
            rows = (
                await connection.execute(query.where(r.id > last).order_by(r.id).limit(batch))
            ).all()
            if not rows:
                return
            await _templates_of(connection, {row.run_id for row in rows}, templates)
            diagnosed = [d for d in (_diagnosed(row, templates) for row in rows) if d]
            if diagnosed:
                await connection.execute(_store, diagnosed)
        last = rows[-1].id
        yield Batch(len(diagnosed), last)


async def _templates_of(
    connection: AsyncConnection, run_ids: set[uuid.UUID], known: dict[uuid.UUID, list[str]]
) -> None:
    if missing := run_ids - known.keys():
        found = await connection.execute(
            select(RunRow.id, RunRow.contenders).where(RunRow.id.in_(missing))
        )
        for found_id, contenders in found:
            known[found_id] = [c["template"] for c in contenders]


def _diagnosed(row: Any, templates: dict[uuid.UUID, list[str]]) -> dict[str, Any] | None:
    """The bound values of the row's diagnostics; None, and the row left as it is, if the
    rules fail on it (as the dispatcher stores such an answer without)."""
    prompt = prompt_of(templates[row.run_id][row.contender_index], row.rendered_prompt)
    try:
        found = diagnose(
            row.output or "",
            row.rendered_prompt if prompt is None else prompt,
            row.finish_reason,
        )
    except Exception:
        log.exception("diagnosing the answer of pair %s failed; it is left without", row.id)
        return None
    return {
        "b_id": row.id,
        "b_flags": list(found.flags),
        "b_repetition": found.repetition,
        "b_prompt_overlap": found.prompt_overlap,
        "b_words": found.words,
    }

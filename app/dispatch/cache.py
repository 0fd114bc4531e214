"""The response cache: claimed pairs whose identical request was answered before take that
answer instead of a provider call.

A pair's fingerprint (app/runs/fingerprint.py) names its request; only deterministic ones have
one. One statement answers a whole claimed batch: for each fingerprint it finds the newest
stored answer that was not itself copied, through ix_responses_cache, one probe per pair (a
lateral subquery with a limit, which no planner can turn into a scan of the table, with
statistics or without), and writes it into the claimed row, which names its source in
`cached_from`.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, Table, func, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import ResponseRow, status_in
from app.dispatch.queue import Job


@dataclass(frozen=True, slots=True)
class Reused:
    """Pairs of this run were answered from the cache: the writer ends the run if they were
    its last, and tells the processes, with the answers it writes itself."""

    run_id: uuid.UUID
    pairs: int


responses: Table = ResponseRow.__table__  # type: ignore[assignment]
r = responses.c

# What a reused answer copies: the answer and what was read from it, not how it was obtained
# (its latency and calls are the source's; this pair made none).
_COPIED = (
    "output",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "flags",
    "repetition",
    "prompt_overlap",
    "words",
    "diagnostics_version",
)


async def answer_from_cache(
    connection: AsyncConnection, jobs: Sequence[Job]
) -> list[tuple[int, uuid.UUID]]:
    """Answer those of `jobs` (of one claim, each with a fingerprint) whose request was
    answered before; returns the (id, run id) of each pair so answered."""
    if not jobs:
        return []
    wanted = (
        func.unnest(
            literal([job.id for job in jobs], ARRAY(BigInteger)),
            literal([job.fingerprint for job in jobs], ARRAY(UUID(as_uuid=True))),
        )
        .table_valued("id", "fingerprint")
        .render_derived(name="wanted")
    )
    source = responses.alias("source")
    s = source.c
    found = (
        select(s.id, *(s[name] for name in _COPIED))
        # ix_responses_cache's predicate, said in full: only then may it serve this.
        .where(
            s.fingerprint == wanted.c.fingerprint,
            status_in(s.status, "succeeded"),
            s.cached_from.is_(None),
        )
        .order_by(s.id.desc())
        .limit(1)
        .lateral("found")
    )
    result = await connection.execute(
        update(responses)
        .where(
            r.id == wanted.c.id,
            r.lease_token == jobs[0].lease_token,
            status_in(r.status, "running"),
        )
        .values(
            status="succeeded",
            **{name: found.c[name] for name in _COPIED},
            cached_from=found.c.id,
            error=None,
            latency_ms=None,
            attempts=r.attempts - 1,  # the claim counted a call that was not made
            finished_at=func.now(),
            lease_token=None,
            lease_expires_at=None,
        )
        .returning(r.id, r.run_id)
    )
    return [(row_id, run_id) for row_id, run_id in result]

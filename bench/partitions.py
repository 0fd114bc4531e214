"""A lab, not a migration: the same rows in `responses` as it is and partitioned by month.

    python -m bench.partitions                        # 1,000,000 responses over 13 months
    python -m bench.partitions --rows 200000 --repeat 20      # a quick dry run

One database on 127.0.0.1:5432, migrated, filled with runs created over 13 months
(bench/corpus.py) and a run of 1,000 prompts x 3 still queued (accepted by `llm-compare
serve` with its dispatcher off). Then a copy of `responses` partitioned by range of
`created_at`, one partition a month: the primary key becomes (id, created_at) and the unique
key (run_id, prompt_position, contender_index, created_at), since PostgreSQL's keys on a
partitioned table must hold the partition key; every other index is created on the parent.
The two tables swap names, so the service's own code runs against each in turn:

- the claim's UPDATE (`app.dispatch.queue.claim`, 256 pairs, rolled back);
- `GET /runs/{id}`'s statements (`app.runs.service.get_detail`, first page) for a stored run
  of about 1,000 prompts;
- and the same two shaped for partitions: the claim joined on (id, created_at), and the
  run's statements with `responses.created_at = <the run's created_at>` beside each
  `responses.run_id = ...` (every pair of a run has its run's `created_at`: they are
  written in the transaction that accepts it).

The service's statements are recorded once and sent again as they are, or rewritten, so the
driver's work is the same and only the SQL differs. For each: the median time over
`--repeat` calls, and the shared buffers its statements touch (from EXPLAIN (ANALYZE,
BUFFERS); unlike time, not disturbed by other work on the machine). Tables never analyzed.
"""

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.engine import create_engine, create_sessionmaker
from app.dispatch import queue
from app.runs.service import get_detail
from bench import corpus
from bench.harness import (
    fresh_database,
    load_average,
    machine,
    model_names,
    prompts,
    service,
    write_catalogue,
)
from tests.support.query_plans import Statement, explain, only, recording

MODELS = model_names(3)
MONTHS = 13


def _month(start: datetime, k: int) -> datetime:
    year, month = divmod(start.month - 1 + k, 12)
    return start.replace(year=start.year + year, month=month + 1, day=1)


async def partition_copy(connection: asyncpg.Connection, first: datetime) -> int:
    """`responses_part`: `responses` partitioned by month from `first`; returns partitions."""
    await connection.execute(
        "CREATE TABLE responses_part (LIKE responses INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        " PARTITION BY RANGE (created_at)"
    )
    start = first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    count = 0
    while _month(start, count) <= datetime.now(UTC) + timedelta(days=31):
        low, high = _month(start, count), _month(start, count + 1)
        await connection.execute(
            f"CREATE TABLE responses_p{low:%Y%m} PARTITION OF responses_part"
            f" FOR VALUES FROM ('{low.isoformat()}') TO ('{high.isoformat()}')"
        )
        count += 1
    await connection.execute(
        "SET maintenance_work_mem = '512MB';"
        "INSERT INTO responses_part SELECT * FROM responses;"
        "ALTER TABLE responses_part ADD CONSTRAINT pkp_responses PRIMARY KEY (id, created_at);"
        "ALTER TABLE responses_part ADD CONSTRAINT uqp_responses"
        " UNIQUE (run_id, prompt_position, contender_index, created_at);"
        "ALTER TABLE responses_part ADD CONSTRAINT fkp_responses FOREIGN KEY"
        " (run_id, prompt_position) REFERENCES prompts (run_id, position) ON DELETE CASCADE;"
        "CREATE INDEX ixp_responses_queued ON responses_part (model, created_at, id)"
        " WHERE status = 'queued';"
        "CREATE INDEX ixp_responses_leases ON responses_part (lease_expires_at)"
        " WHERE status = 'running';"
        "CREATE INDEX ixp_responses_unfinished ON responses_part (run_id)"
        " WHERE finished_at IS NULL;"
        "CREATE INDEX ixp_responses_search ON responses_part"
        " USING gin (to_tsvector('simple'::regconfig, left(output, 200000)));"
    )
    return count


async def swap(db_url: str) -> None:
    """`responses` <-> `responses_part`."""
    connection = await asyncpg.connect(db_url)
    try:
        await connection.execute(
            "BEGIN;"
            "ALTER TABLE responses RENAME TO responses_swap;"
            "ALTER TABLE responses_part RENAME TO responses;"
            "ALTER TABLE responses_swap RENAME TO responses_part;"
            "COMMIT"
        )
    finally:
        await connection.close()


@dataclass(frozen=True)
class Cost:
    median_ms: float
    buffers: int


def _buffers(plan: dict[str, Any]) -> int:
    return int(plan.get("Shared Hit Blocks", 0)) + int(plan.get("Shared Read Blocks", 0))


async def measure(
    engine: AsyncEngine,
    db_url: str,
    call: Callable[[], Awaitable[None]],
    repeat: int,
    explained: str,
) -> Cost:
    """Median time of `call`, and the buffers its statements that mention `explained` use."""
    times = []
    with recording(engine) as sent:
        for _ in range(repeat):
            started = time.perf_counter()
            await call()
            times.append(time.perf_counter() - started)
    statements = {s.sql: s for s in sent if explained in s.sql}.values()
    connection = await asyncpg.connect(db_url)
    try:
        buffers = 0
        for statement in statements:
            plan = await explain(connection, statement, "custom")
            buffers += _buffers(plan.root)
    finally:
        await connection.close()
    return Cost(statistics.median(times) * 1000, buffers)


_CLAIM_BY_KEY = (
    "WITH picked AS ("
    " SELECT id, created_at FROM responses WHERE status = 'queued' AND model = $1"
    " ORDER BY created_at, id LIMIT (SELECT 256) FOR UPDATE SKIP LOCKED)"
    " UPDATE responses r SET status = 'running', lease_token = gen_random_uuid(),"
    " lease_expires_at = now() + interval '30 seconds',"
    " started_at = coalesce(r.started_at, now()), attempts = r.attempts + 1"
    " FROM picked WHERE r.id = picked.id AND r.created_at = picked.created_at"
    " RETURNING r.id, r.run_id, r.contender_index, r.rendered_prompt, r.attempts"
)


def with_created_at(statement: Statement, created_at: datetime) -> Statement:
    """`statement` with `responses.created_at = <created_at>` beside each `responses.run_id =`."""
    bound = f" AND responses.created_at = '{created_at.isoformat()}'::timestamptz"
    sql = re.sub(r"responses\.run_id = \$\d+(::UUID)?", lambda m: m.group(0) + bound, statement.sql)
    return Statement(sql, statement.parameters)


async def _sent(
    engine: AsyncEngine, work: Callable[[AsyncConnection], Awaitable[object]]
) -> list[Statement]:
    """The statements `work` sends, its changes rolled back."""
    with recording(engine) as sent:
        async with engine.connect() as connection:
            transaction = await connection.begin()
            await work(connection)
            await transaction.rollback()
    return sent


async def costs(
    db_url: str, read_run: uuid.UUID, created_at: datetime, repeat: int
) -> dict[str, Cost]:
    """The service's own statements, recorded, then sent as they are or with the partition
    key added: the same driver work either way, only the SQL differs."""
    engine = create_engine(db_url, pool_size=2)
    sessions = create_sessionmaker(engine)

    async def detail(connection: AsyncConnection) -> None:
        async with sessions(bind=connection) as session:
            assert len((await get_detail(session, read_run, 0, 100)).prompts) == 100

    claim = [
        only(await _sent(engine, lambda c: queue.claim(c, MODELS[0], 256, 30)), "UPDATE responses")
    ]
    reads = await _sent(engine, detail)

    def send(statements: list[Statement], rows: int | None = None) -> Callable[[], Awaitable[None]]:
        async def work() -> None:
            async with engine.connect() as connection:
                transaction = await connection.begin()
                for statement in statements:
                    result = await connection.exec_driver_sql(statement.sql, statement.parameters)
                    if rows is not None:
                        assert len(result.all()) == rows
                await transaction.rollback()

        return work

    by_key = [with_created_at(s, created_at) for s in reads]
    try:
        return {
            "claim (256 pairs), as the service does it": await measure(
                engine, db_url, send(claim, 256), repeat, "UPDATE responses"
            ),
            "claim, joined on (id, created_at)": await measure(
                engine,
                db_url,
                send([Statement(_CLAIM_BY_KEY, (MODELS[0],))], 256),
                repeat,
                "UPDATE responses",
            ),
            "`GET /runs/{id}` (first page), as the service does it": await measure(
                engine, db_url, send(reads), repeat, "FROM responses"
            ),
            "the same, with the run's created_at": await measure(
                engine, db_url, send(by_key), repeat, "FROM responses"
            ),
        }
    finally:
        await engine.dispose()


async def _prepare(db_url: str, like_run: uuid.UUID, rows: int) -> tuple[uuid.UUID, datetime, int]:
    """Fill, pick the stored run read back, make the partitioned copy."""
    connection = await asyncpg.connect(db_url)
    try:
        now = datetime.now(UTC)
        first = now - timedelta(days=30 * (MONTHS - 1))
        started = time.perf_counter()
        filled = await corpus.fill(connection, like_run, rows, first, now - timedelta(days=1))
        print(f"  filled {filled.responses:,} responses in {time.perf_counter() - started:.0f} s")
        read_run = await connection.fetchrow(
            "SELECT id, created_at FROM runs WHERE status = 'succeeded'"
            " ORDER BY abs(prompt_count - 1000), created_at LIMIT 1"
        )
        assert read_run is not None
        started = time.perf_counter()
        partitions = await partition_copy(connection, first)
        print(f"  partitioned copy in {time.perf_counter() - started:.0f} s: {partitions} parts")
        return read_run["id"], read_run["created_at"], partitions
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()

    print(f"machine: {machine()}; load average {load_average()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp, fresh_database("llmc_parts") as db_url:
        catalogue = Path(tmp) / "catalogue.json"
        write_catalogue(catalogue, "http://127.0.0.1:9", MODELS, 8)  # never called
        env = {"LLM_COMPARE_DISPATCHER_ENABLED": "false"}
        with service(db_url, catalogue, Path(tmp), extra_env=env) as svc:
            body = {"prompts": prompts(1000, "queued"), "models": MODELS}
            queued = httpx.post(f"{svc.url}/compare", json=body, timeout=60)
            queued.raise_for_status()
        like_run = uuid.UUID(queued.json()["id"])
        read_run, created_at, partitions = asyncio.run(_prepare(db_url, like_run, args.rows))
        found: dict[str, dict[str, Cost]] = {}
        for shape in ("plain", "partitioned"):
            if shape == "partitioned":
                asyncio.run(swap(db_url))
            load = load_average()
            found[shape] = asyncio.run(costs(db_url, read_run, created_at, args.repeat))
            print(f"  {shape}: measured at load {load}", flush=True)

    print()
    print(f"Measured with `python -m bench.partitions {' '.join(sys.argv[1:])}`".rstrip() + ":")
    print()
    print(
        f"{args.rows:,} responses over {MONTHS} months; partitioned: {partitions} partitions "
        f"by month of `created_at`; median of {args.repeat} calls, buffers of one:"
    )
    print()
    print("| query | plain: time, buffers | partitioned: time, buffers |")
    print("|---|---|---|")
    for name in found["plain"]:
        cells = [f"{found[s][name].median_ms:.1f} ms, {found[s][name].buffers:,}" for s in found]
        print(f"| {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()

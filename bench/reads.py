"""Read latency over a large history while a run is being written, at two sizes side by side.

    python -m bench.reads                               # 100,000 then 1,000,000 responses
    python -m bench.reads --sizes 20000 100000 --seconds 5     # a quick dry run
    python -m bench.reads --analyze                     # ANALYZE after each fill

One `llm-compare serve` on a fresh database on 127.0.0.1:5432, its models calling a fake
provider (50 ms). It stores a 1,000 prompts x 3 models run through the API (the run read
back), then the database is filled (bench/corpus.py) to each size in turn: older runs of
realistic sizes. At each size, a run of 10,000 prompts x 3 is submitted and, while the
dispatcher writes its answers, `--readers` concurrent clients (httpx) ask for each of these
in turn (a slow one cannot slow the others' figures):

- `GET /runs/{id}`: the 3,000-pair run, its first page (100 prompts side by side);
- `GET /runs?limit=50`: the newest runs, and a keyset page from the middle (`cursor`);
- `GET /runs?q=quokka`: a word in one answer in a thousand, and `?q=the`, in nearly all.
- the same two searches as if asked for the first time: each request another text
  (`quokka or unseen17`), so the service knows no run's match for it yet (it keeps them).

for `--seconds` each; then the writing run is cancelled and deleted, so each size is what it
says. Before that, each request is made once in-process and the statements the service sends
for it are explained (EXPLAIN (ANALYZE, BUFFERS)): the buffers they touch are its cost to the
database, which other work on the machine does not change. Prints p50/p95 and buffers per
request and size, and how they grow from the smaller size to the larger.

Statistics: autovacuum is off on this machine and the fill leaves the tables unanalyzed, so
by default nothing is analyzed, as the service must cope with (its queries are shaped to need
no statistics; tests/db/test_query_plans.py checks their plans). `--analyze` runs ANALYZE
after each fill, to compare.
"""

import argparse
import asyncio
import itertools
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
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import create_engine, create_sessionmaker
from app.db.tables import RunRow
from app.runs.repository import RunFilters
from app.runs.service import encode_cursor, get_detail, list_page
from bench import corpus
from bench.harness import (
    FakeProvider,
    fresh_database,
    load_average,
    machine,
    model_names,
    prompts,
    service,
    write_catalogue,
)
from tests.support.query_plans import explain, recording

MODELS = model_names(3)


@dataclass(frozen=True)
class Request:
    name: str
    path: str
    read: Callable[[AsyncSession], Awaitable[object]]  # the same, in-process
    fresh: bool = False  # a search asked for the first time at each request (`path` + a number)

    def next_path(self, counter: "itertools.count[int]") -> str:
        return f"{self.path}{next(counter)}" if self.fresh else self.path


async def database_buffers(db_url: str, requests: list[Request]) -> dict[str, int]:
    """Per request, the shared buffers its statements touch: what it costs the database,
    which other work on the machine does not change (EXPLAIN (ANALYZE, BUFFERS) of each
    statement the service sends for it, as a custom plan)."""
    engine = create_engine(db_url, pool_size=1)
    sessions = create_sessionmaker(engine)
    connection = await asyncpg.connect(db_url)
    found = {}
    try:
        for request in requests:
            with recording(engine) as sent:
                async with sessions() as session:
                    await request.read(session)
            found[request.name] = 0
            for statement in {s.sql: s for s in sent}.values():
                root = (await explain(connection, statement, "custom")).root
                found[request.name] += root["Shared Hit Blocks"] + root["Shared Read Blocks"]
    finally:
        await connection.close()
        await engine.dispose()
    return found


@dataclass
class Measured:
    size: int
    load: str
    written_per_s: float
    latencies: dict[str, list[float]]
    errors: dict[str, int]
    buffers: dict[str, int]


def percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def _middle_cursor(db_url: str) -> str:
    """A `cursor` for the page starting halfway down the list of runs."""
    connection = await asyncpg.connect(db_url)
    try:
        count = await connection.fetchval("SELECT count(*) FROM runs")
        row = await connection.fetchrow(
            "SELECT id, created_at FROM runs ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1",
            count // 2,
        )
    finally:
        await connection.close()
    assert row is not None
    return encode_cursor(RunRow(id=row["id"], created_at=row["created_at"]))


_FRESH = itertools.count()


async def _read(
    client: httpx.AsyncClient, request: Request, until: float, found: list[float]
) -> int:
    """Ask for `request` again and again until `until`: latencies of answers, failures."""
    failures = 0
    while time.monotonic() < until:
        started = time.perf_counter()
        answer = await client.get(request.next_path(_FRESH))
        if answer.status_code == 200:
            found.append(time.perf_counter() - started)
        else:
            failures += 1
    return failures


async def measure_reads(
    url: str, requests: list[Request], readers: int, seconds: float
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Each request in turn, by every reader at once for `seconds`: a slow one cannot hold up
    the measurement of the others."""
    latencies: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=readers, max_keepalive_connections=readers)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        for request in requests:
            await client.get(request.next_path(_FRESH))  # warm-up, not counted
            until = time.monotonic() + seconds
            found: list[float] = []
            failed = await asyncio.gather(
                *(_read(client, request, until, found) for _ in range(readers))
            )
            latencies[request.name], errors[request.name] = found, sum(failed)
    return latencies, errors


def at_size(
    url: str, db_url: str, size: int, target: uuid.UUID, readers: int, seconds: float
) -> Measured:
    cursor = asyncio.run(_middle_cursor(db_url))

    def listed(text: str | None = None, cursor: str | None = None) -> Callable[..., Any]:
        return lambda s: list_page(s, RunFilters(text=text), 50, cursor)

    rare, common = corpus.RARE, corpus.COMMON
    requests = [
        Request(
            "`GET /runs/{id}` (3,000 pairs, first page)",
            f"/runs/{target}",
            lambda s: get_detail(s, target, 0, 100),
        ),
        Request("`GET /runs?limit=50` (newest)", "/runs?limit=50", listed()),
        Request(
            "`GET /runs?limit=50&cursor=` (middle)",
            f"/runs?limit=50&cursor={cursor}",
            listed(cursor=cursor),
        ),
        Request(f"`GET /runs?q={rare}` (1 answer in 1,000)", f"/runs?q={rare}", listed(rare)),
        Request(
            f"`GET /runs?q={common}` (nearly every answer)", f"/runs?q={common}", listed(common)
        ),
        # The same searches as if never asked before: each time another text (`or` a word
        # nobody wrote), so no run's match for it is known yet (app/runs/repository.py).
        Request(
            f"`GET /runs?q={rare} or …` (first time)",
            f"/runs?q={rare} or unseen",
            listed(f"{rare} or unseen"),
            fresh=True,
        ),
        Request(
            f"`GET /runs?q={common} or …` (first time)",
            f"/runs?q={common} or unseen",
            listed(f"{common} or unseen"),
            fresh=True,
        ),
    ]
    buffers = asyncio.run(database_buffers(db_url, requests))
    with httpx.Client(base_url=url, timeout=120) as client:
        accepted = client.post(
            "/compare",
            json={"prompts": prompts(10_000, f"writer {size}"), "models": MODELS},
        )
        accepted.raise_for_status()
        writer = accepted.json()["id"]
        time.sleep(1)  # the dispatcher is under way
        before = client.get(f"/runs/{writer}", params={"prompt_limit": 1}).json()["counts"]
        load = load_average()
        started = time.monotonic()
        latencies, errors = asyncio.run(measure_reads(url, requests, readers, seconds))
        after = client.get(f"/runs/{writer}", params={"prompt_limit": 1}).json()["counts"]
        if after["queued"] == 0:
            print("  warning: the writing run ran out of work before the readers stopped")
        written_per_s = (after["succeeded"] - before["succeeded"]) / (time.monotonic() - started)
        client.post(
            f"/runs/{writer}/cancel", headers={"X-Requested-With": "bench"}
        ).raise_for_status()
        client.get(f"/runs/{writer}", params={"wait": 60, "prompt_limit": 1})
        client.delete(f"/runs/{writer}").raise_for_status()
    measured = Measured(size, load, written_per_s, latencies, errors, buffers)
    for request in requests:
        times = latencies.get(request.name, [])
        print(
            f"  {size:>9,} rows: {request.name:<52} {buffers[request.name]:>7,} buffers "
            f"n={len(times):>4} "
            f"p50 {percentile(times, 50) * 1000:7.1f} ms  p95 {percentile(times, 95) * 1000:7.1f}"
            f" ms  errors {errors.get(request.name, 0)}"
            if times
            else f"  {size:>9,} rows: {request.name}: {buffers[request.name]:,} buffers, "
            f"no answer, {errors.get(request.name)} errors",
            flush=True,
        )
    print(f"  (the writing run stored {written_per_s:.0f} pairs/s meanwhile; load {load})")
    return measured


def table(results: list[Measured], readers: int, analyzed: bool) -> str:
    small, large = results[0], results[-1]
    head = " | ".join(f"{m.size:,}: p50 / p95; buffers" for m in results)
    lines = [
        f"{readers} concurrent readers while a run is written "
        f"({', '.join(f'{m.written_per_s:.0f}' for m in results)} pairs/s); tables "
        f"{'analyzed after each fill' if analyzed else 'never analyzed'}; load average "
        f"{', '.join(m.load for m in results)}; buffers: what one request's statements touch:",
        "",
        f"| request | {head} | {large.size:,} / {small.size:,}: p50; buffers |",
        "|---|" + "---|" * (len(results) + 1),
    ]
    for name in small.latencies:
        cells = []
        for m in results:
            times = m.latencies.get(name, [])
            failed = f" ({m.errors[name]} failed)" if m.errors.get(name) else ""
            timing = (
                f"{percentile(times, 50) * 1000:.0f} / {percentile(times, 95) * 1000:.0f} ms"
                if times
                else "all failed"
            )
            cells.append(f"{timing}{failed}; {m.buffers[name]:,}")
        growth = "–"
        if small.latencies.get(name) and large.latencies.get(name):
            ratio = percentile(large.latencies[name], 50) / percentile(small.latencies[name], 50)
            growth = f"{ratio:.1f}×"
        growth += f"; {large.buffers[name] / max(small.buffers[name], 1):.1f}×"
        lines.append(f"| {name} | {' | '.join(cells)} | {growth} |")
    return "\n".join(lines)


async def _fill(
    db_url: str, target: uuid.UUID, pairs: int, span: tuple[datetime, datetime], analyze: bool
) -> int:
    connection = await asyncpg.connect(db_url)
    try:
        started = time.perf_counter()
        filled = await corpus.fill(connection, target, pairs, *span)
        if analyze:
            await connection.execute("ANALYZE")
        total: int = await connection.fetchval("SELECT count(*) FROM responses")
        print(
            f"  filled {filled.responses:,} responses in {filled.runs:,} runs in "
            f"{time.perf_counter() - started:.0f} s: {total:,} in all",
            flush=True,
        )
        return total
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument(
        "--writer-per-model", type=int, default=4, help="the writing run's calls in flight"
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--analyze", action="store_true", help="ANALYZE after each fill")
    args = parser.parse_args()

    print(f"machine: {machine()}; load average {load_average()}", flush=True)
    results: list[Measured] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeProvider(50) as fake,
        fresh_database("llmc_reads") as db_url,
    ):
        catalogue = Path(tmp) / "catalogue.json"
        write_catalogue(catalogue, fake.url, MODELS, args.writer_per_model)
        with service(db_url, catalogue, Path(tmp), args.workers) as svc:
            with httpx.Client(base_url=svc.url, timeout=600) as client:
                accepted = client.post(
                    "/compare", json={"prompts": prompts(1000, "read back"), "models": MODELS}
                )
                accepted.raise_for_status()
                target = uuid.UUID(accepted.json()["id"])
                client.get(f"/runs/{target}", params={"wait": 300, "prompt_limit": 1})
            now = datetime.now(UTC)
            rows = 3000
            for k, size in enumerate(sorted(args.sizes)):
                span = (now - timedelta(days=400 - 100 * k), now - timedelta(days=300 - 100 * k))
                rows = asyncio.run(_fill(db_url, target, size - rows, span, args.analyze))
                results.append(at_size(svc.url, db_url, size, target, args.readers, args.seconds))

    print()
    print(f"Measured with `python -m bench.reads {' '.join(sys.argv[1:])}`".rstrip() + ":")
    print()
    print(table(results, args.readers, args.analyze))


if __name__ == "__main__":
    main()

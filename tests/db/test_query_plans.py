"""The queue, the export and the reads of a run keep plans that read what they return and
little more, however stale or missing the planner's statistics: autovacuum is disabled on
the tables, and each case runs never analyzed, analyzed while the tables held one small
finished run (stale), and analyzed at the end (fresh), as custom plans and as the generic
plan asyncpg's cached statements switch to. Assertions are on rows read, not on time.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.sql import Executable

from app.db.engine import create_engine, create_sessionmaker
from app.db.tables import RunRow
from app.dispatch import budget, cache, queue
from app.history import repository as history_repo
from app.runs import export, repository
from app.runs import repository as runs_repo
from app.runs.repository import RunFilters
from tests.support.database import admin, database_url
from tests.support.query_plans import PLAN_MODES, PlanMode, Statement, explain, only, recording

# Starts service processes, loads real models or works through a lot: `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow

BACKLOG_RUNS, BACKLOG_PROMPTS = 4, 25_000  # x 2 contenders: 200,000 queued pairs, 4 models
EXPORT_PROMPTS = 50_000  # x 2 contenders: 100,000 answered pairs
RUNNING = 100  # pairs in flight, all in the last backlog run
CLAIM = 256
RUNNING_TOKEN = uuid.UUID(int=0x70CE)  # the claim that holds them
FLAGGED_EVERY = 100  # prompts, of which one has a flagged answer

EXPORT_RUN = uuid.UUID(int=0xE0)
ENDED_RUN = uuid.UUID(int=0xE1)  # every pair answered, the run not yet marked finished
BACKLOG = [uuid.UUID(int=g) for g in range(1, BACKLOG_RUNS + 1)]


def _run(run_id: uuid.UUID, status: str, models: list[str], prompts: int) -> str:
    contenders = ", ".join(
        f'{{"label": "c{i}", "model": "{m}", "template": "raw"}}' for i, m in enumerate(models)
    )
    array = ", ".join(f"'{m}'" for m in models)
    return (
        "INSERT INTO runs (id, status, params, contenders, models, prompt_count) VALUES "
        f"('{run_id}', '{status}', '{{}}', '[{contenders}]', ARRAY[{array}], {prompts})"
    )


def _prompts(run_id: uuid.UUID, prompts: int) -> str:
    return (
        "INSERT INTO prompts (run_id, position, key, text) SELECT "
        f"'{run_id}', p, 'k' || p, 'prompt ' || p FROM generate_series(0, {prompts - 1}) p"
    )


def _answered(run_id: uuid.UUID, prompts: int) -> str:
    """Answered pairs; one prompt in FLAGGED_EVERY has an answer flagged `truncated`."""
    return (
        "INSERT INTO responses (run_id, prompt_position, contender_index, model, status, "
        "rendered_prompt, output, finish_reason, attempts, finished_at, flags, fingerprint) "
        f"SELECT '{run_id}', p, c, 'm' || c, 'succeeded', 'prompt ' || p, 'answer ' || p, "
        f"'stop', 1, now(), CASE WHEN p % {FLAGGED_EVERY} = 0 AND c = 1 "
        "THEN '{truncated}'::text[] ELSE '{}' END, "
        f"{_fingerprint(run_id)} "
        f"FROM generate_series(0, {prompts - 1}) p, generate_series(0, 1) c ORDER BY p, c"
    )


def _fingerprint(run_id: uuid.UUID) -> str:
    """Each answered pair's fingerprint, as SQL over its prompt `p` and contender `c`."""
    return f"md5('{run_id}' || ':' || p || ':' || c)::uuid"


async def _fill(connection: asyncpg.Connection, statistics: str) -> None:
    """Answered history first (the lowest ids), then the backlog, as in a service's life."""
    for table in ("runs", "prompts", "responses"):
        await connection.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    if statistics == "stale":
        small = uuid.UUID(int=0x5)
        for sql in (_run(small, "succeeded", ["m0", "m1"], 500), _prompts(small, 500)):
            await connection.execute(sql)
        await connection.execute(_answered(small, 500))
        await connection.execute("ANALYZE")
    await connection.execute(_run(EXPORT_RUN, "succeeded", ["m0", "m1"], EXPORT_PROMPTS))
    await connection.execute(_prompts(EXPORT_RUN, EXPORT_PROMPTS))
    await connection.execute(_answered(EXPORT_RUN, EXPORT_PROMPTS))
    await connection.execute(_run(ENDED_RUN, "running", ["m0", "m1"], 10))
    await connection.execute(_prompts(ENDED_RUN, 10))
    await connection.execute(_answered(ENDED_RUN, 10))
    for g, run_id in enumerate(BACKLOG):
        models = [f"m{g % 4}", f"m{(g + 1) % 4}"]
        await connection.execute(_run(run_id, "running", models, BACKLOG_PROMPTS))
        await connection.execute(_prompts(run_id, BACKLOG_PROMPTS))
    await connection.execute(
        "INSERT INTO responses (run_id, prompt_position, contender_index, model, status, "
        "rendered_prompt) SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(g), 12, '0'))::uuid,"
        " p, c, 'm' || ((g - 1 + c) % 4), 'queued', 'prompt ' || p "
        f"FROM generate_series(1, {BACKLOG_RUNS}) g, generate_series(0, {BACKLOG_PROMPTS - 1}) p,"
        " generate_series(0, 1) c ORDER BY g, p, c"
    )
    await connection.execute(
        f"UPDATE responses SET status = 'running', lease_token = '{RUNNING_TOKEN}', "
        "lease_expires_at = now() + interval '1 hour' WHERE run_id = $1 AND prompt_position < $2",
        BACKLOG[-1],
        RUNNING // 2,
    )
    if statistics == "fresh":
        await connection.execute("ANALYZE")
    else:
        found = await connection.fetchval(
            "SELECT count(*) FROM pg_stats WHERE tablename = 'responses' AND attname = 'model'"
        )
        assert found == (1 if statistics == "stale" else 0)


@dataclass(frozen=True)
class Lab:
    engine: AsyncEngine
    connection: asyncpg.Connection


@pytest.fixture(scope="module", params=["none", "stale", "fresh"])
async def lab(request: pytest.FixtureRequest, template_database: str) -> AsyncIterator[Lab]:
    name = f"llmc_plans_{uuid.uuid4().hex[:12]}"
    await admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    connection = await asyncpg.connect(database_url(name))
    engine = create_engine(database_url(name), pool_size=1)
    try:
        await _fill(connection, request.param)
        yield Lab(engine, connection)
    finally:
        await engine.dispose()
        await connection.close()
        await admin(f'DROP DATABASE "{name}" WITH (FORCE)')


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


async def _execute(connection: AsyncConnection, statements: tuple[Executable, ...]) -> None:
    for statement in statements:
        await connection.execute(statement)


@pytest.mark.parametrize("mode", PLAN_MODES)
async def test_a_claim_reads_only_the_pairs_it_takes(lab: Lab, mode: PlanMode) -> None:
    sent = await _sent(lab.engine, lambda c: queue.claim(c, "m1", CLAIM, lease_s=30))
    plan = await explain(lab.connection, only(sent, "UPDATE responses"), mode)
    assert plan.root["Actual Rows"] == CLAIM
    assert "Sort" not in plan.node_types(), plan
    (walk,) = [n for n in plan.nodes() if n.get("Index Name") == "ix_responses_queued"]
    assert "model" in walk["Index Cond"]
    # The queue index's rows, then each claimed row again through the primary key: nothing
    # else, where a sort would read all 50,000 queued rows of the model and a walk of the
    # primary key would pass the 100,000 answered ones first.
    assert plan.rows_read("responses") <= 2 * CLAIM, plan


@pytest.mark.parametrize("mode", PLAN_MODES)
async def test_an_export_page_reads_only_its_prompts_and_their_pairs(
    lab: Lab, mode: PlanMode
) -> None:
    async with create_sessionmaker(lab.engine)() as session:
        run = await session.get(RunRow, EXPORT_RUN)
    assert run is not None
    pages = export.page_bounds(run)
    assert len(pages) == 2 * EXPORT_PROMPTS // 1000
    for first, stop in (pages[0], pages[len(pages) // 2], pages[-1]):
        prompts, answers = repository.export_page_queries(run.id, (), first, stop)
        sent = await _sent(lab.engine, partial(_execute, statements=(prompts, answers)))
        prompts_plan = await explain(lab.connection, only(sent, "FROM prompts"), mode)
        answers_plan = await explain(lab.connection, only(sent, "FROM responses"), mode)
        assert prompts_plan.root["Actual Rows"] == stop - first
        assert answers_plan.root["Actual Rows"] == 2 * (stop - first)
        assert prompts_plan.rows_read("prompts") == stop - first, prompts_plan
        assert answers_plan.rows_read("responses") == 2 * (stop - first), answers_plan
        for node in answers_plan.scans_of("responses"):
            bounds = node.get("Index Cond") or node.get("Recheck Cond") or ""
            assert "prompt_position >=" in bounds, node
            assert "prompt_position <" in bounds, node


@pytest.mark.parametrize("mode", PLAN_MODES)
async def test_a_claimed_batch_is_looked_up_in_the_cache_one_probe_a_pair(
    lab: Lab, mode: PlanMode
) -> None:
    running = await lab.connection.fetch(
        "SELECT id, run_id, prompt_position FROM responses WHERE status = 'running' ORDER BY id"
    )
    assert len(running) == RUNNING
    # Half of them asked what an answered pair of the export run asked, half something new.
    known = await lab.connection.fetch(
        "SELECT fingerprint FROM responses WHERE run_id = $1 AND prompt_position >= 30000 "
        f"ORDER BY prompt_position, contender_index LIMIT {RUNNING // 2}",
        EXPORT_RUN,
    )
    fingerprints = [row["fingerprint"] for row in known]
    fingerprints += [uuid.uuid4() for _ in range(RUNNING - len(fingerprints))]
    jobs = [
        queue.Job(row["id"], row["run_id"], 0, "prompt", 0, RUNNING_TOKEN, 0, fingerprint)
        for row, fingerprint in zip(running, fingerprints, strict=True)
    ]
    sent = await _sent(lab.engine, lambda c: cache.answer_from_cache(c, jobs))
    plan = await explain(lab.connection, only(sent, "UPDATE responses"), mode)
    assert plan.root["Actual Rows"] == RUNNING // 2, plan
    assert any(n.get("Index Name") == "ix_responses_cache" for n in plan.nodes()), plan
    # A probe of the cache index a pair (its answer, or none), and the claimed row itself.
    assert plan.rows_read("responses") <= 2 * RUNNING, plan


async def _finish(connection: AsyncConnection, run_id: uuid.UUID) -> None:
    await queue.finish_runs(connection, [run_id])


async def _reads(connection: AsyncConnection, read: Callable[..., Awaitable[object]]) -> None:
    sessions = create_sessionmaker(connection.engine)
    async with sessions(bind=connection) as session:
        await read(session)


async def _search(session: AsyncSession, text: str, limit: int) -> None:
    """GET /runs?q=, as it reads a first time: each run's match for the text not yet known."""
    runs_repo.VERDICTS.clear()
    await runs_repo.list_runs(session, RunFilters(text=text), limit, None)


async def _identities(session: AsyncSession) -> None:
    """Pairing a run's prompts with another's: every prompt, a page at a time."""
    found = [x async for x in history_repo.prompt_identities(session, EXPORT_RUN, EXPORT_PROMPTS)]
    assert len(found) == EXPORT_PROMPTS


FLAGGED_PAGE = list(range(40_000, 50_000, FLAGGED_EVERY))

# Each case: the work, which of its statements to explain, and how many rows of the
# responses table (or prompts) its plan may read at most.
CASES: dict[str, tuple[Callable[[AsyncConnection], Awaitable[object]], str, str, int]] = {
    "a run with every pair answered ends": (
        lambda c: _finish(c, ENDED_RUN),
        "NOT (EXISTS",
        "responses",
        0,
    ),
    "a run with work left goes on": (
        lambda c: _finish(c, BACKLOG[0]),
        "NOT (EXISTS",
        "responses",
        1,
    ),
    # A claim of a budgeted run's pairs sums the worst case of those in flight: those of
    # the run only, none of its 49,900 queued pairs.
    "a budgeted run's pairs in flight are summed": (
        lambda c: budget.in_flight_usd(c, [BACKLOG[-1]], uuid.uuid4()),
        "FROM responses",
        "responses",
        RUNNING,
    ),
    "leases are renewed": (
        lambda c: queue.renew(c, [uuid.uuid4()], lease_s=30),
        "UPDATE responses",
        "responses",
        RUNNING,
    ),
    "lapsed leases are found": (
        lambda c: queue.requeue_expired(c, max_lost_leases=3),
        "UPDATE responses",
        "responses",
        RUNNING,
    ),
    "a page of prompts is shown": (
        lambda c: _reads(c, lambda s: runs_repo.prompts_page(s, EXPORT_RUN, 40_000, 100)),
        "FROM prompts",
        "prompts",
        100,
    ),
    # GET /runs?q= a word in 100,000 answers: the page's runs probed one by one, each probe
    # stopping at its run's first match (an answer, or a prompt), never reading the matches.
    "a search probes each run of the page": (
        lambda c: _reads(c, lambda s: _search(s, "answer", 10)),
        "EXISTS",
        "responses",
        10,
    ),
    # A word nobody wrote: after a few pages of probes, its matches (none) are read instead.
    "a search for a rare word reads its matches": (
        lambda c: _reads(c, lambda s: _search(s, "quokka", 1)),
        "UNION",
        "responses",
        0,
    ),
    "a run's contenders are summed up": (
        lambda c: _reads(c, lambda s: runs_repo.contender_stats(s, ENDED_RUN)),
        "FROM responses",
        "responses",
        20,
    ),
    "a run's samples are compared": (
        lambda c: _reads(c, lambda s: runs_repo.sample_outputs(s, ENDED_RUN, [0, 1])),
        "FROM responses",
        "responses",
        20,
    ),
    "their answers are shown": (
        lambda c: _reads(
            c, lambda s: runs_repo.responses_for_prompts(s, EXPORT_RUN, 40_000, 40_099)
        ),
        "FROM responses",
        "responses",
        200,
    ),
    # ?flag=: the 100 flagged prompts after 40,000 of 50,000 (the page asks for 101), read
    # through ix_responses_flagged, where the unique index would read 20,000 answers.
    "a page of flagged prompts is found": (
        lambda c: _reads(
            c, lambda s: runs_repo.flagged_prompts(s, EXPORT_RUN, ["truncated"], 40_000, 101)
        ),
        "FROM responses",
        "responses",
        100,
    ),
    # A flag no answer has: every flagged answer after the offset is read, and no other.
    "no prompt has the flag": (
        lambda c: _reads(
            c, lambda s: runs_repo.flagged_prompts(s, EXPORT_RUN, ["refusal"], 40_000, 101)
        ),
        "FROM responses",
        "responses",
        100,
    ),
    "the flagged prompts are shown": (
        lambda c: _reads(c, lambda s: runs_repo.prompts_at(s, EXPORT_RUN, FLAGGED_PAGE)),
        "FROM prompts",
        "prompts",
        100,
    ),
    "with their answers": (
        lambda c: _reads(c, lambda s: runs_repo.responses_at(s, EXPORT_RUN, FLAGGED_PAGE, 2)),
        "FROM responses",
        "responses",
        200,
    ),
    # A diff pairs the prompts of its two runs: each page reads its range of one run's.
    "a diff pairs the prompts": (
        lambda c: _reads(c, _identities),
        "FROM prompts",
        "prompts",
        history_repo.IDENTITY_PAGE,
    ),
    "an export page's flagged prompts are found": (
        lambda c: c.execute(
            repository.flagged_prompts_query(EXPORT_RUN, ["truncated"], 20_000, 20_500)
        ),
        "FROM responses",
        "responses",
        5,
    ),
}


@pytest.mark.parametrize("mode", PLAN_MODES)
@pytest.mark.parametrize("case", list(CASES))
async def test_queue_and_run_reads_stay_within_what_they_need(
    lab: Lab, case: str, mode: PlanMode
) -> None:
    work, starting, table, most = CASES[case]
    sent = await _sent(lab.engine, work)
    plan = await explain(lab.connection, only(sent, starting), mode)
    assert plan.rows_read(table) <= most, plan


async def test_claims_drain_a_large_backlog_each_pair_once_oldest_first(db_url: str) -> None:
    connection = await asyncpg.connect(db_url)
    engine = create_engine(db_url, pool_size=2)
    try:
        await _fill(connection, "none")
        expected = [
            row["id"]
            for row in await connection.fetch(
                "SELECT id FROM responses WHERE model = 'm1' AND status = 'queued' "
                "ORDER BY created_at, id"
            )
        ]
        assert len(expected) == 2 * BACKLOG_PROMPTS
        batches: list[set[int]] = []
        while True:
            async with engine.begin() as c:
                jobs = await queue.claim(c, "m1", 1000, lease_s=60)
            if not jobs:
                break
            batches.append({job.id for job in jobs})
            if len(batches) == len(expected) // 2000:
                # Halfway, with 25,000 pairs claimed ahead of the rest: still only what it takes.
                sent = await _sent(engine, lambda c: queue.claim(c, "m1", CLAIM, lease_s=60))
                for mode in PLAN_MODES:
                    plan = await explain(connection, only(sent, "UPDATE responses"), mode)
                    assert "Sort" not in plan.node_types(), plan
                    assert plan.rows_read("responses") <= 2 * CLAIM, plan
        assert [len(batch) for batch in batches] == [1000] * (len(expected) // 1000)
        for k, batch in enumerate(batches):
            assert batch == set(expected[1000 * k : 1000 * (k + 1)])
    finally:
        await engine.dispose()
        await connection.close()

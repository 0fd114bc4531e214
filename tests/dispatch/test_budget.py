"""Budgets kept by claims: whatever number of claimers race for a budgeted run's pairs, the
pairs they hold never cost more, at their worst, than the budget has left; once nothing is
in flight, the pairs that cannot fit end `cancelled` and the run `partial`."""

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db.engine import create_engine
from app.dispatch import queue
from app.dispatch.budget import Budget, Taken, fit
from app.dispatch.queue import Job, Outcome
from tests.support.app import serve
from tests.support.catalogues import OUTPUT_PER_MTOK, priced_catalogue
from tests.support.fakes.openai_server import FakeOpenAI

RUN = uuid.uuid4()
PAIR = 4 * OUTPUT_PER_MTOK / 1e6  # the worst case of a pair cut at 4 tokens


def test_pairs_fit_in_order_and_those_that_never_can_are_cancelled() -> None:
    budget = Budget(RUN, budget_usd=1.0, cost_usd=0.25)
    taken = [Taken(i, RUN, 0.25) for i in range(4)]
    assert fit(budget, 0.0, taken).requeue == [3]  # three fit; the fourth waits for them
    assert fit(budget, 0.5, taken).requeue == [1, 2, 3]
    assert fit(budget, 0.75, taken).requeue == [0, 1, 2, 3]  # some may fit once paid for
    spent = Budget(RUN, budget_usd=1.0, cost_usd=0.9)
    assert fit(spent, 0.0, taken).cancel == [0, 1, 2, 3]  # nothing in flight: never
    unknown = Budget(RUN, budget_usd=1.0, cost_usd=None)
    assert fit(unknown, 0.0, taken).cancel == [0, 1, 2, 3]


async def _claim_all(engine: AsyncEngine) -> list[Job]:
    jobs: list[Job] = []
    while True:
        async with engine.begin() as connection:
            claimed = await queue.claim(connection, "priced", 2, lease_s=60)
        if not claimed:
            return jobs
        jobs += claimed


async def test_racing_claimers_hold_no_more_than_the_budget(
    tmp_path: Path, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI, db_url: str
) -> None:
    settings = make_settings(
        catalogue_file=priced_catalogue(tmp_path, fake_openai.url), dispatcher_enabled=False
    )
    body = {
        "prompts": [f"prompt {i}" for i in range(10)],
        "models": ["priced"],
        "params": {"max_new_tokens": 4},
        "budget_usd": 5.5 * PAIR,
    }
    engine = create_engine(db_url, pool_size=4)
    try:
        async with serve(settings) as client:
            run_id = (await client.post("/compare", json=body)).json()["id"]
            claims = await asyncio.gather(*(_claim_all(engine) for _ in range(4)))
            held = [job for jobs in claims for job in jobs]
            assert len(held) == 5  # 5 worst cases fit in the budget, a sixth does not
            assert len({job.id for job in held}) == 5
            run = (await client.get(f"/runs/{run_id}")).json()
            assert (run["status"], run["counts"]["queued"]) == ("running", 5)

            # Paid at their worst case; with nothing in flight, no other pair can fit.
            outcomes = [
                Outcome(j.id, j.run_id, j.lease_token, "succeeded", output="x", cost_usd=PAIR)
                for j in held
            ]
            async with engine.begin() as connection:
                await queue.record(connection, outcomes)
                assert await queue.finish_runs(connection, [held[0].run_id]) == []
            assert await _claim_all(engine) == []
            run = (await client.get(f"/runs/{run_id}")).json()
            assert run["status"] == "partial"
            assert (run["counts"]["succeeded"], run["counts"]["cancelled"]) == (5, 5)
            assert run["cost_usd"] <= run["budget_usd"]
    finally:
        await engine.dispose()
    assert fake_openai.requests == []

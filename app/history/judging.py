"""A model judging run `b`'s answers against run `a`'s: `POST /runs/{a}/diff/{b}/judge`.

The pairs are the diff's (app/history/diff.py `pair_runs`): an answer of `a` and its paired
answer in `b` (paired prompt, paired contenders, each contender's first sample, both
succeeded). Everything else is the run judge's (app/judging/judge.py): the prompt, both
orders of each pair, the judging run through the queue, and settling its answers into votes,
here votes across the two runs (app/history/wins.py) that the diff's `win_rate` counts.
"""

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.access.caller import OPEN, Caller
from app.db.engine import transaction
from app.db.tables import ResponseRow
from app.errors import ConflictError, InvalidFieldError
from app.history.diff import PairedRuns, pair_runs
from app.history.schemas import DiffJudgeRequest
from app.judging import judge
from app.judging import judgements as store
from app.judging.judge import Pair
from app.judging.judgements import Answer
from app.runs.schemas import RunSummary
from app.state import ServiceState

# Paired prompts whose answers are read a statement at a time.
_BATCH = 500


async def start(
    state: ServiceState,
    a_id: uuid.UUID,
    b_id: uuid.UUID,
    request: DiffJudgeRequest,
    caller: Caller = OPEN,
) -> RunSummary:
    """The judging run, in `a`'s project: both orders of each paired answer this judge has
    not judged yet, within `max_prompts` paired prompts."""
    if a_id == b_id:
        raise InvalidFieldError(
            f"run {a_id} judged against itself: POST /runs/{a_id}/judge judges a run's own answers",
            field="b",
        )
    plan = judge.plan(state, request)
    await judge.settle_judged(state.engine, [a_id, b_id])
    async with transaction(state.sessions) as session:
        connection = await session.connection()
        for run_id in sorted((a_id, b_id)):
            await store.lock_judging_of(connection, run_id)
        paired = await pair_runs(session, a_id, b_id, request.map)
        found = await _pairs_to_judge(
            connection, session, paired, request, state.settings.max_prompts
        )
        if not found:
            raise ConflictError(
                f"runs {a_id} and {b_id} have no pair of succeeded paired answers left for "
                f"{request.judge} to judge: no prompt or contender pairs, or every pair was "
                "judged by it already (`again`: judge them again)"
            )
        orders = await judge.orders_of(connection, found)
        a, b = paired.run_a, paired.run_b
        judging = await judge.ask(
            state,
            session,
            plan,
            request,
            orders,
            name=f"judge {plan.spec.name}: {b.name or b.id} against {a.name or a.id}",
            judged_run_id=a_id,
            caller=caller,
        )
    return judge.started(state, judging, len(orders))


async def _pairs_to_judge(
    connection: AsyncConnection,
    session: AsyncSession,
    paired: PairedRuns,
    request: DiffJudgeRequest,
    max_calls: int,
) -> list[Pair]:
    """The paired answers to judge, in `a`'s prompt order, until `max_prompts` prompts have
    some or the pairs end."""
    judged = (
        set()
        if request.again
        else await store.pairs_across_being_judged(
            connection, (paired.run_a.id, paired.run_b.id), request.judge
        )
    )
    picking = judge.Picking(request.max_prompts, max_calls, "paired answer", "`map` fewer")
    pairs = paired.prompts.pairs
    for k in range(0, len(pairs), _BATCH):
        answers_a, answers_b = await paired.answers(session, pairs[k : k + _BATCH])
        for pa, pb in pairs[k : k + _BATCH]:
            found = [
                (x, y)
                for i, j in paired.contenders.pairs
                if (x := answers_a.get((pa, i, 0))) is not None
                and (y := answers_b.get((pb, j, 0))) is not None
                and x.status == y.status == "succeeded"
                and frozenset((x.id, y.id)) not in judged
            ]
            if not picking.take([(_answer(x), _answer(y)) for x, y in found]):
                return picking.pairs
    return picking.pairs


def _answer(row: ResponseRow) -> Answer:
    return Answer(row.id, row.run_id, row.prompt_position, row.contender_index, row.output or "")

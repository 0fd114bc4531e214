"""A model as judge: a judging run of its own, and its answers turned into votes.

`POST /runs/{id}/judge` makes a run whose only contender is the judge and whose prompts are
judge prompts (app/judging/verdicts.py), two per pair of succeeded answers to a prompt, one in
each order. It is accepted like any run (app/runs/accept.py), in one transaction with its
judgements, the table saying which pair and order each prompt is: from then on the queue,
retries, concurrency limits and durability are those of every run.

The judge's answers become verdicts, and the pairs judged in both orders votes, whenever its
judgements are read (`settle`: the leaderboard, `GET /runs/{id}/judgements`). Reading is a
transaction per judging run, under a lock of that run's own, so an answer is read once, a pair
gets one vote, and a crash in between loses nothing: the answers stay on their rows.
"""

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from itertools import combinations
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.access.caller import OPEN, Caller
from app.access.repository import run_project
from app.db.engine import in_transaction, transaction
from app.db.tables import RunRow
from app.domain import GenerationParams, JudgementStatus, JudgeVerdict, ModelSpec
from app.errors import ConflictError, InvalidFieldError
from app.judging import judgements as store
from app.judging import repository as repo
from app.judging.judgements import Answer
from app.judging.repository import RunState
from app.judging.schemas import (
    JudgementCounts,
    JudgementOut,
    JudgementsOut,
    JudgeRequest,
    JudgeSettings,
    VotedAnswer,
)
from app.judging.service import contender_pair, run_not_found
from app.judging.verdicts import MIN_TEXT_ROOM, RUBRIC, fixed_size, judge_prompt, parse_verdict
from app.runs.accept import store_run
from app.runs.schemas import CompareRequest, ContenderIn, PromptIn, RunSummary
from app.runs.service import summary
from app.state import ServiceState
from app.templates import rendered_size

NO_VERDICT = "no verdict: the judge's answer holds no [[A]], [[B]] or [[C]]"
# Prompts read per query while looking for pairs to judge.
_PROMPT_RANGE = 1000

Pair = tuple[Answer, Answer]  # two answers to a prompt: contenders in run order, or a's then b's


@dataclass(frozen=True)
class Plan:
    """What a judge is asked with: the model, the rubric, the longest prompt it may be sent."""

    spec: ModelSpec
    rubric: str
    max_chars: int


def plan(state: ServiceState, request: JudgeSettings) -> Plan:
    """The judge and rubric of a request, checked: 422 naming `judge` or `rubric`."""
    spec = _judge(state, request.judge)
    rubric = request.rubric or RUBRIC
    return Plan(spec, rubric, _prompt_chars(state, spec, rubric))


@dataclass(frozen=True)
class Order:
    """One judge call: `a` shown as A, `b` as B, both answering `question` (the text of
    `a`'s prompt). `b` may be another run's answer: a judgement across two runs."""

    question: str
    a: Answer
    b: Answer


async def start(
    state: ServiceState, run_id: uuid.UUID, request: JudgeRequest, caller: Caller = OPEN
) -> RunSummary:
    """The judging run, in the judged run's project: both orders of each pair of `run_id`'s
    succeeded answers that this judge has not judged yet, within `max_prompts` prompts."""
    judge = plan(state, request)
    # The answers already given are read first: a pair whose judgements have no verdict is
    # judged again.
    await settle_judged(state.engine, [run_id])
    async with transaction(state.sessions) as session:
        connection = await session.connection()
        await store.lock_judging_of(connection, run_id)
        run = await repo.run_state(connection, run_id)
        if run is None:
            raise run_not_found(run_id)
        pair = contender_pair(run, request.contenders, "contenders")
        found = await _pairs_to_judge(connection, run, request, pair, state.settings.max_prompts)
        if not found:
            raise ConflictError(
                f"run {run_id} has no pair of succeeded answers left for {request.judge} to "
                "judge: fewer than two succeeded answers to any prompt, or every pair was "
                "judged by it already (`again`: judge them again)"
            )
        orders = await orders_of(connection, found)
        judging = await ask(
            state,
            session,
            judge,
            request,
            orders,
            name=f"judge {judge.spec.name}: {run.name or run.id}",
            judged_run_id=run_id,
            caller=caller,
        )
    return started(state, judging, len(orders))


async def orders_of(connection: AsyncConnection, pairs: Sequence[Pair]) -> list[Order]:
    """Both orders of each pair (a judge's position bias cancels out), asked the question of
    the first answer's prompt; the pairs are in its run's prompt order."""
    run_id, first, last = pairs[0][0].run_id, pairs[0][0], pairs[-1][0]
    texts = await store.prompt_texts(
        connection, run_id, first.prompt_position, last.prompt_position + 1
    )
    return [Order(texts[x.prompt_position], *order) for x, y in pairs for order in ((x, y), (y, x))]


async def ask(
    state: ServiceState,
    session: AsyncSession,
    judge: Plan,
    request: JudgeSettings,
    orders: Sequence[Order],
    name: str,
    judged_run_id: uuid.UUID,
    caller: Caller,
) -> RunRow:
    """The judging run of these orders, and a judgement per order, in the session's
    transaction; the run is `judged_run_id`'s project's and says it judges that run."""
    connection = await session.connection()
    prompts = [
        PromptIn(
            text=judge_prompt(judge.rubric, o.question, o.a.output, o.b.output, judge.max_chars),
            key=f"prompt {o.a.prompt_position}: answer {o.a.id} as A, {o.b.id} as B",
        )
        for o in orders
    ]
    _check_run_size(state, judge.spec, prompts)
    compare = CompareRequest(
        prompts=list(prompts),
        models=[ContenderIn(model=judge.spec.name)],
        params=GenerationParams(temperature=0).merged(request.params),
        cache=request.reuses_answers(),
        name=name[:200],
    )
    judging = await store_run(
        session,
        compare,
        state.catalogue,
        state.settings,
        judges=judged_run_id,
        creator=caller,
        project_id=await run_project(connection, judged_run_id),
    )
    asked = await store.responses_by_prompt(connection, judging.id)
    await store.insert_judgements(
        connection,
        [
            {
                "judging_run_id": judging.id,
                "judge_response_id": asked[i],
                "judged_run_id": o.a.run_id,
                "other_run_id": o.b.run_id if o.b.run_id != o.a.run_id else None,
                "judge": judge.spec.name,
                "prompt_position": o.a.prompt_position,
                "a_response_id": o.a.id,
                "b_response_id": o.b.id,
                "a_contender": o.a.contender_index,
                "b_contender": o.b.contender_index,
            }
            for i, o in enumerate(orders)
        ],
    )
    return judging


def started(state: ServiceState, judging: RunRow, calls: int) -> RunSummary:
    """Once the judging run is committed: the dispatcher woken, and the run's summary."""
    if state.dispatcher is not None:
        state.dispatcher.wake()
    return summary(judging, {"queued": calls})


def _judge(state: ServiceState, name: str) -> ModelSpec:
    spec = state.catalogue.get(name)
    if spec is None:
        raise InvalidFieldError(f"unknown model {name!r}; GET /models lists them", field="judge")
    if reason := state.catalogue.unavailable_reason(spec):
        raise InvalidFieldError(f"model {name!r} is unavailable: {reason}", field="judge")
    return spec


def _prompt_chars(state: ServiceState, spec: ModelSpec, rubric: str) -> int:
    """The longest judge prompt the judge's template keeps within LLM_COMPARE_MAX_PROMPT_CHARS."""
    size = rendered_size(spec.template)
    max_chars = (state.settings.max_prompt_chars - size.fixed) // max(size.uses, 1)
    room = max_chars - fixed_size(rubric) - MIN_TEXT_ROOM
    if room < 0:
        raise InvalidFieldError(
            f"the rubric has {len(rubric)} characters; with the question, the answers and "
            f"{spec.name}'s template, a judge prompt must stay within {max_chars} "
            "(LLM_COMPARE_MAX_PROMPT_CHARS): shorten it by at least "
            f"{-room} characters",
            field="rubric",
        )
    return max_chars


class Picking:
    """Pairs to judge, taken a prompt's at a time while fewer than `max_prompts` prompts have
    some and the judging run holds both orders of each (LLM_COMPARE_MAX_PROMPTS calls)."""

    def __init__(self, max_prompts: int | None, max_calls: int, what: str, narrower: str):
        self.pairs: list[Pair] = []
        self.prompts = 0
        self._max_prompts, self._max_calls = max_prompts, max_calls
        self._what, self._narrower = what, narrower

    def take(self, pairs: Sequence[Pair]) -> bool:
        """Take one prompt's pairs; False once `max_prompts` prompts are taken (not these)."""
        if not pairs:
            return True
        if self._max_prompts is not None and self.prompts == self._max_prompts:
            return False
        if 2 * (len(self.pairs) + len(pairs)) > self._max_calls:
            advice = f"pass max_prompts={self.prompts} or less" if self.prompts else self._narrower
            raise InvalidFieldError(
                f"judging every {self._what} takes more than {self._max_calls} judge calls "
                "(one per order of each pair), more than a run may hold "
                f"(LLM_COMPARE_MAX_PROMPTS): {advice}, and judge the rest in another call "
                "(without `again`, pairs judged already are skipped)",
                field="max_prompts",
            )
        self.pairs.extend(pairs)
        self.prompts += 1
        return True


async def _pairs_to_judge(
    connection: AsyncConnection,
    run: RunState,
    request: JudgeRequest,
    pair: tuple[int, int] | None,
    max_calls: int,
) -> list[Pair]:
    """The pairs to judge, prompt by prompt, a range of prompts at a time, until `max_prompts`
    prompts have pairs or the run ends."""
    picking = Picking(
        request.max_prompts, max_calls, f"pair of run {run.id}", "name two `contenders`"
    )
    for first in range(0, run.prompt_count, _PROMPT_RANGE):
        stop = min(first + _PROMPT_RANGE, run.prompt_count)
        answers = await store.succeeded_answers(connection, run.id, first, stop)
        judged = (
            set()
            if request.again
            else await store.pairs_being_judged(connection, run.id, request.judge, first, stop)
        )
        by_prompt: dict[int, list[Answer]] = defaultdict(list)
        for answer in answers:
            by_prompt[answer.prompt_position].append(answer)
        for _, group in sorted(by_prompt.items()):
            pairs = [
                (lo, hi)
                for lo, hi in combinations(group, 2)
                if (pair is None or (lo.contender_index, hi.contender_index) == pair)
                and frozenset((lo.id, hi.id)) not in judged
            ]
            if not picking.take(pairs):
                return picking.pairs
    return picking.pairs


def _check_run_size(state: ServiceState, spec: ModelSpec, prompts: list[PromptIn]) -> None:
    size = rendered_size(spec.template)
    total = sum(size.of(len(p.text)) for p in prompts)
    if total > state.settings.max_run_chars:
        raise InvalidFieldError(
            f"the judge prompts would add up to {total} characters, more than a run may hold "
            f"({state.settings.max_run_chars}, LLM_COMPARE_MAX_RUN_CHARS): pass a smaller "
            "max_prompts, and judge the rest in another call",
            field="max_prompts",
        )


# Reading the judge's answers


async def settle(engine: AsyncEngine, judging_run_ids: Sequence[uuid.UUID]) -> None:
    """Turn the answers these judging runs' judge gave since last time into verdicts, and each
    pair now judged in both orders into a vote."""
    for judging_run_id in judging_run_ids:
        await in_transaction(engine, partial(_settle, judging_run_id=judging_run_id))


async def settle_judged(engine: AsyncEngine, judged_run_ids: Sequence[uuid.UUID] | None) -> None:
    """`settle` every judging run with judgements pending on these runs (None: on any run)."""
    async with engine.connect() as connection:
        pending = await store.judging_runs_pending(connection, judged_run_ids)
    await settle(engine, pending)


async def _settle(connection: AsyncConnection, judging_run_id: uuid.UUID) -> None:
    await store.lock_settling(connection, judging_run_id)
    answered = await store.answered(connection, judging_run_id)
    if not answered:
        return
    found: list[tuple[int, JudgeVerdict | None, str | None]] = []
    for judgement_id, answer in answered:
        verdict = parse_verdict(answer)
        found.append((judgement_id, verdict, None if verdict else NO_VERDICT))
    await store.record_verdicts(connection, found)
    await store.vote_judged_pairs(connection, judging_run_id)


async def judgements_of(
    state: ServiceState, judging_run_id: uuid.UUID, offset: int, limit: int
) -> JudgementsOut:
    """A judging run's judgements, its judge's answers read first."""
    async with state.engine.connect() as connection:
        found = await store.judged_run_of(connection, judging_run_id)
    if found is None:
        raise run_not_found(judging_run_id)
    judged_run_id, judging_contenders = found
    if judged_run_id is None:
        raise ConflictError(
            f"run {judging_run_id} judges no run (POST /runs/{{id}}/judge makes judging runs), "
            "or the run it judged was deleted"
        )
    await settle(state.engine, [judging_run_id])
    async with state.engine.connect() as connection:
        every = await store.judgements_of(connection, judging_run_id)
        waiting = [j.judge_response_id for j in every if j.status == "pending"]
        statuses = await store.call_statuses(connection, waiting)
        shown = every[offset : offset + limit]
        calls = await store.calls(connection, [j.judge_response_id for j in shown])
        runs = {run for j in shown for run in (j.judged_run_id, j.other_run_id) if run}
        contenders = await repo.contenders_of(connection, sorted(runs))

    def answer(response_id: int, run_id: uuid.UUID, index: int) -> VotedAnswer:
        c: dict[str, Any] = contenders[run_id][index]
        return VotedAnswer(response_id=response_id, label=c["label"], model=c["model"])

    def item(j: store.Judgement) -> JudgementOut:
        call = calls[j.judge_response_id]
        return JudgementOut(
            prompt_index=j.prompt_position,
            a=answer(j.a_response_id, j.judged_run_id, j.a_contender),
            b=answer(j.b_response_id, j.other_run_id or j.judged_run_id, j.b_contender),
            status=_reported(j, call.status),
            verdict=j.verdict,
            error=j.error or call.error,
            judge_output=call.output,
        )

    return JudgementsOut(
        judging_run_id=judging_run_id,
        judged_run_id=judged_run_id,
        other_run_id=next(
            (j.other_run_id for j in every if j.judged_run_id == judged_run_id), None
        ),
        judge=judging_contenders[0]["model"],
        counts=_counts(every, statuses),
        offset=offset,
        items=[item(j) for j in shown],
    )


def _reported(judgement: store.Judgement, call_status: str | None) -> JudgementStatus:
    """As stored, but a pending judgement whose call failed, or was cancelled, has failed."""
    if judgement.status == "pending" and call_status in ("failed", "cancelled"):
        return "failed"
    return cast(JudgementStatus, judgement.status)


def _counts(every: list[store.Judgement], statuses: dict[int, str]) -> JudgementCounts:
    counts: Counter[str] = Counter(_reported(j, statuses.get(j.judge_response_id)) for j in every)
    # The votes settling made: one per pair judged in both orders; a tie if they disagreed.
    winners: defaultdict[frozenset[int], list[int | None]] = defaultdict(list)
    for j in every:
        if j.status == "judged":
            winner = {"a": j.a_response_id, "b": j.b_response_id}.get(j.verdict or "")
            winners[frozenset((j.a_response_id, j.b_response_id))].append(winner)
    pairs = [both for both in winners.values() if len(both) == 2]
    return JudgementCounts(
        **counts,
        votes=len(pairs),
        inconsistent=sum(first != second for first, second in pairs),
    )

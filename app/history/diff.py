"""Two runs compared answer by answer: prompts and contenders paired (app/history/pairing.py),
each paired answer compared, and per contender pair the statistics of app/history/paired.py;
the paired prompts shown a page at a time, like a run's (`GET /runs/{id}`).

Every statistic covers every paired answer, so a diff reads both runs' answers whole, a batch
of prompts at a time; only the page's rows are kept.
"""

import asyncio
import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import ResponseRow, RunRow
from app.diagnostics import FLAGS
from app.domain import Contender
from app.history import repository as history_repo
from app.history import wins
from app.history.paired import (
    FlagChange,
    delta,
    flag_change,
    gate_failures,
    paired_change,
    similarity,
)
from app.history.pairing import (
    AnswerKey,
    ContenderPairs,
    PromptPairs,
    pair_contenders,
    pair_prompts,
)
from app.history.schemas import (
    AnswerDiff,
    ContenderDiff,
    DiffOut,
    FlagChangeOut,
    Gate,
    PairedChangeOut,
    PromptDiff,
    PromptRef,
    Unpaired,
)
from app.history.wins import AnswerPair
from app.judging.judge import settle_judged
from app.judging.repository import votes_across
from app.judging.voters import latest_verdicts
from app.runs import repository as runs_repo
from app.runs.service import get_run, summary
from app.state import ServiceState

# Paired prompts whose answers are read, and compared, a statement at a time.
ANSWER_BATCH = 500
# Unpaired prompts listed, each side.
UNPAIRED_LISTED = 1000
# Answers in these statuses are compared; the others (queued, running, cancelled) are not.
COMPARED_STATUSES = ("succeeded", "failed")
FAILED = "failed"


@dataclass(frozen=True)
class DiffQuery:
    map: Sequence[str] = ()  # `label_in_a:label_in_b`
    only_changed: bool = False
    flags: Sequence[str] = ()
    prompt_offset: int = 0
    prompt_limit: int = 100
    fail_if_changed: float | None = None
    fail_on: Sequence[str] = ()  # flag names, or `failed`


@dataclass
class _Tally:
    """One contender pair's paired answers, as the statistics need them."""

    compared: int = 0
    incomplete: int = 0
    changed: int = 0
    similarities: list[float] = field(default_factory=list)
    flags: list[tuple[frozenset[str], frozenset[str]]] = field(default_factory=list)
    failed: list[tuple[bool, bool]] = field(default_factory=list)
    latency: list[tuple[float | None, float | None]] = field(default_factory=list)
    tokens: list[tuple[float | None, float | None]] = field(default_factory=list)
    answers: set[AnswerPair] = field(default_factory=set)  # what a vote may compare

    def add(self, x: ResponseRow, y: ResponseRow, answer: AnswerDiff) -> None:
        if answer.same is None:
            self.incomplete += 1
            return
        self.answers.add((x.id, y.id))
        self.compared += 1
        self.changed += not answer.same
        if answer.similarity is not None:
            self.similarities.append(answer.similarity)
        if x.flags is not None and y.flags is not None:
            self.flags.append((frozenset(x.flags), frozenset(y.flags)))
        self.failed.append((x.status == FAILED, y.status == FAILED))
        self.latency.append((x.latency_ms, y.latency_ms))
        self.tokens.append((x.completion_tokens, y.completion_tokens))

    def changes(self) -> dict[str, FlagChange]:
        """Every flag's change, and `failed`'s."""
        found = {
            flag: flag_change(
                [flag in a for a, _ in self.flags], [flag in b for _, b in self.flags]
            )
            for flag in FLAGS
        }
        found[FAILED] = flag_change([a for a, _ in self.failed], [b for _, b in self.failed])
        return found


def answer_diff(label_a: str, label_b: str, x: ResponseRow, y: ResponseRow) -> AnswerDiff:
    """One paired answer: `x` in run a, `y` in run b."""
    complete = x.status in COMPARED_STATUSES and y.status in COMPARED_STATUSES
    answered = x.output is not None and y.output is not None
    fa, fb = x.flags or [], y.flags or []
    diagnosed = x.flags is not None and y.flags is not None
    return AnswerDiff(
        label_a=label_a,
        label_b=label_b,
        sample=x.sample,
        same=(x.status == y.status and x.output == y.output) if complete else None,
        similarity=similarity(x.output or "", y.output or "") if answered else None,
        flags_gained=[f for f in fb if f not in fa] if diagnosed else [],
        flags_lost=[f for f in fa if f not in fb] if diagnosed else [],
        response_id_a=x.id,
        response_id_b=y.id,
        status_a=x.status,
        status_b=y.status,
        output_a=x.output,
        output_b=y.output,
        finish_reason_a=x.finish_reason,
        finish_reason_b=y.finish_reason,
        flags_a=x.flags,
        flags_b=y.flags,
        completion_tokens_delta=(
            None
            if x.completion_tokens is None or y.completion_tokens is None
            else y.completion_tokens - x.completion_tokens
        ),
        latency_ms_delta=delta(x.latency_ms, y.latency_ms),
    )


Rows = list[tuple[int, int, list[AnswerDiff]]]  # a's position, b's, the answers compared


def _compare_batch(
    pairs: Sequence[tuple[int, int]],
    answers_a: dict[AnswerKey, ResponseRow],
    answers_b: dict[AnswerKey, ResponseRow],
    labels: Sequence[tuple[int, int, str, str]],
    tallies: Sequence[_Tally],
) -> Rows:
    """Each paired prompt's answers compared, and counted into each contender pair's tally."""
    rows: Rows = []
    for pa, pb in pairs:
        answers: list[AnswerDiff] = []
        for (i, j, label_a, label_b), tally in zip(labels, tallies, strict=True):
            # Sample k of one run with sample k of the other, while both runs have it.
            for sample in itertools.count():
                x, y = answers_a.get((pa, i, sample)), answers_b.get((pb, j, sample))
                if x is None or y is None:
                    break
                answer = answer_diff(label_a, label_b, x, y)
                tally.add(x, y, answer)
                answers.append(answer)
        rows.append((pa, pb, answers))
    return rows


def _kept(answers: Sequence[AnswerDiff], query: DiffQuery) -> bool:
    if query.only_changed and not any(a.same is False for a in answers):
        return False
    if query.flags:
        wanted = set(query.flags)
        return any(wanted & {*(a.flags_a or ()), *(a.flags_b or ())} for a in answers)
    return True


async def _answers(
    session: AsyncSession, run_id: uuid.UUID, positions: Sequence[int], per_prompt: int
) -> dict[AnswerKey, ResponseRow]:
    rows = await runs_repo.responses_at(session, run_id, positions, per_prompt)
    return {(r.prompt_position, r.contender_index, r.sample): r for r in rows}


def _per_prompt(contenders: Sequence[Contender]) -> int:
    return sum(c.samples for c in contenders)


def _contenders(run: RunRow) -> list[Contender]:
    return [Contender.model_validate(c) for c in run.contenders]


@dataclass(frozen=True)
class PairedRuns:
    """Two runs, and which of their prompts and contenders pair."""

    run_a: RunRow
    run_b: RunRow
    ca: list[Contender]
    cb: list[Contender]
    contenders: ContenderPairs
    prompts: PromptPairs

    async def answers(
        self, session: AsyncSession, batch: Sequence[tuple[int, int]]
    ) -> tuple[dict[AnswerKey, ResponseRow], dict[AnswerKey, ResponseRow]]:
        """The answers to these paired prompts, in `a` and in `b`."""
        a = await _answers(session, self.run_a.id, [pa for pa, _ in batch], _per_prompt(self.ca))
        b = await _answers(session, self.run_b.id, [pb for _, pb in batch], _per_prompt(self.cb))
        return a, b


async def pair_runs(
    session: AsyncSession, a_id: uuid.UUID, b_id: uuid.UUID, given: Sequence[str]
) -> PairedRuns:
    """The two runs (404 if either is unknown) paired, contenders by label or `given` map."""
    run_a, run_b = await get_run(session, a_id), await get_run(session, b_id)
    ca, cb = _contenders(run_a), _contenders(run_b)
    contenders = pair_contenders([c.label for c in ca], [c.label for c in cb], given)
    prompts = pair_prompts(
        [x async for x in history_repo.prompt_identities(session, a_id, run_a.prompt_count)],
        [x async for x in history_repo.prompt_identities(session, b_id, run_b.prompt_count)],
    )
    return PairedRuns(run_a, run_b, ca, cb, contenders, prompts)


async def diff(
    state: ServiceState, session: AsyncSession, a_id: uuid.UUID, b_id: uuid.UUID, query: DiffQuery
) -> DiffOut:
    """Run `b` against run `a`: per contender pair the statistics, and a page of the paired
    prompts (those `query` keeps) from `prompt_offset`, an index of `a`'s prompts."""
    paired = await pair_runs(session, a_id, b_id, query.map)
    run_a, run_b, ca, cb = paired.run_a, paired.run_b, paired.ca, paired.cb
    contenders, prompts = paired.contenders, paired.prompts
    # The judge's answers so far become votes first (their own transactions).
    await settle_judged(state.engine, [a_id, b_id])
    labels = [(i, j, ca[i].label, cb[j].label) for i, j in contenders.pairs]
    tallies = [_Tally() for _ in labels]
    page: Rows = []
    next_offset: int | None = None
    for k in range(0, len(prompts.pairs), ANSWER_BATCH):
        batch = prompts.pairs[k : k + ANSWER_BATCH]
        answers_a, answers_b = await paired.answers(session, batch)
        # Similarities take CPU in proportion to the answers' lengths: not on the event loop.
        rows = await asyncio.to_thread(_compare_batch, batch, answers_a, answers_b, labels, tallies)
        for row in rows:
            if row[0] < query.prompt_offset or next_offset is not None:
                continue
            if _kept(row[2], query):
                if len(page) < query.prompt_limit:
                    page.append(row)
                else:
                    next_offset = row[0]
    changes = [t.changes() for t in tallies]
    across = latest_verdicts(await votes_across(await session.connection(), (a_id, b_id)))
    records = wins.tally(across, a_id, [t.answers for t in tallies])
    return DiffOut(
        a=summary(run_a),
        b=summary(run_b),
        paired_prompts=len(prompts.pairs),
        contenders=[
            _contender_diff(ca[i], cb[j], tally, change, record, wins.no_votes(a_id, b_id))
            for (i, j), tally, change, record in zip(
                contenders.pairs, tallies, changes, records, strict=True
            )
        ],
        unpaired=await _unpaired(session, run_a, run_b, prompts.only_a, prompts.only_b, contenders),
        gate=_gate(labels, tallies, changes, query),
        prompts=await _page(session, a_id, page),
        prompt_offset=query.prompt_offset,
        next_prompt_offset=next_offset,
    )


def _contender_diff(
    a: Contender,
    b: Contender,
    tally: _Tally,
    changes: dict[str, FlagChange],
    record: wins.VoteTally,
    no_votes: str,
) -> ContenderDiff:
    similarities = tally.similarities
    win_rate = record.all.rate()
    return ContenderDiff(
        label_a=a.label,
        label_b=b.label,
        model_a=a.model,
        model_b=b.model,
        pairs=tally.compared,
        incomplete=tally.incomplete,
        changed=tally.changed,
        changed_share=tally.changed / tally.compared if tally.compared else None,
        mean_similarity=sum(similarities) / len(similarities) if similarities else None,
        flags={flag: FlagChangeOut.model_validate(changes[flag]) for flag in FLAGS},
        failed=FlagChangeOut.model_validate(changes[FAILED]),
        latency_ms=PairedChangeOut.model_validate(
            paired_change([a for a, _ in tally.latency], [b for _, b in tally.latency])
        ),
        completion_tokens=PairedChangeOut.model_validate(
            paired_change([a for a, _ in tally.tokens], [b for _, b in tally.tokens])
        ),
        worse=[name for name, change in changes.items() if change.worse],
        win_rate=win_rate,
        win_rate_reason=None if win_rate else no_votes,
        win_rate_by_voter={
            voter: rate for voter, r in sorted(record.by_voter.items()) if (rate := r.rate())
        },
    )


def _gate(
    labels: Sequence[tuple[int, int, str, str]],
    tallies: Sequence[_Tally],
    changes: Sequence[dict[str, FlagChange]],
    query: DiffQuery,
) -> Gate:
    failures: list[str] = []
    for (_, _, label_a, label_b), tally, change in zip(labels, tallies, changes, strict=True):
        name = label_a if label_a == label_b else f"{label_a} → {label_b}"
        failures += [
            f"{name}: {reason}"
            for reason in gate_failures(
                {flag: change[flag] for flag in query.fail_on},
                changed_share=tally.changed / tally.compared if tally.compared else None,
                max_changed_share=query.fail_if_changed,
            )
        ]
    return Gate(passed=not failures, failures=failures)


async def _page(session: AsyncSession, run_id: uuid.UUID, rows: Rows) -> list[PromptDiff]:
    found = await runs_repo.prompts_at(session, run_id, [pa for pa, _, _ in rows])
    prompts = {p.position: p for p in found}
    return [
        PromptDiff(
            index_a=pa,
            index_b=pb,
            key=prompts[pa].key,
            text=prompts[pa].text,
            answers=answers,
        )
        for pa, pb, answers in rows
    ]


async def _listed(
    session: AsyncSession, run_id: uuid.UUID, positions: list[int]
) -> list[PromptRef]:
    found = await runs_repo.prompts_at(session, run_id, positions[:UNPAIRED_LISTED])
    return [PromptRef(index=p.position, key=p.key, text=p.text) for p in found]


async def _unpaired(
    session: AsyncSession,
    run_a: RunRow,
    run_b: RunRow,
    only_a: list[int],
    only_b: list[int],
    contenders: ContenderPairs,
) -> Unpaired:
    return Unpaired(
        prompts_a=await _listed(session, run_a.id, only_a),
        prompts_b=await _listed(session, run_b.id, only_b),
        prompt_count_a=len(only_a),
        prompt_count_b=len(only_b),
        labels_a=contenders.only_a,
        labels_b=contenders.only_b,
    )

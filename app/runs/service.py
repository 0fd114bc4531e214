"""The rules of runs once accepted: reading them back (summaries for lists, the side-by-side
view of one run) and changing them (cancel, retry the failures, delete)."""

import base64
import binascii
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.db.engine import in_transaction
from app.db.tables import PromptRow, ResponseRow, RunRow, counts_of
from app.diagnostics import FLAGS
from app.domain import FINISHED_STATUSES, Contender, GenerationParams
from app.errors import ConflictError, InvalidFieldError, NotFoundError
from app.fields import utc_datetime
from app.lru import LRU
from app.runs import aggregates
from app.runs import repository as runs_repo
from app.runs.schemas import (
    ContenderStats,
    KeyRef,
    PromptOut,
    ResponseOut,
    RunDetail,
    RunPage,
    RunSummary,
    SampleAgreementOut,
    StatusCounts,
)
from app.similarity import pooled_agreement
from app.state import ServiceState

_STORED_RESPONSE_FIELDS = tuple(
    f for f in ResponseOut.model_fields if f not in ("label", "template", "cached")
)


def _counts(by_status: dict[str, int]) -> StatusCounts:
    """`by_status` may also say how many were `cached`: those are among the succeeded."""
    total = sum(n for status, n in by_status.items() if status != "cached")
    return StatusCounts(**by_status, total=total)


def summary(run: RunRow | Row[Any], by_status: dict[str, int] | None = None) -> RunSummary:
    """The summary of a run, or of a row of its SUMMARY_COLUMNS; its counts as stored on it
    unless given."""
    if by_status is None:
        by_status = counts_of(run.tallied)
    return RunSummary(
        id=run.id,
        status=run.status,
        name=run.name,
        tags=run.tags,
        created_at=run.created_at,
        finished_at=run.finished_at,
        models=[c["label"] for c in run.contenders],
        prompt_count=run.prompt_count,
        counts=_counts(by_status),
        judges=run.judges,
        cost_usd=run.cost_usd,
        budget_usd=run.budget_usd,
        parent_id=run.parent_id,
        created_by=(
            KeyRef(name=run.created_by_key_name, prefix=run.created_by_key_prefix)
            if run.created_by_key_name is not None and run.created_by_key_prefix is not None
            else None
        ),
    )


async def get_summary(session: AsyncSession, run_id: uuid.UUID) -> RunSummary:
    run = await get_run(session, run_id)
    # Read again: this session may have written the run's pairs (accepting it), or have
    # read the run before (waiting for it to finish), and the triggers changed the counts.
    await session.refresh(run, attribute_names=["tallied"])
    return summary(run)


async def get_run(session: AsyncSession, run_id: uuid.UUID) -> RunRow:
    run = await runs_repo.get_run(session, run_id)
    if run is None:
        raise _not_found(run_id)
    return run


def _not_found(run_id: uuid.UUID) -> NotFoundError:
    return NotFoundError(f"no run with id {run_id}")


def encode_cursor(run: RunRow | Row[Any], order: runs_repo.RunOrder = "-created_at") -> str:
    if order == "-created_at":
        raw = f"{run.created_at.isoformat()}|{run.id}"
    else:
        raw = f"{order}|{run.cost_usd!r}|{run.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order: runs_repo.RunOrder = "-created_at") -> tuple[Any, uuid.UUID]:
    """The sort value and id a cursor of `order` holds."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if order == "-created_at":
            created_at, run_id = raw.split("|")
            return utc_datetime(datetime.fromisoformat(created_at)), uuid.UUID(run_id)
        sort, cost, run_id = raw.split("|")
        if sort != order:
            raise ValueError(sort)
        return float(cost), uuid.UUID(run_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidFieldError(
            f"not a cursor this API returned for sort={order}", field="cursor"
        ) from exc


async def list_page(
    session: AsyncSession,
    filters: runs_repo.RunFilters,
    limit: int,
    cursor: str | None,
    order: runs_repo.RunOrder = "-created_at",
) -> RunPage:
    after = decode_cursor(cursor, order) if cursor else None
    if filters.text is not None and not await runs_repo.is_searchable(session, filters.text):
        raise InvalidFieldError(
            "the search needs a word to find, not only words to leave out (`-word`), "
            "in every alternative of an `or`",
            field="q",
        )
    runs = await runs_repo.list_runs(session, filters, limit + 1, after, order)
    page, more = runs[:limit], len(runs) > limit
    return RunPage(
        items=[summary(run) for run in page],
        next_cursor=encode_cursor(page[-1], order) if more else None,
    )


async def _contender_stats(
    session: AsyncSession, run: RunRow, contenders: list[Contender]
) -> list[ContenderStats]:
    by_status: dict[int, dict[str, int]] = defaultdict(dict)
    p50: dict[int, float | None] = {}
    p95: dict[int, float | None] = {}
    cost: dict[int, float] = defaultdict(float)
    uncosted: Counter[int] = Counter()
    tokens: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    seen_tokens: dict[int, list[bool]] = defaultdict(lambda: [False, False])
    truncated: Counter[int] = Counter()
    diagnosed: Counter[int] = Counter()
    flagged: dict[int, Counter[str]] = defaultdict(Counter)
    for row in await aggregates.contender_rows(session, run):
        i = row["contender"]
        by_status[i][row["status"]] = row["n"]
        if row["cached"]:
            by_status[i]["cached"] = by_status[i].get("cached", 0) + row["cached"]
        if row["status"] == "succeeded":
            p50[i], p95[i] = row["p50"], row["p95"]
        truncated[i] += row["truncated"]
        diagnosed[i] += row["diagnosed"]
        cost[i] += row["cost_usd"] or 0.0
        uncosted[i] += row["uncosted"]
        for flag in FLAGS:
            flagged[i][flag] += row[f"flag_{flag}"]
        for k, value in enumerate((row["prompt_tokens"], row["completion_tokens"])):
            if value is not None:
                tokens[i][k] += value
                seen_tokens[i][k] = True
    agreement = await _sample_agreement(session, run, contenders)
    return [
        ContenderStats(
            **c.model_dump(),
            sample_agreement=agreement.get(i),
            counts=_counts(by_status[i]),
            latency_ms_p50=p50.get(i),
            latency_ms_p95=p95.get(i),
            prompt_tokens=tokens[i][0] if seen_tokens[i][0] else None,
            completion_tokens=tokens[i][1] if seen_tokens[i][1] else None,
            truncated=truncated[i],
            cost_usd=None if c.price is None or uncosted[i] else cost[i],
            flags={flag: flagged[i][flag] for flag in FLAGS},
            diagnosed=diagnosed[i],
        )
        for i, c in enumerate(contenders)
    ]


async def _sample_agreement(
    session: AsyncSession, run: RunRow, contenders: list[Contender]
) -> dict[int, SampleAgreementOut]:
    """Per contender with repeated samples, how alike its samples of each prompt are."""
    sampled = [i for i, c in enumerate(contenders) if c.samples > 1]
    if not sampled:
        return {}
    outputs: dict[int, dict[int, list[str]]] = {i: defaultdict(list) for i in sampled}
    for row in await runs_repo.sample_outputs(session, run.id, sampled):
        outputs[row.contender_index][row.prompt_position].append(row.output or "")
    return {
        i: SampleAgreementOut(**asdict(pooled_agreement(by_prompt.values())))
        for i, by_prompt in outputs.items()
    }


async def get_detail(
    session: AsyncSession,
    run_id: uuid.UUID,
    prompt_offset: int,
    prompt_limit: int,
    flags: Sequence[str] = (),
) -> RunDetail:
    """The run with its prompts in order from `prompt_offset`, each with every contender's
    answer side by side; with `flags`, only the prompts where some answer has one of them."""
    return await _detail(
        session, await get_run(session, run_id), prompt_offset, prompt_limit, flags
    )


async def detail_json(
    session: AsyncSession,
    pages: LRU[bytes],
    run_id: uuid.UUID,
    prompt_offset: int,
    prompt_limit: int,
    flags: Sequence[str] = (),
) -> bytes:
    """`get_detail`, serialized; a finished run's page is kept in `pages` and served again
    while nothing it shows has changed.

    Every change to a run's answers that its page shows moves its answers version (the
    triggers on `responses`), and the rest of the page is the run's summary, immutable
    parameters and prompts, so the page is kept under the run's id, answers version and
    summary, which are read together before it is built: a change committed meanwhile leaves
    it under the older version, never newer content under a newer one. A running run's
    pages are not kept: its version moves with every batch of answers."""
    run = await get_run(session, run_id)
    key = None
    if run.status in FINISHED_STATUSES:
        version, shown = run.answers_version, summary(run).model_dump_json()
        key = (run.id, version, shown, prompt_offset, prompt_limit, tuple(flags))
        if (kept := pages.get(key)) is not None:
            return kept
    detail = await _detail(session, run, prompt_offset, prompt_limit, flags)
    page = detail.model_dump_json().encode()
    if key is not None:
        pages.put(key, page)
    return page


async def _detail(
    session: AsyncSession,
    run: RunRow,
    prompt_offset: int,
    prompt_limit: int,
    flags: Sequence[str],
) -> RunDetail:
    contenders = [Contender.model_validate(c) for c in run.contenders]
    stats = await _contender_stats(session, run, contenders)
    prompts, more = await _prompts_page(session, run, prompt_offset, prompt_limit, flags)
    positions = [p.position for p in prompts]
    rows: Sequence[ResponseRow] | Sequence[Row[Any]]
    if flags:
        per_prompt = sum(c.samples for c in contenders)
        rows = await runs_repo.responses_at(session, run.id, positions, per_prompt)
    elif prompts:
        rows = await runs_repo.responses_for_prompts(session, run.id, positions[0], positions[-1])
    else:
        rows = []
    answers = _answers_by_prompt(rows, contenders)
    counts: dict[str, int] = defaultdict(int)
    for s in stats:
        for status, n in s.counts.model_dump(exclude={"total"}).items():
            counts[status] += n
    labels = [c.label for c in contenders]
    return RunDetail(
        **summary(run, counts).model_dump(),
        params=GenerationParams.model_validate(run.params),
        contenders=stats,
        prompt_offset=prompt_offset,
        next_prompt_offset=positions[-1] + 1 if more and positions else None,
        # One validation for the page's hundreds of answers, not one a model.
        prompts=_PROMPTS.validate_python(
            [
                {
                    "index": p.position,
                    "key": p.key,
                    "text": p.text,
                    "responses": {
                        label: found[0]
                        for label in labels
                        if (found := answers[p.position].get(label)) and found[0]["sample"] == 0
                    },
                    "samples": {
                        c.label: answers[p.position].get(c.label, [])
                        for c in contenders
                        if c.samples > 1
                    },
                }
                for p in prompts
            ]
        ),
    )


_PROMPTS = TypeAdapter(list[PromptOut])


def _answers_by_prompt(
    rows: Sequence[Any], contenders: list[Contender]
) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """Per prompt position and contender label, its answers in sample order, as the fields
    of ResponseOut; `rows` are ORM objects or plain rows of the responses table."""
    answers: dict[int, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    read = _answer_fields(rows)
    for position, index, cached_from, *stored in sorted(map(read, rows), key=_by_sample):
        contender = contenders[index]
        answer = dict(zip(_STORED_RESPONSE_FIELDS, stored, strict=True))
        answer.update(
            label=contender.label, template=contender.template, cached=cached_from is not None
        )
        answers[position][contender.label].append(answer)
    return answers


_READ_FIELDS = ("prompt_position", "contender_index", "cached_from", *_STORED_RESPONSE_FIELDS)
_by_sample = itemgetter(3 + _STORED_RESPONSE_FIELDS.index("sample"))


def _answer_fields(rows: Sequence[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """Reads _READ_FIELDS of each of `rows`: of plain rows by position (a row looks each
    name up slowly: for a page of 300 answers, as long as building them), of ORM objects by
    attribute."""
    if rows and isinstance(rows[0], Row):
        return itemgetter(*(rows[0]._fields.index(name) for name in _READ_FIELDS))
    return attrgetter(*_READ_FIELDS)


async def _prompts_page(
    session: AsyncSession, run: RunRow, offset: int, limit: int, flags: Sequence[str]
) -> tuple[Sequence[PromptRow], bool]:
    """The page's prompts, and whether more come after them."""
    if not flags:
        prompts = await runs_repo.prompts_page(session, run.id, offset, limit)
        return prompts, offset + limit < run.prompt_count
    kept = await runs_repo.flagged_prompts(session, run.id, flags, offset, limit + 1)
    return await runs_repo.prompts_at(session, run.id, kept[:limit]), len(kept) > limit


# Changing a run


async def cancel(state: ServiceState, run_id: uuid.UUID) -> None:
    """Stop the run's queued pairs; those in flight finish, then the run ends `cancelled`.
    Cancelling a cancelled run does nothing; any other finished run is a conflict."""

    async def work(connection: AsyncConnection) -> None:
        status = await runs_repo.run_status(connection, run_id)
        if status is None:
            raise _not_found(run_id)
        if status == "cancelled":
            return
        if status in FINISHED_STATUSES:
            raise ConflictError(f"run {run_id} already finished ({status}); nothing to cancel")
        await runs_repo.cancel(connection, run_id)

    await in_transaction(state.engine, work)
    if state.dispatcher is not None:
        state.dispatcher.drop_cancelled({run_id})
    state.news.progressed([run_id])


async def retry(state: ServiceState, run_id: uuid.UUID) -> int:
    """Queue the run's failed pairs again; returns how many (0 when none failed)."""

    async def work(connection: AsyncConnection) -> int:
        if await runs_repo.run_status(connection, run_id) is None:
            raise _not_found(run_id)
        return await runs_repo.retry_failed(connection, run_id)

    requeued = await in_transaction(state.engine, work)
    if requeued and state.dispatcher is not None:
        state.dispatcher.wake()
    return requeued


async def delete_run(state: ServiceState, run_id: uuid.UUID) -> None:
    """Remove a finished run with its prompts and responses."""

    async def work(connection: AsyncConnection) -> None:
        status = await runs_repo.delete_finished(connection, run_id)
        if status is None:
            raise _not_found(run_id)
        if status not in FINISHED_STATUSES:
            raise ConflictError(
                f"run {run_id} is {status}; cancel it first (POST /runs/{run_id}/cancel)"
            )

    await in_transaction(state.engine, work)

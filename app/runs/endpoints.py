"""The runs' HTTP API: POST /compare accepts a comparison; /runs lists, reads, follows,
exports, cancels, retries and deletes them. Thin: each route parses, calls a service, answers."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sse_starlette import EventSourceResponse

from app import logs
from app.access.auth import CallerDep
from app.diagnostics import Flag
from app.domain import FINISHED_STATUSES, ResponseStatus, RunStatus
from app.errors import problems
from app.fields import Count, Cursor, IdempotencyKey, Name, SearchText, TagFilter, Timestamp
from app.runs import export, replay, service
from app.runs.accept import IDEMPOTENCY_KEY, accept
from app.runs.accept import dry_run as plan
from app.runs.examples import COMPARE_EXAMPLES
from app.runs.progress import run_events, wait_for_run
from app.runs.repository import RunFilters, RunOrder
from app.runs.schemas import (
    CompareRequest,
    DryRun,
    ReplayRequest,
    RunDetail,
    RunPage,
    RunSummary,
)
from app.state import SessionDep, StateDep


async def _run_id(run_id: uuid.UUID) -> uuid.UUID:
    # Async, so it runs in the request's own task and context, not in a worker thread.
    logs.RUN_ID.set(str(run_id))  # every log line of this request names the run
    return run_id


RunId = Annotated[uuid.UUID, Depends(_run_id)]

compare_router = APIRouter(tags=["compare"])
router = APIRouter(prefix="/runs", tags=["runs"])

# Prompts `GET /runs/{id}` shows unless asked for another page (and `POST /compare?wait=`).
DEFAULT_PROMPT_LIMIT = 100


IdempotencyHeader = Annotated[
    IdempotencyKey | None,
    Header(
        alias=IDEMPOTENCY_KEY,
        description="Retrying with the same key and body returns the same run instead of "
        "making a second one; the same key with another body is refused (422).",
    ),
]


@compare_router.post(
    "/compare",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=None,
    summary="Send prompts to several models",
    responses={
        200: {
            "description": "The run finished within `wait` seconds, or the "
            "`Idempotency-Key` was seen before with the same body: the run as "
            f"`GET /runs/{{id}}` shows it (its first {DEFAULT_PROMPT_LIMIT} prompts). With "
            "`dry_run=true`: what the run would send and the most it could cost.",
            "model": RunDetail | DryRun,
        },
        202: {
            "description": "Accepted; `Location` names the run to read back. The body is the "
            "run's summary.",
            "model": RunSummary,
        },
        **problems(400, 402, 413, 415, 422),
    },
)
async def create_comparison(
    body: Annotated[CompareRequest, Body(openapi_examples=COMPARE_EXAMPLES)],
    state: StateDep,
    caller: CallerDep,
    response: Response,
    wait: Annotated[
        float,
        Query(ge=0, description="Seconds to wait for the run to finish (bounded by the server)."),
    ] = 0,
    idempotency_key: IdempotencyHeader = None,
    dry_run: Annotated[
        bool,
        Query(
            description="Only check the request and say what the run would send: pairs, "
            "prompt tokens per contender, max completion tokens and the most it could cost. "
            "Nothing is stored or sent."
        ),
    ] = False,
) -> RunSummary | RunDetail | DryRun:
    """Store every prompt x model pair as queued work, then answer: the work survives a crash
    from the moment this returns. Models answer in the background; read the run back at
    `Location`, or pass `wait` to get the finished run, answers and all, in this response."""
    if dry_run:
        response.status_code = status.HTTP_200_OK
        return plan(body, state.catalogue, state.settings)
    run, replayed = await accept(state, body, idempotency_key, caller=caller)
    response.headers["Location"] = f"/runs/{run.id}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    summary = await wait_for_run(state, run.id, wait)
    if not replayed and summary.status not in FINISHED_STATUSES:
        return summary
    response.status_code = status.HTTP_200_OK
    async with state.sessions() as session:
        return await service.get_detail(session, run.id, 0, DEFAULT_PROMPT_LIMIT)


FlagFilter = Annotated[
    list[Flag] | None,
    Query(
        description="Only the prompts where some contender's answer has one of these flags "
        "(repeat for several; any of them), with all their answers."
    ),
]


def _tags(values: list[str]) -> dict[str, str]:
    return {key: value for key, _, value in (tag.partition(":") for tag in values)}


def as_json(body: BaseModel) -> Response:
    """`body` serialized once, as its route's `response_model` says. Returned as the model,
    FastAPI would dump it, validate the dump against that model and dump it again: for a
    page of 50 runs, more CPU than reading them from the database. (A run's page is
    serialized by its service, which keeps finished runs' pages: `detail_json`.)"""
    return Response(body.model_dump_json(), media_type="application/json")


@router.get(
    "",
    response_model=RunPage,
    summary="List runs, newest first or by cost",
    responses=problems(422),
)
async def list_runs(
    session: SessionDep,
    caller: CallerDep,
    status: Annotated[list[RunStatus] | None, Query(description="Any of these.")] = None,
    q: Annotated[
        SearchText | None,
        Query(
            description="Runs whose prompts or outputs contain these words (whole words, "
            'any case; `"a phrase"`, `or`, `-word` work as in web search).',
        ),
    ] = None,
    model: Annotated[Name | None, Query(description="Runs that sent prompts to it.")] = None,
    tag: Annotated[
        list[TagFilter] | None, Query(description="`key:value`; repeat to require several.")
    ] = None,
    created_after: Annotated[Timestamp | None, Query()] = None,
    created_before: Annotated[Timestamp | None, Query()] = None,
    min_cost_usd: Annotated[
        float | None, Query(ge=0, le=1e9, description="Runs that cost at least this (USD).")
    ] = None,
    max_cost_usd: Annotated[
        float | None, Query(ge=0, le=1e9, description="Runs that cost at most this (USD).")
    ] = None,
    sort: Annotated[
        RunOrder,
        Query(
            description="`-created_at`: newest first; `-cost_usd` / `cost_usd`: the most / "
            "least expensive first, leaving out runs of unknown cost. A run still going may "
            "move between pages of a cost order as its cost grows."
        ),
    ] = "-created_at",
    parent: Annotated[
        uuid.UUID | None, Query(description="The replays of this run (`POST /runs/{id}/replay`).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        Cursor | None,
        Query(description="`next_cursor` of the previous page, with the same `sort`."),
    ] = None,
) -> Response:
    """Keyset pagination: pages stay stable while new runs arrive."""
    filters = RunFilters(
        statuses=status or (),
        model=model,
        tags=_tags(tag or []),
        created_after=created_after,
        created_before=created_before,
        text=q,
        min_cost_usd=min_cost_usd,
        max_cost_usd=max_cost_usd,
        parent=parent,
        project_id=caller.visible_project,
    )
    return as_json(await service.list_page(session, filters, limit, cursor, sort))


@router.get(
    "/{run_id}",
    response_model=RunDetail,
    summary="One run, side by side",
    responses=problems(404, 422),
)
async def get_run(
    run_id: RunId,
    session: SessionDep,
    state: StateDep,
    wait: Annotated[
        float, Query(ge=0, description="Seconds to wait for the run to finish first.")
    ] = 0,
    prompt_offset: Annotated[
        Count,
        Query(
            description="First prompt index to show; with `flag`, the page holds the kept "
            "prompts from this index on. The answer's `next_prompt_offset` is the next page's."
        ),
    ] = 0,
    prompt_limit: Annotated[
        int, Query(ge=1, le=1000, description="Prompts to show (with `flag`: kept prompts).")
    ] = DEFAULT_PROMPT_LIMIT,
    flag: FlagFilter = None,
) -> Response:
    """The run with per-contender aggregates and its prompts in order, each with every
    contender's answer keyed by label."""
    if wait:
        await wait_for_run(state, run_id, wait)
    page = await service.detail_json(
        session, state.pages, run_id, prompt_offset, prompt_limit, flag or ()
    )
    return Response(page, media_type="application/json")


@router.get(
    "/{run_id}/events",
    summary="Progress as server-sent events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "`progress` events while the run advances, then one `end` event; "
            "each event's data is the run summary (status and counts) as JSON.",
            "content": {"text/event-stream": {}},
        },
        **problems(404, 422),
    },
)
async def run_events_stream(run_id: RunId, session: SessionDep, state: StateDep) -> Any:
    first = await service.get_summary(session, run_id)
    await session.close()  # the stream may last hours; it reads on sessions of its own
    return EventSourceResponse(run_events(state, first), ping=15)


@router.get(
    "/{run_id}/responses",
    summary="Export every pair",
    description="One record per prompt x contender, streamed in prompt order, with the "
    "columns " + ", ".join(f"`{c}`" for c in export.COLUMNS) + f". In CSV, `flags` are "
    f"joined by `{export.FLAGS_SEPARATOR}` (empty: none, or no diagnostics).",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One record per prompt x contender, in prompt order, streamed.",
            "content": {"application/x-ndjson": {}, "text/csv": {}},
        },
        **problems(404, 422),
    },
)
async def export_responses(
    run_id: RunId,
    session: SessionDep,
    state: StateDep,
    format: Annotated[export.ExportFormat, Query(description="`jsonl` or `csv`.")] = "jsonl",
    status: Annotated[
        list[ResponseStatus] | None, Query(description="Only pairs in any of these statuses.")
    ] = None,
    flag: FlagFilter = None,
) -> StreamingResponse:
    run = await service.get_run(session, run_id)
    await session.close()
    return StreamingResponse(
        export.export(state.engine, run, format, status or (), flag or ()),
        media_type=export.MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="run-{run_id}.{format}"'},
    )


@router.post(
    "/{run_id}/replay",
    response_model=RunSummary,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Run a run's prompts again",
    responses={
        200: {
            "description": "The `Idempotency-Key` was seen before with the same body and run: "
            "the replay it made.",
            "model": RunSummary,
        },
        202: {"description": "Accepted; `Location` names the new run."},
        **problems(400, 402, 404, 415, 422),
    },
)
async def replay_run(
    run_id: RunId,
    state: StateDep,
    caller: CallerDep,
    response: Response,
    body: ReplayRequest | None = None,
    idempotency_key: IdempotencyHeader = None,
) -> RunSummary:
    """A new run with this run's prompts (texts and keys, in order) and, unless `models` says
    otherwise, its contenders; its `parent_id` names this run. A run still going may be
    replayed: only its prompts are copied, not its answers."""
    run, replayed = await replay.replay(
        state, run_id, body or ReplayRequest(), idempotency_key, caller
    )
    response.headers["Location"] = f"/runs/{run.id}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
        response.status_code = status.HTTP_200_OK
    async with state.sessions() as session:
        return await service.get_summary(session, run.id)


@router.post(
    "/{run_id}/cancel",
    response_model=RunSummary,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Stop a run",
    responses={
        200: {"description": "The run has ended `cancelled`.", "model": RunSummary},
        202: {"description": "Queued pairs cancelled; pairs in flight are finishing."},
        **problems(404, 409, 415, 422),
    },
)
async def cancel_run(
    run_id: RunId, session: SessionDep, state: StateDep, response: Response
) -> RunSummary:
    """Queued pairs are cancelled at once; pairs already sent finish (their answers are kept),
    then the run ends `cancelled`. Cancelling a cancelled run changes nothing."""
    await service.cancel(state, run_id)
    summary = await service.get_summary(session, run_id)
    if summary.status in FINISHED_STATUSES:
        response.status_code = status.HTTP_200_OK
    return summary


@router.post(
    "/{run_id}/retry",
    response_model=RunSummary,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Retry the failed pairs",
    responses={
        200: {"description": "No pair had failed; nothing changed.", "model": RunSummary},
        202: {"description": "The failed pairs are queued again."},
        **problems(404, 415, 422),
    },
)
async def retry_run(
    run_id: RunId, session: SessionDep, state: StateDep, response: Response
) -> RunSummary:
    """Only failed pairs are sent again; answers already given are kept."""
    if not await service.retry(state, run_id):
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/runs/{run_id}"
    return await service.get_summary(session, run_id)


@router.delete(
    "/{run_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a finished run",
    responses=problems(404, 409, 422),
)
async def delete_run(run_id: RunId, state: StateDep) -> None:
    """Removes the run with its prompts and responses. A run still going must be cancelled
    first."""
    await service.delete_run(state, run_id)

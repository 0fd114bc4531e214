"""POST /compare: accept a comparison as queued work."""

from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Response, status
from sqlalchemy.exc import IntegrityError

from app import compare, runs
from app.api.deps import StateDep
from app.api.runs import DEFAULT_PROMPT_LIMIT
from app.db import runs as runs_repo
from app.db.engine import transaction
from app.db.models import Run
from app.errors import InvalidFieldError
from app.fields import IdempotencyKey
from app.schemas import COMPARE_EXAMPLES, CompareRequest, RunDetail, RunSummary, problems
from app.state import ServiceState
from app.waiting import wait_for_run

router = APIRouter(tags=["compare"])

IDEMPOTENCY_KEY = "Idempotency-Key"


async def _earlier_run(state: ServiceState, key: str, body: CompareRequest) -> Run | None:
    """The run an earlier request with this key made; refused if that request differed."""
    async with state.sessions() as session:
        run = await runs_repo.get_run_by_idempotency_key(session, key)
    if run is not None and run.request_digest != compare.request_digest(body):
        raise InvalidFieldError(
            f"this {IDEMPOTENCY_KEY} was already used for run {run.id} with a different "
            "request body; use a new key for a new request",
            field=IDEMPOTENCY_KEY,
        )
    return run


async def _accept(state: ServiceState, body: CompareRequest, key: str | None) -> tuple[Run, bool]:
    """The new run, or the one an earlier request with the same key made (then True)."""
    if key and (earlier := await _earlier_run(state, key, body)):
        return earlier, True
    try:
        async with transaction(state.sessions) as session:
            run = await compare.accept_run(session, body, state.catalogue, state.settings, key)
    except IntegrityError:
        # A concurrent request with the same key committed between our look and our insert.
        if key and (earlier := await _earlier_run(state, key, body)):
            return earlier, True
        raise
    if state.dispatcher is not None:
        state.dispatcher.wake()
    return run, False


@router.post(
    "/compare",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=None,
    summary="Send prompts to several models",
    responses={
        200: {
            "description": "The run finished within `wait` seconds, or the "
            "`Idempotency-Key` was seen before with the same body: the run as "
            f"`GET /runs/{{id}}` shows it (its first {DEFAULT_PROMPT_LIMIT} prompts).",
            "model": RunDetail,
        },
        202: {
            "description": "Accepted; `Location` names the run to read back. The body is the "
            "run's summary.",
            "model": RunSummary,
        },
        **problems(400, 413, 415, 422),
    },
)
async def create_comparison(
    body: Annotated[CompareRequest, Body(openapi_examples=COMPARE_EXAMPLES)],
    state: StateDep,
    response: Response,
    wait: Annotated[
        float,
        Query(ge=0, description="Seconds to wait for the run to finish (bounded by the server)."),
    ] = 0,
    idempotency_key: Annotated[
        IdempotencyKey | None,
        Header(
            alias=IDEMPOTENCY_KEY,
            description="Retrying with the same key and body returns the same run instead of "
            "making a second one; the same key with another body is refused (422).",
        ),
    ] = None,
) -> RunSummary | RunDetail:
    """Store every prompt x model pair as queued work, then answer: the work survives a crash
    from the moment this returns. Models answer in the background; read the run back at
    `Location`, or pass `wait` to get the finished run, answers and all, in this response."""
    run, replayed = await _accept(state, body, idempotency_key)
    response.headers["Location"] = f"/runs/{run.id}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    summary = await wait_for_run(state, run.id, wait)
    if not replayed and summary.status not in runs.FINISHED_STATUSES:
        return summary
    response.status_code = status.HTTP_200_OK
    async with state.sessions() as session:
        return await runs.get_detail(session, run.id, 0, DEFAULT_PROMPT_LIMIT)

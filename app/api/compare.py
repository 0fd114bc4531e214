"""POST /compare: accept a comparison as queued work."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app import compare, runs
from app.api.deps import StateDep
from app.db.engine import transaction
from app.schemas import CompareRequest, RunSummary, problems
from app.waiting import wait_for_run

router = APIRouter(tags=["compare"])


@router.post(
    "/compare",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunSummary,
    summary="Send prompts to several models",
    responses={
        200: {"description": "The run finished within `wait` seconds.", "model": RunSummary},
        202: {"description": "Accepted; `Location` names the run to poll."},
        **problems(413, 422),
    },
)
async def create_comparison(
    body: CompareRequest,
    state: StateDep,
    response: Response,
    wait: Annotated[
        float,
        Query(ge=0, description="Seconds to wait for the run to finish (bounded by the server)."),
    ] = 0,
) -> RunSummary:
    """Store every prompt x model pair as queued work, then answer: the work survives a crash
    from the moment this returns. Models answer in the background; read the run back at
    `Location`, or pass `wait` to get the finished run in this response."""
    async with transaction(state.sessions) as session:
        run = await compare.accept_run(session, body, state.catalogue, state.settings)
    if state.dispatcher is not None:
        state.dispatcher.wake()
    response.headers["Location"] = f"/runs/{run.id}"
    summary = await wait_for_run(state, run.id, wait)
    if summary.status in runs.FINISHED_STATUSES:
        response.status_code = status.HTTP_200_OK
    return summary

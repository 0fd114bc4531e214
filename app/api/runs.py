"""GET /runs and GET /runs/{id}: list, filter and read back comparisons."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app import runs
from app.api.deps import SessionDep, StateDep
from app.db.runs import RunFilters
from app.errors import InvalidFieldError
from app.schemas import RunDetail, RunPage, RunStatus, problems
from app.waiting import wait_for_run

router = APIRouter(prefix="/runs", tags=["runs"])


def _tags(values: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for value in values:
        key, sep, tag_value = value.partition(":")
        if not sep or not key:
            raise InvalidFieldError(f"{value!r} is not key:value", field="tag")
        tags[key] = tag_value
    return tags


@router.get("", response_model=RunPage, summary="List runs, newest first", responses=problems(422))
async def list_runs(
    session: SessionDep,
    status: Annotated[list[RunStatus] | None, Query(description="Any of these.")] = None,
    model: Annotated[str | None, Query(description="Runs that sent prompts to it.")] = None,
    tag: Annotated[
        list[str] | None, Query(description="`key:value`; repeat to require several.")
    ] = None,
    created_after: Annotated[datetime | None, Query()] = None,
    created_before: Annotated[datetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> RunPage:
    """Keyset pagination: pages stay stable while new runs arrive."""
    filters = RunFilters(
        statuses=status or (),
        model=model,
        tags=_tags(tag or []),
        created_after=created_after,
        created_before=created_before,
    )
    return await runs.list_page(session, filters, limit, cursor)


@router.get(
    "/{run_id}",
    response_model=RunDetail,
    summary="One run, side by side",
    responses=problems(404, 422),
)
async def get_run(
    run_id: uuid.UUID,
    session: SessionDep,
    state: StateDep,
    wait: Annotated[
        float, Query(ge=0, description="Seconds to wait for the run to finish first.")
    ] = 0,
    prompt_offset: Annotated[int, Query(ge=0, description="First prompt index to show.")] = 0,
    prompt_limit: Annotated[int, Query(ge=1, le=1000, description="Prompts to show.")] = 100,
) -> RunDetail:
    """The run with per-contender aggregates and its prompts in order, each with every
    contender's answer keyed by label."""
    if wait:
        await wait_for_run(state, run_id, wait)
    return await runs.get_detail(session, run_id, prompt_offset, prompt_limit)

"""The diff page: two runs compared answer by answer (`GET /ui/runs/{a}/diff/{b}`), from the
history's diff service (app/history/diff.py) as the API's `GET /runs/{a}/diff/{b}` calls it."""

import uuid

from fastapi import APIRouter, Request, Response

from app.errors import NotFoundError
from app.history.diff import DiffQuery, diff
from app.state import SessionDep, StateDep
from app.web.forms import DiffPageQuery, read_query
from app.web.pages import UI, error_page, render

router = APIRouter(include_in_schema=False)


@router.get(UI + "/runs/{a}/diff/{b}")
async def diff_page(
    a: str, b: str, request: Request, state: StateDep, session: SessionDep
) -> Response:
    try:
        a_id, b_id = uuid.UUID(a), uuid.UUID(b)
    except ValueError:
        return error_page(request, NotFoundError(f"no runs with ids {a} and {b}"))
    query, errors = read_query(DiffPageQuery, request.query_params)
    wanted = DiffQuery(
        only_changed=query.only == "changed",
        prompt_offset=query.prompt_offset,
        prompt_limit=query.prompt_limit,
    )
    try:
        found = await diff(state, session, a_id, b_id, wanted)
    except NotFoundError as exc:
        return error_page(request, exc)
    judges = [m.name for m in state.catalogue.describe() if m.available]
    return render(request, "diff.html", diff=found, query=query, errors=errors, judges=judges)

"""The pages for people, under /ui: the runs, one run side by side, a new comparison (the
arena and the leaderboard are in app/web/judging.py).

Thin, like the API's routes: each reads its query, calls the same services the API calls
(never the API itself over HTTP) and renders a template. Reading works without JavaScript.
What changes state (new comparison, cancel, retry, judge) is done by the pages' scripts through
the API itself (`POST /compare`, `POST /runs/{id}/cancel`, ...), as JSON, so the service's
protections against forged requests apply to the pages as to any caller. With auth on, the
pages see what the signed-in key sees (app/web/login.py): `authorize` has already refused
another project's run by the path's id; the lists are filtered to the key's project here.
"""

import io
import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request, Response, params
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from app.access.auth import CallerDep
from app.domain import FINISHED_STATUSES, RUN_STATUSES
from app.errors import InvalidFieldError, NotFoundError, ProblemError
from app.prompt_files import InputError, detect_format, read_prompts
from app.runs import service
from app.runs.examples import COMPARE_EXAMPLES
from app.state import SessionDep, StateDep
from app.templates import TEMPLATE_NAMES
from app.web import diffs as diff_pages
from app.web import judging as judging_pages
from app.web import login as login_pages
from app.web.forms import (
    PARAM_INPUTS,
    RUNS_PER_PAGE,
    CompareDraft,
    ContenderDraft,
    RunPageQuery,
    RunsQuery,
    UploadFormat,
    draft_of,
    read_query,
)
from app.web.pages import STATIC_DIR, STATIC_URL, UI, error_page, render
from app.web.views import FLAGS_KNOWN, prompt_rows

router = APIRouter(include_in_schema=False)


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


@router.get("/")
async def home(request: Request) -> Response:
    """A browser goes to the pages; any other caller gets the 404 it always got, pointing
    at the API's description."""
    if _wants_html(request):
        return RedirectResponse(UI, status_code=303)
    raise NotFoundError(
        "nothing here: the API is described at /openapi.json (try it at /docs); "
        "the pages for people are at /ui"
    )


@router.get(UI)
async def runs_page(
    request: Request, session: SessionDep, state: StateDep, caller: CallerDep
) -> Response:
    query, errors = read_query(RunsQuery, request.query_params)
    page = None
    if not errors:
        filters = query.filters(caller.visible_project)
        try:
            page = await service.list_page(session, filters, RUNS_PER_PAGE, query.cursor)
        except InvalidFieldError as exc:
            errors[exc.field or "q"] = exc.detail
    return render(
        request,
        "runs.html",
        status_code=422 if errors else 200,
        query=query,
        errors=errors,
        page=page,
        statuses=RUN_STATUSES,
        finished=FINISHED_STATUSES,
        models=[spec.name for spec in state.catalogue],
    )


@router.get(UI + "/runs/{run_id}")
async def run_page(run_id: str, request: Request, session: SessionDep, state: StateDep) -> Response:
    try:
        wanted = uuid.UUID(run_id)
    except ValueError:
        return error_page(request, NotFoundError(f"no run with id {run_id}"))
    query, errors = read_query(RunPageQuery, request.query_params)
    try:
        run = await service.get_detail(session, wanted, query.prompt_offset, query.prompt_limit)
    except NotFoundError as exc:
        return error_page(request, exc)
    return render(
        request,
        "run.html",
        run=run,
        rows=prompt_rows(run),
        query=query,
        errors=errors,
        finished=run.status in FINISHED_STATUSES,
        flags_known=FLAGS_KNOWN,
        judges=[m.name for m in state.catalogue.describe() if m.available],
    )


@router.get(UI + "/compare")
async def compare_page(request: Request, state: StateDep) -> Response:
    """The form, empty or filled with one of the examples `/docs` offers for `POST /compare`
    (`?example=echo`)."""
    example = request.query_params.get("example", "")
    chosen = COMPARE_EXAMPLES.get(example)
    draft = draft_of(chosen["value"]) if chosen else CompareDraft()
    return render(
        request,
        "compare.html",
        draft=draft,
        empty_contender=ContenderDraft(),
        example=example if chosen else "",
        examples=COMPARE_EXAMPLES,
        models=state.catalogue.describe(),
        templates=TEMPLATE_NAMES,
        params=PARAM_INPUTS,
        max_prompts=state.settings.max_prompts,
        max_contenders=state.settings.max_contenders,
    )


@router.post(UI + "/prompts")
async def read_prompt_file(
    request: Request,
    state: StateDep,
    name: Annotated[str, Query(min_length=1, max_length=255)] = "pasted prompts",
    format: UploadFormat = "auto",
) -> dict[str, object]:
    """The prompts of an uploaded file (the request's body), read by the command line's rules
    (app/prompt_files.py): `{"prompts": [{"text", "key"}], "format"}`, or a 422 naming the
    file's line. The page then sends them to `POST /compare`."""
    body = await request.body()
    fmt = detect_format(name, body[:4096]) if format == "auto" else format
    most = state.settings.max_prompts
    prompts: list[dict[str, str]] = []
    try:
        for prompt in read_prompts(name, fmt, io.BytesIO(body)):
            if len(prompts) == most:
                raise InputError(
                    f"{name}: more than {most} prompts; at most {most} per run "
                    "(split the file into several runs)"
                )
            prompts.append(prompt.as_json())
    except InputError as exc:
        raise InvalidFieldError(str(exc), field="prompts") from None
    if not prompts:
        raise InvalidFieldError(f"{name}: no prompts found", field="prompts")
    return {"prompts": prompts, "format": fmt}


def install_pages(app: FastAPI, dependencies: Sequence[params.Depends] = ()) -> None:
    """The pages and their static files (no route of theirs is in the OpenAPI document);
    `dependencies` guard the pages (not the static files, nor signing in); a page's refusal
    is a page (app/web/login.py `page_problem`)."""
    app.include_router(router, dependencies=dependencies)
    app.include_router(judging_pages.router, dependencies=dependencies)
    app.include_router(diff_pages.router, dependencies=dependencies)
    app.include_router(login_pages.router)
    app.add_exception_handler(ProblemError, login_pages.page_problem)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="ui-static")

"""The history's HTTP API: `GET /runs/{a}/diff/{b}` and `POST /runs/{a}/diff/{b}/judge`. Thin:
parse, call the diff or its judge, answer."""

import uuid
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from app.access.auth import CallerDep
from app.diagnostics import FLAGS, Flag
from app.errors import problems
from app.fields import Count, LabelPair
from app.history import judging
from app.history.diff import FAILED, DiffQuery, diff
from app.history.schemas import DiffJudgeRequest, DiffOut
from app.runs.schemas import RunSummary
from app.state import SessionDep, StateDep

router = APIRouter(prefix="/runs", tags=["history"])

if TYPE_CHECKING:  # a type checker cannot read a Literal built at run time
    GateName = str
else:
    GateName = Literal[(*FLAGS, FAILED)]
"""What a gate may watch: a flag, or `failed` answers."""


@router.get(
    "/{a}/diff/{b}",
    response_model=DiffOut,
    summary="Two runs compared answer by answer",
    responses=problems(404, 422),
)
async def diff_runs(
    a: uuid.UUID,
    b: uuid.UUID,
    state: StateDep,
    session: SessionDep,
    map: Annotated[
        list[LabelPair] | None,
        Query(
            description="`label_in_a:label_in_b`: pair these two contenders (repeat for "
            "several); the others pair by label."
        ),
    ] = None,
    only: Annotated[
        Literal["changed"] | None,
        Query(description="`changed`: only the prompts where some paired answer changed."),
    ] = None,
    flag: Annotated[
        list[Flag] | None,
        Query(
            description="Only the prompts where some answer, in `a` or `b`, has one of "
            "these flags (repeat for several)."
        ),
    ] = None,
    prompt_offset: Annotated[
        Count,
        Query(
            description="First index of `a`'s prompts to show; the page holds the kept paired "
            "prompts from it on. The answer's `next_prompt_offset` is the next page's."
        ),
    ] = 0,
    prompt_limit: Annotated[int, Query(ge=1, le=1000, description="Paired prompts to show.")] = 100,
    fail_if_changed: Annotated[
        float | None,
        Query(ge=0, le=1, description="`gate` fails if a larger share of answers changed."),
    ] = None,
    fail_on_flag: Annotated[
        list[GateName] | None,
        Query(
            description="`gate` fails if this flag (or `failed`) got significantly more "
            "frequent in `b` (exact McNemar, p < 0.05); repeat for several."
        ),
    ] = None,
) -> DiffOut:
    """Prompts pair by `key` (by text where a prompt has none), contenders by label (or
    `map`); each paired answer is compared, and each contender pair summed up: share changed,
    mean similarity, each flag's rate in `a` and `b` with an exact McNemar p-value, latency
    and token deltas, and `b`'s win rate over `a` where votes or judgements compare the
    paired answers. Prompts and contenders without a partner are listed in `unpaired`."""
    query = DiffQuery(
        map=map or (),
        only_changed=only == "changed",
        flags=flag or (),
        prompt_offset=prompt_offset,
        prompt_limit=prompt_limit,
        fail_if_changed=fail_if_changed,
        fail_on=fail_on_flag or (),
    )
    return await diff(state, session, a, b, query)


@router.post(
    "/{a}/diff/{b}/judge",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunSummary,
    summary="Have a model judge b's answers against a's",
    responses={
        202: {"description": "The judging run's summary; `Location` names it."},
        409: {
            "description": "No pair of paired answers is left for this judge to judge.",
            **problems(409)[409],
        },
        **problems(400, 402, 404, 415, 422),
    },
)
async def judge_diff(
    a: uuid.UUID,
    b: uuid.UUID,
    body: DiffJudgeRequest,
    state: StateDep,
    caller: CallerDep,
    response: Response,
) -> RunSummary:
    """A judging run, as `POST /runs/{id}/judge` makes, on the diff's paired answers: each
    succeeded answer of `a` and its partner in `b` (paired prompt and contender, first
    sample), judged in both orders. Its votes count in the diff's `win_rate`, never on the
    leaderboard. Pairs this judge judged already are skipped,
    unless `again`: then they are judged anew, and its latest verdict on a pair counts."""
    summary = await judging.start(state, a, b, body, caller)
    response.headers["Location"] = f"/runs/{summary.id}"
    return summary

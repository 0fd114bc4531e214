"""The history's HTTP API: `GET /runs/{a}/diff/{b}`. Thin: parse, call the diff, answer."""

import uuid
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Query

from app.diagnostics import FLAGS, Flag
from app.errors import problems
from app.fields import Count, LabelPair
from app.history.diff import FAILED, DiffQuery, diff
from app.history.schemas import DiffOut
from app.state import SessionDep

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
    and token deltas. Prompts and contenders without a partner are listed in `unpaired`."""
    query = DiffQuery(
        map=map or (),
        only_changed=only == "changed",
        flags=flag or (),
        prompt_offset=prompt_offset,
        prompt_limit=prompt_limit,
        fail_if_changed=fail_if_changed,
        fail_on=fail_on_flag or (),
    )
    return await diff(session, a, b, query)

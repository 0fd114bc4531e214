"""Replaying a run: a new run with its prompts (texts and keys, in order) and, unless told
otherwise, its contenders, accepted like any comparison (app/runs/accept.py)."""

import uuid

from app.access.caller import OPEN, Caller
from app.db.tables import RunRow
from app.domain import Contender, GenerationParams
from app.runs import repository as runs_repo
from app.runs.accept import accept
from app.runs.schemas import CompareRequest, ContenderIn, ContenderItem, PromptIn, ReplayRequest
from app.runs.service import get_run
from app.state import ServiceState


async def replay(
    state: ServiceState,
    run_id: uuid.UUID,
    body: ReplayRequest,
    key: str | None,
    caller: Caller = OPEN,
) -> tuple[RunRow, bool]:
    """The replay, or the one an earlier request with the same key made (then True). A run
    still going may be replayed: its prompts are all stored from the moment it was accepted."""
    async with state.sessions() as session:
        source = await get_run(session, run_id)
        prompts = await runs_repo.prompts_page(session, run_id, 0, source.prompt_count)
    request = CompareRequest(
        prompts=[PromptIn(text=p.text, key=p.key) for p in prompts],
        models=_models(source, body),
        params=GenerationParams.model_validate(source.params).merged(body.params),
        name=body.name if body.name is not None else source.name,
        tags=body.tags if body.tags is not None else source.tags,
    )
    return await accept(state, request, key, parent=run_id, caller=caller)


def _models(source: RunRow, body: ReplayRequest) -> list[ContenderItem]:
    """The contenders asked for, or the run's own with the new params on top of theirs."""
    if body.models is not None:
        return body.models
    contenders = [Contender.model_validate(c) for c in source.contenders]
    return [
        ContenderIn(
            model=c.model, label=c.label, template=c.template, params=c.params.merged(body.params)
        )
        for c in contenders
    ]

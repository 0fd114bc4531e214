"""Accepting a comparison: validate it against the catalogue, render, store it as queued work,
once per Idempotency-Key."""

import hashlib
import uuid
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import tracing
from app.access.caller import OPEN, Caller
from app.catalogue.service import Catalogue
from app.config import Settings
from app.db.engine import transaction
from app.db.tables import RunRow
from app.dispatch.notifications import notify_work
from app.domain import Contender, GenerationParams
from app.errors import InvalidFieldError
from app.runs import repository as runs_repo
from app.runs.costs import ContenderCosts, check_budget, contender_costs, total_max_cost
from app.runs.fingerprint import Fingerprints
from app.runs.schemas import CompareRequest, ContenderIn, DryRun, DryRunContender, PromptIn
from app.runs.spending import enforce_budgets
from app.state import ServiceState
from app.templates import RenderedPrompt, render, rendered_size
from app.tokens import tokenizer

IDEMPOTENCY_KEY = "Idempotency-Key"


def _prompts(request: CompareRequest, settings: Settings) -> list[PromptIn]:
    if len(request.prompts) > settings.max_prompts:
        raise InvalidFieldError(
            f"{len(request.prompts)} prompts; at most {settings.max_prompts} per run "
            "(split the batch into several runs)",
            field="prompts",
        )
    prompts = [PromptIn(text=p) if isinstance(p, str) else p for p in request.prompts]
    for i, prompt in enumerate(prompts):
        if len(prompt.text) > settings.max_prompt_chars:
            raise InvalidFieldError(
                f"prompt has {len(prompt.text)} characters; at most {settings.max_prompt_chars}",
                field=_prompt_field(request, i),
            )
    return prompts


def _prompt_field(request: CompareRequest, i: int) -> str:
    return f"prompts[{i}]" if isinstance(request.prompts[i], str) else f"prompts[{i}].text"


def _contender(
    i: int, given: str | ContenderIn, request: CompareRequest, catalogue: Catalogue
) -> Contender:
    wanted = ContenderIn(model=given) if isinstance(given, str) else given
    where = f"models[{i}]" if isinstance(given, str) else f"models[{i}].model"
    spec = catalogue.get(wanted.model)
    if spec is None:
        raise InvalidFieldError(
            f"unknown model {wanted.model!r}; GET /models lists the catalogue", field=where
        )
    if reason := catalogue.unavailable_reason(spec):
        raise InvalidFieldError(f"model {wanted.model!r} is unavailable: {reason}", field=where)
    template = wanted.template or spec.template
    if problem := catalogue.template_problem(spec, template):
        raise InvalidFieldError(problem, field=f"models[{i}].template")
    label = wanted.label or (
        spec.name if template == spec.template else f"{spec.name} [{template}]"
    )
    params = spec.params.merged(request.params).merged(wanted.params)
    return Contender(
        label=label,
        model=spec.name,
        template=template,
        params=params,
        cache=request.cache if wanted.cache is None else wanted.cache,
        samples=wanted.samples or request.samples,
        price=spec.price,
    )


def resolve_contenders(
    request: CompareRequest, catalogue: Catalogue, settings: Settings
) -> list[Contender]:
    """Each requested model bound to its catalogue entry, template, label and params."""
    if len(request.models) > settings.max_contenders:
        raise InvalidFieldError(
            f"{len(request.models)} models; at most {settings.max_contenders} per run",
            field="models",
        )
    contenders: list[Contender] = []
    for i, given in enumerate(request.models):
        template = given.template if isinstance(given, ContenderIn) else None
        if template is not None and len(template) > settings.max_template_chars:
            raise InvalidFieldError(
                f"template has {len(template)} characters; at most {settings.max_template_chars}",
                field=f"models[{i}].template",
            )
        contender = _contender(i, given, request, catalogue)
        if any(c.label == contender.label for c in contenders):
            raise InvalidFieldError(
                f"label {contender.label!r} is used twice; give this contender its own `label`",
                field=f"models[{i}].label" if isinstance(given, ContenderIn) else f"models[{i}]",
            )
        contenders.append(contender)
    return contenders


def _check_rendered_sizes(
    request: CompareRequest,
    prompts: list[PromptIn],
    contenders: list[Contender],
    settings: Settings,
) -> None:
    """Refuse, before rendering anything, a prompt that its template makes longer than
    `max_prompt_chars`, and a run whose rendered prompts add up to more than `max_run_chars`."""
    lengths = [len(p.text) for p in prompts]
    longest, total_prompt_chars = max(lengths), sum(lengths)
    run_chars = 0
    for j, contender in enumerate(contenders):
        size = rendered_size(contender.template)
        if size.of(longest) > settings.max_prompt_chars:
            i = next(i for i, n in enumerate(lengths) if size.of(n) > settings.max_prompt_chars)
            raise InvalidFieldError(
                f"prompt {i} has {size.of(lengths[i])} characters once rendered with the "
                f"template of contender {contender.label!r} (models[{j}]); "
                f"at most {settings.max_prompt_chars}",
                field=_prompt_field(request, i),
            )
        run_chars += (size.fixed * len(prompts) + size.uses * total_prompt_chars) * (
            contender.samples
        )
    if run_chars > settings.max_run_chars:
        samples = sum(c.samples for c in contenders)
        raise InvalidFieldError(
            f"the run's rendered prompts would add up to {run_chars} characters "
            f"({len(prompts)} prompts x {len(contenders)} contenders"
            f"{f', {samples} samples in all' if samples > len(contenders) else ''}); at most "
            f"{settings.max_run_chars} per run (split the batch into several runs)",
            field="prompts",
        )


def request_digest(request: CompareRequest, parent: uuid.UUID | None = None) -> str:
    """Equal for requests with the same content, however their JSON was spaced or ordered;
    a replay's also names the run it replays, so that its key means that run's replay only."""
    content: Any = request.model_dump(mode="json")
    if parent is not None:
        content = {"replay_of": str(parent), "request": content}
    canonical = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


async def accept(
    state: ServiceState,
    request: CompareRequest,
    key: str | None,
    parent: uuid.UUID | None = None,
    caller: Caller = OPEN,
) -> tuple[RunRow, bool]:
    """The new run, in the caller's project, or the one an earlier request with the same key
    made (then True). The same key with another body is refused: its caller meant another
    run. `parent` names the run a replay was made from."""
    digest = request_digest(request, parent)
    if key and (earlier := await _earlier_run(state, key, digest, caller)):
        return earlier, True
    try:
        async with transaction(state.sessions) as session:
            run = await store_run(
                session,
                request,
                state.catalogue,
                state.settings,
                key,
                parent=parent,
                creator=caller,
            )
    except IntegrityError:
        # A concurrent request with the same key committed between our look and our insert.
        if key and (earlier := await _earlier_run(state, key, digest, caller)):
            return earlier, True
        raise
    if state.dispatcher is not None:
        state.dispatcher.wake()
    return run, False


async def _earlier_run(state: ServiceState, key: str, digest: str, caller: Caller) -> RunRow | None:
    """The run an earlier request with this key made; refused if that request differed (or
    came from another project: its run is not the caller's to see)."""
    async with state.sessions() as session:
        run = await runs_repo.get_run_by_idempotency_key(session, key)
    if run is not None and not caller.sees(run.project_id):
        raise InvalidFieldError(
            f"this {IDEMPOTENCY_KEY} was already used in another project; use a new key for "
            "a new request",
            field=IDEMPOTENCY_KEY,
        )
    if run is not None and run.request_digest != digest:
        raise InvalidFieldError(
            f"this {IDEMPOTENCY_KEY} was already used for run {run.id} with a different "
            "request body; use a new key for a new request",
            field=IDEMPOTENCY_KEY,
        )
    return run


def _validated(
    request: CompareRequest, catalogue: Catalogue, settings: Settings
) -> tuple[list[PromptIn], list[Contender], list[list[RenderedPrompt]]]:
    """The prompts, the contenders, and each contender's rendered prompts, once valid."""
    prompts = _prompts(request, settings)
    contenders = resolve_contenders(request, catalogue, settings)
    _check_rendered_sizes(request, prompts, contenders, settings)
    by_template: dict[str, list[RenderedPrompt]] = {}
    for c in contenders:  # contenders of one template share its rendered prompts
        if c.template not in by_template:
            by_template[c.template] = [render(c.template, p.text) for p in prompts]
    return prompts, contenders, [by_template[c.template] for c in contenders]


def _costs(
    contenders: list[Contender], rendered: list[list[RenderedPrompt]], catalogue: Catalogue
) -> list[ContenderCosts]:
    costs = []
    for contender, prompts in zip(contenders, rendered, strict=True):
        spec = catalogue.get(contender.model)
        assert spec is not None, "contenders are resolved from the catalogue"
        costs.append(contender_costs(contender, tokenizer(catalogue.encoding(spec)), prompts))
    return costs


def dry_run(request: CompareRequest, catalogue: Catalogue, settings: Settings) -> DryRun:
    """What the run would send and the most it could cost; nothing is stored or sent."""
    prompts, contenders, rendered = _validated(request, catalogue, settings)
    costs = _costs(contenders, rendered, catalogue)
    if request.budget_usd is not None:
        check_budget(request.budget_usd, costs)
    return DryRun(
        pairs=len(prompts) * sum(c.samples for c in contenders),
        prompt_count=len(prompts),
        contenders=[
            DryRunContender(
                label=c.contender.label,
                model=c.contender.model,
                price=c.contender.price,
                tokenizer=c.tokenizer,
                prompt_tokens=c.prompt_tokens,
                max_completion_tokens=c.contender.params.max_new_tokens,
                max_cost_usd=c.max_cost,
            )
            for c in costs
        ],
        max_cost_usd=total_max_cost(costs),
        budget_usd=request.budget_usd,
    )


async def store_run(
    session: AsyncSession,
    request: CompareRequest,
    catalogue: Catalogue,
    settings: Settings,
    idempotency_key: str | None = None,
    judges: uuid.UUID | None = None,
    parent: uuid.UUID | None = None,
    creator: Caller = OPEN,
    project_id: uuid.UUID | None = None,
) -> RunRow:
    """Store the run, its prompts and one queued response per pair, in the caller's transaction;
    `judges` names the run whose answers this run's model judges (app/judging/judge.py),
    `parent` the run a replay was made from (app/runs/replay.py). The run belongs to
    `project_id` (default: the creator's) and names the creator's key."""
    prompts, contenders, rendered = _validated(request, catalogue, settings)
    owner = project_id or creator.project_id
    await enforce_budgets(session, owner, settings.monthly_budget_usd)
    max_costs: list[list[float | None]] | None = None
    if request.budget_usd is not None:
        costs = _costs(contenders, rendered, catalogue)
        check_budget(request.budget_usd, costs)
        max_costs = [c.pair_max_costs for c in costs]
    run = RunRow(
        id=uuid.uuid4(),
        name=request.name,
        tags=request.tags,
        status="queued",
        params=(request.params or GenerationParams()).model_dump(exclude_none=True),
        contenders=[c.model_dump(mode="json", exclude_none=True) for c in contenders],
        models=sorted({c.model for c in contenders}),
        prompt_count=len(prompts),
        idempotency_key=idempotency_key,
        request_digest=request_digest(request, parent),
        judges=judges,
        trace_parent=tracing.traceparent(),
        # Known (from 0) only if every answer's cost will be.
        cost_usd=0.0 if all(c.price is not None for c in contenders) else None,
        budget_usd=request.budget_usd,
        parent_id=parent,
        project_id=owner,
        created_by_key_name=creator.key_name,
        created_by_key_prefix=creator.key_prefix,
    )
    prompt_rows = [
        {"run_id": run.id, "position": i, "key": p.key, "text": p.text}
        for i, p in enumerate(prompts)
    ]
    response_rows = _pairs(run.id, contenders, rendered, max_costs, catalogue)
    await runs_repo.insert_run(session, run, prompt_rows, response_rows)
    await notify_work(session)
    return run


def _pairs(
    run_id: uuid.UUID,
    contenders: list[Contender],
    rendered: list[list[RenderedPrompt]],
    max_costs: list[list[float | None]] | None,
    catalogue: Catalogue,
) -> list[dict[str, Any]]:
    """One queued response row per prompt, contender and sample, in that order (the
    dispatcher claims the oldest first), each with its fingerprint and, in a budgeted run,
    the most it can cost."""
    fingerprints = [[Fingerprints(catalogue, c, k) for k in range(c.samples)] for c in contenders]
    rows: list[dict[str, Any]] = []
    for i in range(len(rendered[0])):
        for j, c in enumerate(contenders):
            stored = rendered[j][i].stored
            rows.extend(
                {
                    "run_id": run_id,
                    "prompt_position": i,
                    "contender_index": j,
                    "sample": k,
                    "model": c.model,
                    "status": "queued",
                    "rendered_prompt": stored,
                    "fingerprint": fingerprint.of(stored),
                    "max_cost_usd": None if max_costs is None else max_costs[j][i],
                }
                for k, fingerprint in enumerate(fingerprints[j])
            )
    return rows

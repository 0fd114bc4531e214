"""The runs' request and response bodies, separate from the tables."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from app.diagnostics import Flag
from app.domain import (
    Contender,
    FinishReason,
    GenerationParams,
    Price,
    ResponseStatus,
    RunStatus,
)
from app.fields import Name, NonBlankText, SampleCount, ShortText, StorableText
from app.runs.examples import CLASSIC_EXAMPLE


class PromptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: NonBlankText = Field(description="The prompt, before any template.")
    key: ShortText | None = Field(default=None, description="Your id for it.")


class ContenderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Name = Field(description="A model name from `GET /models`.")
    label: Name | None = Field(default=None, description="Unique within the run.")
    template: StorableText | None = Field(
        default=None,
        description="`raw`, `llama2-chat`, `chatml`, `alpaca`, `chat`, or a text with "
        "`{prompt}` (at most `LLM_COMPARE_MAX_TEMPLATE_CHARS` characters). "
        "Default: the model's own.",
    )
    params: GenerationParams | None = None
    cache: bool | None = Field(
        default=None,
        description="`false`: always call the provider for this contender. Default: the run's.",
    )
    samples: SampleCount | None = Field(
        default=None,
        description="Answers per prompt for this contender (1-20). Default: the run's.",
    )


def _prompt_form(value: Any) -> str:
    return "str" if isinstance(value, str) else "PromptIn"


def _contender_form(value: Any) -> str:
    return "str" if isinstance(value, str) else "ContenderIn"


def _key_pattern_in_property_names(schema: dict[str, Any]) -> None:
    """pydantic states a dict's key pattern as `patternProperties` (keys that do not match
    may hold anything); say what is validated: every key matches, every value is a value."""
    ((pattern, values),) = schema.pop("patternProperties").items()
    schema["additionalProperties"] = values
    schema["propertyNames"]["pattern"] = pattern


def _optional_key_pattern_in_property_names(schema: dict[str, Any]) -> None:
    """The same, for a dict that may be null (`anyOf` the dict and null)."""
    for member in schema["anyOf"]:
        if "patternProperties" in member:
            _key_pattern_in_property_names(member)


# A text or an object, told apart by the JSON type, so an error is about the form the caller
# wrote (`prompts[0]` or `prompts[0].text`), not about both.
PromptItem = Annotated[
    Annotated[NonBlankText, Tag("str")] | Annotated[PromptIn, Tag("PromptIn")],
    Discriminator(_prompt_form),
]
ContenderItem = Annotated[
    Annotated[Name, Tag("str")] | Annotated[ContenderIn, Tag("ContenderIn")],
    Discriminator(_contender_form),
]


class CompareRequest(BaseModel):
    """N prompts x M contenders."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [CLASSIC_EXAMPLE]})

    prompts: list[PromptItem] = Field(
        min_length=1,
        description="Each at most `LLM_COMPARE_MAX_PROMPT_CHARS` characters once its "
        "contender's template is applied; at most `LLM_COMPARE_MAX_PROMPTS` of them.",
    )
    models: list[ContenderItem] = Field(
        min_length=1, description="At most `LLM_COMPARE_MAX_CONTENDERS`."
    )
    params: GenerationParams | None = Field(
        default=None, description="Defaults for every contender; a contender's own win."
    )
    cache: bool = Field(
        default=True,
        description="Reuse a stored answer to an identical request when sampling is "
        "deterministic (temperature 0, or a seed) instead of calling the provider; `false` "
        "calls it every time. A contender's own `cache` wins.",
    )
    samples: SampleCount = Field(
        default=1,
        description="Answers per prompt and contender (1-20), to see how much a model's "
        "answers vary; a given seed counts up by one per sample. A contender's own wins.",
    )
    name: Name | None = None
    tags: dict[Name, ShortText] = Field(
        default_factory=dict, max_length=32, json_schema_extra=_key_pattern_in_property_names
    )
    budget_usd: float | None = Field(
        default=None,
        gt=0,
        le=1_000_000,
        description="The most the run may spend, in USD. Pairs start only while what was "
        "spent plus the worst case of the pairs in flight stays within it; the rest end "
        "`cancelled` with the error `budget exhausted`, and the run `partial`. Every model "
        "needs a price and every contender `max_new_tokens`.",
    )


class ReplayRequest(BaseModel):
    """What a replay changes; everything left out is as in the run replayed."""

    model_config = ConfigDict(extra="forbid")

    models: list[ContenderItem] | None = Field(
        default=None,
        min_length=1,
        description="Other contenders, in the form of `POST /compare`'s `models`. "
        "Default: the run's own (labels, models, templates, params).",
    )
    params: GenerationParams | None = Field(
        default=None,
        description="Params that override the run's (and, with its own contenders, theirs).",
    )
    name: Name | None = Field(default=None, description="Default: the run's name.")
    tags: dict[Name, ShortText] | None = Field(
        default=None,
        max_length=32,
        description="Default: the run's tags.",
        json_schema_extra=_optional_key_pattern_in_property_names,
    )


class StatusCounts(BaseModel):
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    total: int = 0
    cached: int = Field(
        default=0,
        description="Of the succeeded: answers reused from an identical earlier request "
        "instead of calling the provider.",
    )


_COST = (
    "USD, summed over the answers so far; null when unknown (a model without a price, or an "
    "answer without token counts)."
)


class KeyRef(BaseModel):
    name: str = Field(description="The key's name when it made the run.")
    prefix: str = Field(description="The key's first characters.")


class RunSummary(BaseModel):
    id: uuid.UUID
    status: RunStatus
    name: str | None
    tags: dict[str, str]
    created_at: datetime
    finished_at: datetime | None
    models: list[str]
    prompt_count: int
    counts: StatusCounts
    judges: uuid.UUID | None = Field(
        default=None,
        description="A judging run (`POST /runs/{id}/judge`): the run whose answers its "
        "model judges. Null for other runs.",
    )
    cost_usd: float | None = Field(default=None, description=_COST)
    budget_usd: float | None = Field(default=None, description="The run's budget, if any.")
    parent_id: uuid.UUID | None = Field(
        default=None,
        description="A replay (`POST /runs/{id}/replay`): the run it was made from. Null for "
        "other runs, and once that run is deleted.",
    )
    created_by: KeyRef | None = Field(
        default=None, description="The API key that made the run (null: made without one)."
    )


class ResponseOut(BaseModel):
    id: int = Field(description="The pair's id, unique across runs.")
    label: str
    sample: int = Field(
        default=0, description="Which of the contender's repeated samples (0 without samples)."
    )
    model: str
    template: str
    rendered_prompt: str
    status: ResponseStatus
    output: str | None
    finish_reason: FinishReason | None = Field(
        description="`length` means the answer was cut off by the token limit."
    )
    error: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float | None
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    flags: list[Flag] | None = Field(
        description="What is wrong with the answer, read from its text (the README's table "
        "defines each): `empty`, `truncated`, `echoes_prompt`, `repetitive`, "
        "`continues_dialogue`, `template_leak`, `refusal`. `[]`: nothing found; `null`: no "
        "answer, or one stored before diagnostics (`llm-compare diagnose` computes those)."
    )
    repetition: float | None = Field(
        description="0-1: the share of the answer's word 4-grams that repeat an earlier one; "
        "near 1 for a loop."
    )
    prompt_overlap: float | None = Field(
        description="0-1: the share of the prompt's word 3-grams found in the answer."
    )
    words: int | None = Field(description="Whitespace-separated words of the answer.")
    cost_usd: float | None = Field(
        default=None,
        description="USD, from the token counts at the contender's price; null when unknown.",
    )
    cached: bool = Field(
        default=False,
        description="The answer was reused from an identical earlier request (`cached_from`); "
        "the provider was not called.",
    )
    cached_from: int | None = Field(
        default=None, description="The id of the response this answer was copied from."
    )


class PromptOut(BaseModel):
    index: int
    key: str | None
    text: str
    responses: dict[str, ResponseOut] = Field(
        description="Keyed by contender label; a contender's first sample (`sample` 0)."
    )
    samples: dict[str, list[ResponseOut]] = Field(
        default_factory=dict,
        description="For each contender with more than one sample (`samples`), every "
        "sample's answer in order, the first included. Empty for runs without samples.",
    )


class SampleAgreementOut(BaseModel):
    """How alike a contender's repeated samples of each prompt are, over every pair of
    samples of a prompt (pooled over the prompts)."""

    share_identical: float | None = Field(description="0-1: pairs of samples that are equal.")
    mean_similarity: float | None = Field(
        description="0-1: the mean string similarity (normalized Indel) of the pairs."
    )
    pairs: int = Field(description="Pairs of succeeded samples compared.")


class ContenderStats(Contender):
    counts: StatusCounts
    latency_ms_p50: float | None
    latency_ms_p95: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    truncated: int = Field(description="Answers cut off by the token limit.")
    flags: dict[Flag, int] = Field(
        description="For every flag, the answers that have it (0 included)."
    )
    cost_usd: float | None = Field(default=None, description=_COST)
    diagnosed: int = Field(
        description="Answers with diagnostics: all succeeded ones, unless some were stored "
        "before diagnostics existed (`llm-compare diagnose` computes theirs)."
    )
    sample_agreement: SampleAgreementOut | None = Field(
        default=None,
        description="With `samples` above 1: how often its samples of a prompt agree. Null "
        "for a contender with one sample.",
    )


class RunDetail(RunSummary):
    params: GenerationParams
    contenders: list[ContenderStats]
    prompts: list[PromptOut]
    prompt_offset: int = Field(
        description="The `prompt_offset` asked for: the index where this page starts."
    )
    next_prompt_offset: int | None = Field(
        description="Pass as `prompt_offset` for the next page (the index after this page's "
        "last prompt); null on the last page."
    )


class DryRunContender(BaseModel):
    label: str
    model: str
    price: Price | None
    tokenizer: str = Field(
        description="The encoding the prompt tokens were counted with (`o200k_base`, "
        "`cl100k_base`), or `estimate` (about 4 characters a token) where the model's is not "
        "known."
    )
    prompt_tokens: int = Field(description="Over all the prompts, once rendered.")
    max_completion_tokens: int | None = Field(
        description="Per pair: `max_new_tokens`; null: no limit, so no maximum cost."
    )
    max_cost_usd: float | None = Field(
        description="The most this contender's pairs can cost (each prompt's tokens with a "
        "margin, and `max_new_tokens` completion tokens); null when unknown."
    )


class DryRun(BaseModel):
    """What `POST /compare` would send, and the most it could cost; nothing stored or sent."""

    pairs: int
    prompt_count: int
    contenders: list[DryRunContender]
    max_cost_usd: float | None = Field(description="Null if any contender's is unknown.")
    budget_usd: float | None


class RunPage(BaseModel):
    items: list[RunSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")

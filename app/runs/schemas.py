"""The runs' request and response bodies, separate from the tables."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from app.diagnostics import Flag
from app.domain import Contender, FinishReason, GenerationParams, ResponseStatus, RunStatus
from app.fields import Name, NonBlankText, ShortText, StorableText
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
    name: Name | None = None
    tags: dict[Name, ShortText] = Field(
        default_factory=dict, max_length=32, json_schema_extra=_key_pattern_in_property_names
    )


class StatusCounts(BaseModel):
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    total: int = 0


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
    created_by: KeyRef | None = Field(
        default=None, description="The API key that made the run (null: made without one)."
    )


class ResponseOut(BaseModel):
    id: int = Field(description="The pair's id, unique across runs.")
    label: str
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


class PromptOut(BaseModel):
    index: int
    key: str | None
    text: str
    responses: dict[str, ResponseOut] = Field(description="Keyed by contender label.")


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
    diagnosed: int = Field(
        description="Answers with diagnostics: all succeeded ones, unless some were stored "
        "before diagnostics existed (`llm-compare diagnose` computes theirs)."
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


class RunPage(BaseModel):
    items: list[RunSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")

"""Request and response bodies of the HTTP API, separate from the ORM models."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from app.adapters.base import GenerationParams
from app.fields import Name, NonBlankText, ShortText, StorableText

RunStatus = Literal["queued", "running", "succeeded", "partial", "failed", "cancelled"]
ResponseStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]

CLASSIC_EXAMPLE: dict[str, Any] = {
    "prompts": [
        "Tell me how to train my dog to sit",
        "What do you think of Mars?",
        "Who is the boss of Twitter?",
    ],
    "models": [
        "meta-llama/Llama-2-7b-hf",
        "meta-llama/Llama-2-7b-chat-hf",
        {
            "model": "meta-llama/Llama-2-7b-chat-hf",
            "template": "llama2-chat",
            "label": "chat [INST]",
        },
        "chat-gpt",
    ],
    "params": {"max_new_tokens": 256},
    "name": "classic",
    "tags": {"demo": "llama2"},
}

# The same lesson with no key and no network (README, "Local models").
OFFLINE_EXAMPLE: dict[str, Any] = {
    "prompts": ["Tell me how to train my dog to sit", "What do you think of Mars?"],
    "models": [
        "local/gemma-3-270m",
        {"model": "local/smollm2-135m-instruct", "template": "raw", "label": "smollm2 raw"},
        "local/smollm2-135m-instruct",
    ],
    "params": {"max_new_tokens": 64, "temperature": 0},
    "name": "offline classic",
}

ECHO_EXAMPLE: dict[str, Any] = {
    "prompts": ["Tell me how to train my dog to sit"],
    "models": ["echo", {"model": "echo", "template": "llama2-chat", "label": "echo [INST]"}],
}

COMPARE_EXAMPLES: dict[str, dict[str, Any]] = {
    "classic": {
        "summary": "Llama 2 base vs chat vs ChatGPT (needs Lamini and OpenAI keys)",
        "value": CLASSIC_EXAMPLE,
    },
    "offline": {
        "summary": "Local base vs instruct models: no key, no network (the `local` extra)",
        "value": OFFLINE_EXAMPLE,
    },
    "echo": {"summary": "Echo: no model at all, to try the service", "value": ECHO_EXAMPLE},
}


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


class Contender(BaseModel):
    """A contender as resolved when the run was accepted."""

    label: str
    model: str
    template: str
    params: GenerationParams


class StatusCounts(BaseModel):
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    total: int = 0


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


class ResponseOut(BaseModel):
    label: str
    model: str
    template: str
    rendered_prompt: str
    status: ResponseStatus
    output: str | None
    finish_reason: Literal["stop", "length"] | None = Field(
        description="`length` means the answer was cut off by the token limit."
    )
    error: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float | None
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None


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


class RunDetail(RunSummary):
    params: GenerationParams
    contenders: list[ContenderStats]
    prompts: list[PromptOut]
    prompt_offset: int = Field(description="Index of the first prompt in `prompts`.")


class RunPage(BaseModel):
    items: list[RunSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class ModelOut(BaseModel):
    name: str
    adapter: str
    upstream: str
    template: str
    params: GenerationParams
    concurrency: int
    description: str
    available: bool
    unavailable_reason: str | None


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    detail: dict[str, Any] = Field(default_factory=dict)


class FieldError(BaseModel):
    field: str = Field(description="Where in the request, e.g. `models[2].template`.")
    message: str


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (`application/problem+json`)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(
        default=None, description="For invalid input: each offending field."
    )


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting problem-detail errors."""
    return {
        status: {"model": Problem, "content": {"application/problem+json": {}}}
        for status in statuses
    }

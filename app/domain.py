"""The shared vocabulary, defined once: statuses, finish reasons, verdicts, generation
parameters, chat messages, contenders and catalogue entries.

Every layer may import this module (the database's check constraints, the API's schemas, the
queue, the adapters); it imports only `app.fields`, the edge types its fields are made of.
"""

from typing import Any, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from app.fields import SEED_MAX, Name, Seed, StorableText, clean_key, endpoint_problem

RunStatus = Literal["queued", "running", "succeeded", "partial", "failed", "cancelled"]
"""A run: `queued` until a pair is claimed, `running`, then finished: `succeeded` (every pair),
`partial` (some), `failed` (none) or `cancelled`."""

ResponseStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
"""One pair: waiting, in flight, answered, failed for good, or dropped by a cancel."""

RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)
RESPONSE_STATUSES: tuple[ResponseStatus, ...] = get_args(ResponseStatus)
PENDING_STATUSES: tuple[ResponseStatus, ...] = ("queued", "running")
"""Statuses of work not yet done, for pairs and for runs alike."""
FINISHED_STATUSES: frozenset[RunStatus] = frozenset(set(RUN_STATUSES) - set(PENDING_STATUSES))
"""The statuses a run ends in."""

FinishReason = Literal["stop", "length"]
"""Why a model stopped: `stop` (it ended its answer) or `length` (the token limit cut it off)."""
FINISH_REASONS: tuple[FinishReason, ...] = get_args(FinishReason)

Winner = Literal["a", "b", "tie", "both_bad"]
"""A verdict on two answers shown side by side: the left (`a`) or the right (`b`) is better,
they are alike (`tie`), or both are bad (`both_bad`)."""
WINNERS: tuple[Winner, ...] = get_args(Winner)

JudgeVerdict = Literal["a", "b", "tie"]
"""What a model judge can say of one order: `[[A]]`, `[[B]]` or `[[C]]` (a tie)."""
JUDGE_VERDICTS: tuple[JudgeVerdict, ...] = get_args(JudgeVerdict)

JudgementStatus = Literal["pending", "judged", "failed"]
"""One judge call on one order of a pair: its answer is awaited, it gave a verdict, or it
gave none that parses (the judge's answer is kept)."""
JUDGEMENT_STATUSES: tuple[JudgementStatus, ...] = get_args(JudgementStatus)


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class GenerationParams(BaseModel):
    """Generation parameters a caller may set; adapters map them to their provider."""

    model_config = ConfigDict(extra="forbid")

    max_new_tokens: int | None = Field(default=None, ge=1, le=32_768)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: Seed | None = None
    stop: list[StorableText] | None = Field(default=None, max_length=4)

    def merged(self, override: "GenerationParams | None") -> "GenerationParams":
        """These params with every field that `override` sets taking its value."""
        if override is None:
            return self
        return self.model_copy(update=override.model_dump(exclude_unset=True))


class Price(BaseModel):
    """What a model's provider charges, in US dollars per million tokens."""

    model_config = ConfigDict(extra="forbid")

    input_per_mtok: float = Field(ge=0, le=10_000, description="USD per million prompt tokens.")
    output_per_mtok: float = Field(
        ge=0, le=10_000, description="USD per million completion tokens."
    )

    @property
    def free(self) -> bool:
        return self.input_per_mtok == 0 and self.output_per_mtok == 0

    def cost(self, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        """The cost of one call in USD; None when a token count it needs is unknown."""
        if self.free:
            return 0.0
        if prompt_tokens is None or completion_tokens is None:
            return None
        return (
            prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok
        ) / 1_000_000


class Contender(BaseModel):
    """A contender as resolved when the run was accepted, with its model's price then (None:
    unknown, so its answers' cost is unknown)."""

    label: str
    model: str
    template: str
    params: GenerationParams
    price: Price | None = None
    cache: bool = Field(
        default=True, description="Whether a stored identical answer may be reused."
    )
    samples: int = Field(default=1, description="Answers per prompt (repeated samples).")

    def sample_params(self, sample: int) -> GenerationParams:
        """The params sample number `sample` is asked with: a given seed counts up by one
        per sample, so that seeded samples differ and each can be asked again."""
        seed = self.params.seed
        if sample == 0 or seed is None:
            return self.params
        # Past the largest seed a provider takes, count down instead: still one seed a sample.
        seed = seed + sample if seed + sample <= SEED_MAX else seed - sample
        return self.params.model_copy(update={"seed": seed})


class ModelSpec(BaseModel):
    """One catalogue entry: a public name bound to an adapter and an upstream model."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)  # inputs hold keys

    name: Name
    adapter: Name = Field(description="The kind of provider: lamini, openai, local, echo.")
    upstream: str = Field(description="The model id the provider knows it by.")
    template: StorableText = "raw"
    params: GenerationParams = Field(default_factory=GenerationParams)
    concurrency: int | None = Field(default=None, ge=1)
    description: str = ""
    price: Price | None = Field(
        default=None, description="What the provider charges; unset: unknown (cost is null)."
    )
    base_url: str | None = Field(
        default=None,
        description="The model's own endpoint instead of the adapter's global one; the global "
        "key (OPENAI_API_KEY, LAMINI_API_KEY) is not sent to it.",
    )
    api_key: SecretStr | None = Field(default=None, description="The key this model's calls send.")
    api_key_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="The name of the environment variable holding the key this model's calls send.",
    )
    options: dict[str, Any] = Field(default_factory=dict, description="Adapter-specific.")

    @field_validator("base_url")
    @classmethod
    def _usable_endpoint(cls, value: str | None) -> str | None:
        if value is not None and (problem := endpoint_problem(value, "api_key or api_key_env")):
            raise ValueError(problem)
        return value

    @field_validator("api_key", mode="before")
    @classmethod
    def _sendable_key(cls, value: object) -> object:
        if isinstance(value, str):
            return clean_key(value) or None  # "" is no key, as `OPENAI_API_KEY=` is
        return value

    @model_validator(mode="after")
    def _one_key_source(self) -> Self:
        if self.api_key is not None and self.api_key_env is not None:
            raise ValueError("give api_key or api_key_env, not both")
        return self

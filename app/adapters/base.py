"""The adapter interface: one small class per provider, all behind `Adapter`."""

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from app.fields import Seed, StorableText

FinishReason = Literal["stop", "length"]


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


class GenerationRequest(BaseModel):
    """What is sent to one model: exactly one of `prompt` or `messages`."""

    model: str = Field(description="The upstream model id.")
    prompt: str | None = None
    messages: list[ChatMessage] | None = None
    params: GenerationParams = Field(default_factory=GenerationParams)
    attempt: int = Field(default=1, description="1 for the first call of this pair.")


class Generation(BaseModel):
    output: str
    finish_reason: FinishReason | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ProviderError(Exception):
    """A provider call failed; `transient` ones are retried, the others fail the pair."""

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.status = status
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message}" if self.status else self.message


PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 413, 422})


def is_transient_status(status: int) -> bool:
    """Timeouts, rate limits and server errors are worth another try; client errors are not."""
    return status in (408, 409, 425, 429) or status >= 500


class Adapter(Protocol):
    """Talks to one kind of provider. Retries, timeouts and limits live in the dispatcher."""

    async def generate(self, request: GenerationRequest) -> Generation: ...

    async def aclose(self) -> None: ...

"""The adapter interface: one small class per provider, all behind `Adapter`.

An adapter class also declares what the rest of the service needs to know about its provider
(which options it takes, whether it takes text prompts only, whether its concurrency is fixed,
why it cannot be used here), so that nothing outside this package names a provider.
"""

from abc import ABC, abstractmethod
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from app.config import Settings
from app.domain import ChatMessage, FinishReason, GenerationParams, ModelSpec


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


def is_transient_status(status: int) -> bool:
    """Timeouts, rate limits and server errors are worth another try; client errors are not."""
    return status in (408, 409, 425, 429) or status >= 500


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Adapter(ABC):
    """Talks to one kind of provider. Retries, timeouts and limits live in the dispatcher.

    Built once per catalogue model, on its first call.
    """

    kind: ClassVar[str]
    """The catalogue's name for this kind of provider (`adapter = "..."`)."""
    options: ClassVar[type[BaseModel]] = NoOptions
    """What a catalogue entry's `options` are validated with when the catalogue loads."""
    text_only: ClassVar[bool] = False
    """Takes text prompts only: the `chat` template (messages) cannot be sent to it."""
    fixed_concurrency: ClassVar[int | None] = None
    """In-flight calls per model when the provider allows no other number, and why not."""
    fixed_concurrency_reason: ClassVar[str] = ""

    @classmethod
    def unavailable_reason(cls, spec: ModelSpec, settings: Settings) -> str | None:
        """Why a model of this kind cannot be called here (a missing key or extra), or None."""
        return None

    @classmethod
    def encoding(cls, upstream: str) -> str | None:
        """The name of the BPE encoding the provider counts `upstream`'s tokens with (as
        tiktoken names them), or None when not known: token counts are then estimated."""
        return None

    @classmethod
    def endpoint(cls, spec: ModelSpec, settings: Settings) -> str | None:
        """Where this model's calls go, for telling requests apart (the response cache)."""
        return spec.base_url

    @abstractmethod
    def __init__(self, spec: ModelSpec, settings: Settings, concurrency: int) -> None: ...

    @abstractmethod
    async def generate(self, request: GenerationRequest) -> Generation: ...

    async def aclose(self) -> None:
        return None

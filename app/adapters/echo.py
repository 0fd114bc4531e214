"""The echo adapter: deterministic answers with no network and no key, for trying the service.

Its catalogue options can make it slow or make its first calls fail, to show waiting and
retries.
"""

import asyncio

from pydantic import BaseModel, ConfigDict, Field

from app.adapters.base import (
    Adapter,
    Generation,
    GenerationRequest,
    ProviderError,
    is_transient_status,
)
from app.adapters.options import parse_options
from app.config import Settings
from app.domain import ModelSpec


class EchoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delay_ms: float = Field(default=0, ge=0, description="Wait this long before answering.")
    fail_first_attempts: int = Field(
        default=0, ge=0, description="Fail calls whose attempt number is at most this."
    )
    fail_status: int = Field(default=503, ge=400, le=599)
    fail_message: str = "echo was told to fail"


def _prompt_text(request: GenerationRequest) -> tuple[str, str]:
    """What to echo (the prompt or the last user message) and everything that was sent."""
    if request.messages is None:
        text = request.prompt or ""
        return text, text
    users = [m.content for m in request.messages if m.role == "user"]
    sent = "\n".join(m.content for m in request.messages)
    return (users[-1] if users else ""), sent


class EchoAdapter(Adapter):
    """Answers with the prompt it was sent, cut to `max_new_tokens` words."""

    kind = "echo"
    options = EchoOptions

    def __init__(self, spec: ModelSpec, settings: Settings, concurrency: int) -> None:
        self._options = parse_options(EchoOptions, spec)

    async def generate(self, request: GenerationRequest) -> Generation:
        options = self._options
        if options.delay_ms:
            await asyncio.sleep(options.delay_ms / 1000)
        if request.attempt <= options.fail_first_attempts:
            raise ProviderError(
                options.fail_message,
                transient=is_transient_status(options.fail_status),
                status=options.fail_status,
            )
        text, sent = _prompt_text(request)
        words = text.split()
        limit = request.params.max_new_tokens
        truncated = limit is not None and len(words) > limit
        output = " ".join(words[:limit]) if truncated else text
        return Generation(
            output=output,
            finish_reason="length" if truncated else "stop",
            prompt_tokens=len(sent.split()),
            completion_tokens=len(output.split()),
        )

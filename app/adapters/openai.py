"""The OpenAI adapter: any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp server, Ollama)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.adapters.base import Generation, GenerationRequest, ProviderError
from app.adapters.http import JsonHttpClient
from app.adapters.keys import GlobalKey, KeyedAdapter
from app.adapters.options import parse_options
from app.config import Settings
from app.domain import FinishReason, GenerationParams, ModelSpec

FINISH_REASONS: dict[str, FinishReason] = {"stop": "stop", "eos": "stop", "length": "length"}


class OpenAIOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api: Literal["chat", "completions"] = Field(
        default="chat",
        description='Where text prompts go: "chat" sends one user message, '
        '"completions" the legacy /completions endpoint.',
    )


class _Message(BaseModel):
    content: str | None = None  # null for refusals and tool calls


class _Choice(BaseModel):
    message: _Message | None = None
    text: str | None = None
    finish_reason: str | None = None


class _Usage(BaseModel):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class _Completion(BaseModel):
    choices: list[_Choice] = Field(min_length=1)
    usage: _Usage | None = None


def request_params(params: GenerationParams) -> dict[str, Any]:
    """The OpenAI names of the parameters that are set."""
    mapped = {
        "max_tokens": params.max_new_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "seed": params.seed,
        "stop": params.stop,
    }
    return {name: value for name, value in mapped.items() if value is not None}


def _malformed(source: str, problem: str) -> ProviderError:
    return ProviderError(f"malformed response from {source}: {problem}", transient=False)


def generation_from(data: Any, chat: bool, source: str) -> Generation:
    """An OpenAI-shaped completion, from an HTTP endpoint or llama.cpp in-process, as a
    `Generation`; `chat` says whether it answers messages (else a text prompt)."""
    try:
        completion = _Completion.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "body"
        raise _malformed(source, f"{where}: {first['msg']}") from None
    choice = completion.choices[0]
    if chat:
        if choice.message is None:
            raise _malformed(source, "choices[0].message is missing")
        output = choice.message.content or ""
    else:
        if choice.text is None:
            raise _malformed(source, "choices[0].text is missing")
        output = choice.text
    usage = completion.usage or _Usage()
    return Generation(
        output=output,
        finish_reason=FINISH_REASONS.get(choice.finish_reason or ""),
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
    )


# OpenAI's models by name prefix, most specific first, and the encodings they count tokens
# with; models of other OpenAI-compatible servers (vLLM, Ollama) have names matching none.
_ENCODINGS = (
    ("gpt-4o", "o200k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-4.5", "o200k_base"),
    ("gpt-5", "o200k_base"),
    ("o1", "o200k_base"),
    ("o3", "o200k_base"),
    ("o4", "o200k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-3.5-turbo", "cl100k_base"),
)


class OpenAIAdapter(KeyedAdapter):
    """Chat messages go to /chat/completions; text prompts too unless `options.api` says."""

    kind = "openai"
    options = OpenAIOptions

    @classmethod
    def encoding(cls, upstream: str) -> str | None:
        return next((name for prefix, name in _ENCODINGS if upstream.startswith(prefix)), None)

    @classmethod
    def endpoint(cls, spec: ModelSpec, settings: Settings) -> str | None:
        return (spec.base_url or settings.openai_base_url).rstrip("/")

    @classmethod
    def global_key(cls, settings: Settings) -> GlobalKey:
        """OPENAI_API_KEY, sent only to OPENAI_BASE_URL."""
        return GlobalKey(
            provider="OpenAI",
            variable="OPENAI_API_KEY",
            url=settings.openai_base_url,
            key=settings.openai_api_key,
            url_variable="OPENAI_BASE_URL",
            own_url_needs_key=False,
        )

    def __init__(self, spec: ModelSpec, settings: Settings, concurrency: int) -> None:
        self._options = parse_options(OpenAIOptions, spec)
        self._base_url = (spec.base_url or settings.openai_base_url).rstrip("/")
        key, self._missing_key = self.key(spec, settings)
        self._http = JsonHttpClient(
            concurrency=concurrency,
            timeout_s=settings.request_timeout_s,
            headers={"Authorization": f"Bearer {key}"} if key else None,
            secrets=[key],
        )

    def request_body(self, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        """The URL and JSON body for `request`."""
        body: dict[str, Any] = {"model": request.model}
        if request.messages is not None:
            body["messages"] = [m.model_dump() for m in request.messages]
        elif self._options.api == "completions":
            body["prompt"] = request.prompt or ""
        else:
            body["messages"] = [{"role": "user", "content": request.prompt or ""}]
        body.update(request_params(request.params))
        endpoint = "chat/completions" if "messages" in body else "completions"
        return f"{self._base_url}/{endpoint}", body

    async def generate(self, request: GenerationRequest) -> Generation:
        url, body = self.request_body(request)
        if self._missing_key:
            raise ProviderError(self._missing_key, transient=False)
        data = await self._http.post_json(url, body)
        return generation_from(data, chat="messages" in body, source=url)

    async def aclose(self) -> None:
        await self._http.aclose()

"""The Lamini adapter: the `lamini` SDK's request body, headers and errors, over our own HTTP.

Why the transport is ours: the SDK's `Lamini.generate` posts with `requests` and no timeout (a
stalled server holds a worker thread forever) and no retries, and `Lamini.async_generate` is
broken in 3.4.x. So the SDK builds the body (`Completion.make_llm_req_map`) and reads errors
(`rest_requests.handle_error`), and the shared aiohttp session with timeouts carries them.
"""

import importlib.metadata
from typing import Any

import aiohttp
from pydantic import BaseModel, ValidationError

from app.adapters.base import (
    Generation,
    GenerationRequest,
    ProviderError,
    is_transient_status,
)
from app.adapters.http import JsonHttpClient, read_error_message
from app.adapters.keys import GlobalKey, KeyedAdapter
from app.config import Settings
from app.domain import FinishReason, ModelSpec

MODEL_NOT_FOUND = 594  # Lamini's own status; retrying cannot make the model exist


class _Answer(BaseModel):
    output: str
    # Lamini 3.4 sends none of these; read them if a server does.
    finish_reason: FinishReason | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


def is_transient_lamini_status(status: int) -> bool:
    return status != MODEL_NOT_FOUND and is_transient_status(status)


async def read_sdk_error_message(response: aiohttp.ClientResponse) -> str:
    """The message of the exception the SDK raises for this response, e.g. `RateLimitError: ...`."""
    from lamini.api.rest_requests import handle_error
    from lamini.error.error import LaminiError

    try:
        await handle_error(response)
    except LaminiError as exc:
        return f"{type(exc).__name__}: {exc}"
    return await read_error_message(response)  # a status the SDK does not call an error


class LaminiAdapter(KeyedAdapter):
    """Text prompts only: Lamini's completions API takes no chat messages."""

    kind = "lamini"
    text_only = True

    @classmethod
    def endpoint(cls, spec: ModelSpec, settings: Settings) -> str | None:
        return (spec.base_url or settings.lamini_api_url).rstrip("/")

    @classmethod
    def global_key(cls, settings: Settings) -> GlobalKey:
        """LAMINI_API_KEY, sent only to LAMINI_API_URL; a model with its own base_url must
        name its own key (Lamini's API always wants one)."""
        return GlobalKey(
            provider="Lamini",
            variable="LAMINI_API_KEY",
            url=settings.lamini_api_url,
            key=settings.lamini_api_key,
            url_variable="LAMINI_API_URL",
            own_url_needs_key=True,
        )

    def __init__(self, spec: ModelSpec, settings: Settings, concurrency: int) -> None:
        # Imported here, not at the top: the SDK pulls in pandas, a second or two, and the
        # catalogue asks this class about its provider whether or not a Lamini model is used.
        from lamini.api.utils.completion import Completion

        self._key, self._missing_key = self.key(spec, settings)
        api_url = (spec.base_url or settings.lamini_api_url).rstrip("/")  # "/" would give "//v1"
        self._url = f"{api_url}/v1/completions"
        # Only its body builder is used; its key and URL fallbacks (env, ~/.lamini) are not.
        self._sdk = Completion(self._key, api_url)
        self._http = JsonHttpClient(
            concurrency=concurrency,
            timeout_s=settings.request_timeout_s,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self._key}",
                "Lamini-Version": importlib.metadata.version("lamini"),
            },
            secrets=[self._key],
            read_message=read_sdk_error_message,
            is_transient=is_transient_lamini_status,
        )

    def request_body(self, request: GenerationRequest) -> dict[str, Any]:
        """The body `lamini.Lamini(model).generate(prompt, max_new_tokens=...)` sends."""
        if request.messages is not None or request.prompt is None:
            raise ProviderError(
                "Lamini takes a text prompt, not chat messages: use a text template",
                transient=False,
            )
        body: dict[str, Any] = self._sdk.make_llm_req_map(
            model_name=request.model,
            prompt=request.prompt,
            max_new_tokens=request.params.max_new_tokens,
        )
        return body

    async def generate(self, request: GenerationRequest) -> Generation:
        body = self.request_body(request)
        if self._missing_key:
            raise ProviderError(self._missing_key, transient=False)
        data = await self._http.post_json(self._url, body)
        try:
            answer = _Answer.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"])) or "body"
            raise ProviderError(
                f"malformed response from {self._url}: {where}: {first['msg']}", transient=False
            ) from None
        return Generation(**answer.model_dump())

    async def aclose(self) -> None:
        await self._http.aclose()

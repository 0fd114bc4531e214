"""The local adapter: a GGUF model run in-process by llama.cpp, with no key and no network.

Each model gets one worker thread. The model is loaded there on first use and generations
run there one at a time: a llama.cpp context is not thread-safe, and one generation already
uses every core it is given. The event loop only waits. A text generation whose call times out
or is cancelled stops at its next token instead of holding the model for the next one.
"""

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from app import metrics
from app.adapters.base import Adapter, Generation, GenerationRequest, ProviderError
from app.adapters.gguf import GgufOptions
from app.adapters.openai import generation_from, request_params
from app.adapters.options import AdapterConfigError, parse_options
from app.config import Settings
from app.domain import ModelSpec

# llama.cpp's own default is 16 tokens for text completion; a comparison wants whole answers.
DEFAULT_MAX_NEW_TOKENS = 512


class LocalAdapter(Adapter):
    kind = "local"
    options = GgufOptions
    fixed_concurrency = 1
    fixed_concurrency_reason = (
        "a local model generates one answer at a time (give it more threads with options.n_threads)"
    )

    @classmethod
    def unavailable_reason(cls, spec: ModelSpec, settings: Settings) -> str | None:
        return GgufOptions.model_validate(spec.options).problem()

    def __init__(self, spec: ModelSpec, settings: Settings, concurrency: int) -> None:
        self._name = spec.name
        self._options = parse_options(GgufOptions, spec)
        if problem := self._options.problem():
            raise AdapterConfigError(f"model {spec.name}: {problem}")
        self._models_dir = settings.data_dir / "models"
        self._worker = ThreadPoolExecutor(1, thread_name_prefix=f"llama-{spec.name}")
        self._llama: Any = None

    def _load(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama  # only where the extra is installed

            path: Path = self._options.resolve(self._models_dir)
            self._llama = Llama(
                model_path=str(path),
                n_ctx=self._options.n_ctx,
                n_threads=self._options.n_threads or os.cpu_count(),
                chat_format=self._options.chat_format,
                verbose=False,
            )
        return self._llama

    def _check_fits(self, llama: Any, prompt: str) -> None:
        # llama.cpp's own failure for an overlong prompt is an obscure numpy error.
        tokens = len(llama.tokenize(prompt.encode(), add_bos=True, special=True))
        room = llama.n_ctx()
        if tokens >= room:
            raise ProviderError(
                f"the prompt is {tokens} tokens; model {self._name} holds {room} "
                "(its catalogue option n_ctx)",
                transient=False,
            )

    def _generate(self, request: GenerationRequest, abandoned: threading.Event) -> Generation:
        if abandoned.is_set():
            raise ProviderError("abandoned before it started", transient=True)
        try:
            llama = self._load()
            params = request_params(request.params)
            params.setdefault("max_tokens", DEFAULT_MAX_NEW_TOKENS)
            if request.messages is not None:
                # llama-cpp-python's chat call takes no stopping criteria: it runs to its end.
                messages = [m.model_dump() for m in request.messages]
                data = llama.create_chat_completion(messages=messages, **params)
            else:
                from llama_cpp import StoppingCriteriaList

                self._check_fits(llama, request.prompt or "")
                stop_if = StoppingCriteriaList([lambda _ids, _logits: abandoned.is_set()])
                data = llama.create_completion(
                    request.prompt or "", stopping_criteria=stop_if, **params
                )
                if abandoned.is_set() and data["usage"]["completion_tokens"] < params["max_tokens"]:
                    metrics.labelled(metrics.LOCAL_ABANDONED, self._name).inc()
        except ProviderError:
            raise
        except Exception as exc:  # a load or generation failure will not go away by retrying
            raise ProviderError(f"llama.cpp: {exc}", transient=False) from None
        return generation_from(data, chat=request.messages is not None, source="llama.cpp")

    async def generate(self, request: GenerationRequest) -> Generation:
        loop = asyncio.get_running_loop()
        abandoned = threading.Event()
        try:
            return await loop.run_in_executor(self._worker, self._generate, request, abandoned)
        except asyncio.CancelledError:  # a timeout, a cancelled run, a shutdown
            abandoned.set()
            raise

    async def aclose(self) -> None:
        # Off the event loop: a generation in progress finishes first.
        await asyncio.to_thread(self._worker.shutdown, wait=True, cancel_futures=True)
        if self._llama is not None:
            self._llama.close()
            self._llama = None

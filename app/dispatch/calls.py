"""Calling a model for one pair: its adapter, a timeout on each call, retries with backoff
for transient failures (honouring `Retry-After`), and the provider metrics."""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from app import metrics, tracing
from app.adapters.base import Generation, GenerationRequest, ProviderError
from app.adapters.registry import AdapterRegistry
from app.config import Settings
from app.diagnostics import Diagnostics, diagnose
from app.dispatch.queue import Job, Outcome
from app.domain import Contender, ModelSpec
from app.templates import RenderedPrompt, prompt_of

log = logging.getLogger(__name__)


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.transient


def _diagnostics(generation: Generation, contender: Contender, job: Job) -> Diagnostics | None:
    """The answer's diagnostics, against the prompt before its template. A bug in them must
    not cost the answer: it is stored without."""
    prompt = prompt_of(contender.template, job.rendered_prompt)
    try:
        return diagnose(
            generation.output,
            job.rendered_prompt if prompt is None else prompt,
            generation.finish_reason,
        )
    except Exception:
        log.exception("diagnosing the answer of pair %s failed", job.id)
        return None


class ModelCaller:
    """Turns a claimed pair into its outcome: the answer, or the error that ended it."""

    def __init__(self, adapters: AdapterRegistry, settings: Settings) -> None:
        self._adapters = adapters
        self._settings = settings
        self._backoff = wait_exponential_jitter(
            multiplier=settings.retry_initial_s,
            jitter=settings.retry_initial_s,
            max=settings.retry_max_s,
        )

    async def outcome(
        self,
        spec: ModelSpec,
        contender: Contender,
        job: Job,
        on_retry: Callable[[], None],
        trace_parent: str | None = None,
    ) -> Outcome:
        """Call until an answer, a permanent error or the last attempt; `on_retry` is called
        before each retry's backoff; each call's span links to `trace_parent` (the request
        that accepted the run). Never raises but for cancellation: a bug fails one pair."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._settings.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(_is_transient),
            before_sleep=lambda _: on_retry(),
            reraise=True,
        )
        fields: dict[str, Any]
        try:
            generation, latency_s = await self._call(retrying, spec, contender, job, trace_parent)
            price = contender.price
            cost = (
                price.cost(generation.prompt_tokens, generation.completion_tokens)
                if price
                else None
            )
            fields = {
                "status": "succeeded",
                "output": generation.output,
                "finish_reason": generation.finish_reason,
                "prompt_tokens": generation.prompt_tokens,
                "completion_tokens": generation.completion_tokens,
                "latency_ms": round(latency_s * 1000, 3),
                "diagnostics": _diagnostics(generation, contender, job),
                "cost_usd": cost,
                "uncosted": price is not None and cost is None,
            }
        except ProviderError as exc:
            log.warning("pair failed: %s", exc)
            fields = {"status": "failed", "error": str(exc)}
        except Exception as exc:
            log.exception("pair %s failed unexpectedly", job.id)
            fields = {"status": "failed", "error": f"internal error: {exc!r}"}
        return Outcome(id=job.id, run_id=job.run_id, lease_token=job.lease_token, **fields)

    def _wait(self, state: RetryCallState) -> float:
        """Exponential backoff with jitter, or the provider's Retry-After when it gave one."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ProviderError) and exc.retry_after_s is not None:
            return min(exc.retry_after_s, self._settings.retry_max_s)
        return float(self._backoff(state))

    async def _call(
        self,
        retrying: AsyncRetrying,
        spec: ModelSpec,
        contender: Contender,
        job: Job,
        trace_parent: str | None,
    ) -> tuple[Generation, float]:
        adapter = self._adapters.get(spec)
        rendered = RenderedPrompt.from_stored(contender.template, job.rendered_prompt)
        # Built without validation: every field comes from data validated at acceptance.
        request = GenerationRequest.model_construct(
            model=spec.upstream,
            prompt=rendered.text,
            messages=list(rendered.messages) if rendered.messages is not None else None,
            params=contender.sample_params(job.sample),
            attempt=1,
        )
        timeout = self._settings.request_timeout_s
        async for attempt in retrying:
            request.attempt = job.attempts + attempt.retry_state.attempt_number
            with (
                attempt,
                tracing.provider_call(
                    model=spec.name,
                    contender=contender.label,
                    attempt=request.attempt,
                    run_id=job.run_id,
                    response_id=job.id,
                    trace_parent=trace_parent,
                ) as call,
            ):
                started = time.perf_counter()
                try:
                    async with asyncio.timeout(timeout):
                        generation = await adapter.generate(request)
                except TimeoutError:
                    metrics.PROVIDER_CALLS.labels(spec.name, "timeout").inc()
                    error = ProviderError(f"no answer within {timeout:g} s", transient=True)
                    call.end("timeout", time.perf_counter() - started, error=error)
                    raise error from None
                except ProviderError as exc:
                    metrics.PROVIDER_CALLS.labels(spec.name, "error").inc()
                    call.end("error", time.perf_counter() - started, error=exc)
                    raise
                latency = time.perf_counter() - started
                metrics.PROVIDER_CALLS.labels(spec.name, "ok").inc()
                metrics.PROVIDER_LATENCY.labels(spec.name).observe(latency)
                call.end(
                    "ok",
                    latency,
                    prompt_tokens=generation.prompt_tokens,
                    completion_tokens=generation.completion_tokens,
                )
                return generation, latency
        raise AssertionError("tenacity returns or raises")  # pragma: no cover

"""Calling a model for one pair: its adapter, a timeout on each call, retries with backoff
for transient failures (honouring `Retry-After`), and the provider metrics."""

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from app import metrics, tracing
from app.adapters.base import Adapter, Generation, GenerationRequest, ProviderError
from app.adapters.registry import AdapterRegistry
from app.config import Settings
from app.diagnostics import Diagnostics, diagnose
from app.dispatch.queue import Job, Outcome
from app.domain import Contender, ModelSpec
from app.templates import RenderedPrompt, prompt_of

log = logging.getLogger(__name__)


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
        fields: dict[str, Any]
        try:
            generation, latency_s = await self._call(spec, contender, job, on_retry, trace_parent)
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

    def _wait(self, attempt: int, error: ProviderError) -> float:
        """Before the call after `attempt`: the provider's Retry-After when it gave one, else
        exponential backoff with jitter; at most `retry_max_s` either way."""
        if error.retry_after_s is not None:
            return min(error.retry_after_s, self._settings.retry_max_s)
        initial = self._settings.retry_initial_s
        # min() before the power: 2 ** attempt overflows a float past attempt 1023.
        backoff = initial * 2.0 ** min(attempt - 1, 64) + random.uniform(0, initial)
        return min(backoff, self._settings.retry_max_s)

    async def _call(
        self,
        spec: ModelSpec,
        contender: Contender,
        job: Job,
        on_retry: Callable[[], None],
        trace_parent: str | None,
    ) -> tuple[Generation, float]:
        """Up to `max_attempts` calls, retrying transient failures: a plain loop rather than
        tenacity's, whose per-pair machinery was a twentieth of the dispatcher's CPU."""
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
        last = self._settings.max_attempts
        for attempt in range(1, last + 1):
            request.attempt = job.attempts + attempt
            try:
                return await self._attempt(adapter, spec, contender, job, request, trace_parent)
            except ProviderError as exc:
                if not exc.transient or attempt == last:
                    raise
                on_retry()
                await asyncio.sleep(self._wait(attempt, exc))
        raise AssertionError("the last attempt returns or raises")  # pragma: no cover

    async def _attempt(
        self,
        adapter: Adapter,
        spec: ModelSpec,
        contender: Contender,
        job: Job,
        request: GenerationRequest,
        trace_parent: str | None,
    ) -> tuple[Generation, float]:
        """One call, with its timeout, span and metrics."""
        timeout = self._settings.request_timeout_s
        with tracing.provider_call(
            model=spec.name,
            contender=contender.label,
            attempt=request.attempt,
            run_id=job.run_id,
            response_id=job.id,
            trace_parent=trace_parent,
        ) as call:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(timeout):
                    generation = await adapter.generate(request)
            except TimeoutError:
                metrics.labelled(metrics.PROVIDER_CALLS, spec.name, "timeout").inc()
                error = ProviderError(f"no answer within {timeout:g} s", transient=True)
                call.end("timeout", time.perf_counter() - started, error=error)
                raise error from None
            except ProviderError as exc:
                metrics.labelled(metrics.PROVIDER_CALLS, spec.name, "error").inc()
                call.end("error", time.perf_counter() - started, error=exc)
                raise
            latency = time.perf_counter() - started
            metrics.labelled(metrics.PROVIDER_CALLS, spec.name, "ok").inc()
            metrics.labelled(metrics.PROVIDER_LATENCY, spec.name).observe(latency)
            call.end(
                "ok",
                latency,
                prompt_tokens=generation.prompt_tokens,
                completion_tokens=generation.completion_tokens,
            )
            return generation, latency

"""Traces (OpenTelemetry), when the `otel` extra is installed and the `OTEL_*` variables ask for
them: FastAPI's span of each request, SQLAlchemy's of each statement, aiohttp's of each call to
a provider, and ours of each provider call (model, attempt, outcome, tokens, latency), which
links to the request that accepted its run.

A provider call happens long after that request ended, in a dispatcher of any process, so its
span starts a trace of its own (with aiohttp's span inside it) and carries a *link* to the
request's span, from the `traceparent` stored on the run.

Off, nothing of the SDK is imported: `traceparent()` is None and `provider_call` hands out one
shared context whose methods do nothing: the dispatcher's hot path pays a few function calls.
"""

import asyncio
import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Link, Span, Tracer

log = logging.getLogger(__name__)

SERVICE_NAME = "llm-compare"
TRACER_NAME = "llm_compare"
PROVIDER_CALL_SPAN = "provider call"

_provider: "TracerProvider | None" = None
_tracer: "Tracer | None" = None


class ProviderCall:
    """What one provider call's span is told about how the call ended."""

    __slots__ = ("_span", "ended")

    def __init__(self, span: "Span | None") -> None:
        self._span = span
        self.ended = False

    def end(
        self,
        outcome: str,
        latency_s: float | None,
        *,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        error: BaseException | None = None,
    ) -> None:
        """`outcome` as the provider-call metric counts it: `ok`, `timeout`, `error` (and
        `cancelled` for a call that stop interrupted)."""
        if self._span is None:  # off: the one shared instance, never changed
            return
        self.ended = True
        attributes: dict[str, Any] = {"llm_compare.outcome": outcome}
        if latency_s is not None:
            attributes["llm_compare.latency_ms"] = round(latency_s * 1000, 3)
        if prompt_tokens is not None:
            attributes["llm_compare.prompt_tokens"] = prompt_tokens
        if completion_tokens is not None:
            attributes["llm_compare.completion_tokens"] = completion_tokens
        self._span.set_attributes(attributes)
        if outcome != "ok":
            from opentelemetry.trace import StatusCode

            if error is not None:
                self._span.set_attribute("error.type", type(error).__qualname__)
            self._span.set_status(StatusCode.ERROR, str(error) if error else outcome)


_OFF: AbstractContextManager[ProviderCall] = nullcontext(ProviderCall(None))
_NOTHING: AbstractContextManager[object] = nullcontext()


def provider_call(
    *,
    model: str,
    contender: str,
    attempt: int,
    run_id: uuid.UUID,
    response_id: int,
    trace_parent: str | None,
) -> AbstractContextManager[ProviderCall]:
    """The span of one call to a provider (current inside, so aiohttp's span is its child),
    linked to the request whose `traceparent` is `trace_parent`."""
    if _tracer is None:
        return _OFF
    return _traced_call(
        _tracer,
        {
            "llm_compare.model": model,
            "llm_compare.contender": contender,
            "llm_compare.attempt": attempt,
            "llm_compare.run_id": str(run_id),
            "llm_compare.response_id": response_id,
        },
        _links(trace_parent) if trace_parent else (),
    )


@contextmanager
def _traced_call(
    tracer: "Tracer", attributes: dict[str, Any], links: Sequence["Link"]
) -> Iterator[ProviderCall]:
    from opentelemetry.context import Context, attach, detach

    # A trace of its own, with nothing of the context the pair's task was started in (the
    # claim loop's, where instrumentation is suppressed: aiohttp's span would be missing).
    token = attach(Context())
    try:
        with tracer.start_as_current_span(
            f"{PROVIDER_CALL_SPAN} {attributes['llm_compare.model']}",
            links=links,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            call = ProviderCall(span)
            try:
                yield call
            except BaseException as exc:
                if not call.ended:  # neither answer nor provider error: cancelled, or a bug
                    cancelled = isinstance(exc, asyncio.CancelledError)
                    call.end("cancelled" if cancelled else "error", None, error=exc)
                raise
    finally:
        detach(token)


@lru_cache(maxsize=1024)
def _links(trace_parent: str) -> tuple["Link", ...]:
    """The link to the span a `traceparent` names; none if it names none."""
    from opentelemetry.trace import Link, get_current_span
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    context = TraceContextTextMapPropagator().extract({"traceparent": trace_parent})
    span_context = get_current_span(context).get_span_context()
    return (Link(span_context),) if span_context.is_valid else ()


def span(name: str, attributes: dict[str, Any]) -> AbstractContextManager[object]:
    """A span of our own around some work (the statements inside become its children)."""
    if _tracer is None:
        return _NOTHING
    return _tracer.start_as_current_span(name, attributes=attributes)


def untraced() -> AbstractContextManager[object]:
    """No spans for the statements inside: the dispatcher's polling (claims, lease renewals)
    would otherwise make a trace of each, several a second, idle or not."""
    if _tracer is None:
        return _NOTHING
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    return suppress_instrumentation()


def traceparent() -> str | None:
    """The W3C `traceparent` of the current span (the request being answered); None when
    tracing is off."""
    if _tracer is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent")


def configure(exporters: Sequence[str], *, exporter: "SpanExporter | None" = None) -> bool:
    """Trace to `exporters` (names as in `OTEL_TRACES_EXPORTER`: `otlp`, `console`) and to
    `exporter` (a test's in-memory one); True if tracing is now on. Call before the app's
    engines and HTTP sessions are made: those made earlier are not instrumented."""
    global _provider, _tracer
    if not exporters and exporter is None:
        return False
    if _tracer is not None:
        raise RuntimeError("tracing is already configured")
    try:
        from opentelemetry import trace
        from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError as exc:
        log.warning(
            "traces were asked for, but the otel extra is not installed (no module %s): "
            "pip install 'llm-compare[otel]'",
            exc.name,
        )
        return False
    provider = TracerProvider(resource=_resource())
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    for name in exporters:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    # FastAPI traces requests natively once a global provider is set, so it needs no
    # instrumentation package (opentelemetry-instrumentation-fastapi would double its spans).
    trace.set_tracer_provider(provider)
    # The instrumentation declares SQLAlchemy < 2.1 and would refuse ours, whose engine events
    # it hooks are unchanged: tests/ops/test_tracing.py checks its spans on every CI run.
    # It instruments the engines app/db/engine.py makes from now on.
    SQLAlchemyInstrumentor().instrument(tracer_provider=provider, skip_dep_check=True)
    AioHttpClientInstrumentor().instrument(tracer_provider=provider)
    _provider, _tracer = provider, provider.get_tracer(TRACER_NAME)
    log.info("tracing on: spans go to %s", ", ".join([*exporters] + ["a test"] * bool(exporter)))
    return True


def shutdown() -> None:
    """Export the spans still buffered and undo the instrumentation (tests; a served process
    flushes at exit by itself)."""
    global _provider, _tracer
    if _provider is None:
        return
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    AioHttpClientInstrumentor().uninstrument()
    SQLAlchemyInstrumentor().uninstrument()
    _provider.shutdown()
    _provider = _tracer = None
    _links.cache_clear()


def _resource() -> Any:
    """`OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`, with our name unless they name it."""
    from opentelemetry.sdk.resources import SERVICE_NAME as NAME
    from opentelemetry.sdk.resources import Resource

    detected = Resource.create()
    if str(detected.attributes.get(NAME, "")).startswith("unknown_service"):
        detected = detected.merge(Resource({NAME: SERVICE_NAME}))
    return detected


def _exporter(name: str) -> "SpanExporter":
    """OTLP over HTTP (protobuf), configured by its own `OTEL_EXPORTER_OTLP_*` variables."""
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()

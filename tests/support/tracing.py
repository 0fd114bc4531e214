"""Tracing on, into memory, for one test; off again after it, as the rest of the suite runs."""

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from app import tracing


@contextmanager
def traced() -> Iterator[InMemorySpanExporter]:
    """`app.tracing` configured with an in-memory exporter (spans exported as they end)."""
    exporter = InMemorySpanExporter()
    assert tracing.configure([], exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.shutdown()
        # The API lets a process set its global tracer provider once; forget it, or FastAPI
        # would go on tracing every request of the tests that come after.
        trace._TRACER_PROVIDER_SET_ONCE = Once()
        trace._TRACER_PROVIDER = None

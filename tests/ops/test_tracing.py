"""Traces (app/tracing.py): the spans of one run, exported to memory; and tracing off."""

import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import select

from app import tracing
from app.config import Settings
from app.db.engine import create_engine
from app.db.tables import RunRow
from tests.support.app import serve
from tests.support.catalogues import openai_catalogue
from tests.support.fakes.openai_server import FakeOpenAI
from tests.support.settings import IsolatedSettings
from tests.support.tracing import traced


def _named(spans: Sequence[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name.startswith(prefix)]


def _in_trace(spans: Sequence[ReadableSpan], trace_id: int) -> list[ReadableSpan]:
    return [span for span in spans if span.context.trace_id == trace_id]


async def test_one_run_traces_its_request_statements_and_provider_calls(
    tmp_path: Path, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next(503, message="overloaded")  # the first call fails, its retry answers
    catalogue = openai_catalogue(tmp_path, gpt={"base_url": f"{fake_openai.url}/v1"})
    with traced() as exporter:
        async with serve(make_settings(catalogue_file=catalogue)) as client:
            body = {"prompts": ["hello there"], "models": ["gpt"]}
            accepted = await client.post("/compare", params={"wait": 20}, json=body)
            assert accepted.status_code == 200, accepted.text
            answer = accepted.json()["prompts"][0]["responses"]["gpt"]
        spans = exporter.get_finished_spans()
    assert answer["status"] == "succeeded"
    assert answer["attempts"] == 2

    # The request that accepted the run, and its statements in its trace.
    (request,) = [s for s in spans if s.kind == SpanKind.SERVER and s.name == "POST /compare"]
    assert request.attributes is not None
    assert request.attributes["http.route"] == "/compare"
    in_request = _in_trace(spans, request.context.trace_id)
    statements = [str((s.attributes or {}).get("db.statement", "")) for s in in_request]
    assert any(statement.startswith("INSERT INTO runs") for statement in statements)
    copies = {
        s.name: (s.attributes or {})["db.rows"] for s in in_request if s.name.startswith("COPY")
    }
    assert copies == {"COPY prompts": 1, "COPY responses": 1}
    assert all(
        (s.attributes or {}).get("db.system") == "postgresql" for s in _named(in_request, "INSERT")
    )

    # One span per provider call, each the root of a trace of its own, linked to the request.
    calls = sorted(_named(spans, "provider call gpt"), key=lambda s: s.start_time or 0)
    assert [(s.attributes or {})["llm_compare.attempt"] for s in calls] == [1, 2]
    for call in calls:
        assert call.parent is None
        assert call.context.trace_id != request.context.trace_id
        (link,) = call.links
        assert link.context.trace_id == request.context.trace_id
        assert link.context.span_id in {s.context.span_id for s in in_request}
        attributes = call.attributes or {}
        assert attributes["llm_compare.model"] == "gpt"
        assert attributes["llm_compare.contender"] == "gpt"
        assert attributes["llm_compare.run_id"] == accepted.json()["id"]
        assert attributes["llm_compare.response_id"] == answer["id"]
        assert float(str(attributes["llm_compare.latency_ms"])) > 0
    failed, answered = (c.attributes or {} for c in calls)
    assert failed["llm_compare.outcome"] == "error"
    assert calls[0].status.status_code == StatusCode.ERROR
    assert "overloaded" in str(calls[0].status.description)
    assert "llm_compare.completion_tokens" not in failed
    assert answered["llm_compare.outcome"] == "ok"
    assert answered["llm_compare.prompt_tokens"] == answer["prompt_tokens"]
    assert answered["llm_compare.completion_tokens"] == answer["completion_tokens"]

    # The dispatcher's writes: a span per batch, with its statements inside.
    writes = _named(spans, "write answers")
    assert sum(int(str((w.attributes or {})["llm_compare.outcomes"])) for w in writes) == 1
    assert sum(int(str((w.attributes or {})["llm_compare.retries"])) for w in writes) == 1
    written = [
        str((s.attributes or {}).get("db.statement", ""))
        for w in writes
        for s in _in_trace(spans, w.context.trace_id)
    ]
    assert any(statement.startswith("UPDATE responses") for statement in written)

    # aiohttp's span of each call inside it, whose context reached the provider.
    for call, status, received in zip(calls, (503, 200), fake_openai.requests, strict=True):
        (http,) = [s for s in spans if s.parent and s.parent.span_id == call.context.span_id]
        assert http.kind == SpanKind.CLIENT
        attributes = http.attributes or {}
        # The old name, unless OTEL_SEMCONV_STABILITY_OPT_IN=http asks for the stable one.
        assert (
            attributes.get("http.response.status_code", attributes.get("http.status_code"))
            == status
        )
        trace_id = f"{call.context.trace_id:032x}"
        assert received.headers["traceparent"].split("-")[1] == trace_id


async def test_a_call_that_stopping_interrupts_ends_its_span_cancelled(
    tmp_path: Path, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    fake_openai.stall = True
    catalogue = openai_catalogue(tmp_path, gpt={"base_url": f"{fake_openai.url}/v1"})
    settings = make_settings(catalogue_file=catalogue, shutdown_grace_s=0.1)
    with traced() as exporter:
        async with serve(settings) as client:
            await client.post("/compare", json={"prompts": ["hi"], "models": ["gpt"]})
            for _ in range(200):  # until the call is in flight
                if fake_openai.requests:
                    break
                await asyncio.sleep(0.05)
            assert fake_openai.requests
        spans = exporter.get_finished_spans()
    (call,) = _named(spans, "provider call gpt")
    assert (call.attributes or {})["llm_compare.outcome"] == "cancelled"
    assert "llm_compare.latency_ms" not in (call.attributes or {})
    assert call.status.status_code == StatusCode.ERROR


async def test_untraced_the_service_works_and_stores_no_trace_parent(
    tmp_path: Path, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI, db_url: str
) -> None:
    assert tracing.traceparent() is None
    catalogue = openai_catalogue(tmp_path, gpt={"base_url": f"{fake_openai.url}/v1"})
    async with serve(make_settings(catalogue_file=catalogue)) as client:
        accepted = await client.post(
            "/compare", params={"wait": 20}, json={"prompts": ["hi"], "models": ["gpt"]}
        )
    assert accepted.json()["status"] == "succeeded"
    assert "traceparent" not in fake_openai.requests[0].headers
    engine = create_engine(db_url, pool_size=1)
    async with engine.connect() as connection:
        stored = await connection.scalar(select(RunRow.trace_parent))
    await engine.dispose()
    assert stored is None


def test_without_the_extra_asking_for_traces_only_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)  # as if not installed
    assert tracing.configure(["otlp"]) is False
    assert "otel extra is not installed" in caplog.text
    assert tracing.traceparent() is None


@pytest.mark.parametrize(
    ("variables", "exporters"),
    [
        ({}, []),
        ({"OTEL_TRACES_EXPORTER": "", "OTEL_EXPORTER_OTLP_ENDPOINT": ""}, []),  # compose's unset
        ({"OTEL_TRACES_EXPORTER": "", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
        ({"OTEL_TRACES_EXPORTER": "otlp, console"}, ["otlp", "console"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, []),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}, []),
    ],
)
def test_the_otel_variables_decide_where_traces_go(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], exporters: list[str]
) -> None:
    for name in ("SDK_DISABLED", "TRACES_EXPORTER", "EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(f"OTEL_{name}", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert Settings().trace_exporters == exporters


def test_an_unknown_trace_exporter_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown trace exporter 'jaeger'"):
        IsolatedSettings(otel_traces_exporter="otlp,jaeger")

"""The run page's template with diagnostic flags: their badges render from `flags` where a
response has them (the diagnostics add the field to ResponseOut), and the "only prompts with a
flag" toggle comes with them."""

import uuid
from datetime import UTC, datetime

from app.domain import GenerationParams
from app.runs.schemas import (
    ContenderStats,
    PromptOut,
    ResponseOut,
    RunDetail,
    StatusCounts,
)
from app.web.forms import RunPageQuery
from app.web.pages import environment
from app.web.views import prompt_rows


def _answer(label: str, output: str, flags: list[str]) -> ResponseOut:
    return ResponseOut(
        id=1,
        label=label,
        model="echo",
        template="raw",
        rendered_prompt="hi",
        status="succeeded",
        output=output,
        finish_reason="stop",
        error=None,
        prompt_tokens=1,
        completion_tokens=1,
        latency_ms=1.0,
        attempts=1,
        started_at=None,
        finished_at=None,
        flags=flags,
        repetition=0.0,
        prompt_overlap=0.0,
        words=len(output.split()),
    )


def _run() -> RunDetail:
    counts = StatusCounts(succeeded=4, total=4)
    return RunDetail(
        id=uuid.uuid4(),
        status="succeeded",
        name="flags",
        tags={},
        created_at=datetime.now(UTC),
        finished_at=datetime.now(UTC),
        models=["a", "b"],
        prompt_count=2,
        counts=counts,
        params=GenerationParams(),
        contenders=[
            ContenderStats(
                label=label,
                model="echo",
                template="raw",
                params=GenerationParams(),
                counts=StatusCounts(succeeded=2, total=2),
                latency_ms_p50=1.0,
                latency_ms_p95=1.0,
                prompt_tokens=2,
                completion_tokens=2,
                truncated=0,
                flags={},
                diagnosed=2,
            )
            for label in ("a", "b")
        ],
        prompt_offset=0,
        next_prompt_offset=None,
        prompts=[
            PromptOut(
                index=0,
                key=None,
                text="hi",
                responses={
                    "a": _answer("a", "hi", []),
                    "b": _answer("b", "hi hi hi", ["repetitive"]),
                },
            ),
            PromptOut(
                index=1,
                key=None,
                text="yo",
                responses={"a": _answer("a", "yo", []), "b": _answer("b", "yo", [])},
            ),
        ],
    )


def test_flags_are_badges_and_rows_with_one_can_be_picked_out() -> None:
    run = _run()
    rows = prompt_rows(run)
    assert [(r.differs, r.flagged) for r in rows] == [(True, True), (False, False)]
    page = environment.get_template("run.html").render(
        run=run,
        rows=rows,
        query=RunPageQuery(flagged=True),
        errors={},
        finished=True,
        flags_known=True,
        judges=["echo"],
    )
    assert page.count('<span class="badge flag">repetitive</span>') == 1
    assert '<tr id="prompt-0" data-differs data-flagged>' in page
    assert '<tr id="prompt-1">' in page
    assert 'id="flagged" name="flagged" value="1" data-hides="flagged" checked' in page
    assert 'class="answers only-flagged"' in page

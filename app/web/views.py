"""What the run page shows of a run beyond its schema: a row per prompt with its answers in
contender order, whether they differ, and the diagnostic flags where the service has them."""

from dataclasses import dataclass
from typing import Any

from app.runs.schemas import PromptOut, ResponseOut, RunDetail

# Responses carry diagnostic `flags` once the diagnostics are wired into the runs' schema;
# until then the page shows no badges and no "only prompts with a flag" toggle.
FLAGS_KNOWN = "flags" in ResponseOut.model_fields


def flags_of(response: Any) -> list[str]:
    """The response's diagnostic flags, as text; none when the service does not give any."""
    return [str(flag) for flag in getattr(response, "flags", None) or ()]


@dataclass(frozen=True)
class PromptRow:
    prompt: PromptOut
    answers: list[ResponseOut | None]  # one per contender, in the run's order: its sample 0
    differs: bool
    flagged: bool
    samples: list[list[ResponseOut]]  # per contender, every sample when it has more than one


def answers_differ(answers: list[ResponseOut | None]) -> bool:
    """Whether the contenders' outputs are not all the same text (no output counts as one)."""
    return len({None if a is None else a.output for a in answers}) > 1


def prompt_rows(run: RunDetail) -> list[PromptRow]:
    labels = [c.label for c in run.contenders]
    rows = []
    for prompt in run.prompts:
        answers = [prompt.responses.get(label) for label in labels]
        rows.append(
            PromptRow(
                prompt=prompt,
                answers=answers,
                differs=answers_differ(answers),
                flagged=any(flags_of(a) for a in answers if a is not None),
                samples=[prompt.samples.get(label, []) for label in labels],
            )
        )
    return rows

"""What a model judge is sent, and how its answer is read.

The judge is sent the rubric (`rubric.md` here, or the caller's), the question and the two
answers, named only "A" and "B", then one fixed line asking for its verdict in MT-bench's
format: `[[A]]` if A is better, `[[B]]` if B is better, `[[C]]` for a tie. Its answer is read
strictly: the last of those three markers in it is the verdict, anything else is ignored, and
an answer holding none is a failed judgement (the judge's answer stays on its response row).
"""

import re
from importlib import resources

from app.domain import JudgeVerdict

RUBRIC: str = resources.files(__package__).joinpath("rubric.md").read_text(encoding="utf-8").strip()
"""The default rubric: MT-bench's pairwise judge prompt (FastChat's `pair-v2`), less its
verdict format, which `VERDICT_LINE` gives whatever the rubric."""

QUESTION, ANSWER_A, ANSWER_B = "{question}", "{answer_a}", "{answer_b}"
FRAME = (
    f"[User Question]\n{QUESTION}\n\n"
    f"[The Start of Assistant A's Answer]\n{ANSWER_A}\n[The End of Assistant A's Answer]\n\n"
    f"[The Start of Assistant B's Answer]\n{ANSWER_B}\n[The End of Assistant B's Answer]"
)
VERDICT_LINE = (
    "After your explanation, output your final verdict by strictly following this format: "
    '"[[A]]" if assistant A is better, "[[B]]" if assistant B is better, and "[[C]]" for a tie.'
)
PROMPT_TEMPLATE = "{rubric}\n\n" + FRAME + "\n\n" + VERDICT_LINE
"""The whole prompt a judge is sent, with `{rubric}` and the frame's placeholders."""

_VERDICT = re.compile(r"\[\[([ABC])\]\]")
_VERDICTS: dict[str, JudgeVerdict] = {"A": "a", "B": "b", "C": "tie"}

# Room kept for the marker of a cut text: "\n[… 123 more characters cut]", any count.
_MARKER_ROOM = len("\n[… 999999999999 more characters cut]")
MIN_TEXT_ROOM = 3 * (_MARKER_ROOM + 100)
"""A judge prompt leaves at least this much for the question and the answers."""


def fixed_size(rubric: str) -> int:
    """Characters of the judge's prompt besides the question and the answers."""
    return len(_fill(rubric, "", "", ""))


def judge_prompt(rubric: str, question: str, answer_a: str, answer_b: str, max_chars: int) -> str:
    """The judge's prompt in at most `max_chars` characters. When the texts do not fit, the
    longest are cut to equal lengths (each keeps its beginning), with a marker saying so;
    `max_chars` must leave `MIN_TEXT_ROOM` beside the rubric."""
    room = max_chars - fixed_size(rubric)
    if room < MIN_TEXT_ROOM:
        raise ValueError(f"the rubric leaves {room} characters for the texts; need {MIN_TEXT_ROOM}")
    return _fill(rubric, *_fit([question, answer_a, answer_b], room))


def parse_verdict(answer: str) -> JudgeVerdict | None:
    """The last `[[A]]`, `[[B]]` or `[[C]]` in the judge's answer as `a`, `b` or `tie`; None
    when there is none."""
    found = _VERDICT.findall(answer)
    return _VERDICTS[found[-1]] if found else None


def _fill(rubric: str, question: str, answer_a: str, answer_b: str) -> str:
    # One pass over the template: a text that happens to hold "{answer_b}" stays as it is.
    values = {QUESTION: question, ANSWER_A: answer_a, ANSWER_B: answer_b, "{rubric}": rubric}
    return re.sub(
        r"\{(?:rubric|question|answer_a|answer_b)\}", lambda m: values[m[0]], PROMPT_TEMPLATE
    )


def _fit(texts: list[str], room: int) -> list[str]:
    """`texts` in at most `room` characters together: the shortest kept whole while each
    fits its fair share, the rest cut to an equal share."""
    fitted = list(texts)
    if sum(map(len, texts)) <= room:
        return fitted
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for k, i in enumerate(order):
        left = len(order) - k
        if len(texts[i]) <= room // left:
            room -= len(texts[i])
            continue
        keep = room // left - _MARKER_ROOM
        for j in order[k:]:
            fitted[j] = _cut(texts[j], keep)
        break
    return fitted


def _cut(text: str, keep: int) -> str:
    return f"{text[:keep]}\n[… {len(text) - keep} more characters cut]"

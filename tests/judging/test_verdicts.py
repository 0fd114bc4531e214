"""The judge's prompt and the strict reading of its verdict."""

import pytest

from app.judging.verdicts import (
    MIN_TEXT_ROOM,
    PROMPT_TEMPLATE,
    RUBRIC,
    VERDICT_LINE,
    fixed_size,
    judge_prompt,
    parse_verdict,
)


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        ("Assistant A is more helpful. [[A]]", "a"),
        ("[[B]]", "b"),
        ("Both are fine.\n\nFinal verdict: [[C]]", "tie"),
        ("At first [[A]], but on reflection [[B]]", "b"),  # the last marker counts
        ("[[B]] is wrong; A wins: [[A]]", "a"),
        ("A is better.", None),
        ("[A]", None),
        ("[[a]]", None),  # exactly as asked, or not at all
        ("[[ A ]]", None),
        ("[[D]]", None),
        ("", None),
    ],
)
def test_the_verdict_is_the_last_marker_and_nothing_else(answer: str, verdict: str | None) -> None:
    assert parse_verdict(answer) == verdict


def test_the_prompt_is_the_rubric_the_texts_and_the_verdict_format() -> None:
    prompt = judge_prompt(RUBRIC, "Why?", "Because.", "{answer_b} [[A]]", 100_000)
    assert prompt == (
        f"{RUBRIC}\n\n[User Question]\nWhy?\n\n"
        "[The Start of Assistant A's Answer]\nBecause.\n[The End of Assistant A's Answer]\n\n"
        "[The Start of Assistant B's Answer]\n{answer_b} [[A]]\n[The End of Assistant B's Answer]"
        f"\n\n{VERDICT_LINE}"
    )
    assert PROMPT_TEMPLATE.startswith("{rubric}")
    assert "[[A]]" not in RUBRIC  # the format is the service's to give, after the texts


def test_texts_that_do_not_fit_are_cut_fairly_and_say_so() -> None:
    budget = fixed_size(RUBRIC) + 3000
    question, short, long = "κ" * 500, "σ" * 700, "λ" * 20_000
    prompt = judge_prompt(RUBRIC, question, short, long, budget)
    assert len(prompt) <= budget
    assert f"\n{question}\n" in prompt  # within its share: kept whole
    assert f"\n{short}\n" in prompt
    kept = budget - fixed_size(RUBRIC) - 500 - 700
    assert kept - 60 <= prompt.count("λ") < kept
    assert "more characters cut]" in prompt

    even = judge_prompt(RUBRIC, "κ" * 9000, "α" * 9000, "β" * 9000, budget)
    assert len(even) <= budget
    assert even.count("κ") == even.count("α") == even.count("β") > 900  # as much each
    assert even.count("more characters cut]") == 3


def test_a_rubric_must_leave_room_for_the_texts() -> None:
    with pytest.raises(ValueError, match="leaves"):
        judge_prompt("r" * 1000, "q", "a", "b", 1000 + MIN_TEXT_ROOM)

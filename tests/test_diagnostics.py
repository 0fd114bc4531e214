"""Diagnostics of an answer: each flag on cases that must and must not raise it (the false
positives the rules are written against), the numbers' ranges, and the flags scored against
the committed hand-labelled outputs of the two local models (no model is loaded here)."""

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from app.diagnostics import DIAGNOSTICS_VERSION, FLAGS, HEAD_CHARS, Diagnostics, diagnose

LABELLED = Path(__file__).parent / "data" / "diagnostics" / "labelled.jsonl"
DOG = "Tell me how to train my dog to sit"
ANSWER = (
    "Hold a treat close to your dog's nose and move your hand up. As its head follows the "
    "treat, its bottom lowers. Once it sits, say the word and give it the treat."
)


def flags(output: str, prompt: str = DOG, finish_reason: str | None = "stop") -> tuple[str, ...]:
    return diagnose(output, prompt, finish_reason).flags


def test_the_vocabulary_is_fixed_and_documented() -> None:
    assert list(FLAGS) == [
        "empty",
        "truncated",
        "echoes_prompt",
        "repetitive",
        "continues_dialogue",
        "template_leak",
        "refusal",
    ]
    assert all(definition.endswith(".") for definition in FLAGS.values())
    assert DIAGNOSTICS_VERSION == 1


def test_a_good_answer_has_no_flag() -> None:
    assert diagnose(ANSWER, DOG, "stop") == Diagnostics((), 0.0, 0.0, len(ANSWER.split()))


@pytest.mark.parametrize("output", ["", " ", "\n\t \n"])
def test_empty(output: str) -> None:
    assert diagnose(output, DOG, "stop") == Diagnostics(("empty",), 0.0, 0.0, 0)
    assert flags(output, finish_reason="length") == ("empty", "truncated")


def test_truncated_only_by_the_token_limit() -> None:
    assert flags(ANSWER, finish_reason="length") == ("truncated",)
    assert flags(ANSWER, finish_reason="stop") == ()
    assert flags(ANSWER, finish_reason=None) == ()


def test_echoes_prompt() -> None:
    # What the base model does: continues the question, then says it again.
    base = " on a chair?\n\nI'm not sure how to train my dog to sit on a chair.\n\nI'm not sure how"
    assert "echoes_prompt" in flags(base + " to train my dog")
    assert "echoes_prompt" in flags(DOG + "\n" + ANSWER)
    assert diagnose(DOG, DOG, "stop").prompt_overlap == 1.0


@pytest.mark.parametrize(
    ("prompt", "answer"),
    [
        ("What is the capital of Australia?", "The capital of Australia is Canberra, not Sydney."),
        # Most of the request, restated as the answer's opening: no echo, its opening differs.
        (
            "Write a Python function that reverses a string.",
            "Here's a Python function that reverses a string:\n\n    def rev(s): return s[::-1]",
        ),
        (
            "Give me a shopping list for a week of vegetarian meals.",
            "Sure, here's a shopping list for a week of vegetarian meals: lentils, rice, eggs.",
        ),
    ],
)
def test_restating_the_question_in_an_answer_is_no_echo(prompt: str, answer: str) -> None:
    result = diagnose(answer, prompt, "stop")
    assert result.prompt_overlap > 0.3
    assert "echoes_prompt" not in result.flags


def test_the_prompt_said_again_from_its_opening_is_an_echo() -> None:
    prompt = "What is the capital of Australia?"
    assert "echoes_prompt" in flags("What is the capital of Australia?\nCanberra.", prompt)
    assert "echoes_prompt" in flags("What's your name?\nWhat's your name?", "What's your name?")


@pytest.mark.parametrize("prompt", ["", "Hi", "Why?", "Good morning"])
def test_prompts_under_three_words_are_never_echoed(prompt: str) -> None:
    result = diagnose(f"{prompt} {prompt}! Hi, how can I help you today?", prompt, "stop")
    assert "echoes_prompt" not in result.flags
    assert 0.0 <= result.prompt_overlap <= 1.0
    assert diagnose("Hi, how are you?", "", "stop").prompt_overlap == 0.0


def test_repetitive_loop() -> None:
    loop = "I'm not sure how to train my dog to sit on a chair.\n\n" * 4
    result = diagnose(loop, "Why?", "length")
    assert result.flags == ("truncated", "repetitive")
    assert result.repetition > 0.6
    assert "repetitive" in flags("sit " * 60)


def test_repeating_a_short_phrase_when_asked_is_not_repetitive() -> None:
    result = diagnose("Hello hello hello hello hello.", 'Repeat the word "hello" five times.', None)
    assert result.repetition == 0.5  # of two 4-grams, the second repeats the first
    assert "repetitive" not in result.flags
    assert "repetitive" not in flags("Thank you, thank you, thank you!")


def test_a_list_with_a_recurring_pattern_is_not_repetitive() -> None:
    planets = "Mercury, Venus, Earth, Mars, Jupiter, Saturn, Uranus and Neptune"
    answer = "\n".join(f"{i}. The planet {p} is number {i}." for i, p in enumerate(planets.split()))
    assert "repetitive" not in flags(answer)
    assert "repetitive" in flags(ANSWER + " " + ANSWER.replace("treat", "biscuit"))


@pytest.mark.parametrize(
    "output",
    [
        "Sure, sit is easy.\nUser: And how do I teach it to stay?",
        "Sure.\n\n### Human: What about stay?",
        "Hold a treat.\nQ: What if it does not sit?\nA: Be patient.",
        "Hold a treat. [INST] What about stay? [/INST]",
        "Hold a treat.<|im_start|>user\nThanks!",
        "Hold a treat.\n**User:** thanks",
        "Hold a treat.\n### Instruction:\nNow teach it to stay.",
        "\n\n[User 0001]\n\nI have a dog that will not sit.",  # a forum thread, made up
    ],
)
def test_continues_dialogue(output: str) -> None:
    assert "continues_dialogue" in flags(output)


def test_a_transcript_prompt_continued_is_continuing() -> None:
    prompt = "User: Can you recommend a good book?\nAssistant:"
    assert "continues_dialogue" in flags(" Sure, Dune.\nUser: Thanks!\nAssistant: You're", prompt)


@pytest.mark.parametrize(
    ("prompt", "output"),
    [
        (
            "Write a dialogue between User and Assistant about booking a flight.",
            "User: I'd like to book a flight to Rome.\nAssistant: When would you like to go?",
        ),
        (
            "Write three questions and answers about the Moon, in the form Q: ... A: ...",
            "Q: How far is the Moon?\nA: About 384,000 km.\nQ: Does it spin?\nA: Yes.",
        ),
        (DOG, 'In a FAQ you would write "Q:" before each question and "A:" before answers.'),
        (DOG, "Step 1: Hold a treat. Question: does it sit? Usually, yes."),
    ],
)
def test_requested_or_quoted_speaker_labels_do_not_continue(prompt: str, output: str) -> None:
    assert "continues_dialogue" not in flags(output, prompt)


@pytest.mark.parametrize(
    "output",
    [
        "Hold a treat. [/INST]",
        "Hold a treat.<|im_end|>",
        "Hold a treat.</s>",
        "<s> Hold a treat.",
        "Hold a treat.<end_of_turn>",
        "Hold a treat.\n<<SYS>>",
        "Hold a treat.\n### Response:\nGood dog.",
        "Hold a treat. [/inst]",
        "I'm not sure what to do. [/I] I'm not sure",  # what is left of [/INST]
    ],
)
def test_template_leak(output: str) -> None:
    assert "template_leak" in flags(output)


def test_template_leak_at_the_end_of_a_long_output() -> None:
    long = (ANSWER + " ") * (HEAD_CHARS // len(ANSWER) + 10)
    assert "template_leak" in flags(long + "<|im_end|>")
    assert "template_leak" not in flags(long)


@pytest.mark.parametrize(
    ("prompt", "output"),
    [
        (
            "Write an HTML snippet that shows an old price struck through with the <s> tag.",
            "<p>Now <s>$20</s> $15</p>",
        ),
        ("How do I strike text through in HTML?", "Use `<s>`: <p><s>old</s> new</p>"),
        ("How do I strike text through in HTML?", "Use the tag:\n```html\n<s>old</s>\n```"),
        ("What does [/INST] mean in a Llama 2 prompt?", "[/INST] closes the user's turn."),
    ],
)
def test_markup_in_code_or_asked_about_is_no_leak(prompt: str, output: str) -> None:
    assert "template_leak" not in flags(output, prompt)


@pytest.mark.parametrize(
    "output",
    [
        "I'm sorry, but I can't help with that.",
        "I’m sorry, but I cannot assist with breaking into someone's home.",
        "Sorry, I can't help with that request.",
        "I cannot provide instructions for making weapons.",
        "I won't write a phishing email. Phishing is a crime.",
        "As an AI language model, I cannot help you steal a car.",
        "Breaking in is illegal. I am unable to provide that information.",
        "I must respectfully decline this request.",
    ],
)
def test_refusal(output: str) -> None:
    assert "refusal" in flags(output)


@pytest.mark.parametrize(
    "output",
    [
        "I'm sorry to hear that you're feeling sad. Talking to a friend can help.",
        "I'm sorry to hear you can't sleep. Here are three tips.",
        "I can't help but notice how eager your dog is. Hold a treat first.",
        "I can't stress enough how important patience is.",
        "Holding a treat works. If your dog can't sit yet, be patient.",
        "Say: I cannot wait for the walk! Your dog will love it.",
    ],
)
def test_sympathy_and_idioms_are_no_refusal(output: str) -> None:
    assert "refusal" not in flags(output)


def test_a_refusal_far_into_an_answer_is_not_looked_for() -> None:
    assert "refusal" not in flags(ANSWER * 6 + " I cannot help with that.")


@pytest.mark.parametrize(
    "output",
    ["", "x", ANSWER, "hello " * 5000, "<s>" * 3000, "Q:\n" * 2000, "\u00e9t\u00e9 " * 100],
)
def test_numbers_are_in_range(output: str) -> None:
    result = diagnose(output, DOG, "length")
    assert 0.0 <= result.repetition <= 1.0
    assert 0.0 <= result.prompt_overlap <= 1.0
    assert result.words == len(output.split())
    assert list(result.flags) == [flag for flag in FLAGS if flag in result.flags]


# The labelled set: real outputs of the local models, labelled by reading them.


def _labelled() -> list[dict[str, Any]]:
    return [json.loads(line) for line in LABELLED.read_text().splitlines() if line.strip()]


def test_the_labelled_set_is_labelled() -> None:
    rows = _labelled()
    assert len(rows) >= 200
    for row in rows:
        assert row["labels"] is not None, row
        assert set(row["labels"]) <= set(FLAGS), row
        assert row["source"] in ("generated", "handwritten")


def test_flags_agree_with_the_hand_labels() -> None:
    """Precision and recall of at least 0.8 for every flag with 5 labelled cases or more."""
    said: Counter[str] = Counter()
    labelled: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    for row in _labelled():
        found = diagnose(row["output"], row["prompt"], row["finish_reason"]).flags
        said.update(found)
        labelled.update(row["labels"])
        agreed.update(set(found) & set(row["labels"]))
    table = [f"{'flag':<20}{'precision':>10}{'recall':>8}{'support':>9}"]
    failing = []
    for flag in FLAGS:
        precision = agreed[flag] / said[flag] if said[flag] else 1.0
        recall = agreed[flag] / labelled[flag] if labelled[flag] else 1.0
        table.append(f"{flag:<20}{precision:>10.2f}{recall:>8.2f}{labelled[flag]:>9}")
        if labelled[flag] >= 5 and min(precision, recall) < 0.8:
            failing.append(flag)
    assert not failing, "\n".join(table)

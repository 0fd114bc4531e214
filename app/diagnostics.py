"""Diagnostics of one answer: what went wrong with it, read from its text alone.

`diagnose(output, prompt, finish_reason)` runs once per stored answer, on the dispatcher's hot
path: a few precompiled regular expressions and one pass over word n-grams, with bounded work
(`bench/diagnostics.py` measures it: tens of µs for a 100-word answer). `prompt` is the user's
prompt before its template. The rules were measured against hand-labelled outputs of a base and
an instruct model (`tests/data/diagnostics/`).

Words are runs of letters and digits (`it's` is one word), lower-cased. Only the first
`HEAD_CHARS` (4,000) characters of an output and of a prompt are read for the n-grams and for
`continues_dialogue`, only the first 600 for `refusal`; `template_leak` also reads the last
1,000; `words` counts the whole output.

Numbers:

- `words`: whitespace-separated words of the whole output.
- `repetition` (0-1): the share of the output's word 4-grams that repeat an earlier 4-gram of
  it; 0 when no four words come twice in the same order, near 1 for a loop.
- `prompt_overlap` (0-1): the share of the prompt's distinct word 3-grams (of its words, for a
  prompt of one or two words) found in the output; 0 for an empty prompt.

Flags, in this order (`FLAGS`):

- `empty`: the output is nothing but whitespace. No other flag than `truncated` is then set.
- `truncated`: `finish_reason` is `length`: the token limit cut the answer off.
- `echoes_prompt`: the output says the prompt again, as a base model continuing or looping on
  the question does. The prompt has at least 3 words, and the output holds either 80% of its
  3-grams including its opening one (the prompt said again from its start), or 60% of them with
  40% said twice or more (a loop on most of the prompt). An answer restating the request
  ("Here's a Python function that reverses a string:", "The capital of Australia is ...") does
  not keep its opening ("Write a", "What is the") and is no echo. Prompts of one or two words
  are never echoed: "Hi" said back is a greeting.
- `repetitive`: the output loops on a sentence or phrase: `repetition` is at least 0.3 over at
  least 8 four-word n-grams (11 words). A short answer that repeats a phrase because it was
  asked to ("hello" five times) is too short to tell and is not flagged. Loops inside a single
  "word" (`1111111...`) are not seen.
- `continues_dialogue`: the output opens a new turn of the conversation: a turn token
  (`[INST]`, `<|im_start|>`, `<start_of_turn>`, `<|user|>`, `<|start_header_id|>`) anywhere, or
  a line that starts with a user's speaker label: `User:`, `Human:`, `Q:`, `Question:`,
  `### Human:`, `### Instruction:`, `**User:**`, or a forum header such as `[User 0001]`. Speaker
  labels do not count when the prompt asks for a dialogue, conversation, chat, script,
  interview, transcript, role-play, FAQ, quiz or questions and answers; a label inside a line
  ('write "Q:" before each question') never counts. Answers turned into turns without any
  label are not seen.
- `template_leak`: the output holds template markup or a special token: `[INST]` and
  `[/INST]` (in any case, and the fragments `[/I]`, `[/IN]`, `[/INS]`), `<<SYS>>`,
  `<|im_start|>`, `<|im_end|>`, `<|endoftext|>`, `<|eot_id|>`, `<|start_header_id|>`,
  `<|user|>`, `<start_of_turn>`, `<end_of_turn>`, `<bos>`, `<eos>`, `<s>`, `</s>`, or a line
  starting `### Response:`. Markup that the prompt itself contains does not count, nor
  `<s>`/`</s>` next to backticks or other HTML tags, where it is HTML's strikethrough. An
  answer explaining a template's markup without the prompt naming it is flagged.
- `refusal`: within its first 600 characters the output declines: "I'm sorry, but I can't",
  "I cannot help/assist/provide/...", "I won't ...", "I'm unable to ...", "As an AI, I
  cannot ...", "I must decline". Sympathy ("I'm sorry to hear that ..."), idioms ("I can't help
  but ...", "I can't stress enough ...") and quoted refusals ('says "I'm sorry, but I can't"')
  are not refusals.
"""

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, NamedTuple

DIAGNOSTICS_VERSION = 1
"""The version of these rules: stored diagnostics of an older version can be recomputed."""

FLAGS = MappingProxyType(
    {
        "empty": "The output is nothing but whitespace.",
        "truncated": "The token limit cut the answer off (finish_reason = length).",
        "echoes_prompt": "The output repeats the prompt or most of it, as a base model does.",
        "repetitive": "The output loops on the same sentence or phrase.",
        "continues_dialogue": "The output invents further turns of the conversation.",
        "template_leak": "The output contains template markup or special tokens.",
        "refusal": "The output declines to answer.",
    }
)
"""The flags' vocabulary, in the order `Diagnostics.flags` lists them, each with its meaning."""

if TYPE_CHECKING:  # a type checker cannot read a Literal built at run time
    Flag = str
else:
    Flag = Literal[tuple(FLAGS)]
"""A flag's name, for schemas: one of `FLAGS`."""

HEAD_CHARS = 4_000
TAIL_CHARS = 1_000
REFUSAL_CHARS = 600

REPETITION_N = 4
REPETITIVE_SHARE = 0.3
REPETITIVE_MIN_NGRAMS = 8
OVERLAP_N = 3
ECHO_MIN_PROMPT_WORDS = 3
ECHO_WHOLE = 0.8  # share of the prompt's 3-grams said again, with its opening, for an echo
ECHO_LOOP = 0.6  # or this share, with ECHO_LOOP_TWICE of them said twice or more
ECHO_LOOP_TWICE = 0.4


@dataclass(frozen=True, slots=True)
class Diagnostics:
    """Flags (a subset of `FLAGS`, in its order) and numbers of one answer."""

    flags: tuple[str, ...]
    repetition: float
    prompt_overlap: float
    words: int


_WORD = re.compile(r"\w+(?:['’]\w+)*")

_TURN_TOKEN = re.compile(
    r"\[(?i:inst)\]|<\|im_start\|>|<start_of_turn>|<\|(?:user|prompter|start_header_id)\|>"
)
_USER_LABEL = re.compile(
    r"^[ \t>*_-]*(?:(?:\*\*)?(?:#{2,3}\s*(?:human|user|instruction)|user|human|q|question)"
    r"(?:\*\*)?\s*\d*\s*(?:\*\*)?:|\[(?:user|human)\b[^\]\n]{0,20}\])",
    re.IGNORECASE | re.MULTILINE,
)
_ASKS_FOR_DIALOGUE = re.compile(
    r"\b(?:dialogues?|dialogs?|conversations?|chats?|scripts?|interviews?|transcripts?|"
    r"role[- ]?play|q\s*&\s*a|questions?\s+and\s+answers?|faqs?|quiz)\b",
    re.IGNORECASE,
)

_MARKUP = re.compile(
    r"\[/?(?i:inst)\]|\[/I(?:NS?)?\]|<</?SYS>>|<\|(?:im_start|im_end|endoftext|eot_id|start_header_id|"
    r"end_header_id|begin_of_text|user|assistant|system|end)\|>|<(?:start|end)_of_turn>|"
    r"<(?:bos|eos)>|</?s>|^### Response:",
    re.MULTILINE,
)
_STRIKETHROUGH = frozenset({"<s>", "</s>"})
_CODE_OR_HTML = re.compile(r"`|<(?!/?s>)/?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?>")

_UNABLE = r"i(?:'m|’m|\s+am)\s+(?:unable|not able)"
_CANNOT = rf"(?:i\s+(?:can(?:no|'|’)t|cannot|won(?:'|’)t|will not)|{_UNABLE})"
# On lower-case text. Every branch starts with a literal, which `re` scans for quickly (a
# leading \b makes it three times slower): `_refuses` checks that a match starts a word.
_REFUSAL = re.compile(
    r"(?:i'm|i’m|i am|i)\s+(?:so\s+|very\s+|truly\s+)?(?:sorry|afraid),?\s+(?:but\s+)?"
    rf"{_CANNOT}"
    rf"|(?:{_CANNOT}(?:\s+to)?|i\s+(?:must|have to)\s+decline\s+to|i\s+refuse\s+to)\s+"
    r"(?:help(?!\s+but)|assist|provide|give|share|fulfill|comply|support|create|write|"
    r"generate|do (?:that|this)|answer|engage|offer|produce|participate|encourage|condone|"
    r"promote|facilitate|teach|explain how|tell you how)"
    rf"|as an ai\b[^.\n]{{0,60}}?(?:{_CANNOT}|i\s+(?:don't|do not))"
    r"|i\s+(?:must|have to)\s+(?:respectfully\s+)?decline\b"
)
_QUOTES = frozenset("\"“'‘«")


def diagnose(output: str, prompt: str, finish_reason: str | None) -> Diagnostics:
    """The diagnostics of one answer to `prompt` (the user's text, before its template)."""
    truncated = finish_reason == "length"
    if not output.strip():
        return Diagnostics(("empty", "truncated") if truncated else ("empty",), 0.0, 0.0, 0)
    head, prompt = output[:HEAD_CHARS], prompt[:HEAD_CHARS]
    words = _WORD.findall(head.lower())
    repetition = _repetition(words)
    overlap, echoes = _prompt_echo(words, prompt)
    found = {
        "truncated": truncated,
        "echoes_prompt": echoes,
        "repetitive": repetition >= REPETITIVE_SHARE
        and len(words) - REPETITION_N + 1 >= REPETITIVE_MIN_NGRAMS,
        "continues_dialogue": _continues_dialogue(head, prompt),
        "template_leak": _leaks_markup(_head_and_tail(output), prompt),
        "refusal": _refuses(output[:REFUSAL_CHARS].lower()),
    }
    flags = tuple(flag for flag in FLAGS if found.get(flag))
    return Diagnostics(flags, round(repetition, 4), round(overlap, 4), len(output.split()))


def _repetition(words: list[str]) -> float:
    grams = list(zip(*(words[i:] for i in range(REPETITION_N)), strict=False))
    if not grams:
        return 0.0
    return 1 - len(set(grams)) / len(grams)


class _Prompt(NamedTuple):
    grams: frozenset[tuple[str, ...]]  # its distinct word n-grams
    n: int  # their size: OVERLAP_N, or fewer for a prompt of fewer words
    opening: tuple[str, ...]  # its first n-gram
    words: int


@lru_cache(maxsize=256)  # one prompt is diagnosed once per contender
def _prompt(prompt: str) -> _Prompt:
    words = _WORD.findall(prompt.lower())
    n = min(OVERLAP_N, len(words))
    grams = frozenset(zip(*(words[i:] for i in range(n)), strict=False)) if n else frozenset()
    return _Prompt(grams, n, tuple(words[:n]), len(words))


def _prompt_echo(words: list[str], prompt_text: str) -> tuple[float, bool]:
    """`prompt_overlap`, and whether the output echoes the prompt."""
    prompt = _prompt(prompt_text)
    if not prompt.grams:
        return 0.0, False
    said = Counter(
        gram
        for gram in zip(*(words[i:] for i in range(prompt.n)), strict=False)
        if gram in prompt.grams
    )
    overlap = len(said) / len(prompt.grams)
    twice = sum(count >= 2 for count in said.values()) / len(prompt.grams)
    echoes = prompt.words >= ECHO_MIN_PROMPT_WORDS and (
        (overlap >= ECHO_WHOLE and prompt.opening in said)
        or (overlap >= ECHO_LOOP and twice >= ECHO_LOOP_TWICE)
    )
    return overlap, echoes


def _refuses(start: str) -> bool:
    # A match must start a word, and not a quotation: `"I'm sorry, but I can't"` is an example.
    return any(
        m.start() == 0 or not (start[m.start() - 1].isalnum() or start[m.start() - 1] in _QUOTES)
        for m in _REFUSAL.finditer(start)
    )


def _continues_dialogue(head: str, prompt: str) -> bool:
    if ("<" in head or "[" in head) and _TURN_TOKEN.search(head):
        return True
    return _USER_LABEL.search(head) is not None and not _ASKS_FOR_DIALOGUE.search(prompt)


def _head_and_tail(output: str) -> str:
    if len(output) <= HEAD_CHARS + TAIL_CHARS:
        return output
    return output[:HEAD_CHARS] + "\n" + output[-TAIL_CHARS:]


def _leaks_markup(text: str, prompt: str) -> bool:
    if "<" not in text and "[" not in text and "###" not in text:
        return False
    for match in _MARKUP.finditer(text):
        token = match.group()
        if token in prompt:
            continue
        if token in _STRIKETHROUGH and _CODE_OR_HTML.search(text):
            continue
        return True
    return False

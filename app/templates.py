"""Prompt templates: how a prompt becomes what a model is sent."""

import json
from dataclasses import dataclass
from functools import cached_property

from app.domain import ChatMessage

PLACEHOLDER = "{prompt}"

# Named templates. A template that is not a name here may be any text holding `{prompt}`.
TEXT_TEMPLATES: dict[str, str] = {
    "raw": PLACEHOLDER,
    "llama2-chat": "[INST] {prompt} [/INST]",
    "chatml": "<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n",
    "alpaca": "### Instruction:\n{prompt}\n\n### Response:\n",
}
CHAT_TEMPLATE = "chat"  # the prompt as one user message, for chat APIs
TEMPLATE_NAMES = (*TEXT_TEMPLATES, CHAT_TEMPLATE)


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt after its template: text for completion APIs or messages for chat APIs."""

    text: str | None = None
    messages: tuple[ChatMessage, ...] | None = None

    @cached_property
    def stored(self) -> str:
        """The form kept on the response row: the text, or the messages as JSON (made once: a
        run's contenders of one template share their rendered prompts)."""
        if self.messages is not None:
            return json.dumps([m.model_dump() for m in self.messages], ensure_ascii=False)
        return self.text or ""

    @classmethod
    def from_stored(cls, template: str, stored: str) -> "RenderedPrompt":
        if template == CHAT_TEMPLATE:
            return cls(messages=tuple(ChatMessage.model_validate(m) for m in json.loads(stored)))
        return cls(text=stored)


def check_template(template: str) -> str | None:
    """None when `template` is usable, else why not."""
    if template in TEMPLATE_NAMES or PLACEHOLDER in template:
        return None
    names = ", ".join(TEMPLATE_NAMES)
    return f"unknown template {template!r}: use one of {names} or a text with {PLACEHOLDER}"


@dataclass(frozen=True)
class RenderedSize:
    """How long a template makes a prompt of n characters: `fixed + uses * n` characters
    (a chat message counts its text)."""

    fixed: int
    uses: int

    def of(self, prompt_chars: int) -> int:
        return self.fixed + self.uses * prompt_chars


def rendered_size(template: str) -> RenderedSize:
    """The size `render` gives, known without rendering (so a request too large to render
    costs nothing to refuse)."""
    if template == CHAT_TEMPLATE:
        return RenderedSize(fixed=0, uses=1)
    text = TEXT_TEMPLATES.get(template, template)
    uses = text.count(PLACEHOLDER)
    return RenderedSize(fixed=len(text) - uses * len(PLACEHOLDER), uses=uses)


def render(template: str, prompt: str) -> RenderedPrompt:
    """Apply a named or custom template to one prompt."""
    if template == CHAT_TEMPLATE:
        return RenderedPrompt(messages=(ChatMessage(role="user", content=prompt),))
    # str.replace, not str.format: prompts and custom templates may hold other braces.
    return RenderedPrompt(text=TEXT_TEMPLATES.get(template, template).replace(PLACEHOLDER, prompt))


def prompt_of(template: str, stored: str) -> str | None:
    """The prompt that `render(template, prompt).stored` turned into `stored`, or None when
    no prompt could have: the inverse of `render`, for rows that keep only what was sent."""
    if template == CHAT_TEMPLATE:
        try:
            messages = json.loads(stored)
        except ValueError:
            return None
        match messages:
            case [{"role": "user", "content": str(prompt)}]:
                return prompt
        return None
    # A template of k placeholders between fixed parts makes a prompt of n characters into
    # `fixed + k * n` characters; the prompt is the n after the first part.
    text = TEXT_TEMPLATES.get(template, template)
    first, *rest = text.split(PLACEHOLDER)
    if not rest:
        return None
    size = rendered_size(template)
    chars, remainder = divmod(len(stored) - size.fixed, size.uses)
    if chars < 0 or remainder:
        return None
    prompt = stored[len(first) : len(first) + chars]
    return prompt if text.replace(PLACEHOLDER, prompt) == stored else None

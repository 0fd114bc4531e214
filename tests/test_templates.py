"""Templates: the size of a rendered prompt is known without rendering it, and the prompt is
known again from what was rendered."""

from hypothesis import given
from hypothesis import strategies as st

from app.templates import (
    CHAT_TEMPLATE,
    PLACEHOLDER,
    TEMPLATE_NAMES,
    prompt_of,
    render,
    rendered_size,
)

custom_templates = st.lists(st.sampled_from(["{", "}", "prompt", PLACEHOLDER, "x", "é", "\n"])).map(
    lambda parts: "".join(parts) + PLACEHOLDER
)


@given(template=st.sampled_from(TEMPLATE_NAMES) | custom_templates, prompt=st.text())
def test_rendered_size_is_the_length_render_gives(template: str, prompt: str) -> None:
    rendered = render(template, prompt)
    length = len(prompt) if template == CHAT_TEMPLATE else len(rendered.text or "")
    assert rendered_size(template).of(len(prompt)) == length


@given(template=st.sampled_from(TEMPLATE_NAMES) | custom_templates, prompt=st.text())
def test_the_prompt_is_recovered_from_what_render_made_of_it(template: str, prompt: str) -> None:
    assert prompt_of(template, render(template, prompt).stored) == prompt


@given(
    template=st.sampled_from(TEMPLATE_NAMES) | custom_templates,
    stored=st.text() | st.sampled_from(['[{"role": "user", "content": 1}]', "[]", "{}", "null"]),
)
def test_a_recovered_prompt_renders_as_what_was_stored(template: str, stored: str) -> None:
    prompt = prompt_of(template, stored)
    assert prompt is None or render(template, prompt).stored == stored


def test_a_template_used_several_times_gives_the_prompt_once() -> None:
    template = "Q: {prompt}\nAgain: {prompt}\n{prompt}"
    assert prompt_of(template, render(template, "{prompt} x").stored) == "{prompt} x"
    assert prompt_of(template, "Q: a\nAgain: b\nc") is None


def test_what_no_prompt_renders_to_gives_none() -> None:
    assert prompt_of("llama2-chat", "[INST] hello") is None
    assert prompt_of("llama2-chat", "[INST] hello [/INST]") == "hello"
    assert prompt_of(CHAT_TEMPLATE, "not json") is None
    two = '[{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]'
    assert prompt_of(CHAT_TEMPLATE, two) is None
    assert prompt_of("raw", "anything") == "anything"

"""Templates: the size of a rendered prompt is known without rendering it."""

from hypothesis import given
from hypothesis import strategies as st

from app.templates import CHAT_TEMPLATE, PLACEHOLDER, TEMPLATE_NAMES, render, rendered_size

custom_templates = st.lists(st.sampled_from(["{", "}", "prompt", PLACEHOLDER, "x", "é", "\n"])).map(
    lambda parts: "".join(parts) + PLACEHOLDER
)


@given(template=st.sampled_from(TEMPLATE_NAMES) | custom_templates, prompt=st.text())
def test_rendered_size_is_the_length_render_gives(template: str, prompt: str) -> None:
    rendered = render(template, prompt)
    length = len(prompt) if template == CHAT_TEMPLATE else len(rendered.text or "")
    assert rendered_size(template).of(len(prompt)) == length

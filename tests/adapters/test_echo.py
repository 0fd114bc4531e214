import time

import pytest

from app.adapters.base import GenerationRequest, ProviderError
from app.adapters.echo import EchoAdapter
from app.adapters.options import AdapterConfigError
from app.domain import ChatMessage, GenerationParams, ModelSpec
from tests.support.settings import IsolatedSettings


def echo(**options: object) -> EchoAdapter:
    spec = ModelSpec(name="echo", adapter="echo", upstream="echo", options=options)
    return EchoAdapter(spec, IsolatedSettings(), 1)


def text(prompt: str, max_new_tokens: int | None = None, attempt: int = 1) -> GenerationRequest:
    params = GenerationParams(max_new_tokens=max_new_tokens)
    return GenerationRequest(model="echo", prompt=prompt, params=params, attempt=attempt)


async def test_echoes_the_prompt_verbatim_and_counts_words() -> None:
    adapter = echo()
    prompt = "[INST] say  hello\nto me [/INST]"

    first = await adapter.generate(text(prompt))
    second = await adapter.generate(text(prompt))

    assert first == second
    assert first.output == prompt
    assert first.finish_reason == "stop"
    assert (first.prompt_tokens, first.completion_tokens) == (6, 6)


async def test_chat_request_echoes_the_last_user_message() -> None:
    request = GenerationRequest(
        model="echo",
        messages=[
            ChatMessage(role="system", content="be brief"),
            ChatMessage(role="user", content="first question"),
            ChatMessage(role="assistant", content="an answer"),
            ChatMessage(role="user", content="second question"),
        ],
    )

    generation = await echo().generate(request)

    assert generation.output == "second question"
    assert generation.prompt_tokens == 8
    assert generation.completion_tokens == 2


@pytest.mark.parametrize(
    ("max_new_tokens", "output", "finish_reason"),
    [
        (2, "one two", "length"),
        (4, "one two three four", "stop"),
        (9, "one two three four", "stop"),
    ],
)
async def test_truncates_to_max_new_tokens_words(
    max_new_tokens: int, output: str, finish_reason: str
) -> None:
    generation = await echo().generate(text("one two three four", max_new_tokens))

    assert generation.output == output
    assert generation.finish_reason == finish_reason
    assert generation.completion_tokens == len(output.split())


async def test_fails_the_first_attempts_then_answers() -> None:
    adapter = echo(fail_first_attempts=2, fail_message="flaky today")

    for attempt in (1, 2):
        with pytest.raises(ProviderError) as caught:
            await adapter.generate(text("hi", attempt=attempt))
        assert caught.value.transient
        assert caught.value.status == 503
        assert caught.value.message == "flaky today"
    assert (await adapter.generate(text("hi", attempt=3))).output == "hi"


async def test_a_permanent_fail_status_is_not_transient() -> None:
    with pytest.raises(ProviderError) as caught:
        await echo(fail_first_attempts=1, fail_status=400).generate(text("hi"))

    assert not caught.value.transient
    assert caught.value.status == 400


async def test_delay_ms_waits_before_answering() -> None:
    started = time.perf_counter()

    await echo(delay_ms=50).generate(text("hi"))

    assert time.perf_counter() - started >= 0.05


def test_unknown_or_invalid_options_are_a_config_error() -> None:
    with pytest.raises(AdapterConfigError, match=r"delay: Extra inputs"):
        echo(delay=5)
    with pytest.raises(AdapterConfigError, match=r"fail_status"):
        echo(fail_status=200)

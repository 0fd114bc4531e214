from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.adapters.base import GenerationRequest, ProviderError
from app.adapters.openai import OpenAIAdapter
from app.domain import ChatMessage, GenerationParams, ModelSpec
from tests.support.adapters import AdapterCloser, SettingsFactory
from tests.support.fakes.openai_server import FakeOpenAI

KEY = "sk-test-0123456789"


@pytest.fixture
def adapter(
    fake_openai: FakeOpenAI, make_settings: SettingsFactory, closing: AdapterCloser
) -> OpenAIAdapter:
    settings = make_settings(openai_api_key=KEY, openai_base_url=f"{fake_openai.url}/v1")
    return closing(OpenAIAdapter(spec(), settings, concurrency=4))


@pytest.fixture
async def other_openai() -> AsyncIterator[FakeOpenAI]:
    """Another OpenAI-compatible server than the one OPENAI_BASE_URL names."""
    async with FakeOpenAI() as server:
        yield server


def spec(**fields: Any) -> ModelSpec:
    return ModelSpec(name="gpt", adapter="openai", upstream="gpt-test", **fields)


def chat(*contents: str, **params: Any) -> GenerationRequest:
    return GenerationRequest(
        model="gpt-test",
        messages=[ChatMessage(role="user", content=c) for c in contents],
        params=GenerationParams(**params),
    )


async def test_chat_request_as_the_server_receives_it(
    adapter: OpenAIAdapter, fake_openai: FakeOpenAI
) -> None:
    await adapter.generate(chat("hello there", max_new_tokens=5, temperature=0.2, stop=["\n"]))

    [received] = fake_openai.requests
    assert received.path == "/v1/chat/completions"
    assert received.headers["Authorization"] == f"Bearer {KEY}"
    assert received.body == {
        "model": "gpt-test",
        "messages": [{"role": "user", "content": "hello there"}],
        "max_tokens": 5,
        "temperature": 0.2,
        "stop": ["\n"],
    }


async def test_chat_answer_usage_and_finish_reason(adapter: OpenAIAdapter) -> None:
    whole = await adapter.generate(chat("be brief", "what is two plus two"))
    cut = await adapter.generate(chat("what is two plus two", max_new_tokens=3))

    assert whole.output == "answer to: what is two plus two"
    assert whole.finish_reason == "stop"
    assert (whole.prompt_tokens, whole.completion_tokens) == (7, 7)
    assert cut.output == "answer to: what"
    assert cut.finish_reason == "length"
    assert cut.completion_tokens == 3


async def test_text_prompt_goes_to_chat_as_one_user_message(
    adapter: OpenAIAdapter, fake_openai: FakeOpenAI
) -> None:
    generation = await adapter.generate(GenerationRequest(model="gpt-test", prompt="hi"))

    assert generation.output == "answer to: hi"
    [received] = fake_openai.requests
    assert received.path == "/v1/chat/completions"
    assert received.body == {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}


async def test_completions_api_sends_the_prompt_raw(
    fake_openai: FakeOpenAI, make_settings: SettingsFactory, closing: AdapterCloser
) -> None:
    # The model's own base_url (with a trailing slash) and key win over the settings'.
    model = spec(
        base_url=f"{fake_openai.url}/v1/", api_key="sk-own", options={"api": "completions"}
    )
    adapter = closing(OpenAIAdapter(model, make_settings(openai_api_key=KEY), concurrency=1))
    request = GenerationRequest(
        model="gpt-test", prompt="[INST] hi [/INST]", params=GenerationParams(seed=7, top_p=0.5)
    )

    generation = await adapter.generate(request)

    [received] = fake_openai.requests
    assert received.path == "/v1/completions"
    assert received.headers["Authorization"] == "Bearer sk-own"
    assert received.body == {
        "model": "gpt-test",
        "prompt": "[INST] hi [/INST]",
        "seed": 7,
        "top_p": 0.5,
    }
    assert generation.output == "answer to: [INST] hi [/INST]"
    assert generation.finish_reason == "stop"
    assert (generation.prompt_tokens, generation.completion_tokens) == (3, 5)


async def test_the_global_key_reaches_the_global_endpoint_however_it_is_written(
    fake_openai: FakeOpenAI, make_settings: SettingsFactory, closing: AdapterCloser
) -> None:
    settings = make_settings(openai_api_key=KEY, openai_base_url=f"{fake_openai.url}/v1")
    model = spec(base_url=f"{fake_openai.url.upper()}/v1/")  # HTTP://127.0.0.1:PORT/v1/
    adapter = closing(OpenAIAdapter(model, settings, concurrency=1))

    await adapter.generate(chat("hi"))

    assert fake_openai.requests[0].headers["Authorization"] == f"Bearer {KEY}"


async def test_an_entry_on_another_server_gets_no_authorization_at_all(
    fake_openai: FakeOpenAI,
    other_openai: FakeOpenAI,
    make_settings: SettingsFactory,
    closing: AdapterCloser,
) -> None:
    settings = make_settings(openai_api_key=KEY, openai_base_url=f"{fake_openai.url}/v1")
    adapter = closing(OpenAIAdapter(spec(base_url=f"{other_openai.url}/v1"), settings, 1))

    assert (await adapter.generate(chat("hi"))).output == "answer to: hi"

    [received] = other_openai.requests
    assert "Authorization" not in received.headers
    assert all(KEY not in value for value in received.headers.values())
    assert fake_openai.requests == []


async def test_an_entry_sends_the_key_its_api_key_env_names(
    fake_openai: FakeOpenAI,
    other_openai: FakeOpenAI,
    make_settings: SettingsFactory,
    closing: AdapterCloser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLMC_TEST_VLLM_KEY", "sk-vllm-42\n")  # as read from a secret file
    other_openai.required_key = "sk-vllm-42"
    settings = make_settings(openai_api_key=KEY, openai_base_url=f"{fake_openai.url}/v1")
    model = spec(base_url=f"{other_openai.url}/v1", api_key_env="LLMC_TEST_VLLM_KEY")
    adapter = closing(OpenAIAdapter(model, settings, concurrency=1))

    assert (await adapter.generate(chat("hi"))).output == "answer to: hi"

    assert other_openai.requests[0].headers["Authorization"] == "Bearer sk-vllm-42"
    assert fake_openai.requests == []


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ({}, "no OpenAI key: set OPENAI_API_KEY"),
        (
            {"api_key_env": "LLMC_TEST_UNSET_KEY"},
            "no key: set LLMC_TEST_UNSET_KEY (its api_key_env)",
        ),
    ],
)
async def test_a_missing_key_fails_without_a_call(
    fake_openai: FakeOpenAI,
    make_settings: SettingsFactory,
    closing: AdapterCloser,
    monkeypatch: pytest.MonkeyPatch,
    model: dict[str, str],
    reason: str,
) -> None:
    monkeypatch.delenv("LLMC_TEST_UNSET_KEY", raising=False)
    settings = make_settings(openai_base_url=f"{fake_openai.url}/v1")
    adapter = closing(OpenAIAdapter(spec(**model), settings, concurrency=1))

    with pytest.raises(ProviderError) as caught:
        await adapter.generate(chat("hi"))

    assert not caught.value.transient
    assert caught.value.message == reason
    assert fake_openai.requests == []


async def test_401_is_permanent_with_the_provider_message_and_no_key(
    adapter: OpenAIAdapter, fake_openai: FakeOpenAI
) -> None:
    fake_openai.required_key = "sk-the-right-one"  # the fake echoes the key it was given

    with pytest.raises(ProviderError) as caught:
        await adapter.generate(chat("hi"))

    assert not caught.value.transient
    assert caught.value.status == 401
    assert "Incorrect API key provided" in caught.value.message
    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value.args)


@pytest.mark.parametrize(
    ("status", "retry_after", "retry_after_s"), [(429, "2", 2.0), (503, None, None)]
)
async def test_rate_limits_and_server_errors_are_transient(
    adapter: OpenAIAdapter,
    fake_openai: FakeOpenAI,
    status: int,
    retry_after: str | None,
    retry_after_s: float | None,
) -> None:
    fake_openai.fail_next(status, retry_after=retry_after, message="busy, try later")

    with pytest.raises(ProviderError) as caught:
        await adapter.generate(chat("hi"))

    assert caught.value.transient
    assert caught.value.status == status
    assert caught.value.retry_after_s == retry_after_s
    assert caught.value.message == "busy, try later"
    assert (await adapter.generate(chat("hi"))).output == "answer to: hi"  # one failure only


async def test_a_stalled_server_is_a_transient_timeout(
    fake_openai: FakeOpenAI, make_settings: SettingsFactory, closing: AdapterCloser
) -> None:
    settings = make_settings(
        openai_api_key=KEY, openai_base_url=f"{fake_openai.url}/v1", request_timeout_s=0.5
    )
    adapter = closing(OpenAIAdapter(spec(), settings, concurrency=1))
    fake_openai.stall = True

    with pytest.raises(ProviderError) as caught:
        await adapter.generate(chat("hi"))

    assert caught.value.transient
    assert caught.value.status is None
    assert caught.value.message == "no answer within 0.5 s"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"choices": []}, "choices: List should have at least 1 item"),
        ({"object": "chat.completion"}, "choices: Field required"),
        ({"choices": [{"text": "hi"}]}, "choices[0].message is missing"),
        ("<html>oops</html>", "not JSON"),
    ],
)
async def test_a_malformed_200_is_a_permanent_error(
    adapter: OpenAIAdapter, fake_openai: FakeOpenAI, body: Any, problem: str
) -> None:
    fake_openai.respond_next(200, body)

    with pytest.raises(ProviderError) as caught:
        await adapter.generate(chat("hi"))

    assert not caught.value.transient
    assert "malformed response" in caught.value.message
    assert problem in caught.value.message

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import lamini
import pytest
from lamini.error.error import RateLimitError

from app.adapters.base import GenerationRequest, ProviderError
from app.adapters.lamini import LaminiAdapter
from app.domain import ChatMessage, GenerationParams, ModelSpec
from tests.support.adapters import AdapterCloser, SettingsFactory
from tests.support.fakes.lamini_server import FakeLamini

KEY = "lamini-test-0123456789"
MODEL = "meta-llama/Llama-2-7b-hf"


@pytest.fixture
async def other_lamini() -> AsyncIterator[FakeLamini]:
    """Another Lamini-compatible server than the one LAMINI_API_URL names."""
    async with FakeLamini() as server:
        yield server


def spec(**fields: Any) -> ModelSpec:
    return ModelSpec(name="llama", adapter="lamini", upstream=MODEL, **fields)


@pytest.fixture
def adapter(
    fake_lamini: FakeLamini, make_settings: SettingsFactory, closing: AdapterCloser
) -> LaminiAdapter:
    # A trailing "/" as users type it: the SDK would post to "//v1/completions".
    settings = make_settings(lamini_api_key=KEY, lamini_api_url=f"{fake_lamini.url}/")
    return closing(LaminiAdapter(spec(), settings, concurrency=4))


def text(prompt: str, max_new_tokens: int | None = None) -> GenerationRequest:
    params = GenerationParams(max_new_tokens=max_new_tokens)
    return GenerationRequest(model=MODEL, prompt=prompt, params=params)


async def test_request_as_the_server_receives_it(
    adapter: LaminiAdapter, fake_lamini: FakeLamini
) -> None:
    await adapter.generate(text("[INST] hi [/INST]", max_new_tokens=5))

    [received] = fake_lamini.requests
    assert received.path == "/v1/completions"
    assert received.headers["Authorization"] == f"Bearer {KEY}"
    assert received.headers["Lamini-Version"] == lamini.__version__
    assert received.body == {
        "model_name": MODEL,
        "prompt": "[INST] hi [/INST]",
        "output_type": None,
        "max_tokens": None,
        "max_new_tokens": 5,
    }


async def test_answer_without_finish_reason_or_token_counts(adapter: LaminiAdapter) -> None:
    whole = await adapter.generate(text("tell me a story"))
    cut = await adapter.generate(text("tell me a story", max_new_tokens=3))

    assert whole.output == "answer to: tell me a story"
    assert cut.output == "answer to: tell"
    for generation in (whole, cut):
        assert generation.finish_reason is None
        assert generation.prompt_tokens is None
        assert generation.completion_tokens is None


async def test_the_sdk_and_the_adapter_send_the_same_request(
    adapter: LaminiAdapter, fake_lamini: FakeLamini, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # `requests` would honour a machine's proxy
    sdk = lamini.Lamini(MODEL, api_key=KEY, api_url=fake_lamini.url)

    sdk_output = await asyncio.to_thread(sdk.generate, "hello big world", max_new_tokens=3)
    ours = await adapter.generate(text("hello big world", max_new_tokens=3))

    assert sdk_output == ours.output == "answer to: hello"
    sdk_request, our_request = fake_lamini.requests
    assert our_request.path == sdk_request.path == "/v1/completions"
    assert our_request.body == sdk_request.body
    for header in ("Authorization", "Lamini-Version", "Content-Type"):
        assert our_request.headers[header] == sdk_request.headers[header]


async def test_errors_read_as_the_sdk_reads_them(
    adapter: LaminiAdapter, fake_lamini: FakeLamini, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    fake_lamini.fail_next(429, times=2, retry_after=3, message="slow down")
    sdk = lamini.Lamini(MODEL, api_key=KEY, api_url=fake_lamini.url)

    with pytest.raises(RateLimitError) as sdk_error:
        await asyncio.to_thread(sdk.generate, "hi")
    with pytest.raises(ProviderError) as caught:
        await adapter.generate(text("hi"))

    assert caught.value.message == f"RateLimitError: {sdk_error.value}"
    assert caught.value.transient
    assert caught.value.status == 429
    assert caught.value.retry_after_s == 3.0


async def test_401_is_permanent_with_the_provider_message_and_no_key(
    adapter: LaminiAdapter, fake_lamini: FakeLamini
) -> None:
    fake_lamini.required_key = "the-right-key"  # the fake echoes the key it was given

    with pytest.raises(ProviderError) as caught:
        await adapter.generate(text("hi"))

    assert not caught.value.transient
    assert caught.value.status == 401
    assert caught.value.message.startswith("AuthenticationError: Incorrect API key provided")
    assert KEY not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "transient", "sdk_error"),
    [
        (503, True, "UnavailableResourceError"),
        (500, True, "APIError"),
        (400, False, "UserError"),
        (594, False, "ModelNotFoundError"),
    ],
)
async def test_status_decides_transient(
    adapter: LaminiAdapter, fake_lamini: FakeLamini, status: int, transient: bool, sdk_error: str
) -> None:
    fake_lamini.fail_next(status, message="model is loading")

    with pytest.raises(ProviderError) as caught:
        await adapter.generate(text("hi"))

    assert caught.value.transient is transient
    assert caught.value.status == status
    assert caught.value.message.startswith(f"{sdk_error}: ")
    assert "model is loading" in caught.value.message
    assert caught.value.retry_after_s is None


async def test_a_stalled_server_is_a_transient_timeout(
    fake_lamini: FakeLamini, make_settings: SettingsFactory, closing: AdapterCloser
) -> None:
    settings = make_settings(
        lamini_api_key=KEY, lamini_api_url=fake_lamini.url, request_timeout_s=0.5
    )
    adapter = closing(LaminiAdapter(spec(), settings, concurrency=1))
    fake_lamini.stall = True

    with pytest.raises(ProviderError) as caught:
        await adapter.generate(text("hi"))

    assert caught.value.transient
    assert caught.value.message == "no answer within 0.5 s"


async def test_a_malformed_200_is_a_permanent_error(
    adapter: LaminiAdapter, fake_lamini: FakeLamini
) -> None:
    fake_lamini.respond_next(200, {"result": "hi"})

    with pytest.raises(ProviderError) as caught:
        await adapter.generate(text("hi"))

    assert not caught.value.transient
    assert "malformed response" in caught.value.message
    assert "output: Field required" in caught.value.message


async def test_chat_messages_are_refused_without_a_call(
    adapter: LaminiAdapter, fake_lamini: FakeLamini
) -> None:
    request = GenerationRequest(model=MODEL, messages=[ChatMessage(role="user", content="hi")])

    with pytest.raises(ProviderError) as caught:
        await adapter.generate(request)

    assert not caught.value.transient
    assert "not chat messages" in caught.value.message
    assert fake_lamini.requests == []


async def test_no_key_is_a_permanent_error_without_a_call(
    fake_lamini: FakeLamini, make_settings: SettingsFactory, closing: AdapterCloser
) -> None:
    settings = make_settings(lamini_api_url=fake_lamini.url)
    adapter = closing(LaminiAdapter(spec(), settings, concurrency=1))

    with pytest.raises(ProviderError) as caught:
        await adapter.generate(text("hi"))

    assert not caught.value.transient
    assert caught.value.message == "no Lamini key: set LAMINI_API_KEY"
    assert fake_lamini.requests == []


async def test_an_entry_on_another_server_never_gets_the_global_key(
    fake_lamini: FakeLamini,
    other_lamini: FakeLamini,
    make_settings: SettingsFactory,
    closing: AdapterCloser,
) -> None:
    settings = make_settings(lamini_api_key=KEY, lamini_api_url=fake_lamini.url)
    adapter = closing(LaminiAdapter(spec(base_url=other_lamini.url), settings, concurrency=1))

    with pytest.raises(ProviderError) as caught:
        await adapter.generate(text("hi"))

    assert not caught.value.transient  # Lamini wants a key: this entry must name its own
    assert "give it api_key or api_key_env" in caught.value.message
    assert other_lamini.requests == []
    assert fake_lamini.requests == []


async def test_an_entry_sends_the_key_its_api_key_env_names(
    fake_lamini: FakeLamini,
    other_lamini: FakeLamini,
    make_settings: SettingsFactory,
    closing: AdapterCloser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLMC_TEST_LAMINI_KEY", "lamini-own-7")
    other_lamini.required_key = "lamini-own-7"
    settings = make_settings(lamini_api_key=KEY, lamini_api_url=fake_lamini.url)
    model = spec(base_url=f"{other_lamini.url}/", api_key_env="LLMC_TEST_LAMINI_KEY")
    adapter = closing(LaminiAdapter(model, settings, concurrency=1))

    assert (await adapter.generate(text("hi"))).output == "answer to: hi"

    [received] = other_lamini.requests
    assert received.path == "/v1/completions"
    assert received.headers["Authorization"] == "Bearer lamini-own-7"
    assert fake_lamini.requests == []


async def test_an_unset_api_key_env_fails_without_a_call(
    fake_lamini: FakeLamini,
    make_settings: SettingsFactory,
    closing: AdapterCloser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LLMC_TEST_UNSET_KEY", raising=False)
    settings = make_settings(lamini_api_key=KEY, lamini_api_url=fake_lamini.url)
    model = spec(api_key_env="LLMC_TEST_UNSET_KEY")  # no base_url: the global one
    adapter = closing(LaminiAdapter(model, settings, concurrency=1))

    with pytest.raises(ProviderError) as caught:
        await adapter.generate(text("hi"))

    assert caught.value.message == "no key: set LLMC_TEST_UNSET_KEY (its api_key_env)"
    assert fake_lamini.requests == []

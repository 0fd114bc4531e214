"""The catalogue: defaults, a file that extends or overrides them, availability, and which
key each model's calls send."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from app.adapters.keys import ProviderKey
from app.adapters.lamini import LaminiAdapter
from app.adapters.openai import OpenAIAdapter
from app.catalogue.service import Catalogue, CatalogueError
from app.config import Settings
from app.domain import ModelSpec
from tests.support.app import serve
from tests.support.fakes.openai_server import FakeOpenAI
from tests.support.settings import IsolatedSettings

GLOBAL_KEY = "sk-global-0123456789"
ENTRY_KEY = "sk-entry-9876543210"


def test_defaults_hold_the_classic_trio_and_the_echo_models() -> None:
    catalogue = Catalogue.from_settings(IsolatedSettings())
    names = {spec.name for spec in catalogue}
    assert {"meta-llama/Llama-2-7b-hf", "meta-llama/Llama-2-7b-chat-hf", "chat-gpt"} <= names
    assert {"echo", "echo-slow", "echo-flaky"} <= names
    base = catalogue.get("meta-llama/Llama-2-7b-hf")
    assert base is not None
    assert (base.adapter, base.template) == ("lamini", "raw")


def test_keys_decide_availability() -> None:
    without = Catalogue.from_settings(IsolatedSettings())
    lamini = without.get("meta-llama/Llama-2-7b-chat-hf")
    gpt = without.get("chat-gpt")
    assert lamini is not None
    assert gpt is not None
    assert "LAMINI_API_KEY" in (without.unavailable_reason(lamini) or "")
    assert "OPENAI_API_KEY" in (without.unavailable_reason(gpt) or "")
    keyed = Catalogue.from_settings(IsolatedSettings(lamini_api_key="k", openai_api_key="k"))
    assert keyed.unavailable_reason(lamini) is None
    assert keyed.unavailable_reason(gpt) is None


def test_a_toml_file_adds_and_overrides_models(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.toml"
    path.write_text(
        """
[[models]]
name = "llama3-vllm"
adapter = "openai"
upstream = "meta-llama/Meta-Llama-3-8B-Instruct"
base_url = "http://127.0.0.1:9/v1"
template = "chat"
concurrency = 8
params = { max_new_tokens = 128 }

[[models]]
name = "echo"
adapter = "echo"
upstream = "echo"
concurrency = 2
"""
    )
    catalogue = Catalogue.from_settings(IsolatedSettings(catalogue_file=path))
    vllm = catalogue.get("llama3-vllm")
    echo = catalogue.get("echo")
    assert vllm is not None
    assert echo is not None
    assert catalogue.concurrency(vllm) == 8
    assert vllm.params.max_new_tokens == 128
    assert catalogue.unavailable_reason(vllm) is None  # its own endpoint needs no global key
    assert catalogue.concurrency(echo) == 2


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("not = [valid", "cannot read"),
        ('[[models]]\nname = "x"\nadapter = "nope"\nupstream = "x"', "adapter"),
        ('[[models]]\nname = "x"\nadapter = "echo"\nupstream = "x"\ntemplate = "odd"', "template"),
        ('models = "none"', "expected a list"),
        ('[[models]]\nname = " "\nadapter = "echo"\nupstream = "x"', "empty or blank"),
        ('[[models]]\nname = "a\\u0000"\nadapter = "echo"\nupstream = "x"', "NUL"),
        (
            '[[models]]\nname = "x"\nadapter = "echo"\nupstream = "x"\n'
            'params = { stop = ["\\u0000"] }',
            "NUL",
        ),
    ],
)
def test_a_bad_file_is_refused_with_the_reason(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "catalogue.toml"
    path.write_text(content)
    with pytest.raises(CatalogueError, match=words):
        Catalogue.from_settings(IsolatedSettings(catalogue_file=path))


def provider_key(spec: ModelSpec, settings: Settings) -> ProviderKey:
    """The key the model's adapter sends."""
    if spec.adapter == "lamini":
        return LaminiAdapter.key(spec, settings)
    return OpenAIAdapter.key(spec, settings)


def _entry(adapter: str = "openai", **fields: Any) -> ModelSpec:
    return ModelSpec.model_validate({"name": "m", "adapter": adapter, "upstream": "m", **fields})


@pytest.mark.parametrize(
    "base_url",
    [
        None,
        "https://api.openai.com/v1",
        "https://api.openai.com/v1/",
        "HTTPS://API.OpenAI.com:443/v1",
    ],
)
def test_the_global_key_goes_to_the_global_endpoint_however_it_is_written(
    base_url: str | None,
) -> None:
    settings = IsolatedSettings(openai_api_key=GLOBAL_KEY)
    assert provider_key(_entry(base_url=base_url), settings).value == GLOBAL_KEY


@pytest.mark.parametrize(
    "base_url",
    [
        "http://api.openai.com/v1",  # not the same endpoint: plain http
        "https://api.openai.com/v2",
        "https://api.openai.com.evil.example/v1",
        "https://api.openai.com:8443/v1",
        "http://127.0.0.1:8000/v1",
    ],
)
def test_the_global_key_goes_nowhere_else(base_url: str) -> None:
    catalogue = Catalogue([_entry(base_url=base_url)], IsolatedSettings(openai_api_key=GLOBAL_KEY))
    [spec] = catalogue

    assert provider_key(spec, IsolatedSettings(openai_api_key=GLOBAL_KEY)).value == ""
    assert catalogue.unavailable_reason(spec) is None  # a local server may need no key


def test_an_entry_sends_its_own_key_from_the_variable_it_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = IsolatedSettings(openai_api_key=GLOBAL_KEY)
    spec = _entry(base_url="http://gpu-box:8000/v1", api_key_env="LLMC_TEST_ENTRY_KEY")
    catalogue = Catalogue([spec], settings)
    monkeypatch.delenv("LLMC_TEST_ENTRY_KEY", raising=False)

    assert catalogue.unavailable_reason(spec) == "no key: set LLMC_TEST_ENTRY_KEY (its api_key_env)"
    monkeypatch.setenv("LLMC_TEST_ENTRY_KEY", "")
    assert "LLMC_TEST_ENTRY_KEY" in (catalogue.unavailable_reason(spec) or "")
    monkeypatch.setenv("LLMC_TEST_ENTRY_KEY", "sk\r\ninjected: header")
    reason = catalogue.unavailable_reason(spec) or ""
    assert "LLMC_TEST_ENTRY_KEY" in reason
    assert "control character" in reason
    assert "injected" not in reason
    monkeypatch.setenv("LLMC_TEST_ENTRY_KEY", f"{ENTRY_KEY}\n")  # a secret file's last newline
    assert catalogue.unavailable_reason(spec) is None
    assert provider_key(spec, settings).value == ENTRY_KEY


def test_lamini_sends_its_global_key_only_to_lamini_api_url() -> None:
    settings = IsolatedSettings(lamini_api_key=GLOBAL_KEY, lamini_api_url="https://api.lamini.ai")
    own = _entry("lamini", base_url="https://lamini.example.com")
    global_ = _entry("lamini", base_url="https://api.lamini.ai/")
    catalogue = Catalogue([own], settings)

    assert provider_key(global_, settings).value == GLOBAL_KEY
    assert provider_key(own, settings).value == ""
    reason = catalogue.unavailable_reason(own) or ""  # Lamini's API always wants a key
    assert "api_key_env" in reason
    assert "LAMINI_API_KEY is only sent to LAMINI_API_URL" in reason
    assert (
        provider_key(
            _entry("lamini", base_url="https://lamini.example.com", api_key="k"), settings
        ).value
        == "k"
    )


def test_keys_and_urls_are_cleaned_or_refused() -> None:
    assert provider_key(_entry(api_key=" sk-x\n"), IsolatedSettings()).value == "sk-x"
    assert IsolatedSettings(openai_api_key="sk-y\n").openai_api_key is not None
    assert provider_key(_entry(), IsolatedSettings(openai_api_key="sk-y\n")).value == "sk-y"
    with pytest.raises(ValidationError, match="control character"):
        _entry(api_key="sk\r\nX-Injected: 1")


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        (
            {"base_url": "http://alice:s3cret-pass@gpu-box:8000/v1"},
            "model gpu: base_url: credentials in the URL (user:password@) are not supported: "
            "give the key in api_key or api_key_env instead (sent as a Bearer token)",
        ),
        ({"base_url": "gpu-box:8000/v1"}, "model gpu: base_url: not an absolute http(s) URL"),
        ({"base_url": "ftp://gpu-box/v1"}, "model gpu: base_url: not an absolute http(s) URL"),
        ({"base_url": "http:///v1"}, "model gpu: base_url: not an absolute http(s) URL"),
        ({"base_url": "http://gpu-box:99999/v1"}, "model gpu: base_url: not a valid URL"),
        (
            {"base_url": "http://gpu-box/v1?key=1"},
            "model gpu: base_url: an endpoint URL takes no ?query or #fragment",
        ),
        (
            {"api_key": "s3cret-pass", "api_key_env": "GPU_KEY"},
            "model gpu: give api_key or api_key_env, not both",
        ),
        ({"api_key_env": "GPU KEY"}, "model gpu: api_key_env: String should match pattern"),
    ],
)
def test_an_unusable_endpoint_or_key_is_refused_when_the_catalogue_loads(
    tmp_path: Path, entry: dict[str, str], words: str
) -> None:
    path = tmp_path / "catalogue.json"
    model = {"name": "gpu", "adapter": "openai", "upstream": "llama", **entry}
    path.write_text(json.dumps({"models": [model]}))

    with pytest.raises(CatalogueError) as caught:
        Catalogue.from_settings(IsolatedSettings(catalogue_file=path))

    assert str(caught.value).startswith(f"{path}: {words}")
    assert "s3cret-pass" not in str(caught.value)


@pytest.mark.parametrize(
    ("field", "url", "words"),
    [
        ("openai_base_url", "https://alice:s3cret-pass@proxy/v1", "give the key in OPENAI_API_KEY"),
        ("lamini_api_url", "https://alice:s3cret-pass@proxy", "give the key in LAMINI_API_KEY"),
        ("openai_base_url", "api.openai.com/v1", "not an absolute http"),
    ],
)
def test_the_global_endpoints_are_checked_alike(field: str, url: str, words: str) -> None:
    with pytest.raises(ValidationError, match=words) as caught:
        IsolatedSettings.model_validate({field: url})

    assert field in str(caught.value)
    assert "s3cret-pass" not in str(caught.value)


async def test_each_model_of_a_run_sends_the_key_meant_for_its_endpoint(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLMC_TEST_ENTRY_KEY", ENTRY_KEY)
    monkeypatch.delenv("LLMC_TEST_UNSET_KEY", raising=False)
    async with FakeOpenAI() as elsewhere:
        other = f"{elsewhere.url}/v1"
        path = tmp_path / "catalogue.json"
        models = [
            {"name": "keyless", "base_url": other},
            {"name": "keyed", "base_url": other, "api_key_env": "LLMC_TEST_ENTRY_KEY"},
            {"name": "gated", "base_url": other, "api_key_env": "LLMC_TEST_UNSET_KEY"},
            {"name": "global", "base_url": f"{fake_openai.url}/v1/"},
        ]
        entries = [{"adapter": "openai", "upstream": "m", "template": "chat", **m} for m in models]
        path.write_text(json.dumps({"models": entries}))
        settings = make_settings(
            catalogue_file=path, openai_api_key=GLOBAL_KEY, openai_base_url=f"{fake_openai.url}/v1"
        )
        async with serve(settings) as client:
            listed = {m["name"]: m for m in (await client.get("/models")).json()}
            refused = await client.post("/compare", json={"prompts": ["hi"], "models": ["gated"]})
            accepted = await client.post(
                "/compare",
                params={"wait": 20},
                json={"prompts": ["hi"], "models": ["keyless", "keyed", "global", "chat-gpt"]},
            )
            run = (await client.get(accepted.headers["location"])).text

    assert listed["keyless"]["available"] is True
    assert listed["gated"]["available"] is False
    assert listed["gated"]["unavailable_reason"] == (
        "no key: set LLMC_TEST_UNSET_KEY (its api_key_env)"
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "models[0]"
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "succeeded"
    sent_elsewhere = sorted((r.headers.get("Authorization") or "none") for r in elsewhere.requests)
    assert sent_elsewhere == [f"Bearer {ENTRY_KEY}", "none"]
    assert [r.headers.get("Authorization") for r in fake_openai.requests] == [
        f"Bearer {GLOBAL_KEY}"
    ] * 2
    assert GLOBAL_KEY not in run
    assert ENTRY_KEY not in run

"""The catalogue: defaults, a file that extends or overrides them, and availability."""

from pathlib import Path

import pytest

from app.catalogue import Catalogue, CatalogueError
from tests.conftest import IsolatedSettings


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

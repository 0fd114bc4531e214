"""Catalogue files for tests."""

import json
from pathlib import Path
from typing import Any


def echo_catalogue(tmp_path: Path, **models: dict[str, Any]) -> Path:
    """A catalogue file of echo models: name -> fields (options, concurrency)."""
    entries = [{"name": n, "adapter": "echo", "upstream": "echo", **f} for n, f in models.items()]
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({"models": entries}))
    return path


def openai_catalogue(tmp_path: Path, **models: dict[str, Any]) -> Path:
    """A catalogue file of OpenAI-compatible models (chat template, a test key): name ->
    overrides, `base_url` among them."""
    entries = [
        {
            "name": name,
            "adapter": "openai",
            "upstream": name,
            "template": "chat",
            "api_key": "sk-test",
            **overrides,
        }
        for name, overrides in models.items()
    ]
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({"models": entries}))
    return path


# USD per million tokens of the priced fake: prompts cost nothing, so that a pair cut off at
# `max_new_tokens` costs exactly its worst case.
OUTPUT_PER_MTOK = 1000.0


def priced_catalogue(tmp_path: Path, fake_url: str) -> Path:
    """Two chat models on the fake OpenAI server: `priced` (named as OpenAI's gpt-4o-mini,
    so its tokens are counted with o200k_base) and `unpriced`, which has no price."""
    openai = {"adapter": "openai", "base_url": f"{fake_url}/v1", "api_key": "sk-test"}
    entries = [
        {
            "name": "priced",
            "upstream": "gpt-4o-mini",
            "template": "chat",
            "price": {"input_per_mtok": 0, "output_per_mtok": OUTPUT_PER_MTOK},
            **openai,
        },
        {"name": "unpriced", "upstream": "some-local-llm", "template": "chat", **openai},
    ]
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({"models": entries}))
    return path

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

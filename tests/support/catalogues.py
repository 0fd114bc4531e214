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


def openai_catalogue(tmp_path: Path, base_url: str, **models: dict[str, Any]) -> Path:
    """A catalogue file of OpenAI-compatible models at `base_url`: name -> fields."""
    entries = [
        {
            "name": name,
            "adapter": "openai",
            "upstream": name,
            "template": "chat",
            "api_key": "sk-test",
            "base_url": base_url,
            **fields,
        }
        for name, fields in models.items()
    ]
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({"models": entries}))
    return path

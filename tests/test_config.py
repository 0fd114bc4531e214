"""Settings come from the environment, and the README documents every one of them."""

import re
from pathlib import Path

import pytest

from app.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def _env_names(name: str) -> list[str]:
    alias = Settings.model_fields[name].validation_alias
    choices = getattr(alias, "choices", None)
    return [str(c) for c in choices] if choices else [f"LLM_COMPARE_{name.upper()}"]


def test_provider_variables_and_prefixed_ones_both_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/one")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("LLM_COMPARE_DEFAULT_CONCURRENCY", "7")
    settings = Settings()
    assert settings.database_url == "postgresql://db/one"
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-env"
    assert settings.default_concurrency == 7
    monkeypatch.setenv("LLM_COMPARE_DATABASE_URL", "postgresql://db/two")
    assert Settings().database_url == "postgresql://db/two"


def test_empty_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMINI_API_KEY", "")
    monkeypatch.setenv("DATABASE_URL", "")
    settings = Settings()
    assert settings.lamini_api_key is None
    assert settings.database_url is None


def test_keys_never_show_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMINI_API_KEY", "lamini-secret-123")
    assert "lamini-secret-123" not in repr(Settings())


def test_the_readme_documents_every_setting() -> None:
    table = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    missing = [name for name in Settings.model_fields if not set(_env_names(name)) <= documented]
    assert missing == []

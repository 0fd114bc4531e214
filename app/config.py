"""Settings: the one place every environment variable is read."""

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.fields import clean_key, endpoint_problem


def _env(name: str, *provider_names: str) -> AliasChoices:
    """Accept `LLM_COMPARE_<NAME>` and, where given, the provider's usual variable."""
    return AliasChoices(f"LLM_COMPARE_{name}", *provider_names)


TRACE_EXPORTERS = ("otlp", "console", "none")


def _names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def env_key(name: str) -> SecretStr | None:
    """The key in environment variable `name` (a catalogue entry's `api_key_env`); None when it
    is unset or empty; `ValueError` when it cannot be sent (see `clean_key`)."""
    key = clean_key(os.environ.get(name, ""))
    return SecretStr(key) if key else None


def is_loopback(address: str) -> bool:
    """Whether `address` (a host to listen on or a Host name) is this machine's alone."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


class AuthUnsetError(ValueError):
    """The service would listen beyond loopback without being told whether keys are needed."""


class Settings(BaseSettings):
    """Service settings, validated once at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="LLM_COMPARE_",
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
        hide_input_in_errors=True,  # a refused value may be a key, or a URL with a password
    )

    # Storage
    database_url: str | None = Field(
        default=None,
        validation_alias=_env("DATABASE_URL", "DATABASE_URL"),
        description="PostgreSQL URL (postgresql+asyncpg://...). Unset: an embedded PostgreSQL.",
    )
    data_dir: Path = Field(
        default=Path(".llm-compare"),
        description="Where the embedded PostgreSQL keeps its data when no DATABASE_URL is set.",
    )
    migrate_on_start: bool = Field(
        default=True, description="Apply Alembic migrations when the service starts."
    )
    db_pool_size: int = Field(
        default=10, ge=1, description="The API's database connections per process."
    )
    db_pool_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="How long a request waits for a free connection before a 503.",
    )
    statement_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Longest database statement an API request may run (not the dispatcher's).",
    )
    dispatch_pool_size: int = Field(
        default=4, ge=2, description="The dispatcher's own database connections per process."
    )

    # Models
    catalogue_file: Path | None = Field(
        default=None, description="A TOML or JSON file adding or overriding catalogue models."
    )
    default_concurrency: int = Field(
        default=64, ge=1, description="In-flight requests per model unless the catalogue says."
    )
    lamini_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=_env("LAMINI_API_KEY", "LAMINI_API_KEY"),
        description="Sent only to lamini_api_url (to catalogue entries without their own "
        "base_url).",
    )
    lamini_api_url: str = Field(
        default="https://api.lamini.ai",
        validation_alias=_env("LAMINI_API_URL", "LAMINI_API_URL"),
    )
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=_env("OPENAI_API_KEY", "OPENAI_API_KEY"),
        description="Sent only to openai_base_url (to catalogue entries without their own "
        "base_url).",
    )
    openai_base_url: str = Field(
        default="https://api.openai.com/v1",
        validation_alias=_env("OPENAI_BASE_URL", "OPENAI_BASE_URL"),
    )
    chat_gpt_model: str = Field(
        default="gpt-4o-mini", description="Upstream model id behind the `chat-gpt` entry."
    )

    # Dispatcher
    dispatcher_enabled: bool = Field(
        default=True, description="Run the dispatcher in this process (off: API only)."
    )
    request_timeout_s: float = Field(default=120.0, gt=0, description="Per provider call.")
    max_attempts: int = Field(default=4, ge=1, description="Provider calls per pair, at most.")
    retry_initial_s: float = Field(default=0.5, ge=0, description="First backoff delay.")
    retry_max_s: float = Field(default=30.0, ge=0, description="Longest backoff delay.")
    lease_s: float = Field(
        default=30.0,
        gt=0,
        description="A claimed pair returns to the queue this long after "
        "its process stops renewing the claim.",
    )
    max_lost_leases: int = Field(
        default=3,
        ge=1,
        description="A pair whose worker died this many times while running it "
        "fails instead of being queued again.",
    )
    poll_interval_s: float = Field(
        default=0.5,
        gt=0,
        description="How often an idle dispatcher looks for work anyway (notifications wake it).",
    )
    claim_batch_size: int = Field(default=256, ge=1, description="Pairs claimed per query.")
    cache: bool = Field(
        default=True,
        description="Reuse a stored answer to an identical deterministic request (temperature "
        "0 or a seed) instead of calling the provider; `off` calls it every time.",
    )
    page_cache_mb: float = Field(
        default=64,
        ge=0,
        description="Memory per process for finished runs' pages (`GET /runs/{id}`), served "
        "again while the run's answers are unchanged; 0 keeps none.",
    )
    write_batch_size: int = Field(default=512, ge=1, description="Results written per query.")
    write_interval_s: float = Field(
        default=0.02, ge=0, description="How long results gather before one batched write."
    )
    stall_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="`/readyz` fails when a dispatcher loop made no progress for this long.",
    )
    shutdown_grace_s: float = Field(
        default=10.0,
        ge=0,
        description="On stop, how long calls in flight may finish; the rest go back to the queue.",
    )

    # API limits
    max_prompts: int = Field(default=10_000, ge=1, description="Prompts per run.")
    max_contenders: int = Field(default=16, ge=1, description="Contenders per run.")
    max_prompt_chars: int = Field(
        default=100_000, ge=1, description="Characters per prompt, once its template is applied."
    )
    max_template_chars: int = Field(
        default=10_000, ge=1, description="Characters of a contender's custom template."
    )
    max_run_chars: int = Field(
        default=64 * 1024 * 1024,
        ge=1,
        description="Characters of all of a run's rendered prompts together.",
    )
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, description="Request body.")
    max_wait_s: float = Field(default=300.0, ge=0, description="Upper bound for `?wait=`.")

    # Spending
    monthly_budget_usd: float | None = Field(
        default=None,
        gt=0,
        le=1e9,
        description="What runs created in a calendar month (UTC) may cost together; once "
        "spent, new runs are refused (402) until the month ends. Unset: no limit.",
    )

    # Retention
    retention_days: int | None = Field(
        default=None,
        ge=1,
        le=36_500,
        description="Delete finished runs created more than this many days ago, in the "
        "background. Unset: keep every run.",
    )
    retention_interval_s: float = Field(
        default=3600.0, gt=0, description="How often to look for runs past their retention."
    )
    retention_batch_size: int = Field(
        default=50, ge=1, le=10_000, description="Runs deleted per transaction."
    )

    # Judging
    battle_ttl_s: float = Field(
        default=600.0,
        gt=0,
        description="A blind battle not voted on within this long expires and frees its pair.",
    )

    # Access
    auth: Literal["off", "on"] | None = Field(
        default=None,
        description="`on`: every request but the probes needs a key (`Authorization: Bearer`). "
        "Unset: off while the service listens on loopback alone; on any other address it "
        "refuses to start until this is set.",
    )
    admin_key: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="A bootstrap key with the `admin` scope (for containers: make the other "
        "keys with it). At least 32 characters; `lc_` and `secrets.token_urlsafe(32)` will do.",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="The secret the pages' sign-in cookies are signed with (at least 32 "
        "characters). Unset: one made at first start and kept in the database, which every "
        "process and restart then shares (and whoever reads the database can read); set it "
        "to keep it elsewhere, or to rotate it (every session ends).",
    )
    secure_cookies: bool = Field(
        default=False,
        description="Mark the sign-in cookie `Secure` (sent over HTTPS only). Turn it on "
        "whenever people reach the pages over TLS (behind a TLS proxy included); leave it off "
        "for plain http://localhost.",
    )
    session_max_age_s: int = Field(
        default=12 * 3600,
        ge=60,
        le=30 * 24 * 3600,
        description="How long a sign-in on the pages lasts before the key is asked again.",
    )
    rate_limit_storage: str = Field(
        default="postgres",
        description="Where per-key request counts are kept: `postgres` (the service's "
        "database, shared by every process), or a `limits` async storage URI such as "
        "`async+redis://127.0.0.1:6379` (needs `coredis`) or `memory://` (this process only).",
    )

    # Server
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(
        default=1,
        ge=1,
        description="Service processes `llm-compare serve` runs on its one port, each with its "
        "own dispatcher, sharing the database (and the embedded one, started once).",
    )
    log_level: str = "info"
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`json`: one JSON object per line, with `run_id` and `response_id` where "
        "there is one.",
    )
    # Traces (app/tracing.py): the standard OpenTelemetry variables, without our prefix. Only
    # whether to trace is decided here; the SDK reads the others (service name, sampler, the
    # exporter's headers and timeout) itself.
    otel_sdk_disabled: bool = Field(
        default=False,
        validation_alias=AliasChoices("OTEL_SDK_DISABLED"),
        description="`true`: no traces, whatever else is set.",
    )
    otel_traces_exporter: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_TRACES_EXPORTER"),
        description="Where traces go, comma-separated: `otlp`, `console`, `none`. Unset: "
        "`otlp` when an OTLP endpoint is set, else no traces.",
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"
        ),
        description="The collector's OTLP/HTTP endpoint; setting it turns traces on.",
    )
    allowed_hosts: str | None = Field(
        default=None,
        description="Host names the API answers to, comma-separated (`*`: any). Unset: the "
        "loopback names when `host` is a loopback address, else any.",
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="A connection whose request line and headers are not complete this long "
        "after it opened (or after its previous response) is closed.",
    )
    body_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="A connection that sends no part of a request body it announced for this "
        "long is closed.",
    )
    keep_alive_timeout_s: int = Field(
        default=5, ge=1, description="An idle connection between requests is closed after this."
    )

    @field_validator("otel_traces_exporter")
    @classmethod
    def _known_trace_exporters(cls, value: str | None) -> str | None:
        if value is not None:
            unknown = set(_names(value)) - set(TRACE_EXPORTERS)
            if unknown:
                raise ValueError(
                    f"unknown trace exporter {sorted(unknown)[0]!r}; "
                    f"one or more of {', '.join(TRACE_EXPORTERS)}, comma-separated"
                )
        return value

    @property
    def trace_exporters(self) -> list[str]:
        """The exporters traces go to; empty: no traces."""
        if self.otel_sdk_disabled:
            return []
        if self.otel_traces_exporter is None:
            return ["otlp"] if self.otel_exporter_otlp_endpoint else []
        return [name for name in _names(self.otel_traces_exporter) if name != "none"]

    def auth_required(self) -> bool:
        """Whether requests need a key; `AuthUnsetError` when that must be chosen first."""
        if self.auth is not None:
            return self.auth == "on"
        if is_loopback(self.host):
            return False
        raise AuthUnsetError(
            f"the service would listen on {self.host}, beyond this machine, and "
            "LLM_COMPARE_AUTH is unset: set LLM_COMPARE_AUTH=on to require API keys (make "
            "the first with `llm-compare keys create --database`, or set "
            "LLM_COMPARE_ADMIN_KEY), or LLM_COMPARE_AUTH=off to let anyone who reaches the "
            "port read and delete every run"
        )

    @field_validator(
        "database_url",
        "lamini_api_key",
        "openai_api_key",
        "admin_key",
        "session_secret",
        "auth",
        "otel_traces_exporter",
        "otel_exporter_otlp_endpoint",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`KEY=` in a compose file or shell means "not configured", not an empty key."""
        return None if value == "" else value

    @field_validator("lamini_api_key", "openai_api_key", mode="before")
    @classmethod
    def _sendable_key(cls, value: object) -> object:
        if isinstance(value, str):
            return clean_key(value) or None
        return value

    @field_validator("lamini_api_url", "openai_base_url")
    @classmethod
    def _usable_endpoint(cls, value: str, info: ValidationInfo) -> str:
        key = "LAMINI_API_KEY" if info.field_name == "lamini_api_url" else "OPENAI_API_KEY"
        if problem := endpoint_problem(value, key):
            raise ValueError(problem)
        return value


def set_environment(**values: object) -> None:
    """Set `LLM_COMPARE_<NAME>` for the given settings that are not None and forget the
    settings read so far: how `llm-compare serve` hands its options to every process it runs."""
    for name, value in values.items():
        if value is not None:
            os.environ[f"LLM_COMPARE_{name.upper()}"] = str(value)
    get_settings.cache_clear()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests build their own `Settings` instead."""
    return Settings()

"""Which key a model's calls send: its own, or its provider's global key, and that one only to
the provider's global endpoint (a catalogue entry pointing elsewhere would otherwise receive
OPENAI_API_KEY)."""

from typing import NamedTuple
from urllib.parse import urlsplit

from pydantic import SecretStr

from app.adapters.base import Adapter
from app.config import Settings, env_key
from app.domain import ModelSpec


class ProviderKey(NamedTuple):
    """The key a model's calls send ("" for none), and why it cannot be called for want of one."""

    value: str
    missing: str | None = None


class GlobalKey(NamedTuple):
    """A provider's global key and the one endpoint it belongs to."""

    provider: str  # for messages: "OpenAI"
    variable: str  # where it is set: "OPENAI_API_KEY"
    url: str
    key: SecretStr | None
    url_variable: str  # "OPENAI_BASE_URL"
    own_url_needs_key: bool  # an entry with its own base_url must name a key of its own


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


def provider_key(spec: ModelSpec, global_key: GlobalKey | None) -> ProviderKey:
    """The key `spec`'s calls send: its own (`api_key`, `api_key_env`), else the provider's
    global key, sent only to the global endpoint."""
    if spec.api_key is not None:
        return ProviderKey(spec.api_key.get_secret_value())
    if spec.api_key_env is not None:
        return _key_from_env(spec.api_key_env)
    if global_key is None:
        return ProviderKey("")
    if spec.base_url is None or same_endpoint(spec.base_url, global_key.url):
        if global_key.key is None:
            return ProviderKey("", f"no {global_key.provider} key: set {global_key.variable}")
        return ProviderKey(global_key.key.get_secret_value())
    if global_key.own_url_needs_key:
        return ProviderKey(
            "",
            f"no key for its own base_url: give it api_key or api_key_env "
            f"({global_key.variable} is only sent to {global_key.url_variable})",
        )
    return ProviderKey("")  # its own server (vLLM, llama.cpp, Ollama) may want none


class KeyedAdapter(Adapter):
    """An adapter for a hosted provider with a global key (OPENAI_API_KEY, LAMINI_API_KEY):
    models send their own key or that one, and cannot be called while they have none."""

    @classmethod
    def global_key(cls, settings: Settings) -> GlobalKey:
        """The provider's global key and the endpoint it belongs to."""
        raise NotImplementedError

    @classmethod
    def key(cls, spec: ModelSpec, settings: Settings) -> ProviderKey:
        """The key this model's calls send."""
        return provider_key(spec, cls.global_key(settings))

    @classmethod
    def unavailable_reason(cls, spec: ModelSpec, settings: Settings) -> str | None:
        return cls.key(spec, settings).missing

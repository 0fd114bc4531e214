"""The types every request field and parameter is built from: text PostgreSQL can store,
names, and integers and dates within the ranges PostgreSQL and Python both represent.

Bad input is refused here, at the edge, as a 422 naming the field, instead of failing later in
the database (a 500). Each type says its constraints in the OpenAPI schema where JSON Schema can
(`minLength`, `maxLength`, `pattern`, `minimum`, `maximum`), so schema and validation agree;
what it cannot say (lone surrogates, the range of a date) is checked here all the same.

Each text type lists its constraints *before* its validator: the validator then runs first, so
text with a lone surrogate gets a message saying why rather than pydantic's "unable to parse raw
data". A constraint added after it (`Annotated[Name, Field(max_length=9)]`) would be applied
around the validator with a confusing message: define a new type here instead.
"""

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

# PostgreSQL's `integer`.
INT4_MAX = 2**31 - 1
# What orjson serialises (request digests, adapters' request bodies): 64 bits, signed or
# unsigned. Runs stored before these bounds existed hold nothing outside them.
SEED_MIN, SEED_MAX = -(2**63), 2**64 - 1

NAME_MAX_CHARS = 200

# No NUL: PostgreSQL text cannot hold it. Lone surrogates cannot be said in a pattern; a JSON
# string holding one is not Unicode text anyway.
STORABLE_PATTERN = r"^[^\x00]*$"
# ...and at least one character that is not whitespace.
NON_BLANK_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"


def _check_storable(value: Any) -> Any:
    if isinstance(value, str):
        if "\x00" in value:
            raise PydanticCustomError(
                "unstorable_text", "NUL characters (\\u0000) cannot be stored"
            )
        try:
            value.encode()
        except UnicodeEncodeError as exc:
            raise PydanticCustomError(
                "unstorable_text",
                "a lone surrogate (\\ud800-\\udfff) is not Unicode text and cannot be stored",
            ) from exc
    return value


def _check_non_blank(value: Any) -> Any:
    value = _check_storable(value)
    if isinstance(value, str) and (not value or value.isspace()):
        raise PydanticCustomError("blank", "must not be empty or blank")
    return value


_STORABLE = BeforeValidator(_check_storable)
_NON_BLANK = BeforeValidator(_check_non_blank)

StorableText = Annotated[str, Field(pattern=STORABLE_PATTERN), _STORABLE]
"""Any text PostgreSQL can store: no NUL, no lone surrogate. Custom templates, stop strings."""

NonBlankText = Annotated[str, Field(min_length=1, pattern=NON_BLANK_PATTERN), _NON_BLANK]
"""Storable text with something besides whitespace in it, of any length: prompts."""

Name = Annotated[
    str, Field(min_length=1, max_length=NAME_MAX_CHARS, pattern=NON_BLANK_PATTERN), _NON_BLANK
]
"""Something named: a model, a contender's label, a run's name, a tag's key."""

ShortText = Annotated[str, Field(max_length=NAME_MAX_CHARS, pattern=STORABLE_PATTERN), _STORABLE]
"""A short storable text, possibly empty: a prompt's key, a tag's value."""

SearchText = Annotated[
    str, Field(min_length=1, max_length=500, pattern=STORABLE_PATTERN), _STORABLE
]
"""Words to look for in prompts and outputs."""

TagFilter = Annotated[
    str,
    Field(min_length=1, max_length=2 * NAME_MAX_CHARS + 1, pattern=r"^[^:\x00]+:[^\x00]*$"),
    _STORABLE,
]
"""A `key:value` tag to filter by: a key (without a colon), a colon, a value (maybe empty)."""

LabelPair = Annotated[
    str,
    Field(min_length=3, max_length=2 * NAME_MAX_CHARS + 1, pattern=r"^[^\x00]+:[^\x00]+$"),
    _STORABLE,
]
"""`label_in_a:label_in_b`: two contenders' labels, paired across two runs."""

IdempotencyKey = Annotated[
    str, Field(min_length=1, max_length=255, pattern=STORABLE_PATTERN), _STORABLE
]
"""The `Idempotency-Key` header."""

Cursor = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]
"""A page cursor as this API writes them: unpadded URL-safe base64."""

Count = Annotated[int, Field(ge=0, le=INT4_MAX)]
"""A non-negative count or offset within PostgreSQL's `integer`."""

SAMPLES_MAX = 20

SampleCount = Annotated[int, Field(ge=1, le=SAMPLES_MAX)]
"""How many answers to ask for per prompt and contender (repeated samples)."""

Seed = Annotated[int, Field(ge=SEED_MIN, le=SEED_MAX)]
"""A sampling seed: a 64-bit integer, signed or unsigned (a provider may take fewer bits)."""


def utc_datetime(value: datetime) -> datetime:
    """`value` in UTC (a naive one is taken as UTC); ValueError when its UTC value falls
    outside years 1-9999 (Python's range, inside PostgreSQL's), e.g. 0001-01-01T00:00+14:00."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(
            "outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z once in UTC"
        ) from exc


def _check_utc_datetime(value: datetime) -> datetime:
    try:
        return utc_datetime(value)
    except ValueError as exc:
        raise PydanticCustomError("datetime_range", str(exc)) from exc


Timestamp = Annotated[datetime, AfterValidator(_check_utc_datetime)]
"""A date and time, in UTC when no offset is given, whose UTC value is within years 1-9999."""


def endpoint_problem(url: str, key_goes_in: str) -> str | None:
    """Why `url` cannot be a provider endpoint, or None; `key_goes_in` says where a key belongs.

    Credentials in the URL are refused rather than supported: aiohttp cannot send them next to
    a key's `Authorization` header (every call would fail), and the URL is quoted in error
    messages, which are stored and logged, so the password would be too. The messages never
    quote the URL, for the same reason.
    """
    try:
        parts = urlsplit(url)
        _ = parts.port  # parsing it is the check: 99999 or "x" raise
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if "@" in parts.netloc:
        return (
            "credentials in the URL (user:password@) are not supported: "
            f"give the key in {key_goes_in} instead (sent as a Bearer token)"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an absolute http(s) URL such as http://gpu-box:8000/v1"
    if parts.query or parts.fragment:
        return "an endpoint URL takes no ?query or #fragment"
    return None


def clean_key(key: str) -> str:
    """`key` without surrounding whitespace (a secret file's final newline); `ValueError` if a
    control character remains, since no HTTP header can carry one."""
    key = key.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise ValueError("the key contains a line break or another control character")
    return key

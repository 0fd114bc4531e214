"""The edge types: what they refuse, and that the patterns the OpenAPI schema states agree with
what is validated."""

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from pydantic import TypeAdapter, ValidationError

from app.fields import (
    NON_BLANK_PATTERN,
    SEED_MAX,
    SEED_MIN,
    STORABLE_PATTERN,
    Name,
    Seed,
    StorableText,
    Timestamp,
    utc_datetime,
)

SAMPLES = [
    "",
    " ",
    "\t\n",
    "\x1c",
    "\u3000",
    "a",
    " a ",
    "a\x00",
    "\x00",
    "é\n",
    "\ud800",
    "a\udfff",
]


def _accepts(adapter: TypeAdapter[Any], value: str) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    ("annotation", "pattern"), [(StorableText, STORABLE_PATTERN), (Name, NON_BLANK_PATTERN)]
)
def test_the_schema_pattern_says_what_is_validated(annotation: Any, pattern: str) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    schema = adapter.json_schema()
    assert schema["pattern"] == pattern
    for value in SAMPLES:
        unicode_text = not any("\ud800" <= c <= "\udfff" for c in value)
        # Python's re, as schemathesis and other generators in Python read the pattern.
        assert _accepts(adapter, value) == (unicode_text and bool(re.search(pattern, value))), value


def test_refusals_say_why() -> None:
    names: TypeAdapter[str] = TypeAdapter(Name)
    for value, words in [
        ("a\x00", "NUL characters (\\u0000) cannot be stored"),
        ("a\ud800", "lone surrogate"),
        ("  ", "must not be empty or blank"),
        ("x" * 201, "at most 200 characters"),
    ]:
        with pytest.raises(ValidationError, match=re.escape(words)):
            names.validate_python(value)


def test_seeds_are_the_integers_orjson_serialises() -> None:
    seeds: TypeAdapter[int] = TypeAdapter(Seed)
    for seed in (SEED_MIN, 0, SEED_MAX):
        assert orjson.loads(orjson.dumps(seeds.validate_python(seed))) == seed
    for seed in (SEED_MIN - 1, SEED_MAX + 1, 2**70):
        with pytest.raises(orjson.JSONEncodeError):
            orjson.dumps(seed)
        with pytest.raises(ValidationError):
            seeds.validate_python(seed)


def test_timestamps_are_utc_and_within_years_1_to_9999() -> None:
    timestamps: TypeAdapter[datetime] = TypeAdapter(Timestamp)
    assert timestamps.validate_python("2024-06-01T12:00:00") == datetime(2024, 6, 1, 12, tzinfo=UTC)
    assert timestamps.validate_python("2024-06-01T12:00:00+02:00") == datetime(
        2024, 6, 1, 10, tzinfo=UTC
    )
    assert timestamps.validate_python("0001-01-01T00:00:00-14:00").year == 1
    for value in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-00:01"):
        with pytest.raises(ValidationError, match="once in UTC"):
            timestamps.validate_python(value)
    east = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    with pytest.raises(ValueError, match="once in UTC"):
        utc_datetime(east)

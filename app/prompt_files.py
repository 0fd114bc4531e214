"""Prompt files: JSON Lines, CSV or plain text, read a line at a time.

One set of rules for every place prompts come from a file: `llm-compare submit` (app/client)
and the new-comparison page's upload (app/web). A bad file gives one message naming the file
and the line; nothing is sent for it.
"""

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

FileFormat = Literal["jsonl", "csv", "text"]
_SUFFIXES: dict[str, FileFormat] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


class InputError(ValueError):
    """The prompt file cannot be used; the message names the file and the line or column."""


@dataclass(frozen=True)
class Prompt:
    text: str
    key: str | None = None

    def as_json(self) -> dict[str, str]:
        return {"text": self.text} if self.key is None else {"text": self.text, "key": self.key}


def detect_format(name: str, start: bytes) -> FileFormat:
    """By the file name's suffix, else JSON Lines if it starts with `{`, else text."""
    suffix = PurePath(name).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    return "jsonl" if start.lstrip().startswith(b"{") else "text"


def read_prompts(name: str, fmt: FileFormat, lines: Iterable[bytes]) -> Iterator[Prompt]:
    """Every prompt of the file's `lines` (bytes, as a binary file yields them), in order;
    `InputError` at the first line that is not usable."""
    texts = _decoded(name, lines)
    if fmt == "jsonl":
        return _jsonl(name, texts)
    if fmt == "csv":
        return _csv(name, texts)
    return _text(texts)


def _decoded(name: str, lines: Iterable[bytes]) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(lines, start=1):
        if b"\x00" in raw:
            raise InputError(f"{name}:{number}: a NUL byte: this is not a text file")
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{name}:{number}: not UTF-8 text (byte {raw[exc.start]:#04x} "
                f"at column {exc.start + 1})"
            ) from None


def _text(lines: Iterator[tuple[int, str]]) -> Iterator[Prompt]:
    for _, line in lines:
        text = line.rstrip("\r\n")
        if text.strip():
            yield Prompt(text)


def _jsonl(name: str, lines: Iterator[tuple[int, str]]) -> Iterator[Prompt]:
    for number, line in lines:
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{name}:{number}: invalid JSON: {exc.msg} at column {exc.colno}"
            ) from None
        if isinstance(item, str):
            item = {"text": item}
        if not isinstance(item, dict):
            raise InputError(
                f'{name}:{number}: expected an object like {{"text": "...", "key": "..."}}'
            )
        text, key = item.get("text"), item.get("key")
        if not isinstance(text, str):
            found = ", ".join(item) or "none"
            raise InputError(f'{name}:{number}: no "text" string (fields: {found})')
        if key is not None and not isinstance(key, str | int):
            raise InputError(f'{name}:{number}: "key" must be a string')
        yield _prompt(name, number, text, None if key is None else str(key))


def _csv(name: str, lines: Iterator[tuple[int, str]]) -> Iterator[Prompt]:
    reader = csv.reader(line for _, line in lines)
    try:
        header = next(reader, None)
        if header is None:
            raise InputError(f"{name}: empty file; expected a header with a `prompt` column")
        columns = [c.strip().lower() for c in header]
        if "prompt" not in columns:
            raise InputError(
                f"{name}:1: no `prompt` column (columns: {', '.join(header) or 'none'})"
            )
        at, key_at = columns.index("prompt"), columns.index("key") if "key" in columns else None
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InputError(
                    f"{name}:{reader.line_num}: {len(row)} columns; the header has {len(header)}"
                )
            key = row[key_at] if key_at is not None and row[key_at] else None
            yield _prompt(name, reader.line_num, row[at], key, column="prompt")
    except csv.Error as exc:
        raise InputError(f"{name}:{reader.line_num}: not valid CSV: {exc}") from None


def _prompt(name: str, number: int, text: str, key: str | None, column: str = "text") -> Prompt:
    if not text.strip():
        raise InputError(f"{name}:{number}: the `{column}` is empty")
    return Prompt(text, key)

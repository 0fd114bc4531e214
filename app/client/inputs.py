"""Prompt files for `llm-compare submit`: JSON Lines, CSV, plain text or stdin.

Files are read line by line, twice: once to check every line and derive the idempotency key
before anything is sent, once to stream the request body. Neither pass holds more than one
prompt; stdin is spooled to a temporary file so it can be read twice.
"""

import csv
import hashlib
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson

InputFormat = Literal["auto", "jsonl", "csv", "text"]
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


class InputError(ValueError):
    """The prompt file cannot be used; the message names the file and the line or column."""


@dataclass(frozen=True)
class Prompt:
    text: str
    key: str | None = None

    def as_json(self) -> dict[str, str]:
        return {"text": self.text} if self.key is None else {"text": self.text, "key": self.key}


class PromptFile:
    """A prompt file ready to be read any number of times."""

    def __init__(self, path: str, fmt: InputFormat = "auto") -> None:
        self.name = "<stdin>" if path == "-" else path
        self._spool: Any = None
        if path == "-":
            self._spool = tempfile.TemporaryFile()
            shutil.copyfileobj(sys.stdin.buffer, self._spool)
            self._spool.flush()
            self._path: Path | None = None
        else:
            self._path = Path(path)
            if not self._path.is_file():
                raise InputError(f"{path}: no such file")
        self.format = fmt if fmt != "auto" else self._detect()

    def _open(self) -> BinaryIO:
        if self._spool is not None:
            stream = open(self._spool.fileno(), "rb", closefd=False)  # noqa: SIM115
            stream.seek(0)
            return stream
        assert self._path is not None
        return self._path.open("rb")

    def _detect(self) -> str:
        if self._path is not None and self._path.suffix.lower() in _SUFFIXES:
            return _SUFFIXES[self._path.suffix.lower()]
        with self._open() as stream:
            start = stream.read(4096).lstrip()
        return "jsonl" if start.startswith(b"{") else "text"

    def __iter__(self) -> Iterator[Prompt]:
        """Every prompt in order; `InputError` at the first line that is not usable."""
        with self._open() as stream:
            lines = self._lines(stream)
            if self.format == "jsonl":
                yield from self._jsonl(lines)
            elif self.format == "csv":
                yield from self._csv(lines)
            else:
                yield from self._text(lines)

    def _lines(self, stream: BinaryIO) -> Iterator[tuple[int, str]]:
        for number, raw in enumerate(stream, start=1):
            if b"\x00" in raw:
                raise InputError(f"{self.name}:{number}: a NUL byte: this is not a text file")
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{self.name}:{number}: not UTF-8 text (byte {raw[exc.start]:#04x} "
                    f"at column {exc.start + 1})"
                ) from None

    def _error(self, number: int, message: str) -> InputError:
        return InputError(f"{self.name}:{number}: {message}")

    def _text(self, lines: Iterator[tuple[int, str]]) -> Iterator[Prompt]:
        for _, line in lines:
            text = line.rstrip("\r\n")
            if text.strip():
                yield Prompt(text)

    def _jsonl(self, lines: Iterator[tuple[int, str]]) -> Iterator[Prompt]:
        for number, line in lines:
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise self._error(
                    number, f"invalid JSON: {exc.msg} at column {exc.colno}"
                ) from None
            if isinstance(item, str):
                item = {"text": item}
            if not isinstance(item, dict):
                raise self._error(number, 'expected an object like {"text": "...", "key": "..."}')
            text, key = item.get("text"), item.get("key")
            if not isinstance(text, str):
                found = ", ".join(item) or "none"
                raise self._error(number, f'no "text" string (fields: {found})')
            if key is not None and not isinstance(key, str | int):
                raise self._error(number, '"key" must be a string')
            yield self._prompt(number, text, None if key is None else str(key))

    def _csv(self, lines: Iterator[tuple[int, str]]) -> Iterator[Prompt]:
        texts = (line for _, line in lines)
        reader = csv.reader(texts)
        try:
            header = next(reader, None)
            if header is None:
                raise InputError(
                    f"{self.name}: empty file; expected a header with a `prompt` column"
                )
            columns = [c.strip().lower() for c in header]
            if "prompt" not in columns:
                raise InputError(
                    f"{self.name}:1: no `prompt` column (columns: {', '.join(header) or 'none'})"
                )
            at, key_at = columns.index("prompt"), columns.index("key") if "key" in columns else None
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise self._error(
                        reader.line_num, f"{len(row)} columns; the header has {len(header)}"
                    )
                key = row[key_at] if key_at is not None and row[key_at] else None
                yield self._prompt(reader.line_num, row[at], key, column="prompt")
        except csv.Error as exc:
            raise self._error(reader.line_num, f"not valid CSV: {exc}") from None

    def _prompt(self, number: int, text: str, key: str | None, column: str = "text") -> Prompt:
        if not text.strip():
            raise self._error(number, f"the `{column}` is empty")
        return Prompt(text, key)


@dataclass(frozen=True)
class Submission:
    """What `submit` sends: everything but the prompts, which are streamed from the file."""

    prompts: PromptFile
    head: dict[str, Any]

    def check(self) -> tuple[int, str]:
        """Read every prompt once: (how many, a digest of the whole request)."""
        digest = hashlib.sha256(orjson.dumps(self.head, option=orjson.OPT_SORT_KEYS))
        count = 0
        for prompt in self.prompts:
            digest.update(orjson.dumps(prompt.as_json(), option=orjson.OPT_SORT_KEYS))
            count += 1
        if count == 0:
            raise InputError(f"{self.prompts.name}: no prompts found")
        return count, digest.hexdigest()

    def body(self) -> Iterator[bytes]:
        """The JSON request body, produced a prompt at a time."""
        yield orjson.dumps(self.head)[:-1] + b', "prompts": ['
        for i, prompt in enumerate(self.prompts):
            yield (b"," if i else b"") + orjson.dumps(prompt.as_json())
        yield b"]}"

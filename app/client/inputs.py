"""Prompt files for `llm-compare submit`: JSON Lines, CSV, plain text or stdin.

Files are read line by line, twice: once to check every line and derive the idempotency key
before anything is sent, once to stream the request body. Neither pass holds more than one
prompt; stdin is spooled to a temporary file so it can be read twice.
"""

import hashlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson

from app.prompt_files import FileFormat, InputError, Prompt, detect_format, read_prompts

InputFormat = Literal["auto", "jsonl", "csv", "text"]

__all__ = ["InputError", "InputFormat", "Prompt", "PromptFile", "Submission"]


class PromptFile:
    """A prompt file ready to be read any number of times (the rules: app/prompt_files.py)."""

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
        self.format: FileFormat = self._detect() if fmt == "auto" else fmt

    def _open(self) -> BinaryIO:
        if self._spool is not None:
            stream = open(self._spool.fileno(), "rb", closefd=False)  # noqa: SIM115
            stream.seek(0)
            return stream
        assert self._path is not None
        return self._path.open("rb")

    def _detect(self) -> FileFormat:
        with self._open() as stream:
            start = stream.read(4096)
        return detect_format("" if self._path is None else self._path.name, start)

    def __iter__(self) -> Iterator[Prompt]:
        """Every prompt in order; `InputError` at the first line that is not usable."""
        with self._open() as stream:
            yield from read_prompts(self.name, self.format, stream)


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

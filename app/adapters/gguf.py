"""Where a local model's GGUF file comes from, and what is missing when it cannot be had.

Model files are never fetched from a hub: a file is either on disk already, inside an installed
Python package, or assembled once from the chunks an installed package carries.
"""

import importlib
import importlib.metadata
import importlib.util
import os
import uuid
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

LLAMA_CPP_HINT = (
    "the local adapter needs llama-cpp-python: bash scripts/install-local.sh "
    '(README: "Local models")'
)


def importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: blocked with sys.modules[module] = None
        return False


class GgufOptions(BaseModel):
    """A `local` catalogue entry's options: exactly one source of the file, and llama.cpp's
    settings for it."""

    model_config = ConfigDict(extra="forbid")

    path: Path | None = Field(default=None, description="A GGUF file on disk.")
    package: str | None = Field(
        default=None, description="An installed distribution whose `file` is the GGUF file."
    )
    file: str | None = Field(default=None, description="With `package`: the file's path in it.")
    assemble: str | None = Field(
        default=None,
        description="A module with `MODEL_NAME` and `assemble(path)` that writes the file from "
        "chunks its packages carry; it is written once, under the service's data dir.",
    )
    install: str | None = Field(
        default=None, description="The command that installs the package, for error messages."
    )
    n_ctx: int = Field(default=2048, ge=256, description="Context size in tokens (256 or more).")
    n_threads: int | None = Field(
        default=None, ge=1, description="CPU threads per generation; default: all cores."
    )
    chat_format: str | None = Field(
        default=None,
        description="llama.cpp chat format for the `chat` template; default: the GGUF's own.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        sources = [self.path is not None, self.package is not None, self.assemble is not None]
        if sum(sources) != 1:
            raise ValueError("give exactly one of `path`, `package` (with `file`) or `assemble`")
        if (self.package is None) != (self.file is None):
            raise ValueError("`package` and `file` go together")
        return self

    def _missing_package(self, name: str) -> str:
        return f"package {name} is not installed" + (f": {self.install}" if self.install else "")

    def problem(self) -> str | None:
        """Why this model cannot be loaded here, or None."""
        if not importable("llama_cpp"):
            return LLAMA_CPP_HINT
        if self.path is not None and not self.path.is_file():
            return f"no GGUF file at {self.path}"
        if self.package is not None:
            try:
                importlib.metadata.distribution(self.package)
            except importlib.metadata.PackageNotFoundError:
                return self._missing_package(self.package)
        if self.assemble is not None and not importable(self.assemble):
            return self._missing_package(self.assemble)
        return None

    def resolve(self, models_dir: Path) -> Path:
        """The GGUF file's path, assembling it into `models_dir` first if need be."""
        if self.path is not None:
            return self.path
        if self.package is not None:
            assert self.file is not None
            located = importlib.metadata.distribution(self.package).locate_file(self.file)
            path = Path(str(located))
            if not path.is_file():
                raise FileNotFoundError(f"package {self.package} has no file {self.file}")
            return path
        assert self.assemble is not None
        return _assembled(importlib.import_module(self.assemble), models_dir)


def _assembled(module: Any, models_dir: Path) -> Path:
    target = models_dir / str(module.MODEL_NAME)
    if target.is_file():
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    # Written under a name of its own, then renamed: another process assembling the same file
    # at the same time cannot leave a half-written one at the final name.
    partial = models_dir / f".{target.name}.{uuid.uuid4().hex}.part"
    try:
        module.assemble(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target

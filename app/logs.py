"""Logging: text for people, or JSON lines for machines (`LLM_COMPARE_LOG_FORMAT=json`), each
line with the `run_id` and `response_id` it concerns where there is one.

Those two come from context variables, set where a run or a pair is being worked on (a request
about a run, a pair's task in the dispatcher), so a log call anywhere below needs no arguments
for them: a task copies the context it was created in, so values never leak between pairs.
"""

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

RUN_ID: ContextVar[str | None] = ContextVar("run_id", default=None)
RESPONSE_ID: ContextVar[int | None] = ContextVar("response_id", default=None)

_TEXT = "%(levelname)s %(name)s: %(message)s"
_JSON_FIELDS = ("asctime", "levelname", "name", "message")


class _WithIds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = RUN_ID.get()
        record.response_id = RESPONSE_ID.get()
        record.__dict__.pop("color_message", None)  # uvicorn's terminal colours
        return True


class _TextWithIds(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [
            f"{name}={value}"
            for name in ("run_id", "response_id")
            if (value := getattr(record, name, None)) is not None
        ]
        return f"{line} [{' '.join(ids)}]" if ids else line


def configure(level: str = "info", fmt: str = "text") -> None:
    """Log to standard error at `level`, as text or JSON lines; uvicorn's loggers too."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_WithIds())
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                _JSON_FIELDS,
                rename_fields={"levelname": "level", "name": "logger", "asctime": "time"},
                timestamp=False,
            )
        )
    else:
        handler.setFormatter(_TextWithIds(_TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True

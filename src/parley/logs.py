"""Logging: plain text for a person at a terminal, one JSON object per line for machines.

``PARLEY_LOG_FORMAT=auto`` (the default) picks by whether stderr is a terminal.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Literal

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}
_UVICORN_KEEP = ("Started", "Waiting for", "Application", "Shutting", "Finished")
#: alembic's INFO lines that say nothing an operator can use ("Running upgrade …" stays).
_ALEMBIC_CHATTER = ("Context impl", "Will assume")

LogFormat = Literal["auto", "json", "text"]

#: Libraries whose INFO and DEBUG lines carry data: SQL parameters and result rows (sqlalchemy),
#: the calls with their arguments (aiosqlite), WebSocket frames with chat text (websockets),
#: commands with their values (redis), requests (httpx, httpcore). They log WARNING and above
#: only, whatever PARLEY_LOG_LEVEL says.
DATA_LOGGERS = ("sqlalchemy", "aiosqlite", "asyncpg", "websockets", "redis", "httpx", "httpcore")


class _NoAddresses(logging.Filter):
    """uvicorn logs client addresses on every WebSocket; Parley keeps no IP addresses."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO or record.getMessage().startswith(_UVICORN_KEEP)


class _NoChatter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO or not record.getMessage().startswith(_ALEMBIC_CHATTER)


def _timestamp(record: logging.LogRecord) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        + f".{int(record.msecs):03d}Z"
    )


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra={...}`` fields of a record."""
    return {k: v for k, v in record.__dict__.items() if k not in _RESERVED}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        doc.update(_extras(record))
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


class TextFormatter(logging.Formatter):
    """``2026-01-02T03:04:05.678Z WARNING parley.store: message key=value …``"""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        line = f"{line} {fields}" if fields else line
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def resolve(fmt: LogFormat) -> Literal["json", "text"]:
    """``auto``: text when stderr is a terminal (a person reads it), JSON otherwise."""
    if fmt == "auto":
        return "text" if sys.stderr.isatty() else "json"
    return fmt


def configure(level: str, fmt: LogFormat) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if resolve(fmt) == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.error").addFilter(_NoAddresses())
    logging.getLogger("uvicorn.access").disabled = True  # addresses and paths, per request
    for name in DATA_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # Importing alembic logs one "setup plugin" line per plugin at INFO: not worth a line each.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").addFilter(_NoChatter())

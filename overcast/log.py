"""Logging for every Overcast process: one line per event, each carrying the request id it belongs to.

The API's middleware (and the RPC server, for work done on behalf of a request) sets `request_id_var`;
`RequestIdFilter` copies it onto every log record so handlers can print it without callers passing it.
"""

from __future__ import annotations

import json as jsonlib
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("overcast_request_id", default=None)

NO_REQUEST_ID = "-"

# Attributes every LogRecord has; anything else on a record came from `extra=` and is worth printing.
_STANDARD_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("name", logging.INFO, "path", 0, "msg", None, None)).keys()
    | {"message", "asctime", "request_id", "taskName"}
)


class RequestIdFilter(logging.Filter):
    """Stamps `record.request_id` from the current context unless the caller passed one explicitly."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get() or NO_REQUEST_ID
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _STANDARD_RECORD_ATTRS}


def _format_value(value: Any) -> str:
    text = str(value)
    if not text or any(char in text for char in ' "='):
        return jsonlib.dumps(text)
    return text


class KeyValueFormatter(logging.Formatter):
    """`2024-05-01T10:00:00.123Z INFO overcast.api [req-…] message key=value …` for humans and grep."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        request_id = getattr(record, "request_id", NO_REQUEST_ID)
        line = f"{stamp} {record.levelname} {record.name} [{request_id}] {record.getMessage()}"
        extras = _extras(record)
        if extras:
            line += " " + " ".join(f"{key}={_format_value(value)}" for key, value in extras.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", NO_REQUEST_ID),
            "message": record.getMessage(),
        }
        document.update(_extras(record))
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return jsonlib.dumps(document, default=str)


def setup_logging(level: str = "INFO", json: bool = False) -> None:
    """Send every logger's records to stderr through one handler that knows the request id.

    Calling it again replaces the handler it installed before, so services and tests can reconfigure.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_overcast", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._overcast = True  # type: ignore[attr-defined]
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if json else KeyValueFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's own access log would duplicate the API's structured request line.
    logging.getLogger("uvicorn.access").propagate = False
    logging.getLogger("uvicorn.access").handlers = []

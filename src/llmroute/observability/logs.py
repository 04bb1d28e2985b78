"""Logging setup: human-readable lines by default, JSON lines with `--log-format json`.

The request log line (`log_request`, one per request) is the only log call on every request's
path. When `llmroute up` has configured logging (`configure_logging`) and nobody has attached
other handlers since, that line is formatted by the same formatter and written to the same
stream directly, without a `LogRecord` and the logging call chain: about a tenth of the
gateway's CPU per proxied request (docs/performance.md). Anywhere else (tests, an embedding
application's own logging setup) it is an ordinary `llmroute.access` record.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Sequence
from typing import Any

import orjson

from llmroute.observability.record import RequestRecord

# LogRecord attributes that are not structured fields (`message`/`asctime` appear once formatted;
# uvicorn adds `color_message`, its message again with terminal colour codes).
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}
# The attribute that carries a record's structured fields as one dict (see `log_request`).
FIELDS = "fields"


def structured_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's structured fields: one `fields` dict (the request log line), else whatever was
    passed with `extra=`."""
    fields = record.__dict__.get(FIELDS)
    if isinstance(fields, dict):
        return fields
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class LineFormatter(logging.Formatter):
    """A formatter whose lines can also be built without a LogRecord (`line`)."""

    # Whether fields that the message already shows (`_in_message`) are left out of the line.
    omit_fields_in_message = True

    def line(self, created: float, level: str, logger: str, message: str, fields: dict[str, Any]) -> str:
        raise NotImplementedError

    def visible(self, fields: dict[str, Any], in_message: Sequence[str] | None) -> dict[str, Any]:
        if in_message and self.omit_fields_in_message:
            return {k: v for k, v in fields.items() if k not in in_message}
        return fields

    def format(self, record: logging.LogRecord) -> str:
        fields = self.visible(structured_fields(record), record.__dict__.get("_in_message"))
        text = self.line(record.created, record.levelname, record.name, record.getMessage(), fields)
        if record.exc_info:
            text = self.with_exception(text, self.formatException(record.exc_info))
        return text

    def with_exception(self, text: str, exception: str) -> str:
        return f"{text}\n{exception}"


class JsonFormatter(LineFormatter):
    omit_fields_in_message = False  # JSON shows every field, also those the message repeats

    def line(self, created: float, level: str, logger: str, message: str, fields: dict[str, Any]) -> str:
        millis = int((created - int(created)) * 1000)
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{millis:03d}Z",
            "level": level.lower(),
            "logger": logger,
            "msg": message,
            **fields,  # structured fields travel as keys of their own
        }
        return orjson.dumps(entry, default=str).decode()

    def with_exception(self, text: str, exception: str) -> str:
        entry = orjson.loads(text)
        entry["exc"] = exception
        return orjson.dumps(entry).decode()


# Characters that would let a value break out of its line in a text log (log forging: a client's
# route name, model id or path with a newline writes a line of its own). JSON lines escape them anyway.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def escape_controls(text: str) -> str:
    """`text` with control characters written as escapes (`\\n`, `\\x1b`): one line, always."""
    return _CONTROL.sub(_escape_char, text) if _CONTROL.search(text) else text


class HumanFormatter(LineFormatter):
    """`time level logger: message` followed by the structured fields as key=value pairs.

    Every part a client can influence (the message's arguments, each field) has its control
    characters escaped, so one record is one line; only an exception's traceback spans lines.
    """

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def timestamp(self, created: float) -> str:
        # strftime once per second, not once per line.
        second = int(created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
            self._second = second
        return f"{self._second_text},{int((created - second) * 1000):03d}"

    def line(self, created: float, level: str, logger: str, message: str, fields: dict[str, Any]) -> str:
        text = f"{self.timestamp(created)} {level:<7} {logger}: {escape_controls(message)}"
        if not fields:
            return text
        pairs = " ".join([f"{escape_controls(str(k))}={_text(v)}" for k, v in fields.items()])
        return f"{text} {pairs}"


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (int, float)):
        return str(value)  # the common fields (status, timings) need no scan
    return escape_controls(str(value))


# The handler `configure_logging` installed on the root logger, for the direct request line.
_handler: logging.StreamHandler[Any] | None = None


def configure_logging(log_format: str = "human", level: str = "info") -> None:
    global _handler
    # Seed 003 documents missing-data warnings as `WARN` lines; use the short name everywhere.
    logging.addLevelName(logging.WARNING, "WARN")
    # Our formatters never show the caller, thread or process, so skip collecting them for every record
    # (the logging HOWTO's "Optimization" advice).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else HumanFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    _handler = handler


access_log = logging.getLogger("llmroute.access")
_root = logging.getLogger()
_REQUEST_LINE_FIELDS = ("method", "path", "status")


def log_request(record: RequestRecord, total: float, upstream: float, overhead: float, quiet: bool) -> None:
    """The one line per request: what was asked, what the gateway decided, how long each part took.

    Never message contents, never keys or headers: only the path, the decision and timings.
    """
    level = logging.DEBUG if quiet else logging.INFO
    if not access_log.isEnabledFor(level):
        return
    fields: dict[str, Any] = {
        "method": record.method,
        "path": record.path,
        "status": record.status,
        "route": record.route,
        "model": record.model,
        "attempts": len(record.attempts),
        "duration_ms": round(total * 1000, 3),
        "upstream_ms": round(upstream * 1000, 3),
        "overhead_ms": round(overhead * 1000, 3),
        "trace_id": record.trace_id,
    }
    if record.router_backend:
        fields["router"] = record.router_backend
        fields["router_ms"] = round(record.router_seconds * 1000, 3)
    if record.pinned:
        fields["pinned"] = True
    if len(record.attempts) > 1 or (record.attempts and record.attempts[-1].error):
        fields["tried"] = ",".join(f"{a.model}:{a.error or a.status}" for a in record.attempts)
    if record.error:
        fields["error"] = record.error
    message = f"{record.method} {record.path} {record.status}"
    handler = _handler
    if (
        handler is not None
        and _root.handlers == [handler]
        and not access_log.handlers
        and isinstance(handler.formatter, LineFormatter)
        and level >= handler.level
    ):
        _write_direct(handler, handler.formatter, logging.getLevelName(level), message, fields)
        return
    extra = {FIELDS: fields, "_in_message": _REQUEST_LINE_FIELDS}
    access_log.log(level, "%s", message, extra=extra)


def _write_direct(
    handler: logging.StreamHandler[Any],
    formatter: LineFormatter,
    level: str,
    message: str,
    fields: dict[str, Any],
) -> None:
    fields = formatter.visible(fields, _REQUEST_LINE_FIELDS)
    text = formatter.line(time.time(), level, access_log.name, message, fields)
    with handler.lock:  # type: ignore[union-attr]
        try:
            handler.stream.write(text + handler.terminator)
            handler.stream.flush()
        except (OSError, ValueError):  # stderr closed or gone: a log line is not worth an error
            pass

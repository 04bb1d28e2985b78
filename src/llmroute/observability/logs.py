"""Logging setup: human-readable lines by default, JSON lines with `--log-format json`."""

from __future__ import annotations

import logging
import sys
import time

import orjson

from llmroute.observability.record import RequestRecord

# LogRecord attributes that are not structured fields (`message`/`asctime` appear once formatted).
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        # Structured fields passed with `extra=` travel as keys of their own.
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class HumanFormatter(logging.Formatter):
    """`time level logger: message` followed by the structured fields (`extra=`) as key=value pairs."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        # Fields the message already shows (`_in_message`) are not repeated.
        shown = getattr(record, "_in_message", ())
        fields = [
            (k, v)
            for k, v in vars(record).items()
            if k not in _STANDARD and not k.startswith("_") and k not in shown
        ]
        if not fields:
            return line
        return line + " " + " ".join(f"{k}={'-' if v is None else v}" for k, v in fields)


def configure_logging(log_format: str = "human", level: str = "info") -> None:
    # Seed 003 documents missing-data warnings as `WARN` lines; use the short name everywhere.
    logging.addLevelName(logging.WARNING, "WARN")
    # Our formatters never show the caller, thread or process, so skip collecting them for every record
    # (the logging HOWTO's "Optimization" advice): about a quarter of the CPU of a request log line.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(HumanFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


access_log = logging.getLogger("llmroute.access")
_REQUEST_LINE_FIELDS = ("method", "path", "status")


def log_request(record: RequestRecord, total: float, upstream: float, overhead: float, quiet: bool) -> None:
    """The one line per request: what was asked, what the gateway decided, how long each part took.

    Never message contents, never keys or headers: only the path, the decision and timings.
    """
    level = logging.DEBUG if quiet else logging.INFO
    if not access_log.isEnabledFor(level):
        return
    fields = {
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
    fields["_in_message"] = _REQUEST_LINE_FIELDS
    access_log.log(level, "%s %s %s", record.method, record.path, record.status, extra=fields)

"""Errors the proxy produces: every candidate failed, a stream broke, a key must not leak.

`Attempt` records why one candidate was given up on (a `Failure`); `all_failed` turns the list into a
502/503/504 in the client's format that names every model tried and why. `stream_error_event`
ends a same-format (piped) stream that broke mid-way with the format's own error event.
`redact` scrubs provider keys from anything we echo back or log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from starlette.responses import Response

from llmroute.errors import Failure, GatewayError, failure_status
from llmroute.server.errors import error_response
from llmroute.wire import DONE, ClientFormat
from llmroute.wire.errors import stream_error_event as format_error_event

REDACTED = "[REDACTED]"


@dataclass(frozen=True, slots=True)
class Attempt:
    model: str
    kind: Failure  # also the llmroute_upstream_errors_total label
    reason: str
    retry_after: float | None = None


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_bytes(data: bytes, secrets: tuple[str, ...]) -> bytes:
    for secret in secrets:
        raw = secret.encode()
        if raw and raw in data:
            data = data.replace(raw, REDACTED.encode())
    return data


# Successful answers are scanned only for secrets longer than this: a short string is likelier to
# be ordinary text than a key, and every scanned secret costs one substring search per body/chunk.
MIN_SCANNED_SECRET = 9


def scanned_secrets(secrets: tuple[str, ...]) -> tuple[bytes, ...]:
    """The secrets to look for in 2xx bodies and streams (an upstream may echo its request headers)."""
    return tuple(s.encode() for s in secrets if len(s) >= MIN_SCANNED_SECRET)


def scrub(data: bytes, secrets: tuple[bytes, ...]) -> bytes:
    """`data` with every secret replaced (one `in` test per secret when there is none: the common case)."""
    for raw in secrets:
        if raw in data:
            data = data.replace(raw, _REDACTED_BYTES)
    return data


_REDACTED_BYTES = REDACTED.encode()


_CODES = {502: "upstream_error", 503: "upstream_unavailable", 504: "upstream_timeout"}


def all_failed(fmt: ClientFormat, attempts: list[Attempt], headers: dict[str, str]) -> Response:
    """The 502/503/504 that names every candidate tried and why (`error.attempts`)."""
    status = failure_status(a.kind for a in attempts)
    tried = "; ".join(f"{a.model}: {a.reason}" for a in attempts)
    error = GatewayError(status, f"All {len(attempts)} candidate model(s) failed: {tried}", _CODES[status])
    waits = [a.retry_after for a in attempts if a.retry_after is not None]
    if status == 503 and waits:
        error.headers["Retry-After"] = str(max(1, math.ceil(min(waits))))
    details = {"attempts": [{"model": a.model, "error": a.kind, "reason": a.reason} for a in attempts]}
    return error_response(fmt, error, headers, details)


def stream_error_event(fmt: ClientFormat, message: str, sequence_number: int = 0) -> bytes:
    """The closing error event for a piped stream in `fmt`; a Chat stream then gets its `[DONE]`."""
    if fmt == "openai_chat":
        return format_error_event(fmt, message, code="upstream_stream_error") + DONE
    return format_error_event(fmt, message, sequence_number=sequence_number)

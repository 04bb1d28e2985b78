"""The gateway's one error vocabulary: what went wrong, with the HTTP status the client gets.

`GatewayError(status, message, code)` is the base of every error a request can end with: a bad
body (`WireError`), a request the router refuses (`DecisionError`), a key, limit or guardrail
refusal (governance), an unreachable provider (`UpstreamError`). The server renders any of them
in the client's API format in one place (server/errors.py), so no layer converts one error into
another by hand and a `code` set where the error is raised reaches the client.

`Failure` names why one upstream attempt was given up on. The same values label
`llmroute_upstream_errors_total`, fill each attempt in a 502/503/504 body, and decide its status
(`failure_status`). This module imports nothing from the rest of llmroute: every layer may use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class GatewayError(Exception):
    """A request that ends with `status`; `message` is safe to show (no keys, no request contents)."""

    def __init__(
        self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


class Failure(StrEnum):
    """Why an upstream attempt failed (a metric label value: keep the set small and fixed)."""

    STATUS_429 = "status_429"  # rate limited (rests the model for its Retry-After)
    STATUS_5XX = "status_5xx"
    STATUS_4XX = "status_4xx"  # not retried: the provider's answer goes back to the client
    TIMEOUT = "timeout"
    CONNECT = "connect"  # no connection (or no response started on it)
    STREAM_RESET = "stream_reset"  # the response started, then the connection failed
    STREAM_ERROR = "stream_error"  # a stream that opened with an error event
    BAD_RESPONSE = "bad_response"  # a redirect, or a 2xx body that is not a JSON object
    COOLING = "cooling"  # skipped: resting after a 429 or over its request budget
    CONFIG = "config"  # skipped: the model has no usable provider
    UNTRANSLATABLE = "untranslatable"  # skipped: the request cannot be sent to this provider's API


class UpstreamError(GatewayError):
    """The provider could not be reached or stopped answering. Safe to show: no headers, no keys."""

    def __init__(self, kind: Failure, message: str) -> None:
        status = 504 if kind is Failure.TIMEOUT else 502
        super().__init__(status, message, "upstream_timeout" if status == 504 else "upstream_error")
        self.kind = kind


def failure_status(kinds: Iterable[Failure]) -> int:
    """When every candidate failed: 504 if all timed out, 503 if all were rate limited, else 502."""
    seen = set(kinds)
    if seen == {Failure.TIMEOUT}:
        return 504
    if seen <= {Failure.STATUS_429, Failure.COOLING}:
        return 503
    return 502

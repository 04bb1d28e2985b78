"""Errors the gateway raises, shaped like each client API's own errors.

`WireError` is what the parsing and translation code raises for a malformed request: a one-line
message naming the offending field plus the HTTP status (400 unless said otherwise). The server
renders it, as every `GatewayError`, in the client's format (server/errors.py).

Error bodies follow the providers' documented shapes so the official SDKs raise their usual
exception classes with our message:

- OpenAI Chat / Responses: `{"error": {"message", "type", "param", "code"}}`.
- Anthropic: `{"type": "error", "error": {"type", "message"}}`.

`error_message_from(body)` pulls the human message out of an upstream error body of either shape,
so the proxy can re-wrap an upstream 4xx in the client's format (`translate_error_body`).

`stream_error_event` is the event that ends a stream with an error, in each format's own shape:
the translators' emitters and the proxy's piped streams both end with it.
"""

from __future__ import annotations

from typing import Any

import orjson

from llmroute.errors import GatewayError
from llmroute.wire.formats import ClientFormat
from llmroute.wire.sse import encode_event


class WireError(GatewayError):
    """A request the gateway cannot accept. `message` is one line naming the field; `status` the HTTP code."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(status, message)


# Anthropic's documented error types (https://docs.anthropic.com/en/api/errors).
_ANTHROPIC_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}

# OpenAI does not document a fixed table; these are the type names its API and the common
# OpenAI-compatible gateways use. 5xx is "server_error" as in OpenAI's own 500 responses.
_OPENAI_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def anthropic_error_type(status: int) -> str:
    """The Anthropic `error.type` for an HTTP status."""
    found = _ANTHROPIC_TYPES.get(status)
    if found is not None:
        return found
    return "api_error" if status >= 500 else "invalid_request_error"


def openai_error_type(status: int) -> str:
    """The OpenAI `error.type` for an HTTP status."""
    found = _OPENAI_TYPES.get(status)
    if found is not None:
        return found
    return "server_error" if status >= 500 else "invalid_request_error"


def error_body(fmt: ClientFormat, status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """The JSON error body for `fmt` (a client format) with the type that matches `status`."""
    if fmt == "anthropic":
        return {"type": "error", "error": {"type": anthropic_error_type(status), "message": message}}
    return {"error": {"message": message, "type": openai_error_type(status), "param": None, "code": code}}


def responses_error_code(status: int) -> str:
    """The `code` of a Responses stream's `error` event (its error events carry no `type`)."""
    return "rate_limit_exceeded" if status == 429 else "server_error"


def stream_error_event(
    fmt: ClientFormat, message: str, status: int = 502, *, code: str | None = None, sequence_number: int = 0
) -> bytes:
    """The SSE event that ends a `fmt` stream with an error.

    Anthropic: `event: error` with the error body. Chat Completions has no error event: a data
    chunk holding the error body, which the OpenAI SDK raises on. Responses: an `error` event
    numbered `sequence_number`, whose `code` is `code` or the one for `status`.
    """
    if fmt == "anthropic":
        return encode_event(error_body("anthropic", status, message), "error")
    if fmt == "openai_chat":
        return encode_event(error_body("openai_chat", status, message, code))
    event = {
        "type": "error",
        "sequence_number": sequence_number,
        "code": code or responses_error_code(status),
        "message": message,
        "param": None,
    }
    return encode_event(event, "error")


def error_message_from(body: bytes | str | dict[str, Any] | None, status: int | None = None) -> str:
    """The human-readable message of an upstream error body (OpenAI or Anthropic shape, or plain text)."""
    data: Any = body
    if isinstance(body, bytes | str):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            text = " ".join(text.split())[:500]
            return text or _status_text(status)
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            msg = err.get("message")
            if isinstance(msg, str) and msg:
                return msg
        if isinstance(err, str) and err:
            return err
        msg = data.get("message") or data.get("detail")
        if isinstance(msg, str) and msg:
            return msg
    return _status_text(status)


def _status_text(status: int | None) -> str:
    return f"upstream returned HTTP {status}" if status else "upstream error"


def translate_error_body(
    fmt: ClientFormat, status: int, upstream_body: bytes | str | dict[str, Any] | None
) -> dict[str, Any]:
    """Re-wrap an upstream error body (any shape) as `fmt`'s error body, keeping its message and code."""
    code: str | None = None
    data: Any = upstream_body
    if isinstance(upstream_body, bytes | str):
        try:
            data = orjson.loads(upstream_body)
        except orjson.JSONDecodeError:
            data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        raw_code = data["error"].get("code")
        if isinstance(raw_code, str):
            code = raw_code
    return error_body(fmt, status, error_message_from(upstream_body, status), code)

"""Errors rendered in the calling client's API format (SPEC §7): the one place a `GatewayError`
becomes a response body (the dispatcher's answers, the proxy's all-failed answer, and the
protocol's 408/431 all come through here)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from llmroute.errors import GatewayError
from llmroute.wire import ClientFormat, error_body


def error_json(fmt: ClientFormat, error: GatewayError, details: dict[str, Any] | None = None) -> bytes:
    """`error` as `fmt`'s JSON error body; `details` join its error object."""
    body = error_body(fmt, error.status, error.message, error.code)
    if details:
        body["error"].update(details)
    return orjson.dumps(body)


def error_response(
    fmt: ClientFormat,
    error: GatewayError,
    headers: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> Response:
    """`error` as a response in `fmt`; `headers` join the error's own."""
    if error.headers:
        headers = {**headers, **error.headers} if headers else error.headers
    body = error_json(fmt, error, details)
    return Response(body, status_code=error.status, media_type="application/json", headers=headers)


def format_for_path(path: str) -> ClientFormat:
    """Which client format an error on this path should use (unknown paths answer in OpenAI's)."""
    if path.endswith(("/messages", "/messages/count_tokens")):
        return "anthropic"
    if path.endswith("/responses"):
        return "responses"
    return "openai_chat"

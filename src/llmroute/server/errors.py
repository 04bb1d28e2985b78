"""Errors the gateway raises itself, rendered in the calling client's API format (SPEC §7)."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from llmroute.wire import ClientFormat, error_body


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


def error_response(
    fmt: ClientFormat,
    status: int,
    message: str,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        orjson.dumps(error_body(fmt, status, message, code)),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def format_for_path(path: str) -> ClientFormat:
    """Which client format an error on this path should use (unknown paths answer in OpenAI's)."""
    if path.endswith(("/messages", "/messages/count_tokens")):
        return "anthropic"
    if path.endswith("/responses"):
        return "responses"
    return "openai_chat"

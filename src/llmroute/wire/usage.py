"""Token usage from responses and streams of any of the three formats (for metrics and logs).

When client and upstream speak the same format the proxy pipes the upstream bytes through
untouched; it can still learn the usage by feeding the decoded events to a `StreamUsageReader`
(which never alters anything). Translated streams report usage on `translator.usage` instead.
"""

from __future__ import annotations

from typing import Any

import orjson

from llmroute.wire.errors import ClientFormat
from llmroute.wire.sse import SSEEvent
from llmroute.wire.streaming import Usage


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def usage_from_response(fmt: ClientFormat, body: Any) -> Usage | None:
    """The usage of a non-streaming response body in format `fmt`, or None if it has none."""
    if not isinstance(body, dict):
        return None
    usage = body.get("usage")
    if not isinstance(usage, dict):
        return None
    if fmt == "openai_chat":
        return Usage(_int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens")))
    if fmt == "anthropic":
        prompt = (
            _int(usage.get("input_tokens"))
            + _int(usage.get("cache_read_input_tokens"))
            + _int(usage.get("cache_creation_input_tokens"))
        )
        return Usage(prompt, _int(usage.get("output_tokens")))
    return Usage(_int(usage.get("input_tokens")), _int(usage.get("output_tokens")))


class StreamUsageReader:
    """Watches a same-format stream's events and keeps the usage it reports."""

    __slots__ = ("fmt", "usage")

    def __init__(self, fmt: ClientFormat) -> None:
        self.fmt = fmt
        self.usage: Usage | None = None

    def feed(self, event: SSEEvent) -> None:
        data = event.data
        # Cheap pre-check: only events that can carry usage are parsed.
        if "usage" not in data or data == "[DONE]":
            return
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(body, dict):
            return
        if self.fmt == "openai_chat":
            found = usage_from_response("openai_chat", body)
            if found is not None:
                self.usage = found
        elif self.fmt == "anthropic":
            self._anthropic(body)
        elif body.get("type") in ("response.completed", "response.incomplete", "response.failed"):
            found = usage_from_response("responses", body.get("response"))
            if found is not None:
                self.usage = found

    def _anthropic(self, body: dict[str, Any]) -> None:
        kind = body.get("type")
        if kind == "message_start" and isinstance(body.get("message"), dict):
            self.usage = usage_from_response("anthropic", body["message"])
        elif kind == "message_delta" and isinstance(body.get("usage"), dict):
            usage = body["usage"]
            current = self.usage or Usage()
            if any(
                k in usage for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
            ):
                found = usage_from_response("anthropic", body)
                current.input_tokens = found.input_tokens if found else current.input_tokens
            if isinstance(usage.get("output_tokens"), int):
                current.output_tokens = usage["output_tokens"]
            self.usage = current

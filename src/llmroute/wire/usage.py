"""Token usage in every format: the one place that knows how each API counts tokens.

`Usage` is what the gateway records (prompt and completion tokens, the Chat Completions meaning).
Readers turn a format's `usage` object into it, writers turn it back into a format's object, so a
translation is always "read the upstream's, write the client's":

- Chat Completions: `prompt_tokens` (cached ones included, listed again in
  `prompt_tokens_details.cached_tokens`), `completion_tokens`, `total_tokens`.
- Anthropic Messages: `input_tokens` excludes the prompt tokens read from or written to the cache
  (`cache_read_input_tokens`, `cache_creation_input_tokens`); all three together are the prompt.
  A stream reports usage in pieces: `message_start` the input, `message_delta` the output so far.
- Responses: `input_tokens` (cached included, as Chat), `output_tokens`, and their details.

Same-format responses and streams are piped untouched; `usage_from_bytes` and `StreamUsageReader`
read their usage on the side. Translated streams report usage on `translator.usage`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from llmroute.wire.formats import ClientFormat
from llmroute.wire.shapes import as_dict, as_int
from llmroute.wire.sse import SSEEvent


@dataclass(slots=True)
class Usage:
    """Tokens of one response. `input_tokens` counts the whole prompt, cached tokens included.

    The details ride along for translations that report them; equality (and the metrics) look at
    the two counts only.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = field(default=0, compare=False)  # prompt tokens read from the cache
    reasoning_tokens: int = field(default=0, compare=False)
    reported_total: int = field(default=0, compare=False)  # the upstream's total_tokens, 0 if none

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


# -- readers: a format's usage object → Usage ------------------------------------------------------

_ANTHROPIC_INPUT_KEYS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def usage_from_chat(usage: Any) -> Usage:
    usage = as_dict(usage)
    return Usage(
        as_int(usage.get("prompt_tokens")),
        as_int(usage.get("completion_tokens")),
        as_int(as_dict(usage.get("prompt_tokens_details")).get("cached_tokens")),
        as_int(as_dict(usage.get("completion_tokens_details")).get("reasoning_tokens")),
        as_int(usage.get("total_tokens")),
    )


def usage_from_anthropic(usage: Any, into: Usage | None = None) -> Usage:
    """Anthropic `usage` as a Usage, merged into `into` when given (a stream's earlier report).

    Only the counts present are taken: a `message_delta` that carries just `output_tokens` keeps
    the input counted at `message_start`.
    """
    usage = as_dict(usage)
    current = into if into is not None else Usage()
    if any(key in usage for key in _ANTHROPIC_INPUT_KEYS):
        cache_read = as_int(usage.get("cache_read_input_tokens"))
        current.cached_tokens = cache_read
        current.input_tokens = (
            as_int(usage.get("input_tokens")) + cache_read + as_int(usage.get("cache_creation_input_tokens"))
        )
    if "output_tokens" in usage:
        current.output_tokens = as_int(usage["output_tokens"])
    return current


def usage_from_responses(usage: Any) -> Usage:
    usage = as_dict(usage)
    return Usage(as_int(usage.get("input_tokens")), as_int(usage.get("output_tokens")))


_READERS: dict[str, Callable[[Any], Usage]] = {
    "openai_chat": usage_from_chat,
    "anthropic": usage_from_anthropic,
    "responses": usage_from_responses,
}


# -- writers: Usage → a format's usage object ----------------------------------------------------


def _total(usage: Usage) -> int:
    return usage.reported_total or usage.input_tokens + usage.output_tokens


def chat_usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": _total(usage),
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    }


def anthropic_usage(usage: Usage) -> dict[str, Any]:
    """Cached prompt tokens are reported as cache reads, the rest as `input_tokens`."""
    out: dict[str, Any] = {
        "input_tokens": max(usage.input_tokens - usage.cached_tokens, 0),
        "output_tokens": usage.output_tokens,
    }
    if usage.cached_tokens:
        out["cache_read_input_tokens"] = usage.cached_tokens
    return out


def responses_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": 0,  # Chat usage does not report cache writes
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": _total(usage),
    }


# -- usage of piped (same-format) answers -----------------------------------------------------------


def usage_from_response(fmt: ClientFormat, body: Any) -> Usage | None:
    """The usage of a non-streaming response body in format `fmt`, or None if it has none."""
    if not isinstance(body, dict):
        return None
    usage = body.get("usage")
    if not isinstance(usage, dict):
        return None
    return _READERS[fmt](usage)


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
            self.usage = usage_from_response("openai_chat", body) or self.usage
            return
        kind = body.get("type")
        if self.fmt == "anthropic":
            if kind == "message_start":
                usage = as_dict(body.get("message")).get("usage")
                if isinstance(usage, dict):
                    self.usage = usage_from_anthropic(usage)
            elif kind == "message_delta" and isinstance(body.get("usage"), dict):
                self.usage = usage_from_anthropic(body["usage"], self.usage)
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            self.usage = usage_from_response("responses", body.get("response")) or self.usage


# A piped non-streaming body is only inspected for its usage numbers (for the TOKENS metric). A
# JSON key can only appear unescaped as a key, never inside a string value (quotes there are
# escaped), so a byte search for `"prompt_tokens"` finds the usage object's field. The last one
# counts, since usage objects close the body in every format: found with `rfind` from the end,
# which is several times cheaper than running a regex over the whole body.
_VALUE = re.compile(rb"\s*:\s*(\d+)")
_KEYS: dict[str, tuple[bytes, bytes]] = {
    "openai_chat": (b'"prompt_tokens"', b'"completion_tokens"'),
    "anthropic": (b'"input_tokens"', b'"output_tokens"'),
    "responses": (b'"input_tokens"', b'"output_tokens"'),
}
_ANTHROPIC_CACHE = re.compile(rb'"cache_(?:read|creation)_input_tokens"\s*:\s*(\d+)')


def _last(key: bytes, data: bytes) -> int | None:
    """The number after the last `key` in `data` (None when absent or not a number)."""
    at = data.rfind(key)
    if at < 0:
        return None
    value = _VALUE.match(data, at + len(key))
    return int(value.group(1)) if value is not None else None


def usage_from_bytes(fmt: ClientFormat, data: bytes) -> Usage | None:
    """The usage of a same-format response body, found without parsing the whole JSON document."""
    prompt_key, completion_key = _KEYS[fmt]
    prompt = _last(prompt_key, data)
    completion = _last(completion_key, data)
    if prompt is None and completion is None:
        return None
    prompt = prompt or 0
    if fmt == "anthropic":
        # As in usage_from_anthropic: cache reads and writes are prompt tokens too.
        prompt += sum(int(m.group(1)) for m in _ANTHROPIC_CACHE.finditer(data))
    return Usage(prompt, completion or 0)

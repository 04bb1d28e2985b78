"""The interface every SSE stream translator implements, and the token usage they report.

A translator turns the upstream's decoded events (`SSEEvent`, from `SSEDecoder`) into the
client's SSE bytes, one event at a time, never buffering the stream:

    decoder = SSEDecoder()
    translator = translator_for(client_fmt, upstream_fmt, model)   # llmroute.wire.dispatch
    async for chunk in upstream_body:
        for event in decoder.feed(chunk):
            for out in translator.feed(event):
                await send(out)
    for event in decoder.flush():
        ...feed as above...
    for out in translator.finish():        # upstream closed normally
        await send(out)

On an upstream failure mid-stream (connection reset, timeout) send `translator.error(message)`
instead of `finish()`: a well-formed error ending in the client's format. Both are idempotent
once the stream has ended (they then return []), so the proxy can call `finish()` in a `finally`.

`translator.usage` holds the token counts seen so far (None until the upstream reported any).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from llmroute.wire.sse import SSEEvent


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class StreamTranslator(Protocol):
    usage: Usage | None

    @property
    def done(self) -> bool:
        """True once the client's stream has been ended (normally or with an error)."""
        ...

    def feed(self, event: SSEEvent) -> list[bytes]:
        """The client-format SSE bytes for one upstream event (often none, sometimes several)."""
        ...

    def finish(self) -> list[bytes]:
        """End the client's stream after the upstream closed; [] if it already ended."""
        ...

    def error(self, message: str, status: int = 502) -> list[bytes]:
        """End the client's stream with an error event in its format; [] if it already ended.

        `status` picks the error type as for `error_body` (502 → api_error / server_error,
        429 → rate_limit_error, 504 → timeout_error...).
        """
        ...


def tool_call_key(call: dict[str, Any], last_key: int | None, seen: int) -> int:
    """Which tool call a Chat `delta.tool_calls[]` entry continues.

    The entry's `index` when present; some OpenAI-compatible servers omit it, and then an entry
    with an `id` starts a new call (numbered `seen`) while one without continues the last call.
    """
    key = call.get("index")
    if isinstance(key, int):
        return key
    if call.get("id") or last_key is None:
        return seen
    return last_key

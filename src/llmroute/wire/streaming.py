"""Stream translation: an upstream reader joined to a client emitter, one event at a time.

A translator turns the upstream's decoded events (`SSEEvent`, from `SSEDecoder`) into the
client's SSE bytes, never buffering the stream:

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

Every translator is a `TranslatedStream`: a reader for the upstream format (`read_chat`,
`read_anthropic`: events → deltas, see `deltas`) and an emitter for the client's
(`emit_chat`, `emit_anthropic`, `emit_responses`: deltas → events). The stream's end is decided
here once for every pair: the upstream's terminal event or `finish()` closes it normally, an
upstream error event or `error()` closes it with the client's error event, and either happens once.
"""

from __future__ import annotations

from typing import Any, Protocol

from llmroute.wire.deltas import Ending, Failed, StreamEmitter, StreamReader
from llmroute.wire.emit_anthropic import AnthropicEmitter
from llmroute.wire.emit_chat import ChatEmitter
from llmroute.wire.emit_responses import ResponsesEmitter
from llmroute.wire.read_anthropic import AnthropicStreamReader
from llmroute.wire.read_chat import ChatStreamReader
from llmroute.wire.sse import SSEEvent
from llmroute.wire.usage import Usage


class StreamTranslator(Protocol):
    @property
    def usage(self) -> Usage | None:
        """The token counts the upstream reported so far (None until it reported any)."""
        ...

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


class TranslatedStream:
    """A `StreamTranslator` made of a reader and an emitter."""

    __slots__ = ("_done", "_emitter", "_reader")

    def __init__(self, reader: StreamReader, emitter: StreamEmitter) -> None:
        self._reader = reader
        self._emitter = emitter
        self._done = False

    @property
    def usage(self) -> Usage | None:
        return self._reader.usage

    @property
    def done(self) -> bool:
        return self._done

    def feed(self, event: SSEEvent) -> list[bytes]:
        if self._done:
            return []
        out: list[bytes] = []
        ending = self._reader.read(event, self._emitter, out)
        if ending is not None:
            self._end(ending, out)
        return out

    def finish(self) -> list[bytes]:
        if self._done:
            return []
        self._done = True
        out: list[bytes] = []
        self._reader.close(self._emitter, out)
        self._emitter.end(out)
        return out

    def error(self, message: str, status: int = 502) -> list[bytes]:
        if self._done:
            return []
        self._done = True
        out: list[bytes] = []
        self._emitter.fail(message, status, out)
        return out

    def _end(self, ending: Ending, out: list[bytes]) -> None:
        """The upstream's own terminal event (`END`) or error event (`Failed`) ended the stream."""
        self._done = True
        if isinstance(ending, Failed):
            self._emitter.fail(ending.message, 502, out)
        else:
            self._emitter.end(out)


# The four (upstream → client) pairs a gateway translates, by name.


class ChatToAnthropicStream(TranslatedStream):
    """OpenAI Chat upstream → Anthropic client."""

    __slots__ = ()

    def __init__(self, model: str) -> None:
        super().__init__(ChatStreamReader(), AnthropicEmitter(model))


class AnthropicToChatStream(TranslatedStream):
    """Anthropic upstream → OpenAI Chat client; a usage chunk only when the client asked for it."""

    __slots__ = ("include_usage",)

    def __init__(self, model: str, *, include_usage: bool = False) -> None:
        super().__init__(AnthropicStreamReader(), ChatEmitter(model, include_usage=include_usage))
        self.include_usage = include_usage


class ChatToResponsesStream(TranslatedStream):
    """OpenAI Chat upstream → Responses client (`request`: the client's body, whose settings are echoed)."""

    __slots__ = ()

    def __init__(self, model: str, *, request: dict[str, Any] | None = None) -> None:
        super().__init__(ChatStreamReader(), ResponsesEmitter(model, request=request))


class AnthropicToResponsesStream(TranslatedStream):
    """Anthropic upstream → Responses client."""

    __slots__ = ()

    def __init__(self, model: str, *, request: dict[str, Any] | None = None) -> None:
        super().__init__(AnthropicStreamReader(), ResponsesEmitter(model, request=request))

"""Streaming responses: upstream SSE → client SSE, one chunk at a time, never the whole stream.

Two shapes:

- `pipe_same_format`: client and upstream speak the same API. The upstream bytes go out as they
  are, cut only at event boundaries (a partial event is held until its end arrives) so that if the
  upstream breaks mid-way the client's stream can still be ended with a well-formed error event.
  The events are decoded on the side only to read the usage and to notice a stream that ended
  without its terminal event.
- `pipe_translated`: a `StreamTranslator` from `llmroute.wire` turns each upstream event into the
  client's events.

Both read the next upstream chunk only after the previous one was handed to the server (so a
slow client slows the upstream read: backpressure), close the upstream connection in `finally`
(a client that disconnects cancels the generator, which cancels the upstream request) and report
the outcome through `on_end(usage, error)`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from llmroute.errors import UpstreamError
from llmroute.proxy.errors import redact, scanned_secrets, scrub, stream_error_event
from llmroute.proxy.replies import Reply
from llmroute.wire import ClientFormat, SSEDecoder, SSEEvent, StreamTranslator, Usage, error_message_from
from llmroute.wire.sse import SSEEventTooLarge
from llmroute.wire.usage import StreamUsageReader

log = logging.getLogger("llmroute.proxy")

OnEnd = Callable[[Usage | None, str | None], None]

_TERMINAL_EVENTS = {
    "anthropic": frozenset({"message_stop", "error"}),
    "responses": frozenset({"response.completed", "response.incomplete", "response.failed", "error"}),
}


def event_boundary(data: bytes) -> int:
    """Length of the prefix of `data` that ends on an event boundary (a blank line); 0 if none."""
    cut = data.rfind(b"\n\n")
    cut = cut + 2 if cut >= 0 else 0
    crlf = data.rfind(b"\r\n\r\n")
    if crlf >= 0 and crlf + 4 > cut:
        cut = crlf + 4
    return cut


_ERROR_OPENINGS = (b"event: error", b'data: {"error"', b'data: {"type":"error"', b'data: {"type": "error"')


def opening_error(first: bytes) -> str | None:
    """The message when a stream's first event is an error event (a cheap prefix test), else None."""
    head = first.lstrip()
    if not head.startswith(_ERROR_OPENINGS):
        return None
    events = SSEDecoder().feed(first)
    return error_message_from(events[0].data) if events else "error event"


def ended_properly(fmt: ClientFormat, last: SSEEvent | None) -> bool:
    if last is None:
        return False
    if fmt == "openai_chat":
        return last.data.strip() == "[DONE]"
    return (last.event or "") in _TERMINAL_EVENTS[fmt]


async def pipe_same_format(
    fmt: ClientFormat,
    reply: Reply,
    first: bytes,
    rest: AsyncIterator[bytes],
    secrets: tuple[str, ...],
    on_end: OnEnd,
) -> AsyncIterator[bytes]:
    decoder = SSEDecoder()
    scanned = scanned_secrets(secrets)  # what goes out is cut at event boundaries: no key is split
    reader = StreamUsageReader(fmt)
    last: SSEEvent | None = None
    events = 0
    # The unfinished event's bytes, held as pieces (joined once, when its end arrives: linear time
    # however it is chunked), and the last few of them, where a boundary may begin.
    pending: list[bytes] = []
    tail = b""
    error: str | None = None
    try:
        chunk: bytes | None = first
        while chunk is not None:
            for event in decoder.feed(chunk):  # raises SSEEventTooLarge: `pending` stays bounded
                reader.feed(event)
                last = event
                events += 1
            # Only the new bytes are searched (with the tail: "\n" + "\n" may straddle reads).
            cut = event_boundary(tail + chunk) - len(tail)
            if cut > 0:
                out = chunk[:cut] if cut < len(chunk) else chunk
                if pending:
                    out = b"".join(pending) + out
                rest_of_chunk = chunk[cut:]
                pending = [rest_of_chunk] if rest_of_chunk else []
                tail = rest_of_chunk[-3:]
                yield scrub(out, scanned)
            elif chunk:
                pending.append(chunk)
                tail = (tail + chunk)[-3:]
            chunk = await anext(rest, None)
        for event in decoder.flush():
            reader.feed(event)
            last = event
            events += 1
        held = b"".join(pending)
        if held.strip():
            # The upstream closed without the blank line after its last event: complete it.
            yield scrub(held, scanned) + b"\n\n"
        if not ended_properly(fmt, last):
            error = "the upstream closed the stream before it finished"
            yield stream_error_event(fmt, error, events)
    except UpstreamError as exc:
        error = redact(exc.message, secrets)
        yield stream_error_event(fmt, f"upstream stream failed: {error}", events)
    except SSEEventTooLarge as exc:
        error = str(exc)
        yield stream_error_event(fmt, error, events)
    finally:
        reply.close()
        on_end(reader.usage, error)


def finishes(upstream: str, event: SSEEvent) -> bool:
    """Whether an upstream event says the answer is complete, so that a clean end of the HTTP
    response after it is a finished stream rather than one cut short.

    Chat: `[DONE]` or a chunk with a `finish_reason` (some servers close without `[DONE]`);
    Anthropic: `message_delta` (it carries the stop reason) or `message_stop`. A substring test,
    not a parse: text that quotes these words arrives JSON-escaped and does not match."""
    if upstream == "anthropic":
        return event.event in ("message_delta", "message_stop")
    data = event.data
    return data == "[DONE]" or '"finish_reason":"' in data or '"finish_reason": "' in data


async def pipe_translated(
    translator: StreamTranslator,
    upstream: str,
    reply: Reply,
    first: bytes,
    rest: AsyncIterator[bytes],
    secrets: tuple[str, ...],
    on_end: OnEnd,
) -> AsyncIterator[bytes]:
    decoder = SSEDecoder()
    # The decoder hands over whole events only, so a key split across chunks is whole again here.
    scanned = scanned_secrets(secrets)
    error: str | None = None
    finished = False  # the upstream said its answer is complete (see `finishes`)
    try:
        chunk: bytes | None = first
        while chunk is not None:
            out: list[bytes] = []
            for event in decoder.feed(chunk):
                finished = finished or finishes(upstream, event)
                out.extend(translator.feed(event))
            if out:
                yield scrub(b"".join(out), scanned)
            chunk = await anext(rest, None)
        out = []
        for event in decoder.flush():
            finished = finished or finishes(upstream, event)
            out.extend(translator.feed(event))
        if finished or translator.done:
            out.extend(translator.finish())
        else:
            # A clean end of the HTTP response, but the answer never finished: the client must not
            # take a truncated answer for a complete one (the piped path does the same).
            error = "the upstream closed the stream before it finished"
            out.extend(translator.error(error))
        if out:
            yield scrub(b"".join(out), scanned)
    except UpstreamError as exc:
        error = redact(exc.message, secrets)
        out = translator.error(f"upstream stream failed: {error}")
        if out:
            yield b"".join(out)
    except SSEEventTooLarge as exc:
        error = str(exc)
        out = translator.error(error)
        if out:
            yield b"".join(out)
    except Exception:
        # A translator bug must still end the client's stream cleanly (and never leak internals).
        log.exception("stream translation failed")
        error = "translation error"
        out = translator.error("the gateway failed to translate the upstream stream")
        if out:
            yield b"".join(out)
    finally:
        reply.close()
        on_end(translator.usage, error)

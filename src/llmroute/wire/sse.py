"""Server-sent events: an incremental decoder for upstream streams and the encoder for ours.

`SSEDecoder.feed(chunk)` takes bytes exactly as they arrive from the network (events split
anywhere, even inside a UTF-8 character or between `\\r` and `\\n`) and returns the events completed
by that chunk. It follows the WHATWG event-stream rules: lines end in LF, CRLF or CR; a blank line
dispatches; `:` lines are comments; `data:` lines accumulate joined by "\\n"; one space after the
colon is dropped; `event:` names the event; `id:`/`retry:` are kept/ignored. `flush()` returns an
event left without its closing blank line when the upstream closes the connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str | None
    data: str
    id: str | None = None

    def json(self) -> Any:
        """The data parsed as JSON (raises orjson.JSONDecodeError)."""
        return orjson.loads(self.data)


# One upstream event larger than this ends the stream with an error: nothing legitimate is that
# big, and an upstream that never sends the blank line would otherwise grow the buffer forever.
MAX_EVENT_BYTES = 8 * 1024 * 1024


class SSEEventTooLarge(Exception):
    """An upstream event grew past the decoder's `max_event_bytes` without being completed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the upstream sent a stream event larger than {limit} bytes")
        self.limit = limit


class SSEDecoder:
    """Incremental `text/event-stream` parser. Not thread-safe; one per stream.

    Linear time whatever the chunking: each chunk is scanned once, and an unfinished line is kept
    as a list of pieces joined once, when its end arrives (not re-concatenated per chunk).
    """

    __slots__ = ("_cr_held", "_data", "_event", "_event_bytes", "_id", "_max", "_partial", "_partial_bytes")

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._partial: list[bytes] = []  # the current line, not yet ended
        self._partial_bytes = 0
        self._cr_held = False  # the last chunk ended in CR: maybe half of a CRLF
        self._event: str | None = None
        self._data: list[str] = []
        self._event_bytes = 0  # bytes of the current event's completed lines
        self._id: str | None = None
        self._max = max_event_bytes

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """The events completed by `chunk`, in order. Raises `SSEEventTooLarge`."""
        if self._cr_held:
            chunk = b"\r" + chunk
            self._cr_held = False
        if b"\r" in chunk:
            # A trailing CR may be the first half of a CRLF split across chunks: keep it back.
            if chunk.endswith(b"\r"):
                chunk = chunk[:-1]
                self._cr_held = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" not in chunk:
            if chunk:
                self._partial.append(chunk)
                self._partial_bytes += len(chunk)
                self._check()
            return []
        lines = chunk.split(b"\n")
        if self._partial:
            self._partial.append(lines[0])
            lines[0] = b"".join(self._partial)
        tail = lines.pop()
        self._partial = [tail] if tail else []
        self._partial_bytes = len(tail)
        events = self._process(lines)
        self._check()
        return events

    def flush(self) -> list[SSEEvent]:
        """At end of stream: the last event if the upstream did not end it with a blank line."""
        lines = [b"".join(self._partial)] if self._partial else []
        self._partial, self._partial_bytes, self._cr_held = [], 0, False
        lines.append(b"")
        return self._process(lines)

    def _check(self) -> None:
        if self._event_bytes + self._partial_bytes > self._max:
            raise SSEEventTooLarge(self._max)

    def _process(self, lines: list[bytes]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        for raw in lines:
            if not raw:
                if self._data:
                    events.append(SSEEvent(self._event, "\n".join(self._data), self._id))
                self._event = None
                self._data = []
                self._event_bytes = 0
                continue
            self._event_bytes += len(raw)
            line = raw.decode("utf-8", "replace")
            if line[0] == ":":
                continue  # comment / keep-alive
            name, sep, value = line.partition(":")
            if sep and value[:1] == " ":
                value = value[1:]
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value or None
            elif name == "id":
                self._id = value or None
            # "retry" and unknown fields are ignored.
        return events


def encode_event(data: Any, event: str | None = None) -> bytes:
    """One SSE event: `event: NAME` (when given) and a single `data:` line of compact JSON."""
    payload = orjson.dumps(data)
    if event is None:
        return b"data: " + payload + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + payload + b"\n\n"


DONE = b"data: [DONE]\n\n"

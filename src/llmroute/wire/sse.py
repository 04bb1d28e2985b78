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


class SSEDecoder:
    """Incremental `text/event-stream` parser. Not thread-safe; one per stream."""

    __slots__ = ("_buffer", "_data", "_event", "_id")

    def __init__(self) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """The events completed by `chunk`, in order."""
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            # A trailing CR may be the first half of a CRLF split across chunks: keep it back.
            held = buffer.endswith(b"\r")
            if held:
                buffer = buffer[:-1]
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if held:
                # Once the next chunk arrives we know whether the CR ends a line on its own.
                lines = buffer.split(b"\n")
                self._buffer = lines.pop() + b"\r"
                return self._process(lines)
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()
        return self._process(lines)

    def flush(self) -> list[SSEEvent]:
        """At end of stream: the last event if the upstream did not end it with a blank line."""
        lines = []
        if self._buffer:
            lines.append(self._buffer.rstrip(b"\r"))
            self._buffer = b""
        lines.append(b"")
        return self._process(lines)

    def _process(self, lines: list[bytes]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        for raw in lines:
            if not raw:
                if self._data:
                    events.append(SSEEvent(self._event, "\n".join(self._data), self._id))
                self._event = None
                self._data = []
                continue
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

"""What a stream reader hands an emitter: an upstream stream as typed deltas, in any format.

A reader (`read_chat`, `read_anthropic`) parses one upstream SSE event and passes what it found to
an emitter (`emit_chat`, `emit_anthropic`, `emit_responses`), which appends the client's SSE
events to `out`. `streaming.TranslatedStream` joins one of each.

The deltas are the `StreamEmitter` methods (start, text, reasoning, tool_call, tool_args, stop,
usage): typed calls rather than one object per delta, since this runs for every event of every
translated stream. The end of a stream is what `read` returns (`END` or `Failed`), and
`TranslatedStream` acts on it, so that finishing and failing happen once for every pair.

Vocabulary: tool calls are numbered by `key` in the order the upstream started them; stop reasons
use Chat Completions' names (`stop`, `length`, `tool_calls`, `content_filter`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from llmroute.wire.sse import SSEEvent
from llmroute.wire.usage import Usage


class End:
    """The upstream finished its answer (`[DONE]`, `message_stop`)."""

    __slots__ = ()


END = End()


@dataclass(frozen=True, slots=True)
class Failed:
    """The upstream ended its stream with an error event."""

    message: str


Ending = End | Failed


class StreamEmitter(Protocol):
    """Writes one client format's events; owns its opening, closing and error events."""

    def start(self, model: str | None, message_id: str | None, out: list[bytes]) -> None:
        """The upstream's answer began; `model` and `message_id` as the upstream named them, if it did."""
        ...

    def text(self, text: str, out: list[bytes]) -> None: ...

    def reasoning(self, text: str, out: list[bytes]) -> None:
        """The model's reasoning ("thinking") text, where the upstream streams it."""
        ...

    def tool_call(self, key: int, call_id: str, name: str, arguments: str, out: list[bytes]) -> None:
        """A tool call starts; `call_id` is "" when the upstream gave none (the emitter makes one);
        `arguments` is the first piece of its JSON arguments, if it came with the call."""
        ...

    def tool_args(self, key: int, arguments: str, out: list[bytes]) -> None:
        """More of tool call `key`'s JSON arguments (never empty)."""
        ...

    def stop(self, reason: str | None) -> None:
        """Why the model stopped, as a Chat `finish_reason` (None: a reason Chat has no name for)."""
        ...

    def usage(self, usage: Usage) -> None:
        """The token usage so far."""
        ...

    def end(self, out: list[bytes]) -> None:
        """Append the events that close a finished stream."""
        ...

    def fail(self, message: str, status: int, out: list[bytes]) -> None:
        """Append the events that end the stream with an error (its type chosen by `status`)."""
        ...


class EmitterBase:
    """What every emitter keeps: the model name it reports, and the stop reason and usage it sends
    at the end. `start` opens the client's stream once (`_open_stream`), under the upstream's model
    name when it gave one; an emitter also opens it before its first content or its end."""

    __slots__ = ("_reason", "_started", "_usage", "model")

    def __init__(self, model: str) -> None:
        self.model = model
        self._reason: str | None = None
        self._usage: Usage | None = None
        self._started = False

    def start(self, model: str | None, message_id: str | None, out: list[bytes]) -> None:
        if not self._started and model:
            self.model = model  # the upstream's name, as in a non-streamed answer
        self._begin(out)

    def stop(self, reason: str | None) -> None:
        self._reason = reason

    def usage(self, usage: Usage) -> None:
        self._usage = usage

    def _begin(self, out: list[bytes]) -> None:
        if not self._started:
            self._started = True
            self._open_stream(out)

    def _open_stream(self, out: list[bytes]) -> None:
        raise NotImplementedError


class StreamReader(Protocol):
    """Parses one upstream format's events."""

    @property
    def usage(self) -> Usage | None:
        """The usage the upstream reported so far (None until it reported any)."""
        ...

    def read(self, event: SSEEvent, emit: StreamEmitter, out: list[bytes]) -> Ending | None:
        """Pass one upstream event's deltas to `emit`; its ending if the event ends the stream."""
        ...

    def close(self, emit: StreamEmitter, out: list[bytes]) -> None:
        """Pass what is owed when the upstream closed without its terminal event (before `end`)."""
        ...

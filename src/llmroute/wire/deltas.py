"""What a stream reader hands an emitter: an upstream stream as typed deltas, in any format.

A reader (`read_chat`, `read_anthropic`) parses one upstream SSE event into a few deltas; an
emitter (`emit_chat`, `emit_anthropic`, `emit_responses`) turns deltas into the client's SSE
events. `streaming.TranslatedStream` joins one of each. Deltas are small slotted objects made once
per upstream event; the end of a stream (`End`, `Failed`) is handled by `TranslatedStream`, which
makes finishing and failing idempotent for every pair.

Vocabulary: tool calls are numbered by `key` in the order the upstream started them; stop reasons
use Chat Completions' names (`stop`, `length`, `tool_calls`, `content_filter`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from llmroute.wire.sse import SSEEvent
from llmroute.wire.usage import Usage


@dataclass(slots=True)
class Start:
    """The upstream's answer began; `model` and `message_id` as the upstream named them, if it did."""

    model: str | None = None
    message_id: str | None = None


@dataclass(slots=True)
class Text:
    text: str


@dataclass(slots=True)
class Reasoning:
    """The model's reasoning ("thinking") text, where the upstream streams it."""

    text: str


@dataclass(slots=True)
class ToolCall:
    """A tool call starts; `call_id` is "" when the upstream gave none (the emitter makes one)."""

    key: int
    call_id: str
    name: str
    arguments: str = ""  # the first piece of its JSON arguments, if it came with the call


@dataclass(slots=True)
class ToolArgs:
    """More of tool call `key`'s JSON arguments."""

    key: int
    arguments: str


@dataclass(slots=True)
class Stop:
    """Why the model stopped, as a Chat `finish_reason` (None: a reason Chat has no name for)."""

    reason: str | None


class End:
    """The upstream finished its answer (`[DONE]`, `message_stop`)."""

    __slots__ = ()


END = End()


@dataclass(slots=True)
class Failed:
    """The upstream ended its stream with an error event."""

    message: str


# `Usage` (from llmroute.wire.usage) is a delta too: the usage so far.
Delta = Start | Text | Reasoning | ToolCall | ToolArgs | Stop | Usage | End | Failed


class StreamReader(Protocol):
    """Parses one upstream format's events."""

    @property
    def usage(self) -> Usage | None:
        """The usage the upstream reported so far (None until it reported any)."""
        ...

    def read(self, event: SSEEvent) -> list[Delta]:
        """The deltas of one upstream event (often one, sometimes none)."""
        ...

    def close(self) -> list[Delta]:
        """The deltas owed when the upstream closed without its terminal event (before `End`)."""
        ...


class StreamEmitter(Protocol):
    """Writes one client format's events; owns its opening, closing and error events."""

    def emit(self, delta: Delta, out: list[bytes]) -> None:
        """Append the client's events for one delta (never `End` or `Failed`) to `out`."""
        ...

    def end(self, out: list[bytes]) -> None:
        """Append the events that close a finished stream."""
        ...

    def fail(self, message: str, status: int, out: list[bytes]) -> None:
        """Append the events that end the stream with an error (type chosen by `status`)."""
        ...

"""Reads an Anthropic Messages stream as deltas.

`message_start` starts the answer (message id, model); `text` blocks and `text_delta`s are text,
`thinking` ones reasoning; a `tool_use` block starts a call (its block index is remembered) and
its `input_json_delta`s continue it; `message_delta` carries the stop reason; `message_stop` ends
the stream, an `error` event fails it. `ping`, `content_block_stop`, signatures, citations and
unknown future events give nothing.

Usage arrives in pieces (input at `message_start`, output at `message_delta`) and is merged on
`usage` as it comes; the emitter gets it once, at the end (zeros when the upstream never reported
any).
"""

from __future__ import annotations

from typing import Any

import orjson

from llmroute.wire.anthropic_chat import chat_stop_reason
from llmroute.wire.deltas import END, Ending, Failed, StreamEmitter
from llmroute.wire.errors import error_message_from
from llmroute.wire.shapes import as_str
from llmroute.wire.sse import SSEEvent
from llmroute.wire.usage import Usage, usage_from_anthropic


class AnthropicStreamReader:
    __slots__ = ("_tools", "usage")

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self._tools: dict[int, int] = {}  # content block index → tool call key

    def read(self, event: SSEEvent, emit: StreamEmitter, out: list[bytes]) -> Ending | None:
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None
        kind = data.get("type") or event.event
        if kind == "content_block_delta":
            self._block(data, "delta", emit, out)
        elif kind == "message_start":
            self._start(data.get("message"), emit, out)
        elif kind == "content_block_start":
            self._block(data, "content_block", emit, out)
        elif kind == "message_delta":
            delta = data.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason"):
                emit.stop(chat_stop_reason(delta["stop_reason"]))
            if isinstance(data.get("usage"), dict):
                self.usage = usage_from_anthropic(data["usage"], self.usage)
        elif kind == "message_stop":
            self.close(emit, out)
            return END
        elif kind == "error":
            return Failed(error_message_from(data))
        return None

    def close(self, emit: StreamEmitter, out: list[bytes]) -> None:
        emit.usage(self.usage or Usage())

    def _start(self, message: Any, emit: StreamEmitter, out: list[bytes]) -> None:
        model: str | None = None
        message_id: str | None = None
        if isinstance(message, dict):
            if isinstance(message.get("id"), str):
                message_id = message["id"]
            if isinstance(message.get("model"), str) and message["model"]:
                model = message["model"]
            if isinstance(message.get("usage"), dict):
                self.usage = usage_from_anthropic(message["usage"], self.usage)
        emit.start(model, message_id, out)

    def _block(self, data: dict[str, Any], field: str, emit: StreamEmitter, out: list[bytes]) -> None:
        """A content block's start (`field` "content_block") or one of its deltas (`field` "delta")."""
        part = data.get(field)
        if not isinstance(part, dict):
            return
        kind = part.get("type")
        if kind == "input_json_delta":
            arguments = part.get("partial_json")
            index = data.get("index")
            key = self._tools.get(index) if isinstance(index, int) else None
            if arguments and isinstance(arguments, str) and key is not None:
                emit.tool_args(key, arguments, out)
        elif kind == "tool_use":
            key = len(self._tools)
            index = data.get("index")
            self._tools[index if isinstance(index, int) else -1 - key] = key
            initial = part.get("input")
            arguments = orjson.dumps(initial).decode() if initial else ""
            emit.tool_call(key, as_str(part.get("id")), as_str(part.get("name")), arguments, out)
        else:
            _prose(part, kind, emit, out)


def _prose(part: dict[str, Any], kind: Any, emit: StreamEmitter, out: list[bytes]) -> None:
    """The text of a `text` or `thinking` block: its opening text, or a `text_delta` / `thinking_delta`.
    Other kinds (signature_delta, citations_delta, server tool blocks) give nothing."""
    if kind == "text_delta" or kind == "text":
        text = part.get("text")
        if isinstance(text, str) and text:
            emit.text(text, out)
    elif kind == "thinking_delta" or kind == "thinking":
        thinking = part.get("thinking")
        if isinstance(thinking, str) and thinking:
            emit.reasoning(thinking, out)

"""Reads an Anthropic Messages stream as deltas.

`message_start` gives `Start` (message id, model); `text` blocks and `text_delta`s are text,
`thinking` ones reasoning; a `tool_use` block starts a call (its block index is remembered) and
its `input_json_delta`s continue it; `message_delta` carries the stop reason; `message_stop` ends
the stream, an `error` event fails it. `ping`, `content_block_stop`, signatures, citations and
unknown future events give nothing.

Usage arrives in pieces (input at `message_start`, output at `message_delta`) and is merged on
`usage` as it comes; the emitters get it once, at the end, as a `Usage` delta before `End`
(zeros when the upstream never reported any).
"""

from __future__ import annotations

from typing import Any

import orjson

from llmroute.wire.anthropic_chat import chat_stop_reason
from llmroute.wire.deltas import END, Delta, Failed, Reasoning, Start, Stop, Text, ToolArgs, ToolCall
from llmroute.wire.errors import error_message_from
from llmroute.wire.shapes import as_str
from llmroute.wire.sse import SSEEvent
from llmroute.wire.usage import Usage, usage_from_anthropic


class AnthropicStreamReader:
    __slots__ = ("_tools", "usage")

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self._tools: dict[int, int] = {}  # content block index → tool call key

    def read(self, event: SSEEvent) -> list[Delta]:
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return []
        if not isinstance(data, dict):
            return []
        kind = data.get("type") or event.event
        if kind == "content_block_delta":
            return self._delta(data)
        if kind == "message_start":
            return [self._start(data.get("message"))]
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "message_delta":
            if isinstance(data.get("usage"), dict):
                self.usage = usage_from_anthropic(data["usage"], self.usage)
            delta = data.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason"):
                return [Stop(chat_stop_reason(delta["stop_reason"]))]
            return []
        if kind == "message_stop":
            return [*self.close(), END]
        if kind == "error":
            return [Failed(error_message_from(data))]
        return []

    def close(self) -> list[Delta]:
        return [self.usage or Usage()]

    def _start(self, message: Any) -> Start:
        start = Start()
        if isinstance(message, dict):
            if isinstance(message.get("id"), str):
                start.message_id = message["id"]
            if isinstance(message.get("model"), str) and message["model"]:
                start.model = message["model"]
            if isinstance(message.get("usage"), dict):
                self.usage = usage_from_anthropic(message["usage"], self.usage)
        return start

    def _block_start(self, data: dict[str, Any]) -> list[Delta]:
        block = data.get("content_block")
        if not isinstance(block, dict):
            return []
        kind = block.get("type")
        if kind == "text":
            text = block.get("text")
            return [Text(text)] if isinstance(text, str) and text else []
        if kind == "thinking":
            text = block.get("thinking")
            return [Reasoning(text)] if isinstance(text, str) and text else []
        if kind == "tool_use":
            key = len(self._tools)
            index = data.get("index")
            self._tools[index if isinstance(index, int) else -1 - key] = key
            initial = block.get("input")
            arguments = orjson.dumps(initial).decode() if initial else ""
            return [ToolCall(key, as_str(block.get("id")), as_str(block.get("name")), arguments)]
        return []

    def _delta(self, data: dict[str, Any]) -> list[Delta]:
        delta = data.get("delta")
        if not isinstance(delta, dict):
            return []
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text")
            return [Text(text)] if isinstance(text, str) and text else []
        if kind == "input_json_delta":
            partial = delta.get("partial_json")
            index = data.get("index")
            key = self._tools.get(index) if isinstance(index, int) else None
            if not partial or not isinstance(partial, str) or key is None:
                return []
            return [ToolArgs(key, partial)]
        if kind == "thinking_delta":
            thinking = delta.get("thinking")
            return [Reasoning(thinking)] if isinstance(thinking, str) and thinking else []
        return []  # signature_delta, citations_delta

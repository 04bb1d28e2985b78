"""Reads an OpenAI `chat.completion.chunk` stream as deltas.

The first chunk gives `Start` (with the upstream's model name); `delta.content` and
`delta.refusal` are text; `delta.tool_calls[]` entries start a call (`ToolCall`) or continue one
(`ToolArgs`); `finish_reason` gives `Stop`; a `usage` object (the `include_usage` chunk) gives
`Usage`. The stream ends on `data: [DONE]`, not on the chunk carrying `finish_reason`: with
`stream_options.include_usage` the usage chunk comes after it. An `{"error": ...}` chunk gives
`Failed`. Only the first choice is read: `n > 1` has no counterpart in the other formats.
"""

from __future__ import annotations

from typing import Any

import orjson

from llmroute.wire.deltas import END, Delta, Failed, Start, Stop, Text, ToolArgs, ToolCall
from llmroute.wire.errors import error_message_from
from llmroute.wire.shapes import as_dict, as_list, as_str
from llmroute.wire.sse import SSEEvent
from llmroute.wire.usage import Usage, usage_from_chat


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


class ChatStreamReader:
    __slots__ = ("_calls", "_last_key", "_started", "usage")

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self._started = False
        self._calls: set[int] = set()  # keys of the tool calls started so far
        self._last_key: int | None = None

    def read(self, event: SSEEvent) -> list[Delta]:
        if event.data == "[DONE]":
            return [END]
        try:
            chunk = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return []  # not a chunk (some servers send keep-alive junk); nothing to translate
        if not isinstance(chunk, dict):
            return []
        if chunk.get("error") is not None and not chunk.get("choices"):
            return [Failed(error_message_from(chunk))]
        out: list[Delta] = []
        if not self._started:
            self._started = True
            model = chunk.get("model")
            out.append(Start(model if isinstance(model, str) and model else None))
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = usage_from_chat(usage)
            out.append(self.usage)
        for choice in as_list(chunk.get("choices")):
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                text = delta.get("content")
                if isinstance(text, str) and text:
                    out.append(Text(text))
                refusal = delta.get("refusal")
                if isinstance(refusal, str) and refusal:
                    out.append(Text(refusal))  # shown as text: no other format has refusals
                for call in as_list(delta.get("tool_calls")):
                    if isinstance(call, dict):
                        found = self._tool_call(call)
                        if found is not None:
                            out.append(found)
            reason = choice.get("finish_reason")
            if reason:
                out.append(Stop(reason if isinstance(reason, str) else str(reason)))
        return out

    def close(self) -> list[Delta]:
        return []

    def _tool_call(self, call: dict[str, Any]) -> ToolCall | ToolArgs | None:
        key = tool_call_key(call, self._last_key, len(self._calls))
        self._last_key = key
        function = as_dict(call.get("function"))
        arguments = function.get("arguments")
        arguments = arguments if isinstance(arguments, str) else ""
        if key in self._calls:
            # Pieces of an earlier call (servers that interleave parallel calls) keep its key.
            return ToolArgs(key, arguments) if arguments else None
        self._calls.add(key)
        return ToolCall(key, as_str(call.get("id")), as_str(function.get("name")), arguments)

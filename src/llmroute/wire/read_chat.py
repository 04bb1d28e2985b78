"""Reads an OpenAI `chat.completion.chunk` stream as deltas.

The first chunk starts the answer (with the upstream's model name); `delta.content` and
`delta.refusal` are text; `delta.tool_calls[]` entries start a call or continue one;
`finish_reason` is the stop reason; a `usage` object (the `include_usage` chunk) is the usage. The
stream ends on `data: [DONE]`, not on the chunk carrying `finish_reason`: with
`stream_options.include_usage` the usage chunk comes after it. An `{"error": ...}` chunk fails it.
Only the first choice is read: `n > 1` has no counterpart in the other formats.
"""

from __future__ import annotations

from typing import Any

import orjson

from llmroute.wire.deltas import END, Ending, Failed, StreamEmitter
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

    def read(self, event: SSEEvent, emit: StreamEmitter, out: list[bytes]) -> Ending | None:
        if event.data == "[DONE]":
            return END
        try:
            chunk = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return None  # not a chunk (some servers send keep-alive junk); nothing to translate
        if not isinstance(chunk, dict):
            return None
        if chunk.get("error") is not None and not chunk.get("choices"):
            return Failed(error_message_from(chunk))
        if not self._started:
            self._started = True
            model = chunk.get("model")
            emit.start(model if isinstance(model, str) and model else None, None, out)
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = usage_from_chat(usage)
            emit.usage(self.usage)
        for choice in as_list(chunk.get("choices")):
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                text = delta.get("content")
                if isinstance(text, str) and text:
                    emit.text(text, out)
                refusal = delta.get("refusal")
                if isinstance(refusal, str) and refusal:
                    emit.text(refusal, out)  # shown as text: no other format has refusals
                for call in as_list(delta.get("tool_calls")):
                    if isinstance(call, dict):
                        self._tool_call(call, emit, out)
            reason = choice.get("finish_reason")
            if reason:
                emit.stop(reason if isinstance(reason, str) else str(reason))
        return None

    def close(self, emit: StreamEmitter, out: list[bytes]) -> None:
        pass  # a Chat stream owes nothing: its usage, if any, came as a chunk

    def _tool_call(self, call: dict[str, Any], emit: StreamEmitter, out: list[bytes]) -> None:
        key = tool_call_key(call, self._last_key, len(self._calls))
        self._last_key = key
        function = as_dict(call.get("function"))
        arguments = function.get("arguments")
        arguments = arguments if isinstance(arguments, str) else ""
        if key not in self._calls:
            self._calls.add(key)
            emit.tool_call(key, as_str(call.get("id")), as_str(function.get("name")), arguments, out)
        elif arguments:
            # Pieces of an earlier call (servers that interleave parallel calls) keep its key.
            emit.tool_args(key, arguments, out)

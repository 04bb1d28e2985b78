"""Deltas → an OpenAI `chat.completion.chunk` stream, ending with `data: [DONE]`.

`Start` gives the first chunk (`delta: {role: assistant, content: ""}`); text becomes
`delta.content`, reasoning `delta.reasoning_content` (where OpenAI-compatible servers such as
DeepSeek and vLLM stream a model's reasoning, and where their clients look for it); a tool call
becomes `delta.tool_calls[{index, id, type, function: {name, arguments}}]` and its later arguments
stream as `function.arguments`. The end is a chunk holding `finish_reason`, then (when the client
asked with `stream_options.include_usage`) a usage chunk with `choices: []`, then `[DONE]`. An
error ends the stream with `data: {"error": {...}}` (what the OpenAI SDK raises on), without
`[DONE]`.
"""

from __future__ import annotations

import time
from typing import Any

from llmroute.wire.anthropic_chat import new_id
from llmroute.wire.deltas import EmitterBase
from llmroute.wire.errors import stream_error_event
from llmroute.wire.sse import DONE, encode_event
from llmroute.wire.usage import Usage, chat_usage


class ChatEmitter(EmitterBase):
    __slots__ = ("_created", "_id", "_tools", "include_usage")

    def __init__(self, model: str, *, include_usage: bool = False) -> None:
        super().__init__(model)
        self.include_usage = include_usage
        self._id = new_id("chatcmpl-")
        self._created = int(time.time())
        self._tools = False  # a tool call was sent

    def start(self, model: str | None, message_id: str | None, out: list[bytes]) -> None:
        # Every message_start gives a role chunk: a Chat stream has no opening of its own.
        if message_id is not None:
            self._id = f"chatcmpl-{message_id}"
        if model:
            self.model = model  # the upstream's name, as in a non-streamed answer
        out.append(self._chunk({"role": "assistant", "content": ""}))

    def text(self, text: str, out: list[bytes]) -> None:
        out.append(self._chunk({"content": text}))

    def reasoning(self, text: str, out: list[bytes]) -> None:
        out.append(self._chunk({"reasoning_content": text}))

    def tool_call(self, key: int, call_id: str, name: str, arguments: str, out: list[bytes]) -> None:
        self._tools = True
        call = {
            "index": key,
            "id": call_id or new_id("toolu_"),
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }
        out.append(self._chunk({"tool_calls": [call]}))

    def tool_args(self, key: int, arguments: str, out: list[bytes]) -> None:
        out.append(self._chunk({"tool_calls": [{"index": key, "function": {"arguments": arguments}}]}))

    def end(self, out: list[bytes]) -> None:
        reason = self._reason
        if reason is None:
            reason = "tool_calls" if self._tools else "stop"
        out.append(self._chunk({}, reason))
        if self.include_usage:
            chunk = self._body([])
            chunk["usage"] = chat_usage(self._usage or Usage())
            out.append(encode_event(chunk))
        out.append(DONE)

    def fail(self, message: str, status: int, out: list[bytes]) -> None:
        out.append(stream_error_event("openai_chat", message, status))

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return encode_event(
            self._body([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}])
        )

    def _body(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": choices,
        }

"""Deltas → an Anthropic Messages stream.

Output order is always Anthropic's: `message_start`, then for each content block
`content_block_start`, `content_block_delta`…, `content_block_stop`, then `message_delta`
(stop reason and usage) and `message_stop`. Text becomes a `text` block; each tool call becomes a
`tool_use` block whose arguments stream as `input_json_delta`. A new block closes the previous one,
so blocks never interleave; arguments of an earlier call (servers that interleave parallel calls)
keep its block index. An error ends the stream with an `error` event.
"""

from __future__ import annotations

from typing import Any

from llmroute.wire.anthropic_chat import anthropic_stop_reason, new_id
from llmroute.wire.deltas import EmitterBase
from llmroute.wire.errors import stream_error_event
from llmroute.wire.sse import encode_event
from llmroute.wire.usage import anthropic_usage


class AnthropicEmitter(EmitterBase):
    __slots__ = ("_next_block", "_open_block", "_open_is_text", "_tool_blocks")

    def __init__(self, model: str) -> None:
        super().__init__(model)
        self._next_block = 0
        self._open_block: int | None = None
        self._open_is_text = False
        self._tool_blocks: dict[int, int] = {}  # tool call key → Anthropic block index

    def text(self, text: str, out: list[bytes]) -> None:
        index = self._open_block
        if index is None or not self._open_is_text:
            index = self._open({"type": "text", "text": ""}, True, out)
        delta = {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}
        out.append(encode_event(delta, "content_block_delta"))

    def reasoning(self, text: str, out: list[bytes]) -> None:
        pass  # Chat upstreams' reasoning is not carried into Anthropic thinking blocks

    def tool_call(self, key: int, call_id: str, name: str, arguments: str, out: list[bytes]) -> None:
        if key in self._tool_blocks:
            return
        block = {"type": "tool_use", "id": call_id or new_id("toolu_"), "name": name, "input": {}}
        index = self._open(block, False, out)
        self._tool_blocks[key] = index
        if arguments:
            out.append(_args_delta(index, arguments))

    def tool_args(self, key: int, arguments: str, out: list[bytes]) -> None:
        index = self._tool_blocks.get(key)
        if index is not None:
            out.append(_args_delta(index, arguments))

    def end(self, out: list[bytes]) -> None:
        self._begin(out)
        if self._next_block == 0:
            # Clients expect at least one content block, even for an empty answer.
            self._open({"type": "text", "text": ""}, True, out)
        self._close_open(out)
        usage = anthropic_usage(self._usage) if self._usage is not None else {"output_tokens": 0}
        reason = self._reason
        if self._tool_blocks and reason in (None, "stop"):
            # Some servers (Ollama, older vLLM) say "stop" after tool calls; Anthropic clients
            # only run tools on stop_reason "tool_use".
            reason = "tool_calls"
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": anthropic_stop_reason(reason), "stop_sequence": None},
            "usage": usage,
        }
        out.append(encode_event(delta, "message_delta"))
        out.append(encode_event({"type": "message_stop"}, "message_stop"))

    def fail(self, message: str, status: int, out: list[bytes]) -> None:
        out.append(stream_error_event("anthropic", message, status))

    # -- pieces ---------------------------------------------------------------------------------

    def _open_stream(self, out: list[bytes]) -> None:
        message: dict[str, Any] = {
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        out.append(encode_event({"type": "message_start", "message": message}, "message_start"))

    def _close_open(self, out: list[bytes]) -> None:
        if self._open_block is not None:
            out.append(
                encode_event({"type": "content_block_stop", "index": self._open_block}, "content_block_stop")
            )
            self._open_block = None

    def _open(self, block: dict[str, Any], is_text: bool, out: list[bytes]) -> int:
        self._begin(out)
        self._close_open(out)
        index = self._next_block
        self._next_block += 1
        self._open_block = index
        self._open_is_text = is_text
        start = {"type": "content_block_start", "index": index, "content_block": block}
        out.append(encode_event(start, "content_block_start"))
        return index


def _args_delta(index: int, arguments: str) -> bytes:
    delta = {
        "type": "content_block_delta",
        "index": index,
        "delta": {"type": "input_json_delta", "partial_json": arguments},
    }
    return encode_event(delta, "content_block_delta")

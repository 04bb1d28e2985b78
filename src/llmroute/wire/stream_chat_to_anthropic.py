"""OpenAI `chat.completion.chunk` stream → Anthropic Messages stream.

Output order is always Anthropic's: `message_start`, then for each content block
`content_block_start`, `content_block_delta`…, `content_block_stop`, then `message_delta`
(stop reason and usage) and `message_stop`. Text deltas become a `text` block; each tool call
becomes a `tool_use` block whose arguments stream as `input_json_delta`. A new block closes the
previous one, so blocks never interleave.

The stream ends on `data: [DONE]` (or `finish()` if the upstream closes without it), not on the
chunk carrying `finish_reason`: with `stream_options.include_usage` the usage chunk comes after it.
An upstream `{"error": ...}` chunk or `error(message)` ends the stream with an Anthropic `error` event.
"""

from __future__ import annotations

from typing import Any

import orjson

from llmroute.wire.anthropic_chat import anthropic_stop_reason, new_id
from llmroute.wire.errors import anthropic_error_type, error_message_from
from llmroute.wire.shapes import as_dict, as_int, as_list, as_str
from llmroute.wire.sse import SSEEvent, encode_event
from llmroute.wire.streaming import Usage, tool_call_key


class ChatToAnthropicStream:
    def __init__(self, model: str) -> None:
        self.model = model
        self.usage: Usage | None = None
        self._cached_tokens = 0
        self._done = False
        self._started = False
        self._next_block = 0
        self._open_block: int | None = None
        self._open_is_text = False
        self._tool_blocks: dict[int, int] = {}  # OpenAI tool_calls[].index → Anthropic block index
        self._last_tool_key: int | None = None
        self._finish_reason: str | None = None

    @property
    def done(self) -> bool:
        return self._done

    def feed(self, event: SSEEvent) -> list[bytes]:
        if self._done:
            return []
        if event.data == "[DONE]":
            return self._end()
        try:
            chunk = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return []  # not a chunk (some servers send keep-alive junk); nothing to translate
        if not isinstance(chunk, dict):
            return []
        if chunk.get("error") is not None and not chunk.get("choices"):
            return self.error(error_message_from(chunk))
        out: list[bytes] = []
        if not self._started:
            out.append(self._message_start(chunk))
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._record_usage(usage)
        for choice in as_list(chunk.get("choices")):
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # n > 1 has no Anthropic equivalent: only the first choice is kept
            delta = choice.get("delta")
            if isinstance(delta, dict):
                text = delta.get("content")
                if isinstance(text, str) and text:
                    out.extend(self._text(text))
                refusal = delta.get("refusal")
                if isinstance(refusal, str) and refusal:
                    out.extend(self._text(refusal))
                for call in as_list(delta.get("tool_calls")):
                    if isinstance(call, dict):
                        out.extend(self._tool_call(call))
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return out

    def finish(self) -> list[bytes]:
        if self._done:
            return []
        return self._end()

    def error(self, message: str, status: int = 502) -> list[bytes]:
        if self._done:
            return []
        self._done = True
        body = {"type": "error", "error": {"type": anthropic_error_type(status), "message": message}}
        return [encode_event(body, "error")]

    # -- pieces ---------------------------------------------------------------------------------

    def _message_start(self, chunk: dict[str, Any]) -> bytes:
        self._started = True
        if isinstance(chunk.get("model"), str) and chunk["model"]:
            self.model = chunk["model"]  # the upstream's name, as in a non-streamed answer
        message = {
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return encode_event({"type": "message_start", "message": message}, "message_start")

    def _record_usage(self, usage: dict[str, Any]) -> None:
        self._cached_tokens = as_int(as_dict(usage.get("prompt_tokens_details")).get("cached_tokens"))
        self.usage = Usage(as_int(usage.get("prompt_tokens")), as_int(usage.get("completion_tokens")))

    def _close_open(self) -> list[bytes]:
        if self._open_block is None:
            return []
        index = self._open_block
        self._open_block = None
        return [encode_event({"type": "content_block_stop", "index": index}, "content_block_stop")]

    def _open(self, block: dict[str, Any], is_text: bool) -> list[bytes]:
        out = self._close_open()
        index = self._next_block
        self._next_block += 1
        self._open_block = index
        self._open_is_text = is_text
        out.append(
            encode_event(
                {"type": "content_block_start", "index": index, "content_block": block}, "content_block_start"
            )
        )
        return out

    def _text(self, text: str) -> list[bytes]:
        out: list[bytes] = []
        if self._open_block is None or not self._open_is_text:
            out.extend(self._open({"type": "text", "text": ""}, is_text=True))
        delta = {
            "type": "content_block_delta",
            "index": self._open_block,
            "delta": {"type": "text_delta", "text": text},
        }
        out.append(encode_event(delta, "content_block_delta"))
        return out

    def _tool_call(self, call: dict[str, Any]) -> list[bytes]:
        key = tool_call_key(call, self._last_tool_key, len(self._tool_blocks))
        self._last_tool_key = key
        function = as_dict(call.get("function"))
        out: list[bytes] = []
        if key not in self._tool_blocks:
            block = {
                "type": "tool_use",
                "id": as_str(call.get("id")) or new_id("toolu_"),
                "name": as_str(function.get("name")),
                "input": {},
            }
            out.extend(self._open(block, is_text=False))
            self._tool_blocks[key] = self._next_block - 1
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            # Deltas of an earlier call (servers that interleave parallel calls) keep its index.
            delta = {
                "type": "content_block_delta",
                "index": self._tool_blocks[key],
                "delta": {"type": "input_json_delta", "partial_json": arguments},
            }
            out.append(encode_event(delta, "content_block_delta"))
        return out

    def _end(self) -> list[bytes]:
        self._done = True
        out: list[bytes] = []
        if not self._started:
            out.append(self._message_start({}))
        if self._next_block == 0:
            # Clients expect at least one content block, even for an empty answer.
            out.extend(self._open({"type": "text", "text": ""}, is_text=True))
        out.extend(self._close_open())
        usage: dict[str, Any] = {"output_tokens": self.usage.output_tokens if self.usage else 0}
        if self.usage is not None:
            usage["input_tokens"] = max(self.usage.input_tokens - self._cached_tokens, 0)
            if self._cached_tokens:
                usage["cache_read_input_tokens"] = self._cached_tokens
        reason = self._finish_reason
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
        return out

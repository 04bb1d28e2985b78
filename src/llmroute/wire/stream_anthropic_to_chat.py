"""Anthropic Messages stream → OpenAI `chat.completion.chunk` stream, ending with `data: [DONE]`.

`message_start` gives the first chunk (`delta: {role: assistant, content: ""}`); text deltas become
`delta.content`; a `tool_use` block becomes `delta.tool_calls[{index, id, type, function: {name,
arguments: ""}}]` and its `input_json_delta`s stream as `function.arguments`; `message_delta`
carries the stop reason and output tokens, and `message_stop` ends the stream with a chunk holding
`finish_reason`, then (when the client asked with `stream_options.include_usage`) a usage chunk
with `choices: []`, then `[DONE]`. Thinking blocks and `ping`s produce nothing. An upstream
`error` event, or `error(message)`, ends the stream with `data: {"error": {...}}` (what the OpenAI
SDK raises on), without `[DONE]`.

`chunks(event)` is the same translation as chunk dicts; the Anthropic → Responses translator chains
it into the Chat → Responses translator.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from llmroute.wire.anthropic_chat import chat_stop_reason, new_id
from llmroute.wire.errors import error_body, error_message_from
from llmroute.wire.shapes import as_int, as_str
from llmroute.wire.sse import DONE, SSEEvent, encode_event
from llmroute.wire.streaming import Usage


class AnthropicToChatStream:
    def __init__(self, model: str, *, include_usage: bool = False) -> None:
        self.model = model
        self.include_usage = include_usage
        self.usage: Usage | None = None
        self.ended = False  # the upstream's message is complete (message_stop or finish())
        self.upstream_error: str | None = None
        self._done = False
        self._id = new_id("chatcmpl-")
        self._created = int(time.time())
        self._cached_tokens = 0
        self._tool_index: dict[int, int] = {}  # Anthropic block index → OpenAI tool_calls index
        self._stop_reason: str | None = None

    @property
    def done(self) -> bool:
        return self._done

    def feed(self, event: SSEEvent) -> list[bytes]:
        if self._done:
            return []
        out = [encode_event(chunk) for chunk in self.chunks(event)]
        if self.upstream_error is not None:
            out.extend(self.error(self.upstream_error))
        elif self.ended:
            self._done = True
            out.append(DONE)
        return out

    def finish(self) -> list[bytes]:
        if self._done:
            return []
        out = [encode_event(chunk) for chunk in self.end_chunks()]
        self._done = True
        out.append(DONE)
        return out

    def error(self, message: str, status: int = 502) -> list[bytes]:
        if self._done:
            return []
        self._done = True
        return [encode_event(error_body("openai_chat", status, message))]

    # -- translation as chunk dicts -------------------------------------------------------------

    def chunks(self, event: SSEEvent) -> list[dict[str, Any]]:
        """The chat chunks for one Anthropic event; sets `ended` / `upstream_error` when it ends."""
        if self.ended or self.upstream_error is not None:
            return []
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
            return self._start(data.get("message"))
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "message_delta":
            delta = data.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason"):
                self._stop_reason = delta["stop_reason"]
            if isinstance(data.get("usage"), dict):
                self._record_usage(data["usage"])
            return []
        if kind == "message_stop":
            return self.end_chunks()
        if kind == "error":
            self.upstream_error = error_message_from(data)
            return []
        return []  # ping, content_block_stop, unknown future events

    def end_chunks(self) -> list[dict[str, Any]]:
        """The closing chunks: finish_reason, then usage if the client asked for it."""
        if self.ended:
            return []
        self.ended = True
        reason = chat_stop_reason(self._stop_reason)
        if reason is None:
            reason = "tool_calls" if self._tool_index else "stop"
        out = [self._chunk({}, reason)]
        if self.include_usage:
            usage = self.usage or Usage()
            prompt = usage.input_tokens
            out.append(
                {
                    "id": self._id,
                    "object": "chat.completion.chunk",
                    "created": self._created,
                    "model": self.model,
                    "system_fingerprint": None,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": prompt,
                        "completion_tokens": usage.output_tokens,
                        "total_tokens": prompt + usage.output_tokens,
                        "prompt_tokens_details": {"cached_tokens": self._cached_tokens},
                    },
                }
            )
        return out

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }

    def _record_usage(self, usage: dict[str, Any]) -> None:
        current = self.usage or Usage()
        if any(
            k in usage for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
        ):
            cache_read = as_int(usage.get("cache_read_input_tokens"))
            self._cached_tokens = cache_read
            current.input_tokens = (
                as_int(usage.get("input_tokens"))
                + cache_read
                + as_int(usage.get("cache_creation_input_tokens"))
            )
        if "output_tokens" in usage:
            current.output_tokens = as_int(usage["output_tokens"])
        self.usage = current

    def _start(self, message: Any) -> list[dict[str, Any]]:
        if isinstance(message, dict):
            if isinstance(message.get("id"), str):
                self._id = f"chatcmpl-{message['id']}"
            if isinstance(message.get("model"), str) and message["model"]:
                self.model = message["model"]  # the upstream's name, as in a non-streamed answer
            if isinstance(message.get("usage"), dict):
                self._record_usage(message["usage"])
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        block = data.get("content_block")
        if not isinstance(block, dict):
            return []
        if block.get("type") == "text":
            text = block.get("text")
            return [self._chunk({"content": text})] if isinstance(text, str) and text else []
        if block.get("type") == "thinking":
            text = block.get("thinking")
            return [self._chunk({"reasoning_content": text})] if isinstance(text, str) and text else []
        if block.get("type") == "tool_use":
            tool_index = len(self._tool_index)
            block_index = data.get("index")
            self._tool_index[block_index if isinstance(block_index, int) else -1 - tool_index] = tool_index
            initial = block.get("input")
            call = {
                "index": tool_index,
                "id": as_str(block.get("id")) or new_id("toolu_"),
                "type": "function",
                "function": {
                    "name": as_str(block.get("name")),
                    "arguments": orjson.dumps(initial).decode() if initial else "",
                },
            }
            return [self._chunk({"tool_calls": [call]})]
        return []

    def _delta(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        delta = data.get("delta")
        if not isinstance(delta, dict):
            return []
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text")
            return [self._chunk({"content": text})] if isinstance(text, str) and text else []
        if kind == "input_json_delta":
            partial = delta.get("partial_json")
            block_index = data.get("index")
            tool_index = self._tool_index.get(block_index) if isinstance(block_index, int) else None
            if not partial or not isinstance(partial, str) or tool_index is None:
                return []
            return [self._chunk({"tool_calls": [{"index": tool_index, "function": {"arguments": partial}}]})]
        if kind == "thinking_delta":
            # Chat has no thinking blocks; `reasoning_content` is where OpenAI-compatible servers
            # (DeepSeek, vLLM) stream a model's reasoning, and where their clients look for it.
            thinking = delta.get("thinking")
            return (
                [self._chunk({"reasoning_content": thinking})]
                if isinstance(thinking, str) and thinking
                else []
            )
        return []  # signature_delta, citations_delta

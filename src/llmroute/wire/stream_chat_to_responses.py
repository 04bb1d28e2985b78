"""OpenAI `chat.completion.chunk` stream → OpenAI Responses API stream.

Every event is `event: <type>` + `data: {"type": <type>, "sequence_number": n, ...}`. Order:

    response.created, response.in_progress
    per text answer:  response.output_item.added (message), response.content_part.added (output_text),
                      response.output_text.delta…, response.output_text.done,
                      response.content_part.done, response.output_item.done
    per tool call:    response.output_item.added (function_call),
                      response.function_call_arguments.delta…, response.function_call_arguments.done,
                      response.output_item.done
    per custom tool call (a request's `custom` tool, called as a function upstream):
                      response.output_item.added (custom_tool_call),
                      response.custom_tool_call_input.delta (the whole input, once the call is
                      complete: it is decoded from the function's JSON arguments),
                      response.custom_tool_call_input.done, response.output_item.done
    response.completed (or response.incomplete when the model hit its token limit)

An item is closed when the next one starts or the stream ends. The final `response` carries all
output items and the usage (from the upstream's `include_usage` chunk). An upstream error chunk or
`error(message)` emits `error` followed by `response.failed`.

`on_chunk(dict)` / `on_done()` take already-parsed chunks so the Anthropic → Responses translator
can feed it the output of `AnthropicToChatStream.chunks()`.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from llmroute.wire.anthropic_chat import new_id
from llmroute.wire.errors import error_message_from
from llmroute.wire.responses_chat import (
    custom_tool_call_item,
    custom_tool_input,
    custom_tool_names,
    function_call_item,
    message_item,
    response_object,
    responses_usage_from_chat,
)
from llmroute.wire.shapes import as_dict, as_list, as_str
from llmroute.wire.sse import SSEEvent, encode_event
from llmroute.wire.stream_anthropic_to_chat import AnthropicToChatStream
from llmroute.wire.streaming import Usage, tool_call_key


class _Item:
    __slots__ = ("call_id", "custom", "id", "name", "output_index", "parts", "text_type")

    def __init__(
        self,
        item_id: str,
        output_index: int,
        call_id: str | None = None,
        name: str = "",
        custom: bool = False,
    ) -> None:
        self.id = item_id
        self.output_index = output_index
        self.call_id = call_id  # None for a message item
        self.name = name
        self.custom = custom  # a Responses custom tool's call
        self.parts: list[str] = []  # text or argument deltas, joined when the item closes

    def final(self) -> dict[str, Any]:
        joined = "".join(self.parts)
        if self.call_id is None:
            return message_item(self.id, joined)
        if self.custom:
            return custom_tool_call_item(self.id, self.call_id, self.name, custom_tool_input(joined))
        return function_call_item(self.id, self.call_id, self.name, joined)


class ChatToResponsesStream:
    def __init__(self, model: str, *, request: dict[str, Any] | None = None) -> None:
        self.model = model
        self.request = request
        self._custom = custom_tool_names(request)
        self.usage: Usage | None = None
        self._usage_body: dict[str, Any] | None = None
        self._done = False
        self._started = False
        self._seq = 0
        self._id = new_id("resp_")
        self._created = int(time.time())
        self._items: list[_Item] = []
        self._open: _Item | None = None
        self._calls: dict[int, _Item] = {}  # chat tool_calls[].index → its item
        self._last_call_key: int | None = None
        self._finish_reason: str | None = None

    @property
    def done(self) -> bool:
        return self._done

    # -- SSE interface --------------------------------------------------------------------------

    def feed(self, event: SSEEvent) -> list[bytes]:
        if self._done:
            return []
        if event.data == "[DONE]":
            return self.on_done()
        try:
            chunk = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return []
        return self.on_chunk(chunk) if isinstance(chunk, dict) else []

    def finish(self) -> list[bytes]:
        return self.on_done()

    def error(self, message: str, status: int = 502) -> list[bytes]:
        if self._done:
            return []
        out = [] if self._started else self._start()
        self._done = True
        code = "rate_limit_exceeded" if status == 429 else "server_error"
        out.append(self._event("error", {"code": code, "message": message, "param": None}))
        failed = self._response("failed", error={"code": code, "message": message})
        out.append(self._event("response.failed", {"response": failed}))
        return out

    # -- chunk interface ------------------------------------------------------------------------

    def on_chunk(self, chunk: dict[str, Any]) -> list[bytes]:
        if self._done:
            return []
        if chunk.get("error") is not None and not chunk.get("choices"):
            return self.error(error_message_from(chunk))
        if not self._started and isinstance(chunk.get("model"), str) and chunk["model"]:
            self.model = chunk["model"]  # the upstream's name, as in a non-streamed answer
        out = [] if self._started else self._start()
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._usage_body = responses_usage_from_chat(usage)
            self.usage = Usage(self._usage_body["input_tokens"], self._usage_body["output_tokens"])
        for choice in as_list(chunk.get("choices")):
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                text = delta.get("content")
                if isinstance(text, str) and text:
                    out.extend(self._text(text))
                refusal = delta.get("refusal")
                if isinstance(refusal, str) and refusal:
                    out.extend(self._text(refusal))  # shown as text, as the Anthropic translator does
                for call in as_list(delta.get("tool_calls")):
                    if isinstance(call, dict):
                        out.extend(self._tool_call(call))
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return out

    def on_done(self) -> list[bytes]:
        if self._done:
            return []
        out = [] if self._started else self._start()
        self._done = True
        out.extend(self._close_open())
        if self._finish_reason == "length":
            final = self._response("incomplete", incomplete_reason="max_output_tokens")
            out.append(self._event("response.incomplete", {"response": final}))
        else:
            out.append(self._event("response.completed", {"response": self._response("completed")}))
        return out

    # -- pieces ---------------------------------------------------------------------------------

    def _event(self, kind: str, fields: dict[str, Any]) -> bytes:
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return encode_event(payload, kind)

    def _response(
        self, status: str, *, incomplete_reason: str | None = None, error: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        final = status in ("completed", "incomplete", "failed")
        return response_object(
            response_id=self._id,
            model=self.model,
            created_at=self._created,
            status=status,
            output=[item.final() for item in self._items] if final else [],
            usage=self._usage_body if final else None,
            request=self.request,
            incomplete_reason=incomplete_reason,
            error=error,
        )

    def _start(self) -> list[bytes]:
        self._started = True
        return [
            self._event("response.created", {"response": self._response("in_progress")}),
            self._event("response.in_progress", {"response": self._response("in_progress")}),
        ]

    def _close_open(self) -> list[bytes]:
        item = self._open
        if item is None:
            return []
        self._open = None
        joined = "".join(item.parts)
        where = {"item_id": item.id, "output_index": item.output_index}
        out: list[bytes] = []
        if item.call_id is None:
            part = {"type": "output_text", "text": joined, "annotations": []}
            out.append(
                self._event(
                    "response.output_text.done", {**where, "content_index": 0, "text": joined, "logprobs": []}
                )
            )
            out.append(self._event("response.content_part.done", {**where, "content_index": 0, "part": part}))
        elif item.custom:
            tool_input = custom_tool_input(joined)
            out.append(self._event("response.custom_tool_call_input.delta", {**where, "delta": tool_input}))
            out.append(self._event("response.custom_tool_call_input.done", {**where, "input": tool_input}))
        else:
            out.append(
                self._event(
                    "response.function_call_arguments.done", {**where, "arguments": joined, "name": item.name}
                )
            )
        out.append(
            self._event(
                "response.output_item.done", {"output_index": item.output_index, "item": item.final()}
            )
        )
        return out

    def _text(self, text: str) -> list[bytes]:
        out: list[bytes] = []
        item = self._open
        if item is None or item.call_id is not None:
            out.extend(self._close_open())
            item = _Item(new_id("msg_"), len(self._items))
            self._items.append(item)
            self._open = item
            added = message_item(item.id, "", status="in_progress")
            added["content"] = []
            out.append(
                self._event("response.output_item.added", {"output_index": item.output_index, "item": added})
            )
            part = {"type": "output_text", "text": "", "annotations": []}
            out.append(
                self._event(
                    "response.content_part.added",
                    {"item_id": item.id, "output_index": item.output_index, "content_index": 0, "part": part},
                )
            )
        item.parts.append(text)
        delta = {
            "item_id": item.id,
            "output_index": item.output_index,
            "content_index": 0,
            "delta": text,
            "logprobs": [],
        }
        out.append(self._event("response.output_text.delta", delta))
        return out

    def _tool_call(self, call: dict[str, Any]) -> list[bytes]:
        key = tool_call_key(call, self._last_call_key, len(self._calls))
        self._last_call_key = key
        function = as_dict(call.get("function"))
        out: list[bytes] = []
        item = self._calls.get(key)
        if item is None:
            out.extend(self._close_open())
            name = as_str(function.get("name"))
            custom = name in self._custom
            item = _Item(
                new_id("ctc_" if custom else "fc_"),
                len(self._items),
                as_str(call.get("id")) or new_id("call_"),
                name,
                custom,
            )
            self._items.append(item)
            self._calls[key] = item
            self._open = item
            if custom:
                added = custom_tool_call_item(item.id, item.call_id or "", name, "", status="in_progress")
            else:
                added = function_call_item(item.id, item.call_id or "", name, "", status="in_progress")
            out.append(
                self._event("response.output_item.added", {"output_index": item.output_index, "item": added})
            )
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            item.parts.append(arguments)
            if item.custom:
                return out  # decoded and sent whole when the call closes
            fields = {"item_id": item.id, "output_index": item.output_index, "delta": arguments}
            out.append(self._event("response.function_call_arguments.delta", fields))
        return out


class AnthropicToResponsesStream:
    """Anthropic upstream → Responses client: Anthropic → Chat chunks → Responses events."""

    def __init__(self, model: str, *, request: dict[str, Any] | None = None) -> None:
        self._chat = AnthropicToChatStream(model, include_usage=True)
        self._responses = ChatToResponsesStream(model, request=request)

    @property
    def usage(self) -> Usage | None:
        return self._chat.usage

    @property
    def done(self) -> bool:
        return self._responses.done

    def feed(self, event: SSEEvent) -> list[bytes]:
        if self._responses.done:
            return []
        out: list[bytes] = []
        for chunk in self._chat.chunks(event):
            out.extend(self._responses.on_chunk(chunk))
        if self._chat.upstream_error is not None:
            out.extend(self._responses.error(self._chat.upstream_error))
        elif self._chat.ended:
            out.extend(self._responses.on_done())
        return out

    def finish(self) -> list[bytes]:
        out: list[bytes] = []
        for chunk in self._chat.end_chunks():
            out.extend(self._responses.on_chunk(chunk))
        out.extend(self._responses.on_done())
        return out

    def error(self, message: str, status: int = 502) -> list[bytes]:
        return self._responses.error(message, status)

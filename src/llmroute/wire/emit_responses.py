"""Deltas → an OpenAI Responses API stream.

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
output items and the usage. An error emits `error` followed by `response.failed`.
"""

from __future__ import annotations

import time
from typing import Any

from llmroute.wire.anthropic_chat import new_id
from llmroute.wire.deltas import EmitterBase
from llmroute.wire.errors import responses_error_code, stream_error_event
from llmroute.wire.responses_chat import (
    custom_tool_call_item,
    custom_tool_input,
    custom_tool_names,
    function_call_item,
    message_item,
    response_object,
)
from llmroute.wire.sse import encode_event
from llmroute.wire.usage import responses_usage


class _Item:
    __slots__ = ("call_id", "custom", "id", "name", "output_index", "parts")

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


class ResponsesEmitter(EmitterBase):
    __slots__ = ("_calls", "_created", "_custom", "_id", "_items", "_open", "_seq", "request")

    def __init__(self, model: str, *, request: dict[str, Any] | None = None) -> None:
        super().__init__(model)
        self.request = request
        self._custom = custom_tool_names(request)
        self._seq = 0
        self._id = new_id("resp_")
        self._created = int(time.time())
        self._items: list[_Item] = []
        self._open: _Item | None = None
        self._calls: dict[int, _Item] = {}  # tool call key → its item

    def reasoning(self, text: str, out: list[bytes]) -> None:
        pass  # not carried into Responses reasoning items

    def tool_args(self, key: int, arguments: str, out: list[bytes]) -> None:
        item = self._calls.get(key)
        if item is not None:
            self._arguments(item, arguments, out)

    def end(self, out: list[bytes]) -> None:
        self._begin(out)
        self._close_open(out)
        if self._reason == "length":
            final = self._response("incomplete", incomplete_reason="max_output_tokens")
            out.append(self._event("response.incomplete", {"response": final}))
        else:
            out.append(self._event("response.completed", {"response": self._response("completed")}))

    def fail(self, message: str, status: int, out: list[bytes]) -> None:
        self._begin(out)
        out.append(stream_error_event("responses", message, status, sequence_number=self._seq))
        self._seq += 1
        failed = self._response("failed", error={"code": responses_error_code(status), "message": message})
        out.append(self._event("response.failed", {"response": failed}))

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
            usage=responses_usage(self._usage) if final and self._usage is not None else None,
            request=self.request,
            incomplete_reason=incomplete_reason,
            error=error,
        )

    def _open_stream(self, out: list[bytes]) -> None:
        out.append(self._event("response.created", {"response": self._response("in_progress")}))
        out.append(self._event("response.in_progress", {"response": self._response("in_progress")}))

    def _close_open(self, out: list[bytes]) -> None:
        item = self._open
        if item is None:
            return
        self._open = None
        joined = "".join(item.parts)
        where = {"item_id": item.id, "output_index": item.output_index}
        if item.call_id is None:
            part = {"type": "output_text", "text": joined, "annotations": []}
            done = {**where, "content_index": 0, "text": joined, "logprobs": []}
            out.append(self._event("response.output_text.done", done))
            out.append(self._event("response.content_part.done", {**where, "content_index": 0, "part": part}))
        elif item.custom:
            tool_input = custom_tool_input(joined)
            out.append(self._event("response.custom_tool_call_input.delta", {**where, "delta": tool_input}))
            out.append(self._event("response.custom_tool_call_input.done", {**where, "input": tool_input}))
        else:
            done = {**where, "arguments": joined, "name": item.name}
            out.append(self._event("response.function_call_arguments.done", done))
        out.append(
            self._event(
                "response.output_item.done", {"output_index": item.output_index, "item": item.final()}
            )
        )

    def text(self, text: str, out: list[bytes]) -> None:
        self._begin(out)
        item = self._open
        if item is None or item.call_id is not None:
            self._close_open(out)
            item = _Item(new_id("msg_"), len(self._items))
            self._items.append(item)
            self._open = item
            added = message_item(item.id, "", status="in_progress")
            added["content"] = []
            out.append(
                self._event("response.output_item.added", {"output_index": item.output_index, "item": added})
            )
            part = {"type": "output_text", "text": "", "annotations": []}
            fields = {"item_id": item.id, "output_index": item.output_index, "content_index": 0, "part": part}
            out.append(self._event("response.content_part.added", fields))
        item.parts.append(text)
        delta = {
            "item_id": item.id,
            "output_index": item.output_index,
            "content_index": 0,
            "delta": text,
            "logprobs": [],
        }
        out.append(self._event("response.output_text.delta", delta))

    def tool_call(self, key: int, call_id: str, name: str, arguments: str, out: list[bytes]) -> None:
        if key in self._calls:
            return
        self._begin(out)
        self._close_open(out)
        custom = name in self._custom
        item = _Item(
            new_id("ctc_" if custom else "fc_"), len(self._items), call_id or new_id("call_"), name, custom
        )
        self._items.append(item)
        self._calls[key] = item
        self._open = item
        if custom:
            added = custom_tool_call_item(item.id, item.call_id or "", item.name, "", status="in_progress")
        else:
            added = function_call_item(item.id, item.call_id or "", item.name, "", status="in_progress")
        out.append(
            self._event("response.output_item.added", {"output_index": item.output_index, "item": added})
        )
        if arguments:
            self._arguments(item, arguments, out)

    def _arguments(self, item: _Item, arguments: str, out: list[bytes]) -> None:
        item.parts.append(arguments)
        if item.custom:
            return  # decoded and sent whole when the call closes
        fields = {"item_id": item.id, "output_index": item.output_index, "delta": arguments}
        out.append(self._event("response.function_call_arguments.delta", fields))

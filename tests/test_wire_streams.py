"""Stream translation fed with realistic upstream SSE byte streams split at awkward boundaries.

Every event we emit is validated against the official SDK's event type, then the events are
accumulated with the SDK's own stream accumulator to check the reassembled message.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import RawMessageStreamEvent
from anthropic.types.shared import ErrorResponse
from openai import omit
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.lib.streaming.responses import ResponseStreamState
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from llmroute.wire import (
    AnthropicToChatStream,
    AnthropicToResponsesStream,
    ChatToAnthropicStream,
    ChatToResponsesStream,
    SSEDecoder,
    SSEEvent,
    StreamTranslator,
    StreamUsageReader,
    Usage,
    encode_event,
    translator_for,
)

ANTHROPIC_EVENT = TypeAdapter(RawMessageStreamEvent)
RESPONSES_EVENT = TypeAdapter(ResponseStreamEvent)

# Chunk sizes that cut through event names, JSON strings, multi-byte characters and CRLFs.
AWKWARD_SIZES = (1, 2, 3, 5, 7, 11, 13, 64)


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def run(translator: StreamTranslator, upstream: bytes, size: int, *, finish: bool = True) -> list[SSEEvent]:
    """Feed `upstream` in chunks of `size` bytes; return the client events, decoded again."""
    decoder = SSEDecoder()
    out: list[bytes] = []
    for chunk in split(upstream, size):
        for event in decoder.feed(chunk):
            out.extend(translator.feed(event))
    for event in decoder.flush():
        out.extend(translator.feed(event))
    if finish:
        out.extend(translator.finish())
    client = SSEDecoder()
    events = client.feed(b"".join(out))
    assert client.flush() == [], "every event we send ends with a blank line"
    return events


# -- realistic upstream streams ------------------------------------------------------------------


def chat_chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-Bx1",
        "object": "chat.completion.chunk",
        "created": 1_750_000_000,
        "model": "gpt-4o-2024-08-06",
        "system_fingerprint": "fp_1",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": None,
        **extra,
    }


CHAT_USAGE = {
    "prompt_tokens": 57,
    "completion_tokens": 41,
    "total_tokens": 98,
    "prompt_tokens_details": {"cached_tokens": 7},
    "completion_tokens_details": {"reasoning_tokens": 0},
}


def chat_stream(*, newline: bytes = b"\n", finish: str = "tool_calls", usage: bool = True) -> bytes:
    chunks = [
        chat_chunk({"role": "assistant", "content": "", "refusal": None}),
        chat_chunk({"content": "Checking the "}),
        chat_chunk({"content": "weather in Zürich ☀️"}),
        chat_chunk({"content": " and Oslo."}),
        chat_chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_A",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]}),
        chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Zürich"}'}}]}),
        chat_chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "call_B",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        chat_chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"city": "Oslo"}'}}]}),
        chat_chunk({}, finish),
    ]
    if usage:
        chunks.append({**chat_chunk({}), "choices": [], "usage": CHAT_USAGE})
    body = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    return body.replace(b"\n", newline)


def anthropic_stream(*, with_tool: bool = True) -> bytes:
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_01AB",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-5-20250929",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": 40,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 10,
                        "output_tokens": 1,
                    },
                },
            },
        ),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "User wants weather."},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": "EqQB"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        ),
        ("ping", {"type": "ping"}),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "text_delta", "text": "Checking Zürich "},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "text_delta", "text": "weather ☀️."},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    ]
    if with_tool:
        events += [
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 2,
                    "content_block": {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": "get_weather",
                        "input": {},
                    },
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 2,
                    "delta": {"type": "input_json_delta", "partial_json": ""},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 2,
                    "delta": {"type": "input_json_delta", "partial_json": '{"city": "Z'},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 2,
                    "delta": {"type": "input_json_delta", "partial_json": 'ürich"}'},
                },
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": 2}),
        ]
    events += [
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use" if with_tool else "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 89},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(encode_event(data, name) for name, data in events)


# -- OpenAI Chat upstream → Anthropic client -----------------------------------------------------


def accumulate_anthropic(events: list[SSEEvent]) -> Any:
    snapshot = None
    json_bufs: dict[int, bytes] = {}
    for event in events:
        parsed = ANTHROPIC_EVENT.validate_python(event.json())
        assert event.event == parsed.type, "the SSE event name matches the data's type"
        snapshot = accumulate_event(event=parsed, current_snapshot=snapshot, json_bufs=json_bufs)
    return snapshot


@pytest.mark.parametrize("size", AWKWARD_SIZES)
@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_chat_to_anthropic(size: int, newline: bytes) -> None:
    translator = ChatToAnthropicStream("openai/gpt-4o")
    events = run(translator, chat_stream(newline=newline), size)
    names = [e.event for e in events]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    message = accumulate_anthropic(events)
    assert message.model == "gpt-4o-2024-08-06"  # the upstream's name, as when not streamed
    assert [b.type for b in message.content] == ["text", "tool_use", "tool_use"]
    assert message.content[0].text == "Checking the weather in Zürich ☀️ and Oslo."
    assert (message.content[1].id, message.content[1].name, message.content[1].input) == (
        "call_A",
        "get_weather",
        {"city": "Zürich"},
    )
    assert message.content[2].input == {"city": "Oslo"}
    assert message.stop_reason == "tool_use"
    assert (
        message.usage.input_tokens,
        message.usage.output_tokens,
        message.usage.cache_read_input_tokens,
    ) == (50, 41, 7)
    assert translator.usage == Usage(57, 41)
    assert translator.done and translator.finish() == [] and translator.error("late") == []


def test_chat_to_anthropic_block_indexes_and_order() -> None:
    events = run(ChatToAnthropicStream("m"), chat_stream(), 64)
    open_blocks: set[int] = set()
    seen: list[int] = []
    for event in events:
        data = event.json()
        if event.event == "content_block_start":
            assert not open_blocks, "a block starts only after the previous one stopped"
            open_blocks.add(data["index"])
            seen.append(data["index"])
        elif event.event == "content_block_delta":
            assert data["index"] in open_blocks
        elif event.event == "content_block_stop":
            open_blocks.remove(data["index"])
    assert seen == [0, 1, 2]


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", "tool_use"),  # Ollama-style "stop" after tool calls: Anthropic clients need tool_use
        ("length", "max_tokens"),
        ("content_filter", "refusal"),
    ],
)
def test_chat_to_anthropic_stop_reasons(finish: str, stop: str) -> None:
    events = run(ChatToAnthropicStream("m"), chat_stream(finish=finish), 64)
    assert accumulate_anthropic(events).stop_reason == stop


def test_chat_to_anthropic_without_usage_or_done() -> None:
    """An upstream that sends no usage chunk and closes without [DONE]: finish() still ends well."""
    upstream = chat_stream(usage=False).replace(b"data: [DONE]\n\n", b"")
    translator = ChatToAnthropicStream("m")
    events = run(translator, upstream, 5)
    assert [e.event for e in events][-2:] == ["message_delta", "message_stop"]
    message = accumulate_anthropic(events)
    assert message.usage.output_tokens == 0
    assert translator.usage is None


def test_chat_to_anthropic_empty_answer_still_has_a_block() -> None:
    upstream = (
        b"data: " + orjson.dumps(chat_chunk({"role": "assistant", "content": ""})) + b"\n\n"
        b"data: " + orjson.dumps(chat_chunk({}, "stop")) + b"\n\ndata: [DONE]\n\n"
    )
    events = run(ChatToAnthropicStream("m"), upstream, 3)
    assert [e.event for e in events] == [
        "message_start",
        "content_block_start",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    message = accumulate_anthropic(events)
    assert message.content[0].text == ""
    assert message.stop_reason == "end_turn"


def test_chat_to_anthropic_upstream_error_chunk() -> None:
    upstream = (
        b"data: " + orjson.dumps(chat_chunk({"content": "partial"})) + b"\n\n"
        b'data: {"error": {"message": "The server had an error", "type": "server_error"}}\n\n'
    )
    translator = ChatToAnthropicStream("m")
    events = run(translator, upstream, 7)
    assert [e.event for e in events][-1] == "error"
    assert events[-1].json() == {
        "type": "error",
        "error": {"type": "api_error", "message": "The server had an error"},
    }
    ErrorResponse.model_validate(events[-1].json())
    assert translator.done and translator.finish() == []


def test_chat_to_anthropic_error_mid_stream() -> None:
    translator = ChatToAnthropicStream("m")
    upstream = chat_stream()
    events = run(translator, upstream[: len(upstream) // 2], 11, finish=False)
    tail = SSEDecoder().feed(b"".join(translator.error("upstream connection reset")))
    assert tail == [
        SSEEvent(
            "error", '{"type":"error","error":{"type":"api_error","message":"upstream connection reset"}}'
        )
    ]
    assert events[0].event == "message_start"
    assert translator.feed(SSEEvent(None, "[DONE]")) == []


def test_chat_to_anthropic_tool_calls_without_index() -> None:
    """Some OpenAI-compatible servers omit tool_calls[].index."""
    chunks = [
        chat_chunk(
            {
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "a", "arguments": '{"x":'}}
                ]
            }
        ),
        chat_chunk({"tool_calls": [{"function": {"arguments": "1}"}}]}),
        chat_chunk(
            {"tool_calls": [{"id": "c2", "type": "function", "function": {"name": "b", "arguments": "{}"}}]}
        ),
        chat_chunk({}, "tool_calls"),
    ]
    upstream = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    message = accumulate_anthropic(run(ChatToAnthropicStream("m"), upstream, 64))
    assert [(b.id, b.name, b.input) for b in message.content] == [("c1", "a", {"x": 1}), ("c2", "b", {})]


# -- Anthropic upstream → OpenAI Chat client -----------------------------------------------------


def accumulate_chat(events: list[SSEEvent]) -> tuple[ChatCompletionStreamState, list[ChatCompletionChunk]]:
    assert events[-1].data == "[DONE]"
    state = ChatCompletionStreamState()
    chunks = []
    for event in events[:-1]:
        assert event.event is None
        chunk = ChatCompletionChunk.model_validate(event.json())
        chunks.append(chunk)
        state.handle_chunk(chunk)
    return state, chunks


@pytest.mark.parametrize("size", AWKWARD_SIZES)
def test_anthropic_to_chat(size: int) -> None:
    translator = AnthropicToChatStream("anthropic/claude-sonnet-4-5", include_usage=True)
    events = run(translator, anthropic_stream(), size)
    state, chunks = accumulate_chat(events)
    completion = state.get_final_completion()
    message = completion.choices[0].message
    assert message.content == "Checking Zürich weather ☀️."
    assert message.tool_calls is not None and len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert (call.id, call.function.name, orjson.loads(call.function.arguments)) == (
        "toolu_01",
        "get_weather",
        {"city": "Zürich"},
    )
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.model == "claude-sonnet-4-5-20250929"  # the upstream's name
    assert completion.usage is not None
    assert (
        completion.usage.prompt_tokens,
        completion.usage.completion_tokens,
        completion.usage.total_tokens,
    ) == (50, 89, 139)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == [] and chunks[-2].choices[0].finish_reason == "tool_calls"
    assert len({c.id for c in chunks}) == 1
    assert translator.usage == Usage(50, 89)


def test_anthropic_to_chat_without_usage_chunk() -> None:
    events = run(AnthropicToChatStream("m"), anthropic_stream(with_tool=False), 9)
    state, chunks = accumulate_chat(events)
    assert all(c.choices for c in chunks), "no usage chunk unless the client asked for it"
    assert state.get_final_completion().choices[0].finish_reason == "stop"


def test_anthropic_to_chat_upstream_error_event() -> None:
    # Cut the stream at an event boundary before the error so the truncated event is not garbage.
    events_before = SSEDecoder().feed(anthropic_stream())[:3]
    upstream = b"".join(encode_event(e.json(), e.event) for e in events_before) + encode_event(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error"
    )
    translator = AnthropicToChatStream("m")
    events = run(translator, upstream, 4)
    assert events[-1].json() == {
        "error": {"message": "Overloaded", "type": "server_error", "param": None, "code": None}
    }
    assert all(e.data != "[DONE]" for e in events)


def test_anthropic_to_chat_error_and_finish_without_stop() -> None:
    translator = AnthropicToChatStream("m")
    events_in = SSEDecoder().feed(anthropic_stream())
    out: list[bytes] = []
    for event in events_in[:8]:
        out.extend(translator.feed(event))
    out.extend(translator.error("upstream timed out", 504))
    events = SSEDecoder().feed(b"".join(out))
    assert events[-1].json()["error"]["message"] == "upstream timed out"
    assert translator.finish() == []

    closed_early = AnthropicToChatStream("m")
    for event in events_in[:9]:
        closed_early.feed(event)
    tail = SSEDecoder().feed(b"".join(closed_early.finish()))
    assert tail[-1].data == "[DONE]"
    assert tail[0].json()["choices"][0]["finish_reason"] == "stop"


# -- OpenAI Chat upstream → Responses client ------------------------------------------------------


def accumulate_responses(events: list[SSEEvent]) -> Any:
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=omit, text_format=omit)
    final = None
    for i, event in enumerate(events):
        data = event.json()
        assert data["sequence_number"] == i
        assert event.event == data["type"]
        parsed = RESPONSES_EVENT.validate_python(data)
        for handled in state.handle_event(parsed):
            if handled.type in ("response.completed", "response.incomplete", "response.failed"):
                final = handled.response
    return final


RESPONSES_ORDER = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.output_item.added",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.output_item.done",
    "response.output_item.added",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.output_item.done",
    "response.completed",
]


@pytest.mark.parametrize("size", AWKWARD_SIZES)
def test_chat_to_responses(size: int) -> None:
    request = {"model": "gpt-4o", "input": "weather?", "instructions": "be brief", "tools": []}
    translator = ChatToResponsesStream("openai/gpt-4o", request=request)
    events = run(translator, chat_stream(newline=b"\r\n"), size)
    assert [e.event for e in events] == RESPONSES_ORDER
    response = accumulate_responses(events)
    assert response.status == "completed"
    assert response.output_text == "Checking the weather in Zürich ☀️ and Oslo."
    calls = [item for item in response.output if item.type == "function_call"]
    assert [(c.call_id, c.name, orjson.loads(c.arguments)) for c in calls] == [
        ("call_A", "get_weather", {"city": "Zürich"}),
        ("call_B", "get_weather", {"city": "Oslo"}),
    ]
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (
        57,
        41,
        98,
    )
    assert response.instructions == "be brief"
    assert response.model == "gpt-4o-2024-08-06"  # the upstream's name
    created = events[0].json()["response"]
    assert created["status"] == "in_progress" and created["output"] == [] and created["id"] == response.id
    assert translator.usage == Usage(57, 41)


def test_chat_to_responses_length_is_incomplete() -> None:
    events = run(ChatToResponsesStream("m"), chat_stream(finish="length"), 64)
    assert events[-1].event == "response.incomplete"
    response = accumulate_responses(events)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"


def test_chat_to_responses_error_mid_stream() -> None:
    translator = ChatToResponsesStream("m")
    upstream = chat_stream()
    events = run(translator, upstream[:900], 13, finish=False)
    tail = SSEDecoder().feed(b"".join(translator.error("upstream connection reset")))
    assert [e.event for e in tail] == ["error", "response.failed"]
    all_events = events + tail
    for i, event in enumerate(all_events):
        assert event.json()["sequence_number"] == i
        RESPONSES_EVENT.validate_python(event.json())
    failed = tail[1].json()["response"]
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "server_error", "message": "upstream connection reset"}
    assert translator.finish() == []


def test_chat_to_responses_error_before_anything() -> None:
    tail = SSEDecoder().feed(b"".join(ChatToResponsesStream("m").error("no upstream", 429)))
    assert [e.event for e in tail] == ["response.created", "response.in_progress", "error", "response.failed"]
    assert tail[2].json()["code"] == "rate_limit_exceeded"


# -- Anthropic upstream → Responses client -------------------------------------------------------


@pytest.mark.parametrize("size", (3, 17, 4096))
def test_anthropic_to_responses(size: int) -> None:
    translator = AnthropicToResponsesStream("anthropic/claude", request={"input": "x"})
    events = run(translator, anthropic_stream(), size)
    response = accumulate_responses(events)
    assert response.output_text == "Checking Zürich weather ☀️."
    (call,) = [item for item in response.output if item.type == "function_call"]
    assert (call.call_id, orjson.loads(call.arguments)) == ("toolu_01", {"city": "Zürich"})
    assert (response.usage.input_tokens, response.usage.output_tokens) == (50, 89)
    assert translator.usage == Usage(50, 89)
    assert translator.done and translator.finish() == []


def test_anthropic_to_responses_upstream_error() -> None:
    first = SSEDecoder().feed(anthropic_stream())[:8]
    upstream = b"".join(encode_event(e.json(), e.event) for e in first) + encode_event(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error"
    )
    events = run(AnthropicToResponsesStream("m"), upstream, 6)
    assert [e.event for e in events][-2:] == ["error", "response.failed"]
    assert events[-1].json()["response"]["error"]["message"] == "Overloaded"


# -- dispatch and usage readers -------------------------------------------------------------------


def test_translator_for() -> None:
    assert translator_for("openai_chat", "openai_chat", "m") is None
    assert translator_for("anthropic", "anthropic", "m") is None
    assert isinstance(translator_for("anthropic", "openai_chat", "m"), ChatToAnthropicStream)
    assert isinstance(translator_for("responses", "openai_chat", "m"), ChatToResponsesStream)
    assert isinstance(translator_for("responses", "anthropic", "m"), AnthropicToResponsesStream)
    plain = translator_for("openai_chat", "anthropic", "m")
    assert isinstance(plain, AnthropicToChatStream) and not plain.include_usage
    asked = translator_for(
        "openai_chat", "anthropic", "m", request={"stream_options": {"include_usage": True}}
    )
    assert isinstance(asked, AnthropicToChatStream) and asked.include_usage
    with pytest.raises(ValueError):
        translator_for("anthropic", "responses", "m")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fmt", "upstream", "expected"),
    [
        ("openai_chat", chat_stream(), Usage(57, 41)),
        ("anthropic", anthropic_stream(), Usage(50, 89)),
        (
            "responses",
            b"".join(
                encode_event(e.json(), e.event) for e in run(ChatToResponsesStream("m"), chat_stream(), 64)
            ),
            Usage(57, 41),
        ),
    ],
)
def test_stream_usage_reader(fmt: Any, upstream: bytes, expected: Usage) -> None:
    reader = StreamUsageReader(fmt)
    decoder = SSEDecoder()
    for chunk in split(upstream, 10):
        for event in decoder.feed(chunk):
            reader.feed(event)
    assert reader.usage == expected

"""Translation gaps found by running other gateways' test vectors (envoyproxy/ai-gateway, plano,
litellm) through llmroute, and what coding agents send (issue 16)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from llmroute.wire import (
    AnthropicToChatStream,
    ChatToAnthropicStream,
    ChatToResponsesStream,
    SSEEvent,
    WireError,
    anthropic_request_to_chat,
    chat_request_to_anthropic,
    responses_request_to_chat,
    translate_request,
    translate_response,
)
from llmroute.wire.drops import dropped

CUSTOM_TOOL = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Apply a patch",
    "format": {"type": "text"},
}


def chunk(delta: dict[str, Any], finish: str | None = None, model: str = "gpt-4o-2024-08-06") -> SSEEvent:
    body = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return SSEEvent(event=None, data=orjson.dumps(body).decode())


def events(raw: list[bytes]) -> list[dict[str, Any]]:
    out = []
    for frame in b"".join(raw).split(b"\n\n"):
        for line in frame.split(b"\n"):
            if line.startswith(b"data: ") and line != b"data: [DONE]":
                out.append(orjson.loads(line[6:]))
    return out


# --- Responses custom tools -------------------------------------------------------------------------


def test_responses_custom_tool_and_its_calls_reach_chat_as_a_function() -> None:
    body = {
        "model": "m",
        "tools": [CUSTOM_TOOL],
        "tool_choice": {"type": "custom", "name": "apply_patch"},
        "input": [
            {"role": "user", "content": "patch it"},
            {"type": "custom_tool_call", "call_id": "call_1", "name": "apply_patch", "input": "*** Begin"},
            {"type": "custom_tool_call_output", "call_id": "call_1", "output": "Done!"},
        ],
    }
    chat = responses_request_to_chat(body)
    tool = chat["tools"][0]
    assert tool["type"] == "function" and tool["function"]["name"] == "apply_patch"
    assert tool["function"]["parameters"]["required"] == ["input"]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "apply_patch"}}
    call = chat["messages"][1]["tool_calls"][0]
    assert call["id"] == "call_1"
    assert orjson.loads(call["function"]["arguments"]) == {"input": "*** Begin"}
    assert chat["messages"][2] == {"role": "tool", "tool_call_id": "call_1", "content": "Done!"}


def test_chat_tool_call_for_a_custom_tool_comes_back_as_custom_tool_call() -> None:
    request = {"model": "m", "input": "patch it", "tools": [CUSTOM_TOOL]}
    upstream = {
        "id": "x",
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_9",
                            "type": "function",
                            "function": {"name": "apply_patch", "arguments": '{"input": "*** Begin"}'},
                        }
                    ],
                },
            }
        ],
    }
    out = translate_response("responses", "openai_chat", upstream, "gpt-4o", request=request)
    item = out["output"][0]
    assert item["type"] == "custom_tool_call"
    assert (item["call_id"], item["name"], item["input"]) == ("call_9", "apply_patch", "*** Begin")


def test_streamed_custom_tool_call_is_a_custom_tool_call_item() -> None:
    request = {"model": "m", "input": "patch it", "tools": [CUSTOM_TOOL]}
    translator = ChatToResponsesStream("m", request=request)
    raw: list[bytes] = []
    start = {"index": 0, "id": "call_9", "type": "function", "function": {"name": "apply_patch"}}
    raw += translator.feed(chunk({"role": "assistant", "tool_calls": [start]}))
    raw += translator.feed(
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"input": "*** '}}]})
    )
    raw += translator.feed(chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'Begin"}'}}]}))
    raw += translator.feed(chunk({}, "tool_calls"))
    raw += translator.feed(SSEEvent(event=None, data="[DONE]"))
    evs = events(raw)
    kinds = [e["type"] for e in evs]
    assert "response.function_call_arguments.delta" not in kinds
    done = next(e for e in evs if e["type"] == "response.custom_tool_call_input.done")
    assert done["input"] == "*** Begin"
    final = evs[-1]["response"]["output"][0]
    assert final["type"] == "custom_tool_call" and final["input"] == "*** Begin"


# --- function_call_output objects --------------------------------------------------------------------


@pytest.mark.parametrize("output", [{"status": "ok", "n": 1}, [1, 2], 3, True])
def test_function_call_output_that_is_not_text_is_sent_as_json(output: Any) -> None:
    body = {
        "model": "m",
        "input": [
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": output},
        ],
    }
    tool = responses_request_to_chat(body)["messages"][-1]
    assert orjson.loads(tool["content"]) == output


# --- cache_control ------------------------------------------------------------------------------------


def test_cache_control_on_openai_parts_messages_and_tools_reaches_anthropic() -> None:
    ephemeral = {"type": "ephemeral"}
    body = {
        "model": "m",
        "messages": [
            {
                "role": "system",
                "content": [{"type": "text", "text": "long rules", "cache_control": ephemeral}],
            },
            {"role": "user", "content": [{"type": "text", "text": "big doc", "cache_control": ephemeral}]},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "question", "cache_control": ephemeral},
        ],
        "tools": [
            {
                "type": "function",
                "function": {"name": "f", "parameters": {"type": "object"}},
                "cache_control": ephemeral,
            }
        ],
    }
    out = chat_request_to_anthropic(body)
    assert out["system"] == [{"type": "text", "text": "long rules", "cache_control": ephemeral}]
    assert out["messages"][0]["content"][0]["cache_control"] == ephemeral
    assert out["messages"][2]["content"][-1] == {
        "type": "text",
        "text": "question",
        "cache_control": ephemeral,
    }
    assert out["tools"][0]["cache_control"] == ephemeral


def test_system_without_cache_control_stays_a_string() -> None:
    out = chat_request_to_anthropic(
        {"messages": [{"role": "system", "content": "a"}, {"role": "user", "content": "b"}]}
    )
    assert out["system"] == "a"


# --- n and response_format on Anthropic-format providers ---------------------------------------------


def test_n_above_one_is_a_400_naming_the_field() -> None:
    with pytest.raises(WireError) as info:
        chat_request_to_anthropic({"messages": [{"role": "user", "content": "x"}], "n": 3})
    assert info.value.status == 400 and "'n'" in info.value.message
    assert "n" not in chat_request_to_anthropic({"messages": [{"role": "user", "content": "x"}], "n": 1})


def test_response_format_json_schema_becomes_structured_output() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}},
    }
    out = chat_request_to_anthropic(body)
    assert out["output_config"] == {"format": {"type": "json_schema", "schema": schema}}


def test_response_format_json_object_is_a_400_naming_the_field() -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}}
    with pytest.raises(WireError) as info:
        chat_request_to_anthropic(body)
    assert "'response_format'" in info.value.message
    body["response_format"] = {"type": "text"}
    assert "output_config" not in chat_request_to_anthropic(body)


# --- model names in streams ---------------------------------------------------------------------------


def test_chat_to_anthropic_stream_reports_the_upstreams_model() -> None:
    translator = ChatToAnthropicStream("gpt-4o")
    raw = translator.feed(chunk({"role": "assistant", "content": "hi"}, model="gpt-4o-2024-08-06"))
    start = events(raw)[0]
    assert start["type"] == "message_start"
    assert start["message"]["model"] == "gpt-4o-2024-08-06"


# --- system messages, thinking and what is dropped ---------------------------------------------------


def test_claude_code_request_translates_to_chat() -> None:
    # The shape Claude Code sends for a non-Claude model name (trimmed).
    body = {
        "model": "fast-model",
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "read notes.txt"}]},
            {"role": "system", "content": "Today's date is 2026-12-04."},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "I should read it", "signature": "sig"},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "Read",
                        "input": {"file_path": "/t/notes.txt"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "pineapple"},
                    {"type": "text", "text": "<system-reminder>keep going</system-reminder>"},
                ],
            },
        ],
        "thinking": {"type": "adaptive"},
        "context_management": {"edits": []},
        "output_config": {"effort": "high"},
        "metadata": {"user_id": orjson.dumps({"device_id": "d" * 64, "session_id": "s"}).decode()},
        "max_tokens": 32000,
        "stream": True,
    }
    chat = anthropic_request_to_chat(body)
    roles = [m["role"] for m in chat["messages"]]
    assert roles == ["system", "user", "system", "assistant", "tool", "user"]
    assert chat["messages"][2]["content"] == "Today's date is 2026-12-04."
    assert chat["messages"][3]["content"] is None  # the thinking block has no Chat counterpart
    assert chat["messages"][4] == {"role": "tool", "tool_call_id": "toolu_1", "content": "pineapple"}
    assert "user" not in chat  # a 150-character user_id would be refused by OpenAI
    for key in ("thinking", "context_management", "output_config"):
        assert key not in chat
    labels = dropped("anthropic", "openai_chat", body)
    assert sorted(labels) == sorted(
        [
            "thinking",
            "context_management",
            "output_config",
            "metadata.user_id",
            "block:thinking",
            "cache_control",
        ]
    )


def test_unknown_names_are_counted_as_other() -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "brand_new_field": 1, "seed": 3}
    assert sorted(dropped("openai_chat", "anthropic", body)) == ["other", "seed"]
    assert translate_request("openai_chat", "openai_chat", body) is body  # same format: nothing dropped


def test_anthropic_thinking_reaches_chat_clients_as_reasoning_content() -> None:
    answer = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [
            {"type": "thinking", "thinking": "The user wants a greeting.", "signature": "sig"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "Hello!"},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 5},
    }
    message = translate_response("openai_chat", "anthropic", answer, "claude-sonnet-4-6")["choices"][0][
        "message"
    ]
    assert message["content"] == "Hello!"
    assert message["reasoning_content"] == "The user wants a greeting."


def test_streamed_thinking_reaches_chat_clients_as_reasoning_content() -> None:
    translator = AnthropicToChatStream("claude-sonnet-4-6")

    def event(kind: str, **fields: Any) -> SSEEvent:
        return SSEEvent(event=kind, data=orjson.dumps({"type": kind, **fields}).decode())

    raw: list[bytes] = []
    raw += translator.feed(
        event("message_start", message={"id": "m", "model": "claude-sonnet-4-6", "usage": {}})
    )
    raw += translator.feed(
        event("content_block_start", index=0, content_block={"type": "thinking", "thinking": ""})
    )
    delta = {"type": "thinking_delta", "thinking": "Let me think."}
    raw += translator.feed(event("content_block_delta", index=0, delta=delta))
    raw += translator.feed(
        event("content_block_delta", index=0, delta={"type": "signature_delta", "signature": "s"})
    )
    deltas = [c["choices"][0]["delta"] for c in events(raw) if c.get("choices")]
    assert {"reasoning_content": "Let me think."} in deltas

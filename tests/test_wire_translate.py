"""Request and non-streaming response translation, checked against the official SDKs' types.

The target bodies are validated with the openai/anthropic packages' own request TypedDicts and
response models (pydantic), so a missing required field or a wrong shape fails here.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import pytest
from anthropic.types import Message as AnthropicMessage
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
from openai.types.chat import ChatCompletion
from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming
from openai.types.responses import Response
from pydantic import TypeAdapter

from llmroute.wire import (
    WireError,
    anthropic_request_to_chat,
    anthropic_response_to_chat,
    chat_request_to_anthropic,
    chat_response_to_anthropic,
    chat_response_to_responses,
    responses_request_to_chat,
    translate_request,
    translate_response,
)

_ANTHROPIC_REQUEST = TypeAdapter(MessageCreateParamsNonStreaming)
_CHAT_REQUEST = TypeAdapter(CompletionCreateParamsNonStreaming)


def _materialize(value: Any) -> Any:
    """Pydantic validates `Iterable[...]` fields lazily: walking them runs the validation."""
    if isinstance(value, dict):
        return {k: _materialize(v) for k, v in value.items()}
    if isinstance(value, str | bytes | int | float | bool) or value is None:
        return value
    if isinstance(value, Iterable):
        return [_materialize(v) for v in value]
    return value


def valid_anthropic_request(body: dict[str, Any]) -> None:
    _materialize(_ANTHROPIC_REQUEST.validate_python({k: v for k, v in body.items() if k != "stream"}))


def valid_chat_request(body: dict[str, Any]) -> None:
    cleaned = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
    _materialize(_CHAT_REQUEST.validate_python(cleaned))


PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg=="

WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}

ANTHROPIC_REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 512,
    "system": [{"type": "text", "text": "You are a weather bot."}],
    "temperature": 0.3,
    "top_p": 0.9,
    "top_k": 40,
    "stop_sequences": ["END"],
    "metadata": {"user_id": "u-42"},
    "tools": [
        {"name": "get_weather", "description": "Weather for a city", "input_schema": WEATHER_SCHEMA},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 2},
    ],
    "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather where this photo was taken?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/paris.jpg"}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01",
                    "content": [{"type": "text", "text": "18C"}],
                },
                {"type": "text", "text": "Thanks, and tomorrow?"},
            ],
        },
    ],
}


# -- Anthropic client → Chat upstream ------------------------------------------------------------


def test_anthropic_request_to_chat() -> None:
    chat = anthropic_request_to_chat(ANTHROPIC_REQUEST)
    valid_chat_request(chat)
    assert chat["model"] == "claude-sonnet-4-5"
    assert chat["messages"] == [
        {"role": "system", "content": "You are a weather bot."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather where this photo was taken?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/paris.jpg"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "toolu_01",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_01", "content": "18C"},
        {"role": "user", "content": "Thanks, and tomorrow?"},
    ]
    assert chat["max_tokens"] == 512
    assert chat["stop"] == ["END"]
    assert chat["user"] == "u-42"
    assert (chat["temperature"], chat["top_p"]) == (0.3, 0.9)
    assert "top_k" not in chat and "metadata" not in chat and "system" not in chat
    # The server tool has no Chat equivalent and is dropped.
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": WEATHER_SCHEMA,
            },
        }
    ]
    assert chat["tool_choice"] == "required"
    assert chat["parallel_tool_calls"] is False


def test_anthropic_request_to_chat_max_completion_tokens_and_stream() -> None:
    body = {"model": "m", "max_tokens": 100, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    chat = anthropic_request_to_chat(body, max_tokens_field="max_completion_tokens")
    assert chat == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "max_completion_tokens": 100,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "get_weather"}, {"type": "function", "function": {"name": "get_weather"}}),
    ],
)
def test_anthropic_tool_choice(choice: dict[str, Any], expected: Any) -> None:
    body = {**ANTHROPIC_REQUEST, "tool_choice": choice}
    chat = anthropic_request_to_chat(body)
    assert chat["tool_choice"] == expected
    assert "parallel_tool_calls" not in chat


def test_anthropic_tool_result_error_and_documents() -> None:
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "no such city", "is_error": True},
                    {
                        "type": "document",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
                        "title": "a.pdf",
                    },
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "plain doc"},
                    },
                ],
            }
        ],
    }
    chat = anthropic_request_to_chat(body)
    valid_chat_request(chat)
    assert chat["messages"] == [
        {"role": "tool", "tool_call_id": "t1", "content": "Error: no such city"},
        {
            "role": "user",
            "content": [
                {
                    "type": "file",
                    "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
                },
                {"type": "text", "text": "plain doc"},
            ],
        },
    ]


def test_anthropic_round_trip_through_chat() -> None:
    """Anthropic → Chat → Anthropic keeps everything both formats can express."""
    back = chat_request_to_anthropic(anthropic_request_to_chat(ANTHROPIC_REQUEST))
    valid_anthropic_request(back)
    expected = {k: v for k, v in copy.deepcopy(ANTHROPIC_REQUEST).items() if k != "top_k"}
    expected["system"] = "You are a weather bot."
    expected["tools"] = ANTHROPIC_REQUEST["tools"][:1]
    expected["messages"][2] = {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18C"},
            {"type": "text", "text": "Thanks, and tomorrow?"},
        ],
    }
    assert back == expected


# -- Chat client → Anthropic upstream ------------------------------------------------------------

CHAT_REQUEST: dict[str, Any] = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "You are a weather bot."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in Celsius."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather here?"},
                {
                    "type": "image_url",
                    "image_url": {"url": f"data:image/jpeg;base64,{PNG_B64}", "detail": "low"},
                },
                {"type": "image_url", "image_url": {"url": "https://example.com/x.png"}},
                {
                    "type": "file",
                    "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "f.pdf"},
                },
                {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "20C"}]},
        {"role": "user", "content": "And tomorrow?"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER_SCHEMA},
        }
    ],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "parallel_tool_calls": False,
    "max_completion_tokens": 300,
    "temperature": 1.7,
    "stop": "END",
    "user": "u-1",
    "seed": 7,
    "n": 1,
    "logprobs": True,
    "frequency_penalty": 0.5,
}


def test_chat_request_to_anthropic() -> None:
    out = chat_request_to_anthropic(CHAT_REQUEST)
    valid_anthropic_request(out)
    assert out["system"] == "You are a weather bot.\n\nAnswer in Celsius."
    assert out["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather here?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG_B64}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/x.png"}},
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {}},
            ],
        },
        {
            # Consecutive tool results and the next user turn merge into one user message.
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "20C"},
                {"type": "text", "text": "And tomorrow?"},
            ],
        },
    ]
    assert out["max_tokens"] == 300
    assert out["temperature"] == 1.0
    assert out["stop_sequences"] == ["END"]
    assert out["metadata"] == {"user_id": "u-1"}
    assert out["tools"] == [{"name": "get_weather", "description": "Weather", "input_schema": WEATHER_SCHEMA}]
    assert out["tool_choice"] == {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}
    for dropped in ("seed", "n", "logprobs", "frequency_penalty", "parallel_tool_calls", "user", "stop"):
        assert dropped not in out


def test_chat_request_to_anthropic_defaults() -> None:
    out = chat_request_to_anthropic(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    )
    assert out == {
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "max_tokens": 4096,
        "stream": True,
    }
    assert chat_request_to_anthropic({"messages": [], "max_tokens": 9})["max_tokens"] == 9
    assert chat_request_to_anthropic({"messages": []}, default_max_tokens=100)["max_tokens"] == 100
    assert chat_request_to_anthropic({"messages": [], "stop": ["a", "b"]})["stop_sequences"] == ["a", "b"]


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        ("none", False, {"type": "none"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        (None, None, None),
    ],
)
def test_chat_tool_choice(choice: Any, parallel: Any, expected: Any) -> None:
    body: dict[str, Any] = {"messages": [], "tools": CHAT_REQUEST["tools"]}
    if choice is not None:
        body["tool_choice"] = choice
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    assert chat_request_to_anthropic(body).get("tool_choice") == expected


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("{not json", "messages[0].tool_calls[0].function.arguments is not valid JSON"),
        ("[1, 2]", "messages[0].tool_calls[0].function.arguments must encode a JSON object"),
        (5, "messages[0].tool_calls[0].function.arguments must be a JSON string"),
    ],
)
def test_chat_bad_tool_arguments(arguments: Any, message: str) -> None:
    body = {
        "messages": [
            {
                "role": "assistant",
                "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": arguments}}],
            }
        ]
    }
    with pytest.raises(WireError) as info:
        chat_request_to_anthropic(body)
    assert info.value.message == message


def test_chat_bad_content_type() -> None:
    with pytest.raises(WireError, match=r"messages\[0\]\.content must be a string or an array of parts"):
        chat_request_to_anthropic({"messages": [{"role": "user", "content": 3}]})


def test_chat_round_trip_through_anthropic() -> None:
    body = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "w", "arguments": '{"city":"Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "-3C"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "and here?"},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                ],
            },
        ],
        "tools": [
            {"type": "function", "function": {"name": "w", "description": "d", "parameters": WEATHER_SCHEMA}}
        ],
        "tool_choice": "required",
        "max_tokens": 50,
        "temperature": 0.5,
        "stop": ["X"],
    }
    back = anthropic_request_to_chat(chat_request_to_anthropic(body))
    valid_chat_request(back)
    assert back == body


# -- Responses client ----------------------------------------------------------------------------

RESPONSES_REQUEST: dict[str, Any] = {
    "model": "gpt-4.1",
    "instructions": "You are a weather bot.",
    "input": [
        {"role": "developer", "content": "Use Celsius."},
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Weather in the photo's city?"},
                {"type": "input_image", "image_url": "https://example.com/p.jpg", "detail": "high"},
                {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE", "filename": "f.pdf"},
            ],
        },
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Checking.", "annotations": []}],
        },
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        },
        {
            "type": "function_call",
            "id": "fc_2",
            "call_id": "call_2",
            "name": "get_weather",
            "arguments": '{"city":"Lyon"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
        {
            "type": "function_call_output",
            "call_id": "call_2",
            "output": [{"type": "input_text", "text": "20C"}],
        },
        {"role": "user", "content": "Thanks!"},
    ],
    "tools": [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather",
            "parameters": WEATHER_SCHEMA,
            "strict": True,
        },
        {"type": "web_search_preview"},
    ],
    "tool_choice": {"type": "function", "name": "get_weather"},
    "parallel_tool_calls": True,
    "max_output_tokens": 200,
    "temperature": 0.2,
    "text": {"format": {"type": "json_schema", "name": "weather", "schema": WEATHER_SCHEMA, "strict": True}},
    "reasoning": {"effort": "low"},
    "store": True,
    "user": "u-9",
}


def test_responses_request_to_chat() -> None:
    chat = responses_request_to_chat(RESPONSES_REQUEST)
    valid_chat_request(chat)
    assert chat["messages"] == [
        {"role": "system", "content": "You are a weather bot."},
        {"role": "system", "content": "Use Celsius."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather in the photo's city?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/p.jpg", "detail": "high"}},
                {
                    "type": "file",
                    "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "f.pdf"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Lyon"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "20C"},
        {"role": "user", "content": "Thanks!"},
    ]
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather",
                "parameters": WEATHER_SCHEMA,
                "strict": True,
            },
        }
    ]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert chat["max_completion_tokens"] == 200
    assert chat["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "weather", "schema": WEATHER_SCHEMA, "strict": True},
    }
    assert chat["reasoning_effort"] == "low"
    assert (chat["temperature"], chat["parallel_tool_calls"], chat["user"]) == (0.2, True, "u-9")
    assert "store" not in chat and "input" not in chat and "instructions" not in chat


def test_responses_string_input_and_stream() -> None:
    body = {
        "model": "m",
        "input": "Build a React table",
        "stream": True,
        "text": {"format": {"type": "json_object"}},
    }
    chat = responses_request_to_chat(body, max_tokens_field="max_tokens")
    assert chat == {
        "model": "m",
        "messages": [{"role": "user", "content": "Build a React table"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "response_format": {"type": "json_object"},
    }
    assert "parallel_tool_calls" not in responses_request_to_chat(
        {"input": "x", "parallel_tool_calls": False}
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"previous_response_id": "resp_1"}, "'previous_response_id' is not supported"),
        ({"conversation": "conv_1"}, "'conversation' is not supported"),
    ],
)
def test_responses_stateful_requests_are_rejected(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(WireError) as info:
        responses_request_to_chat({"input": "hi", **extra})
    assert info.value.message.startswith(message)
    assert info.value.status == 400


def test_responses_client_to_anthropic_upstream() -> None:
    out = translate_request("responses", "anthropic", RESPONSES_REQUEST)
    valid_anthropic_request(out)
    assert out["system"] == "You are a weather bot.\n\nUse Celsius."
    assert out["max_tokens"] == 200
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "user"]
    assert out["messages"][1]["content"][1] == {
        "type": "tool_use",
        "id": "call_1",
        "name": "get_weather",
        "input": {"city": "Paris"},
    }
    assert out["tool_choice"] == {"type": "tool", "name": "get_weather"}


# -- responses -----------------------------------------------------------------------------------

CHAT_RESPONSE: dict[str, Any] = {
    "id": "chatcmpl-abc",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Let me look that up.",
                "refusal": None,
                "tool_calls": [
                    {
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "total_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 100},
        "completion_tokens_details": {"reasoning_tokens": 5},
    },
}

ANTHROPIC_RESPONSE: dict[str, Any] = {
    "id": "msg_01XYZ",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "text", "text": "Let me look that up."},
        {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {"city": "Paris"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 20,
        "output_tokens": 30,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 0,
    },
}


def test_chat_response_to_anthropic() -> None:
    out = chat_response_to_anthropic(CHAT_RESPONSE, "openai/gpt-4o")
    AnthropicMessage.model_validate(out)
    assert out["type"] == "message" and out["role"] == "assistant" and out["id"].startswith("msg_")
    assert out["model"] == "openai/gpt-4o"
    assert out["content"] == [
        {"type": "text", "text": "Let me look that up."},
        {"type": "tool_use", "id": "call_9", "name": "get_weather", "input": {"city": "Paris"}},
    ]
    assert out["stop_reason"] == "tool_use"
    assert out["usage"] == {"input_tokens": 20, "output_tokens": 30, "cache_read_input_tokens": 100}


def test_anthropic_response_to_chat() -> None:
    out = anthropic_response_to_chat(ANTHROPIC_RESPONSE, "anthropic/claude-sonnet-4-5")
    ChatCompletion.model_validate(out)
    choice = out["choices"][0]
    assert choice["message"]["content"] == "Let me look that up."
    assert choice["message"]["tool_calls"] == [
        {
            "id": "toolu_9",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        }
    ]
    assert choice["finish_reason"] == "tool_calls"
    assert out["model"] == "anthropic/claude-sonnet-4-5"
    assert out["usage"] == {
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "total_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 100},
    }


def test_anthropic_response_tool_only_has_null_content() -> None:
    resp = {**ANTHROPIC_RESPONSE, "content": [ANTHROPIC_RESPONSE["content"][2]]}
    assert anthropic_response_to_chat(resp, "m")["choices"][0]["message"]["content"] is None
    empty = {**ANTHROPIC_RESPONSE, "content": [], "stop_reason": "end_turn"}
    assert anthropic_response_to_chat(empty, "m")["choices"][0]["message"]["content"] == ""


@pytest.mark.parametrize(
    ("finish", "with_tools", "stop"),
    [
        ("stop", False, "end_turn"),
        ("stop", True, "tool_use"),  # Ollama-style "stop" after tool calls
        ("length", False, "max_tokens"),
        ("length", True, "max_tokens"),
        ("tool_calls", True, "tool_use"),
        ("content_filter", False, "refusal"),
        (None, True, "tool_use"),
        (None, False, "end_turn"),
    ],
)
def test_chat_finish_reasons_to_anthropic(finish: str | None, with_tools: bool, stop: str) -> None:
    message = dict(CHAT_RESPONSE["choices"][0]["message"])
    if not with_tools:
        del message["tool_calls"]
    resp = {
        **CHAT_RESPONSE,
        "choices": [{**CHAT_RESPONSE["choices"][0], "message": message, "finish_reason": finish}],
    }
    assert chat_response_to_anthropic(resp, "m")["stop_reason"] == stop


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "length"),
        (None, "stop"),
    ],
)
def test_anthropic_stop_reasons_to_chat(stop: str | None, finish: str) -> None:
    assert (
        anthropic_response_to_chat({**ANTHROPIC_RESPONSE, "stop_reason": stop}, "m")["choices"][0][
            "finish_reason"
        ]
        == finish
    )


def test_response_round_trips() -> None:
    there_and_back = anthropic_response_to_chat(chat_response_to_anthropic(CHAT_RESPONSE, "m"), "m")
    assert (
        there_and_back["choices"][0]["message"]["content"]
        == CHAT_RESPONSE["choices"][0]["message"]["content"]
    )
    assert (
        there_and_back["choices"][0]["message"]["tool_calls"]
        == CHAT_RESPONSE["choices"][0]["message"]["tool_calls"]
    )
    assert there_and_back["choices"][0]["finish_reason"] == "tool_calls"
    assert there_and_back["usage"] == {
        k: v for k, v in CHAT_RESPONSE["usage"].items() if k != "completion_tokens_details"
    }


def test_chat_response_with_bad_tool_arguments_keeps_them() -> None:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}],
    }
    resp = {**CHAT_RESPONSE, "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}
    out = chat_response_to_anthropic(resp, "m")
    assert out["content"] == [
        {"type": "tool_use", "id": "c", "name": "f", "input": {"_raw_arguments": "{oops"}}
    ]


def test_chat_response_to_responses() -> None:
    request = {
        "model": "gpt-4.1",
        "input": "hi",
        "instructions": "be brief",
        "temperature": 0.2,
        "tools": RESPONSES_REQUEST["tools"][:1],
    }
    out = chat_response_to_responses(CHAT_RESPONSE, "openai/gpt-4o", request=request)
    parsed = Response.model_validate(out)
    assert parsed.output_text == "Let me look that up."
    assert out["status"] == "completed" and out["object"] == "response" and out["id"].startswith("resp_")
    message, call = out["output"]
    assert message["type"] == "message" and message["content"][0]["type"] == "output_text"
    assert {k: call[k] for k in ("type", "call_id", "name", "arguments", "status")} == {
        "type": "function_call",
        "call_id": "call_9",
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
        "status": "completed",
    }
    assert out["usage"] == {
        "input_tokens": 120,
        "input_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 0},
        "output_tokens": 30,
        "output_tokens_details": {"reasoning_tokens": 5},
        "total_tokens": 150,
    }
    assert (out["instructions"], out["temperature"], out["tools"]) == ("be brief", 0.2, request["tools"])


def test_chat_response_to_responses_incomplete_and_refusal() -> None:
    message = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
    resp = {**CHAT_RESPONSE, "choices": [{"index": 0, "message": message, "finish_reason": "length"}]}
    out = chat_response_to_responses(resp, "m")
    Response.model_validate(out)
    assert out["status"] == "incomplete"
    assert out["incomplete_details"] == {"reason": "max_output_tokens"}
    assert out["output"][0]["content"] == [{"type": "refusal", "refusal": "I can't help with that."}]


def test_dispatch() -> None:
    body = {"messages": [{"role": "user", "content": "x"}]}
    assert translate_request("openai_chat", "openai_chat", body) is body
    assert translate_response("anthropic", "anthropic", ANTHROPIC_RESPONSE, "m") is ANTHROPIC_RESPONSE
    assert (
        translate_request(
            "anthropic", "openai_chat", {**body, "max_tokens": 5}, max_tokens_field="max_completion_tokens"
        )["max_completion_tokens"]
        == 5
    )
    out = translate_response("responses", "anthropic", ANTHROPIC_RESPONSE, "anthropic/claude")
    assert Response.model_validate(out).output_text == "Let me look that up."
    assert out["usage"]["input_tokens"] == 120
    assert translate_response("anthropic", "openai_chat", CHAT_RESPONSE, "m")["type"] == "message"
    assert (
        translate_response("openai_chat", "anthropic", ANTHROPIC_RESPONSE, "m")["object"] == "chat.completion"
    )
    with pytest.raises(ValueError):
        translate_request("anthropic", "responses", body)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("client", "upstream", "body"),
    [
        ("anthropic", "openai_chat", ANTHROPIC_REQUEST),
        ("openai_chat", "anthropic", CHAT_REQUEST),
        ("responses", "openai_chat", RESPONSES_REQUEST),
        ("responses", "anthropic", RESPONSES_REQUEST),
    ],
)
def test_translation_leaves_the_client_body_untouched(
    client: Any, upstream: Any, body: dict[str, Any]
) -> None:
    """The proxy translates the same body again for the next candidate on failover."""
    before = copy.deepcopy(body)
    first = translate_request(client, upstream, body)
    first["model"] = "changed"
    assert body == before
    assert translate_request(client, upstream, body) == {**first, "model": body["model"]}

"""parse_conversation for the three client APIs, and every WireError it can raise."""

from __future__ import annotations

from typing import Any

import pytest

from llmroute.wire import Message, WireError, parse_conversation, routable

IMAGE_PART = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}


# -- OpenAI Chat ---------------------------------------------------------------------------------


def test_chat_roles_text_and_parts() -> None:
    body = {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "be terse"},
            {"role": "developer", "content": [{"type": "text", "text": "no emojis"}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is in"},
                    IMAGE_PART,
                    {"type": "text", "text": "this picture?"},
                ],
            },
            {"role": "assistant", "content": "A cat."},
            {"role": "user", "content": "make it a dog"},
        ],
    }
    assert parse_conversation("openai_chat", body) == [
        Message("system", "be terse"),
        Message("developer", "no emojis"),
        Message("user", "what is in\nthis picture?"),
        Message("assistant", "A cat."),
        Message("user", "make it a dog"),
    ]


def test_chat_tool_calls_and_results_become_tool_role() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "18C sunny"},
            {"role": "function", "name": "w", "content": "legacy"},
            {"role": "assistant", "content": "It is 18C."},
        ]
    }
    conv = parse_conversation("openai_chat", body)
    assert [m.role for m in conv] == ["user", "tool", "tool", "tool", "assistant"]
    assert conv[2].text == "18C sunny"
    assert routable(conv) == [Message("user", "weather in Paris?"), Message("assistant", "It is 18C.")]


def test_chat_image_only_message_has_empty_text() -> None:
    conv = parse_conversation("openai_chat", {"messages": [{"role": "user", "content": [IMAGE_PART]}]})
    assert conv == [Message("user", "")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "request body must be a JSON object"),
        ("hi", "request body must be a JSON object"),
        ({}, "'messages' must be a non-empty array"),
        ({"messages": []}, "'messages' must be a non-empty array"),
        ({"messages": "hello"}, "'messages' must be a non-empty array"),
        ({"messages": ["hello"]}, "messages[0] must be an object"),
        ({"messages": [{"content": "x"}]}, "messages[0].role must be a string"),
        ({"messages": [{"role": ["user"], "content": "x"}]}, "messages[0].role must be a string"),
        ({"messages": [{"role": {"a": 1}, "content": "x"}]}, "messages[0].role must be a string"),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": 5}]},
            "messages[1].content must be a string or an array of parts",
        ),
        ({"messages": [{"role": "user", "content": ["x"]}]}, "messages[0].content[0] must be an object"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": 3}]}]},
            "messages[0].content[0].text must be a string",
        ),
    ],
)
def test_chat_errors(body: Any, message: str) -> None:
    with pytest.raises(WireError) as info:
        parse_conversation("openai_chat", body)
    assert info.value.message.startswith(message)
    assert info.value.status == 400
    assert "\n" not in info.value.message


# -- Anthropic -----------------------------------------------------------------------------------


def test_anthropic_system_blocks_tools_and_images() -> None:
    body = {
        "model": "claude",
        "max_tokens": 100,
        "system": [{"type": "text", "text": "You are helpful."}, {"type": "text", "text": "Be brief."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "AA=="},
                    },
                    {"type": "text", "text": "Describe it"},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "s"},
                    {"type": "tool_use", "id": "t1", "name": "zoom", "input": {"x": 1}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [{"type": "text", "text": "zoomed"}],
                    },
                    {"type": "text", "text": "and now?"},
                ],
            },
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "A dog"}, {"type": "text", "text": "on grass."}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t2", "content": "plain"}]},
        ],
    }
    assert parse_conversation("anthropic", body) == [
        Message("system", "You are helpful.\nBe brief."),
        Message("user", "Describe it"),
        Message("tool", ""),
        Message("tool", "zoomed"),
        Message("user", "and now?"),
        Message("assistant", "A dog\non grass."),
        Message("tool", "plain"),
    ]


def test_anthropic_string_system_and_content() -> None:
    body = {"system": "sys", "messages": [{"role": "user", "content": "hi"}]}
    assert parse_conversation("anthropic", body) == [Message("system", "sys"), Message("user", "hi")]


def test_anthropic_image_only_turn_is_kept_empty() -> None:
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "http://x"}}]}
        ]
    }
    assert parse_conversation("anthropic", body) == [Message("user", "")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "request body must be a JSON object"),
        ({"messages": {}}, "'messages' must be a non-empty array"),
        ({"messages": [1]}, "messages[0] must be an object"),
        (
            {"messages": [{"role": ["user"], "content": "x"}]},
            "messages[0].role must be a string",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": ["text"], "text": "x"}, {"type": "text", "text": 1}],
                    }
                ]
            },
            "messages[0].content[1].text must be a string",
        ),
        (
            {"messages": [{"role": "user", "content": None}]},
            "messages[0].content must be a string or an array of blocks",
        ),
        ({"messages": [{"role": "user", "content": [7]}]}, "messages[0].content[0] must be an object"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": None}]}]},
            "messages[0].content[0].text must be a string",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": 3}]}
                ]
            },
            "messages[0].content[0].content must be a string or an array of blocks",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "tool_result", "content": ["x"]}]}]},
            "messages[0].content[0].content[0] must be an object",
        ),
        (
            {"system": 5, "messages": [{"role": "user", "content": "x"}]},
            "'system' must be a string or an array of text blocks",
        ),
        ({"system": ["x"], "messages": [{"role": "user", "content": "x"}]}, "system[0] must be an object"),
    ],
)
def test_anthropic_errors(body: Any, message: str) -> None:
    with pytest.raises(WireError) as info:
        parse_conversation("anthropic", body)
    assert info.value.message == message
    assert info.value.status == 400


# -- Responses -----------------------------------------------------------------------------------


def test_responses_string_input_and_instructions() -> None:
    body = {"model": "gpt-4o", "instructions": "be kind", "input": "Build a React table"}
    assert parse_conversation("responses", body) == [
        Message("system", "be kind"),
        Message("user", "Build a React table"),
    ]


def test_responses_items() -> None:
    body = {
        "input": [
            {"role": "developer", "content": "dev rules"},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "look"},
                    {"type": "input_image", "image_url": "https://x/cat.png", "detail": "auto"},
                    {"type": "input_file", "file_id": "f1"},
                ],
            },
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "a cat", "annotations": []}],
            },
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "result text"},
            {
                "type": "function_call_output",
                "call_id": "c2",
                "output": [{"type": "input_text", "text": "listed"}],
            },
            {"type": "item_reference", "id": "msg_1"},
            {"role": "user", "content": "thanks"},
        ]
    }
    assert parse_conversation("responses", body) == [
        Message("developer", "dev rules"),
        Message("user", "look"),
        Message("assistant", "a cat"),
        Message("tool", ""),
        Message("tool", "result text"),
        Message("tool", "listed"),
        Message("user", "thanks"),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (["x"], "request body must be a JSON object"),
        ({}, "'input' must be a string or a non-empty array of items"),
        ({"input": []}, "'input' must be a string or a non-empty array of items"),
        ({"input": 3}, "'input' must be a string or a non-empty array of items"),
        ({"input": "x", "instructions": ["a"]}, "'instructions' must be a string"),
        ({"input": ["x"]}, "input[0] must be an object"),
        ({"input": [{"type": 5}]}, "input[0].type must be a string"),
        (
            {"input": [{"role": {"x": 1}, "content": "x"}]},
            "input[0].role must be a string",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": {}, "text": 1}, "x"]}]},
            "input[0].content[1] must be an object",
        ),
        (
            {"input": [{"role": "user", "content": 1.5}]},
            "input[0].content must be a string or an array of parts",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_text"}]}]},
            "input[0].content[0].text must be a string",
        ),
        (
            {"input": [{"type": "function_call_output", "output": [1]}]},
            "input[0].output[0] must be an object",
        ),
    ],
)
def test_responses_errors(body: Any, message: str) -> None:
    with pytest.raises(WireError) as info:
        parse_conversation("responses", body)
    assert info.value.message == message


def test_unknown_format_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_conversation("gemini", {"messages": []})  # type: ignore[arg-type]


def test_seed_demo_bodies() -> None:
    """The three request shapes of seed 001's demos parse to the same user intent."""
    prompt = "Create a REST API endpoint in Rust using actix-web that handles user registration"
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}
    anthropic = {
        "model": "gpt-4o-mini",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": prompt}],
    }
    responses = {"model": "gpt-4o-mini", "input": prompt}
    expected = [Message("user", prompt)]
    assert parse_conversation("openai_chat", chat) == expected
    assert parse_conversation("anthropic", anthropic) == expected
    assert parse_conversation("responses", responses) == expected


@pytest.mark.parametrize("fmt", ["openai_chat", "anthropic"])
def test_unknown_and_system_roles_are_kept_not_refused(fmt: str) -> None:
    # Claude Code sends a `system` message inside `messages` (beta mid-conversation-system); a new
    # role must reach a same-format provider, and only user/assistant turns steer routing.
    body = {
        "messages": [
            {"role": "user", "content": "fix the bug"},
            {"role": "system", "content": "reminder"},
            {"role": "robot", "content": "beep"},
        ]
    }
    conv = parse_conversation(fmt, body)
    assert [m.role for m in conv] == ["user", "system", "robot"]
    assert routable(conv) == [Message("user", "fix the bug")]


def test_responses_unknown_role_is_kept() -> None:
    conv = parse_conversation(
        "responses", {"input": [{"role": "tool", "content": "x"}, {"role": "user", "content": "hi"}]}
    )
    assert [m.role for m in conv] == ["tool", "user"]

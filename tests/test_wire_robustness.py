"""Malformed input never escapes as anything but a WireError (requests) or a quiet skip (upstream data).

Request bodies come from untrusted clients: whatever `parse_conversation` accepts must translate
or fail with a WireError, never a TypeError. Upstream responses and stream events are untrusted
too: junk must not crash a translator mid-stream.
"""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmroute.wire import (
    SSEEvent,
    WireError,
    parse_conversation,
    translate_request,
    translate_response,
    translator_for,
)

# JSON values biased towards the keys and values these formats use, so the fuzzer reaches deep.
KEYS = st.sampled_from(
    [
        "role",
        "content",
        "type",
        "text",
        "messages",
        "system",
        "input",
        "instructions",
        "tool_calls",
        "function",
        "arguments",
        "name",
        "id",
        "index",
        "tools",
        "tool_choice",
        "image_url",
        "url",
        "source",
        "tool_use_id",
        "call_id",
        "output",
        "delta",
        "choices",
        "usage",
        "finish_reason",
        "stop_reason",
        "message",
        "content_block",
        "partial_json",
        "max_tokens",
        "stop",
        "parameters",
        "input_schema",
        "file",
        "file_data",
        "stream",
        "error",
        "prompt_tokens",
        "output_tokens",
        "prompt_tokens_details",
        "metadata",
        "text_format",
        "format",
        "parallel_tool_calls",
        "response",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(
        [
            "user",
            "assistant",
            "system",
            "developer",
            "tool",
            "function",
            "text",
            "image",
            "image_url",
            "tool_use",
            "tool_result",
            "input_text",
            "output_text",
            "input_image",
            "message",
            "function_call",
            "function_call_output",
            "auto",
            "any",
            "none",
            "required",
            "data:image/png;base64,AA",
            "{}",
            '{"a": 1}',
            "[1]",
            "{bad",
            "",
            "x",
            "message_start",
            "content_block_start",
            "content_block_delta",
            "input_json_delta",
            "text_delta",
            "message_delta",
            "message_stop",
            "error",
            "base64",
            "url",
        ]
    ),
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=6)),
    max_leaves=20,
)
BODIES = st.dictionaries(KEYS, JSON, max_size=8)

PAIRS = [
    ("anthropic", "openai_chat"),
    ("openai_chat", "anthropic"),
    ("responses", "openai_chat"),
    ("responses", "anthropic"),
]

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(body=BODIES)
def test_requests_fail_only_with_wire_error(body: dict[str, Any]) -> None:
    for client, upstream in PAIRS:
        try:
            parse_conversation(client, body)  # type: ignore[arg-type]
        except WireError:
            continue
        with contextlib.suppress(WireError):
            translate_request(client, upstream, body)  # type: ignore[arg-type]


@FUZZ
@given(body=BODIES)
def test_upstream_responses_never_crash(body: dict[str, Any]) -> None:
    for client, upstream in PAIRS:
        out = translate_response(client, upstream, body, "m")  # type: ignore[arg-type]
        assert isinstance(out, dict)


@FUZZ
@given(
    events=st.lists(
        st.tuples(st.one_of(st.none(), SCALARS.filter(lambda s: isinstance(s, str))), JSON), max_size=8
    )
)
def test_stream_translators_never_crash(events: list[tuple[str | None, Any]]) -> None:
    for client, upstream in PAIRS:
        translator = translator_for(client, upstream, "m")  # type: ignore[arg-type]
        assert translator is not None
        for name, data in events:
            translator.feed(SSEEvent(name, orjson.dumps(data).decode()))
        translator.feed(SSEEvent(None, "not json"))
        translator.finish()
        assert translator.done

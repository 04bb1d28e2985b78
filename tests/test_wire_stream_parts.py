"""The parts stream translation is built from: readers, emitters, the shared end, usage, error events.

The translators themselves are tested end to end in test_wire_streams.py. Here: any reader joins
any emitter (so a format pair needs no code of its own), the stream's end is decided once for all
pairs, and the usage and error-event rules each live in one place.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from anthropic.types.shared import ErrorResponse
from openai.types.chat import ChatCompletionChunk

from llmroute.wire import SSEDecoder, StreamUsageReader, Usage, stream_error_event, translator_for
from llmroute.wire.emit_anthropic import AnthropicEmitter
from llmroute.wire.emit_chat import ChatEmitter
from llmroute.wire.read_anthropic import AnthropicStreamReader
from llmroute.wire.read_chat import ChatStreamReader
from llmroute.wire.streaming import TranslatedStream
from llmroute.wire.usage import (
    anthropic_usage,
    chat_usage,
    responses_usage,
    usage_from_anthropic,
    usage_from_chat,
)
from test_wire_streams import (
    RESPONSES_EVENT,
    accumulate_anthropic,
    accumulate_chat,
    anthropic_stream,
    chat_stream,
    run,
)

PAIRS = [
    ("anthropic", "openai_chat"),
    ("openai_chat", "anthropic"),
    ("responses", "openai_chat"),
    ("responses", "anthropic"),
]


def upstream_of(upstream: str) -> bytes:
    return chat_stream() if upstream == "openai_chat" else anthropic_stream()


# -- readers and emitters join freely ------------------------------------------------------------


def test_an_anthropic_stream_read_and_written_again_keeps_its_answer() -> None:
    """Anthropic reader + Anthropic emitter: a pairing no translator uses, built from the parts alone."""
    stream = TranslatedStream(AnthropicStreamReader(), AnthropicEmitter("m"))
    message = accumulate_anthropic(run(stream, anthropic_stream(), 7))
    assert message.model == "claude-sonnet-4-5-20250929"
    assert [block.type for block in message.content] == ["text", "tool_use"]
    assert message.content[0].text == "Checking Zürich weather ☀️."
    assert (message.content[1].id, message.content[1].name, message.content[1].input) == (
        "toolu_01",
        "get_weather",
        {"city": "Zürich"},
    )
    assert message.stop_reason == "tool_use"
    assert stream.usage == Usage(50, 89)


def test_a_chat_stream_read_and_written_again_keeps_its_answer() -> None:
    stream = TranslatedStream(ChatStreamReader(), ChatEmitter("m", include_usage=True))
    state, _ = accumulate_chat(run(stream, chat_stream(), 5))
    completion = state.get_final_completion()
    message = completion.choices[0].message
    assert message.content
    assert message.tool_calls is not None and orjson.loads(message.tool_calls[0].function.arguments)
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.usage is not None and stream.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (
        stream.usage.input_tokens,
        stream.usage.output_tokens,
    )


# -- the end of a stream, once for every pair -----------------------------------------------------


@pytest.mark.parametrize(("client", "upstream"), PAIRS)
def test_finish_then_anything_sends_nothing(client: Any, upstream: Any) -> None:
    translator = translator_for(client, upstream, "m")
    assert translator is not None
    events = SSEDecoder().feed(upstream_of(upstream))
    out = [b for event in events for b in translator.feed(event)]
    assert out and translator.done, "the upstream's terminal event ends the client's stream"
    assert translator.finish() == []
    assert translator.error("late") == []
    assert translator.feed(events[-1]) == []


@pytest.mark.parametrize(("client", "upstream"), PAIRS)
def test_error_then_anything_sends_nothing(client: Any, upstream: Any) -> None:
    translator = translator_for(client, upstream, "m")
    assert translator is not None
    events = SSEDecoder().feed(upstream_of(upstream))
    for event in events[:3]:
        translator.feed(event)
    tail = SSEDecoder().feed(b"".join(translator.error("upstream connection reset", 504)))
    assert translator.done
    assert "upstream connection reset" in tail[-1].data or "upstream connection reset" in tail[0].data
    assert translator.error("again") == [] and translator.finish() == []
    assert translator.feed(events[3]) == []


# -- error events ---------------------------------------------------------------------------------


def test_stream_error_event_in_each_format() -> None:
    (anthropic,) = SSEDecoder().feed(stream_error_event("anthropic", "boom", 429))
    assert anthropic.event == "error"
    assert ErrorResponse.model_validate(anthropic.json()).error.type == "rate_limit_error"
    assert anthropic.json()["error"] == {"type": "rate_limit_error", "message": "boom"}

    (chat,) = SSEDecoder().feed(stream_error_event("openai_chat", "boom", code="upstream_stream_error"))
    assert chat.event is None
    assert chat.json() == {
        "error": {"message": "boom", "type": "server_error", "param": None, "code": "upstream_stream_error"}
    }
    with pytest.raises(ValueError):
        ChatCompletionChunk.model_validate(chat.json())  # not a chunk: the OpenAI SDK raises on it

    (responses,) = SSEDecoder().feed(stream_error_event("responses", "boom", 429, sequence_number=7))
    assert responses.event == "error"
    parsed = RESPONSES_EVENT.validate_python(responses.json())
    assert (parsed.type, parsed.sequence_number, parsed.code) == ("error", 7, "rate_limit_exceeded")
    assert orjson.loads(stream_error_event("responses", "boom").split(b"data: ")[1])["code"] == "server_error"


# -- usage: one rule per format -------------------------------------------------------------------

ANTHROPIC_USAGE = {
    "input_tokens": 10,
    "cache_read_input_tokens": 30,
    "cache_creation_input_tokens": 5,
    "output_tokens": 7,
}


def test_anthropic_cache_tokens_are_prompt_tokens_in_chat_and_responses() -> None:
    usage = usage_from_anthropic(ANTHROPIC_USAGE)
    assert usage == Usage(45, 7) and usage.cached_tokens == 30
    assert chat_usage(usage) == {
        "prompt_tokens": 45,
        "completion_tokens": 7,
        "total_tokens": 52,
        "prompt_tokens_details": {"cached_tokens": 30},
    }
    assert responses_usage(usage)["input_tokens_details"]["cached_tokens"] == 30
    # Back to Anthropic: cached tokens are cache reads; cache writes cannot be told apart any more.
    assert anthropic_usage(usage_from_chat(chat_usage(usage))) == {
        "input_tokens": 15,
        "output_tokens": 7,
        "cache_read_input_tokens": 30,
    }


def test_anthropic_stream_usage_merges_start_and_delta() -> None:
    usage = usage_from_anthropic({"input_tokens": 12, "cache_read_input_tokens": 3, "output_tokens": 1})
    merged = usage_from_anthropic({"output_tokens": 40}, usage)
    assert merged == Usage(15, 40) and merged.cached_tokens == 3


def test_chat_usage_keeps_its_details_for_responses() -> None:
    usage = usage_from_chat(
        {
            "prompt_tokens": 20,
            "completion_tokens": 9,
            "total_tokens": 31,  # some servers count more than the two parts
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 6},
        }
    )
    assert usage == Usage(20, 9)
    body = responses_usage(usage)
    assert body["total_tokens"] == 31
    assert body["output_tokens_details"] == {"reasoning_tokens": 6}
    assert body["input_tokens_details"] == {"cached_tokens": 4, "cache_write_tokens": 0}


@pytest.mark.parametrize(("client", "upstream"), [("anthropic", "openai_chat"), ("openai_chat", "anthropic")])
def test_translated_and_piped_streams_count_the_same_usage(client: Any, upstream: Any) -> None:
    """The usage a translator reports is what a piped stream of the upstream's format reports."""
    events = SSEDecoder().feed(upstream_of(upstream))
    translator = translator_for(client, upstream, "m")
    reader = StreamUsageReader(upstream)
    assert translator is not None
    for event in events:
        translator.feed(event)
        reader.feed(event)
    assert translator.usage is not None and translator.usage == reader.usage

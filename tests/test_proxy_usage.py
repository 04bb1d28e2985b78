"""Token usage read from a piped (same-format) response body without parsing it (wire/usage.py)."""

from __future__ import annotations

import orjson

from llmroute.wire import Usage
from llmroute.wire.usage import usage_from_bytes


def test_openai_usage_is_the_last_usage_object_and_ignores_lookalike_keys() -> None:
    body = orjson.dumps(
        {
            "choices": [{"message": {"content": 'he wrote "prompt_tokens": 999 in a string'}}],
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": 34,
                "prompt_tokens_details": {"cached_tokens": 5},
            },
        }
    )
    assert usage_from_bytes("openai_chat", body) == Usage(12, 34)


def test_spaces_around_the_colon_are_fine() -> None:
    assert usage_from_bytes(
        "openai_chat", b'{"usage": {"prompt_tokens" : 7, "completion_tokens":\n 8}}'
    ) == Usage(7, 8)


def test_anthropic_counts_cached_input_with_the_input() -> None:
    body = orjson.dumps(
        {
            "content": [{"type": "text", "text": "hi"}],
            "usage": {
                "input_tokens": 10,
                "cache_creation_input_tokens": 3,
                "cache_read_input_tokens": 4,
                "output_tokens": 2,
            },
        }
    )
    assert usage_from_bytes("anthropic", body) == Usage(17, 2)


def test_no_usage_or_no_numbers_is_none() -> None:
    assert usage_from_bytes("responses", b'{"output": []}') is None
    assert (
        usage_from_bytes("openai_chat", b'{"usage": {"prompt_tokens": null, "completion_tokens": null}}')
        is None
    )

"""Same-format traffic passes through; translated traffic drops deliberately (SPEC §11, issue 16).

What the gateway does not need to understand (new fields, roles, block types, beta headers) must
reach a provider of the client's own API unchanged: only `model` (and auth) is rewritten. When it
translates, what has no counterpart is left out and counted, never refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fakes.gateway_setup import TwoProviders, two_providers


@pytest.fixture(scope="module")
def env() -> Iterator[TwoProviders]:
    with two_providers() as setup:
        yield setup


def post(env: TwoProviders, path: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return httpx.post(env.gateway.url + path, json=body, headers=headers, timeout=10)


def test_anthropic_body_and_betas_pass_through_unchanged(env: TwoProviders) -> None:
    body = {
        "model": "claude-sonnet-4",
        "max_tokens": 100,
        "system": [{"type": "text", "text": "rules", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "future_block", "x": [1]}]},
            {"role": "system", "content": "mid-conversation reminder"},
            {"role": "narrator", "content": "a role from a future API"},
        ],
        "thinking": {"type": "adaptive"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "high"},
        "brand_new_option": {"nested": True},
    }
    headers = {
        "x-api-key": "client-key",
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "claude-code-20250219,new-beta-2027-01-01",
    }
    response = post(env, "/v1/messages?beta=true", body, headers)
    assert response.status_code == 200, response.text
    received = env.anthropic.last
    assert received.body == {**body, "model": "claude-sonnet-4"}
    assert received.headers["anthropic-beta"] == "claude-code-20250219,new-beta-2027-01-01"
    assert received.headers["anthropic-version"] == "2023-06-01"
    assert received.headers["x-api-key"] == "sk-ant-test"  # the platform's key replaces the client's


def test_chat_body_and_openai_beta_pass_through_unchanged(env: TwoProviders) -> None:
    body = {
        "model": "gpt-4o",
        "messages": [
            {"role": "developer", "content": "be brief"},
            {"role": "critic", "content": "a role from a future API"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "future_part", "y": 2}]},
        ],
        "brand_new_option": [1, 2],
        "verbosity": "low",
    }
    response = post(
        env, "/v1/chat/completions", body, {"openai-beta": "assistants=v2", "authorization": "Bearer c"}
    )
    assert response.status_code == 200, response.text
    received = env.openai.last
    assert received.body == body
    assert received.headers["openai-beta"] == "assistants=v2"
    assert received.headers["authorization"] == "Bearer sk-openai-test"


def test_responses_body_passes_through_unchanged(env: TwoProviders) -> None:
    body = {
        "model": "gpt-4o",
        "input": [
            {"role": "user", "content": "hi"},
            {"type": "future_item", "payload": {"a": 1}},
        ],
        "tools": [{"type": "namespace", "name": "multi_agent_v1", "tools": []}],
        "client_metadata": {"session_id": "s"},
        "include": ["reasoning.encrypted_content"],
    }
    response = post(env, "/v1/responses", body, {})
    assert response.status_code == 200, response.text
    assert env.openai.last.path == "/v1/responses"
    assert env.openai.last.body == body


def test_translation_drops_are_counted_not_refused(env: TwoProviders) -> None:
    body = {
        "model": "gpt-4o",  # an OpenAI model: the Anthropic request is translated
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "s"},
                    {"type": "text", "text": "Hi"},
                ],
            },
            {"role": "user", "content": "again"},
        ],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "top_k": 5,
        "brand_new_option": 1,
    }
    response = post(env, "/v1/messages", body, {"anthropic-beta": "interleaved-thinking-2025-05-14"})
    assert response.status_code == 200, response.text
    received = env.openai.last
    assert received.path == "/v1/chat/completions"
    for field in ("thinking", "top_k", "brand_new_option"):
        assert field not in received.body
    assert "anthropic-beta" not in received.headers
    assert received.body["messages"][1] == {"role": "assistant", "content": "Hi"}
    metrics = httpx.get(env.gateway.url + "/metrics").text
    for field in ("thinking", "top_k", "other", "block:thinking"):
        line = (
            f'llmroute_translation_dropped_total{{client="anthropic",field="{field}",upstream="openai_chat"}}'
        )
        assert line in metrics, field

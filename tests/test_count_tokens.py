"""`POST /v1/messages/count_tokens` (SPEC §11, issue 16): the provider's own count when it speaks
Anthropic, else an estimate with a real tokenizer, labelled as one."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import orjson
import pytest

from fakes.gateway_setup import TwoProviders, two_providers
from llmroute.proxy.token_estimate import estimate_tokens

BODY = {
    "model": "claude-sonnet-4",
    "system": [{"type": "text", "text": "You are a coding agent."}],
    "messages": [
        {"role": "user", "content": "Count the tokens of this conversation, please."},
        {"role": "system", "content": "mid-conversation reminder"},
    ],
    "tools": [{"name": "Read", "description": "Read a file", "input_schema": {"type": "object"}}],
    "thinking": {"type": "adaptive"},
}


@pytest.fixture(scope="module")
def env() -> Iterator[TwoProviders]:
    with two_providers() as setup:
        yield setup


def count(env: TwoProviders, body: dict, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        env.gateway.url + "/v1/messages/count_tokens", json=body, headers=headers or {}, timeout=10
    )


def test_anthropic_provider_counts_itself(env: TwoProviders) -> None:
    response = count(env, BODY, {"anthropic-beta": "token-counting-2024-11-01", "x-api-key": "client"})
    assert response.status_code == 200, response.text
    assert response.json() == {"input_tokens": len(orjson.dumps(BODY["messages"])) // 4}
    assert response.headers["x-llmroute-token-count"] == "exact"
    received = env.anthropic.last
    assert received.path == "/v1/messages/count_tokens"
    assert received.body == BODY  # passed through (the model id is the same here)
    assert received.headers["x-api-key"] == "sk-ant-test"
    assert received.headers["anthropic-beta"] == "token-counting-2024-11-01"


def test_openai_provider_gets_an_estimate(env: TwoProviders) -> None:
    before = len(env.openai.requests)
    response = count(env, {**BODY, "model": "gpt-4o"})
    assert response.status_code == 200, response.text
    assert response.headers["x-llmroute-token-count"] == "estimate"
    assert response.headers["x-llmroute-model"] == "openai/gpt-4o"
    tokens = response.json()["input_tokens"]
    assert 20 <= tokens <= 80  # about 45 words and symbols of text, tool schema included
    assert len(env.openai.requests) == before  # nothing was sent to the OpenAI provider


def test_estimate_grows_with_the_conversation() -> None:
    short, how = estimate_tokens({"messages": [{"role": "user", "content": "hello there"}]})
    long, _ = estimate_tokens({"messages": [{"role": "user", "content": "hello there " * 5000}]})
    assert how == "estimate"
    assert short < 10 and long >= 10000  # no truncation at the router's 128 word pieces


def test_anthropic_compatible_provider_without_the_endpoint_gets_an_estimate(env: TwoProviders) -> None:
    env.anthropic.counts_tokens = False
    try:
        response = count(env, BODY)
    finally:
        env.anthropic.counts_tokens = True
    assert response.status_code == 200, response.text
    assert response.headers["x-llmroute-token-count"] == "estimate"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({**BODY, "model": "no-such-model"}, 400, "not found"),  # as on /v1/messages (SPEC §3.5)
        ({"model": "claude-sonnet-4", "messages": "hi"}, 400, "messages"),
        ({"model": "claude-sonnet-4", "messages": [{"role": 3, "content": "x"}]}, 400, "role"),
    ],
)
def test_bad_requests_get_anthropic_errors(env: TwoProviders, body: dict, status: int, words: str) -> None:
    response = count(env, body)
    assert response.status_code == status
    error = response.json()
    assert error["type"] == "error" and words in error["error"]["message"]

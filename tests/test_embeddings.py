"""`POST /v1/embeddings` (SPEC §11, issue 16): proxied to OpenAI-compatible providers with model,
alias and wildcard resolution, keys, cooldowns, rate limits and metrics like chat."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from openai import OpenAI

from conftest import RunningGateway
from fakes.providers import Fail, FakeProvider


@dataclass
class Env:
    gateway: RunningGateway
    openai: FakeProvider
    local: FakeProvider


def config(openai: FakeProvider, local: FakeProvider, extra: str = "") -> str:
    return f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 5s}}]
model_providers:
  - model: openai/text-embedding-3-small
    access_key: sk-openai-embed
    base_url: {openai.url}
    default: true
  - model: local/*
    provider_interface: openai
    base_url: {local.url}/v1
  - model: anthropic/claude-sonnet-4
    access_key: sk-ant-x
model_aliases:
  embedder: {{target: openai/text-embedding-3-small}}
{extra}
"""


@pytest.fixture
def env() -> Iterator[Env]:
    with FakeProvider() as openai, FakeProvider() as local, RunningGateway(config(openai, local)) as gateway:
        yield Env(gateway, openai, local)


def embed(env: Env, body: dict, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(env.gateway.url + "/v1/embeddings", json=body, headers=headers or {}, timeout=10)


def test_openai_sdk_gets_embeddings(env: Env) -> None:
    client = OpenAI(base_url=env.gateway.url + "/v1", api_key="client-key")
    result = client.embeddings.create(model="text-embedding-3-small", input=["hello world", "bye"])
    assert [d.embedding for d in result.data] == [[11.0, 2.0, 104.0], [3.0, 1.0, 98.0]]
    assert result.usage.prompt_tokens == 3
    received = env.openai.last
    assert received.path == "/v1/embeddings"
    assert received.body["model"] == "text-embedding-3-small"
    assert received.body["input"] == ["hello world", "bye"]
    assert received.headers["authorization"] == "Bearer sk-openai-embed"


def test_alias_wildcard_and_default(env: Env) -> None:
    assert embed(env, {"model": "embedder", "input": "a"}).headers["x-llmroute-model"] == (
        "openai/text-embedding-3-small"
    )
    local = embed(env, {"model": "local/nomic-embed-text", "input": [[1, 2, 3]], "dimensions": 3})
    assert local.status_code == 200, local.text
    assert env.local.last.path == "/v1/embeddings"
    assert env.local.last.body == {"model": "nomic-embed-text", "input": [[1, 2, 3]], "dimensions": 3}
    default = embed(env, {"input": "no model given"})
    assert default.status_code == 200
    assert default.headers["x-llmroute-model"] == "openai/text-embedding-3-small"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"model": "nope", "input": "a"}, "Model 'nope' not found"),
        ({"model": "text-embedding-3-small"}, "'input'"),
        ({"model": "text-embedding-3-small", "input": []}, "'input'"),
        ({"model": "text-embedding-3-small", "input": [1, "a"]}, "'input'"),
        ({"model": 5, "input": "a"}, "'model'"),
        ({"model": "claude-sonnet-4", "input": "a"}, "without an embeddings API"),
    ],
)
def test_bad_requests_are_400_in_openai_format(env: Env, body: dict, words: str) -> None:
    response = embed(env, body)
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]["message"]


def test_429_cools_the_model_down_and_5xx_is_a_502(env: Env) -> None:
    env.openai.script(Fail(500))
    failed = embed(env, {"input": "a"})
    assert failed.status_code == 502
    assert "sk-openai-embed" not in failed.text
    env.openai.script(Fail(429, headers={"Retry-After": "30"}))
    assert embed(env, {"input": "a"}).status_code == 503  # as for chat: every candidate failed
    calls = len(env.openai.requests)
    cooling = embed(env, {"input": "a"})  # cooling down: the provider is not called
    assert cooling.status_code == 503
    assert "cooling down" in cooling.json()["error"]["message"]
    assert len(env.openai.requests) == calls
    metrics = httpx.get(env.gateway.url + "/metrics").text
    assert 'llmroute_requests_total{endpoint="/v1/embeddings",status="503"}' in metrics
    assert 'llmroute_cooldowns_total{model="openai/text-embedding-3-small"}' in metrics


def test_metrics_count_requests_and_tokens(env: Env) -> None:
    assert embed(env, {"input": "one two three"}).status_code == 200
    metrics = httpx.get(env.gateway.url + "/metrics").text
    assert 'llmroute_requests_total{endpoint="/v1/embeddings",status="200"}' in metrics
    assert 'llmroute_tokens_total{kind="input",model="openai/text-embedding-3-small"}' in metrics


def test_gateway_keys_and_rate_limits_apply() -> None:
    governance = """
auth:
  keys:
    - {name: team, key: team-key, allowed_models: [openai/*]}
rate_limits:
  rules:
    - {name: embed, models: [openai/text-embedding-3-small], requests_per_minute: 1}
"""
    with (
        FakeProvider() as openai,
        FakeProvider() as local,
        RunningGateway(config(openai, local, governance)) as gateway,
    ):
        url = gateway.url + "/v1/embeddings"
        assert httpx.post(url, json={"input": "a"}).status_code == 401
        team = {"Authorization": "Bearer team-key"}
        denied = httpx.post(url, json={"model": "local/x", "input": "a"}, headers=team)
        assert denied.status_code == 403
        assert httpx.post(url, json={"input": "a"}, headers=team).status_code == 200
        limited = httpx.post(url, json={"input": "a"}, headers=team)
        assert limited.status_code == 429
        assert len(openai.requests) == 1

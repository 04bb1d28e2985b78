"""Bad input, auth handling and the decision headers on the proxy endpoints."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import REGISTRY

from conftest import RunningGateway
from fakes.providers import FakeProvider, wait_until

KEY = "sk-configured-secret-4242"
CLIENT_KEY = "sk-client-own-key-1111"
PATHS = ["/v1/chat/completions", "/v1/messages", "/v1/responses"]


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[httpx.Client, FakeProvider]]:
    with FakeProvider() as fake:
        config = f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 5s}}]
model_providers:
  - model: openai/gpt-4o
    access_key: {KEY}
    base_url: {fake.url}
    headers: {{X-Team: platform}}
  - model: vllm/my-model
    base_url: {fake.url}/v1
    passthrough_auth: true
  - model: anthropic/*
    access_key: {KEY}-ant
    base_url: {fake.url}
  - model: azure_openai/my-deployment
    access_key: {KEY}-azure
    base_url: {fake.url}
    api_version: 2025-01-01-preview
  - model: gemini/gemini-2.5-flash
    access_key: {KEY}-gemini
    base_url: {fake.url}
model_aliases:
  fast:
    target: openai/gpt-4o
"""
        with RunningGateway(config) as gateway, httpx.Client(base_url=gateway.url, timeout=10) as http:
            yield http, fake


def body_for(path: str, model: str) -> dict[str, object]:
    if path.endswith("/messages"):
        return {"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    if path.endswith("/responses"):
        return {"model": model, "input": "hi"}
    return {"model": model, "messages": [{"role": "user", "content": "hi"}]}


def assert_error_format(path: str, payload: dict[str, object], text: str) -> None:
    if path.endswith("/messages"):
        assert payload["type"] == "error"
        error = payload["error"]
        assert (
            isinstance(error, dict) and error["type"] == "invalid_request_error" and text in error["message"]
        )
    else:
        error = payload["error"]
        assert isinstance(error, dict) and text in error["message"]


@pytest.mark.parametrize("path", PATHS)
def test_unknown_model_is_a_400_in_the_clients_format(
    env: tuple[httpx.Client, FakeProvider], path: str
) -> None:
    http, fake = env
    before = len(fake.requests)
    response = http.post(path, json=body_for(path, "nope/unknown-model"))
    assert response.status_code == 400
    assert_error_format(path, response.json(), "Model 'nope/unknown-model' not found in configured providers")
    assert len(fake.requests) == before


@pytest.mark.parametrize("path", PATHS)
def test_bad_json_is_a_400(env: tuple[httpx.Client, FakeProvider], path: str) -> None:
    http, _ = env
    response = http.post(
        path,
        content=b'{"model": "openai/gpt-4o", "messages": [',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert_error_format(path, response.json(), "not valid JSON")


@pytest.mark.parametrize("path", PATHS)
def test_malformed_request_is_a_400_naming_the_field(
    env: tuple[httpx.Client, FakeProvider], path: str
) -> None:
    http, _ = env
    body = body_for(path, "openai/gpt-4o")
    if path.endswith("/responses"):
        body["input"] = 42
        field = "'input'"
    else:
        body["messages"] = "hello"
        field = "'messages'"
    response = http.post(path, json=body)
    assert response.status_code == 400
    assert_error_format(path, response.json(), field)


def test_oversized_body_is_a_413(env: tuple[httpx.Client, FakeProvider]) -> None:
    http, fake = env
    before = len(fake.requests)
    huge = "x" * (9 * 1024 * 1024)
    response = http.post(
        "/v1/messages",
        json={"model": "openai/gpt-4o", "max_tokens": 1, "messages": [{"role": "user", "content": huge}]},
    )
    assert response.status_code == 413
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "request_too_large"
    assert len(fake.requests) == before


def test_configured_key_and_headers_replace_the_clients(env: tuple[httpx.Client, FakeProvider]) -> None:
    http, fake = env
    response = http.post(
        "/v1/chat/completions",
        json=body_for("/v1/chat/completions", "fast"),
        headers={"Authorization": f"Bearer {CLIENT_KEY}", "x-api-key": CLIENT_KEY},
    )
    assert response.status_code == 200
    assert response.headers["x-llmroute-model"] == "openai/gpt-4o"
    received = fake.last.headers
    assert received["authorization"] == f"Bearer {KEY}"
    assert received["x-team"] == "platform"
    assert CLIENT_KEY not in str(received)


def test_passthrough_auth_forwards_the_clients_key(env: tuple[httpx.Client, FakeProvider]) -> None:
    http, fake = env
    response = http.post(
        "/v1/chat/completions",
        json=body_for("/v1/chat/completions", "vllm/my-model"),
        headers={"Authorization": f"Bearer {CLIENT_KEY}"},
    )
    assert response.status_code == 200
    # base_url ending in /v1 does not get a second /v1.
    assert fake.last.path == "/v1/chat/completions"
    assert fake.last.headers["authorization"] == f"Bearer {CLIENT_KEY}"
    assert fake.last.body["model"] == "my-model"
    # An Anthropic client's x-api-key is forwarded in the provider's own auth style.
    response = http.post(
        "/v1/messages", json=body_for("/v1/messages", "vllm/my-model"), headers={"x-api-key": CLIENT_KEY}
    )
    assert response.status_code == 200
    assert fake.last.headers["authorization"] == f"Bearer {CLIENT_KEY}"


def test_wildcard_provider_forwards_the_requested_model_id(env: tuple[httpx.Client, FakeProvider]) -> None:
    http, fake = env
    response = http.post("/v1/messages", json=body_for("/v1/messages", "anthropic/claude-opus-4-1"))
    assert response.status_code == 200
    assert response.headers["x-llmroute-model"] == "anthropic/claude-opus-4-1"
    assert fake.last.path == "/v1/messages"
    assert fake.last.body["model"] == "claude-opus-4-1"
    assert fake.last.headers["x-api-key"] == f"{KEY}-ant"


def test_traceparent_continues_the_clients_trace(env: tuple[httpx.Client, FakeProvider]) -> None:
    http, fake = env
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = http.post(
        "/v1/chat/completions",
        json=body_for("/v1/chat/completions", "openai/gpt-4o"),
        headers={"traceparent": incoming},
    )
    outgoing = response.headers["traceparent"]
    assert outgoing.split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert outgoing.split("-")[2] != "00f067aa0ba902b7"
    # The provider call continues the same trace (as a child span of the gateway's).
    upstream = fake.last.headers["traceparent"].split("-")
    assert upstream[1] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert upstream[2] != "00f067aa0ba902b7"


def test_azure_deployment_path_api_version_and_key(env: tuple[httpx.Client, FakeProvider]) -> None:
    http, fake = env
    response = http.post("/v1/messages", json=body_for("/v1/messages", "azure_openai/my-deployment"))
    assert response.status_code == 200
    assert fake.last.path == "/openai/deployments/my-deployment/chat/completions"
    assert fake.last.query == {"api-version": "2025-01-01-preview"}
    assert fake.last.headers["api-key"] == f"{KEY}-azure"
    assert "authorization" not in fake.last.headers
    assert fake.last.body["model"] == "my-deployment"


def test_gemini_keeps_its_path_prefix_behind_a_base_url(env: tuple[httpx.Client, FakeProvider]) -> None:
    http, fake = env
    response = http.post(
        "/v1/chat/completions", json=body_for("/v1/chat/completions", "gemini/gemini-2.5-flash")
    )
    assert response.status_code == 200
    assert fake.last.path == "/v1beta/openai/chat/completions"
    assert fake.last.headers["authorization"] == f"Bearer {KEY}-gemini"


@pytest.mark.parametrize("stream", [False, True])
def test_token_usage_is_counted(env: tuple[httpx.Client, FakeProvider], stream: bool) -> None:
    http, _ = env
    labels = {"model": "openai/gpt-4o"}
    before_in = REGISTRY.get_sample_value("llmroute_tokens_total", {**labels, "kind": "input"}) or 0.0
    before_out = REGISTRY.get_sample_value("llmroute_tokens_total", {**labels, "kind": "output"}) or 0.0
    body = {**body_for("/v1/chat/completions", "openai/gpt-4o"), "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    response.read()
    # The fake reports 11 prompt and 7 completion tokens; the piped body is only scanned for them.
    assert wait_until(
        lambda: (
            (REGISTRY.get_sample_value("llmroute_tokens_total", {**labels, "kind": "input"}) or 0.0)
            == before_in + 11
        )
    )
    assert REGISTRY.get_sample_value("llmroute_tokens_total", {**labels, "kind": "output"}) == before_out + 7

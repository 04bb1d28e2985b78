"""One shape per answer: a pinned no-match session answers like its first (unpinned) request, the proxy's
headers say whether the answer was pinned, and an unrouted request carries no route header."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from conftest import RunningGateway

CONFIG = """
version: v0.4.0
model_providers:
  - {model: echo/mini, default: true}
  - {model: echo/coder}
model_aliases:
  quick: {target: echo/mini}
routing_preferences:
  - name: code_generation
    description: writing new code, functions and classes in Python or JavaScript
    models: [echo/coder]
"""


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with RunningGateway(CONFIG) as gateway, httpx.Client(base_url=gateway.url, timeout=10) as client:
        yield client


def chat(text: str, model: str | None = None) -> dict:
    body: dict = {"messages": [{"role": "user", "content": text}]}
    if model:
        body["model"] = model
    return body


def test_pinned_no_match_keeps_the_no_match_shape(http: httpx.Client) -> None:
    headers = {"X-Session-Id": "no-match-1"}
    first = http.post(
        "/routing/v1/chat/completions", json=chat("What is the capital of France?"), headers=headers
    )
    later = http.post("/routing/v1/chat/completions", json=chat("And of Spain?"), headers=headers)
    first_body, later_body = first.json(), later.json()
    assert first_body["pinned"] is False and later_body["pinned"] is True
    for body in (first_body, later_body):
        assert body["models"] == ["none"] and body["model"] == "none" and body["route"] is None
        assert body["fallback_model"] == "echo/mini"
    drop = {"trace_id", "pinned"}
    assert {k for k in first_body if k not in drop} == {k for k in later_body if k not in drop}


def test_pinned_route_and_alias_keep_the_models_shape(http: httpx.Client) -> None:
    headers = {"X-Session-Id": "alias-1"}
    for _ in range(2):
        body = http.post("/routing/v1/chat/completions", json=chat("hi", "quick"), headers=headers).json()
        assert body["models"] == ["echo/mini"] and "fallback_model" not in body


def test_proxy_headers_say_pinned_and_omit_an_unmatched_route(http: httpx.Client) -> None:
    headers = {"X-Session-Id": "proxy-1"}
    first = http.post("/v1/chat/completions", json=chat("What is the capital of France?"), headers=headers)
    later = http.post("/v1/chat/completions", json=chat("And of Spain?"), headers=headers)
    assert first.status_code == later.status_code == 200
    assert first.headers["x-llmroute-pinned"] == "false"
    assert later.headers["x-llmroute-pinned"] == "true"
    for response in (first, later):
        assert "x-llmroute-route" not in response.headers
        assert response.headers["x-llmroute-model"] == "echo/mini"
    plain = http.post("/v1/chat/completions", json=chat("hello"))
    assert plain.headers["x-llmroute-pinned"] == "false"

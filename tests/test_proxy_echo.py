"""The `make run` demo: examples/demo.yaml answers with the built-in echo provider, no keys, no network."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from conftest import EXAMPLES, RunningGateway
from fakes.sse import json_events, stream_text

PROMPTS = [
    "Write a Python function that implements binary search",
    "What is the capital of France?",
    "Write a short poem about the sea at night",
    "Compare the trade-offs between microservices and a monolith, step by step",
]


@pytest.fixture(scope="module")
def demo() -> Iterator[httpx.Client]:
    gateway = RunningGateway((EXAMPLES / "demo.yaml").read_text())
    with gateway, httpx.Client(base_url=gateway.url, timeout=30) as http:
        yield http


def test_demo_answers_chat_completions_and_shows_the_route(demo: httpx.Client) -> None:
    first_models = {
        "code_generation": "echo/smart",
        "complex_reasoning": "echo/smart",
        "creative_writing": "echo/creative",
    }
    routed = []
    for prompt in PROMPTS:
        response = demo.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": prompt}]})
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"] == f"echo: {prompt}"
        route = response.headers.get("x-llmroute-route")
        if route is None:
            assert response.headers["x-llmroute-model"] == "echo/fast"  # the default model
        else:
            assert response.headers["x-llmroute-model"] == first_models[route]
            routed.append(route)
    assert routed, "the demo should route at least one of its sample prompts"


@pytest.mark.parametrize("prompt", PROMPTS)
def test_proxy_and_decision_endpoint_agree(demo: httpx.Client, prompt: str) -> None:
    body = {"messages": [{"role": "user", "content": prompt}]}
    decision = demo.post("/routing/v1/chat/completions", json=body).json()
    response = demo.post("/v1/chat/completions", json=body)
    expected_model = decision["model"] if decision["route"] else decision["fallback_model"]
    assert response.headers["x-llmroute-model"] == expected_model
    assert response.headers.get("x-llmroute-route") == decision["route"]


def test_demo_alias_and_other_client_formats(demo: httpx.Client) -> None:
    alias = demo.post(
        "/v1/chat/completions", json={"model": "fast-model", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert alias.headers["x-llmroute-model"] == "echo/fast"
    message = demo.post(
        "/v1/messages",
        json={"model": "echo/fast", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
    ).json()
    assert message["content"] == [{"type": "text", "text": "echo: hi"}]
    assert message["usage"]["output_tokens"] == 2
    response = demo.post("/v1/responses", json={"model": "echo/fast", "input": "hi", "stream": True})
    assert stream_text("responses", response.text) == "echo: hi"
    assert json_events(response.text)[-1][0] == "response.completed"

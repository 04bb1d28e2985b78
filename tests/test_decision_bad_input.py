"""Bad input to the decision endpoints: always a 4xx JSON error in the client's format, never a 500."""

from __future__ import annotations

import httpx
import pytest

CONFIG = """
version: v0.4.0
model_providers:
  - model: openai/gpt-4o-mini
    default: true
  - model: anthropic/claude-sonnet-4-20250514
routing_preferences:
  - name: code_generation
    description: generating new code, writing functions
    models: [anthropic/claude-sonnet-4-20250514]
"""


@pytest.fixture(scope="module")
def gw():  # type: ignore[no-untyped-def]
    from conftest import RunningGateway

    with RunningGateway(CONFIG) as gateway:
        yield gateway


def assert_openai_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["message"]
    assert "Traceback" not in response.text
    return body["error"]


CHAT = "/routing/v1/chat/completions"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "JSON object"),
        (b'{"messages": "hi"}', "messages"),
        (b'{"model": "gpt-4o-mini"}', "messages"),
        (b'{"messages": []}', "messages"),
        (b'{"messages": [{"role": "user", "content": 42}]}', "content"),
        (b'{"messages": [{"role": 7, "content": "hi"}]}', "role"),  # unknown role names are kept (SPEC §11)
        (
            b'{"messages": [{"role": "user", "content": "hi"}], "routing_preferences": "code"}',
            "routing_preferences",
        ),
        (
            b'{"messages": [{"role": "user", "content": "hi"}], "routing_preferences": [{"name": "x"}]}',
            "routing_preferences[0]",
        ),
        (
            b'{"messages": [{"role": "user", "content": "hi"}], '
            b'"routing_preferences": [{"name": "x", "description": "y", "models": ["nope/model"]}]}',
            "nope/model",
        ),
        (
            b'{"messages": [{"role": "user", "content": "hi"}], "routing_policy": [{"model": 3}]}',
            "routing_policy",
        ),
    ],
)
def test_bad_bodies_are_400(gw, content: bytes, fragment: str) -> None:  # type: ignore[no-untyped-def]
    response = httpx.post(gw.url + CHAT, content=content, headers={"content-type": "application/json"})
    error = assert_openai_error(response, 400)
    assert fragment in error["message"]


def test_anthropic_endpoint_errors_in_anthropic_format(gw) -> None:  # type: ignore[no-untyped-def]
    response = httpx.post(gw.url + "/routing/v1/messages", content=b"{oops")
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"


def test_ten_megabyte_body_is_413(gw) -> None:  # type: ignore[no-untyped-def]
    huge = b'{"messages": [{"role": "user", "content": "' + b"a" * (10 * 1024 * 1024) + b'"}]}'
    response = httpx.post(gw.url + CHAT, content=huge, headers={"content-type": "application/json"})
    assert_openai_error(response, 413)


def test_unknown_path_is_404_json(gw) -> None:  # type: ignore[no-untyped-def]
    error = assert_openai_error(httpx.get(gw.url + "/nope"), 404)
    assert "/nope" in error["message"]


def test_wrong_method_is_405_json(gw) -> None:  # type: ignore[no-untyped-def]
    assert_openai_error(httpx.get(gw.url + CHAT), 405)


def test_unknown_model_is_the_same_400_as_the_proxy(gw) -> None:  # type: ignore[no-untyped-def]
    body = {"model": "gpt-99", "messages": [{"role": "user", "content": "what's the weather like"}]}
    decision = assert_openai_error(httpx.post(gw.url + CHAT, json=body), 400)
    proxied = assert_openai_error(httpx.post(gw.url + "/v1/chat/completions", json=body), 400)
    assert decision == proxied
    assert decision["code"] == "model_not_found"
    assert "Model 'gpt-99' not found in configured providers" in decision["message"]


def test_health_and_ready(gw) -> None:  # type: ignore[no-untyped-def]
    assert httpx.get(gw.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(gw.url + "/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"config": True, "router": True, "metric_sources": True}


def test_models_list(gw) -> None:  # type: ignore[no-untyped-def]
    data = httpx.get(gw.url + "/v1/models").json()
    assert data["object"] == "list"
    ids = [m["id"] for m in data["data"]]
    assert ids == ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-20250514"]
    assert all(set(m) == {"id", "object", "created", "owned_by"} for m in data["data"])

"""The one dispatcher (server/app.py): every request, whatever its path, method or outcome, takes
the same steps, so 401/404/405/408/413/400/502 answers come in the client's API format with the
request's `traceparent`. Real HTTP to a gateway on loopback; the three client formats each time."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from conftest import RunningGateway, free_port
from fakes.providers import FakeProvider
from gateway_process import NO_ROUTER

KEY = "gw-dispatch-key-0001"
AUTH = {"Authorization": f"Bearer {KEY}"}
# (path, client format): the proxy and decision endpoints of each client API
PATHS = [
    ("/v1/chat/completions", "openai_chat"),
    ("/v1/messages", "anthropic"),
    ("/v1/responses", "responses"),
    ("/routing/v1/chat/completions", "openai_chat"),
    ("/routing/v1/messages", "anthropic"),
    ("/routing/v1/responses", "responses"),
]
PROXY_PATHS = PATHS[:3]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def body_for(fmt: str, text: str = "hi") -> dict[str, object]:
    if fmt == "anthropic":
        return {"max_tokens": 10, "messages": [{"role": "user", "content": text}]}
    if fmt == "responses":
        return {"input": text}
    return {"messages": [{"role": "user", "content": text}]}


def error_of(fmt: str, response: httpx.Response) -> dict[str, object]:
    """The error object, after checking the body has `fmt`'s documented error shape."""
    payload = response.json()
    assert response.headers["content-type"] == "application/json"
    if fmt == "anthropic":
        assert payload["type"] == "error", payload
        assert set(payload["error"]) >= {"type", "message"}, payload
    else:
        assert set(payload["error"]) >= {"message", "type", "param", "code"}, payload
    error = payload["error"]
    assert isinstance(error, dict)
    return error


def assert_traced(response: httpx.Response) -> None:
    """The response's traceparent continues the client's trace (every path: one way to do it)."""
    version, trace_id, span_id, flags = response.headers["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
    assert span_id != "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[httpx.Client, RunningGateway]]:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there: every call fails to connect
    with FakeProvider() as fake:
        config = f"""
model_providers:
  - {{model: openai/gpt-4o, access_key: sk-dispatch-1, base_url: {fake.url}, default: true}}
  - {{model: openai/gone, access_key: sk-dispatch-2, base_url: {dead}}}
{NO_ROUTER}limits: {{max_body_bytes: 2KiB, body_timeout: 1s}}
auth:
  keys: [{{key: {KEY}, name: team}}]
"""
        with (
            RunningGateway(config) as gw,
            httpx.Client(base_url=gw.url, timeout=10, headers={"traceparent": TRACEPARENT}) as http,
        ):
            yield http, gw


@pytest.mark.parametrize(("path", "fmt"), PATHS)
def test_a_missing_key_is_a_401_in_the_clients_format(
    gateway: tuple[httpx.Client, RunningGateway], path: str, fmt: str
) -> None:
    http, _ = gateway
    response = http.post(path, json=body_for(fmt))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="llmroute"'
    error = error_of(fmt, response)
    assert "Missing API key" in str(error["message"])
    assert_traced(response)


@pytest.mark.parametrize(
    ("path", "fmt"),
    [("/v1/nothing-here", "openai_chat"), ("/v2/messages", "anthropic"), ("/v2/responses", "responses")],
)
def test_an_unknown_path_is_a_404_in_the_format_its_name_suggests(
    gateway: tuple[httpx.Client, RunningGateway], path: str, fmt: str
) -> None:
    http, _ = gateway
    for method in ("GET", "POST"):
        response = http.request(method, path, headers=AUTH, json=body_for(fmt))
        assert response.status_code == 404
        error = error_of(fmt, response)
        assert error["message"] == f"Unknown path {path}"
        if fmt == "anthropic":
            assert error["type"] == "not_found_error"
        assert_traced(response)


@pytest.mark.parametrize(("path", "fmt"), PATHS)
def test_another_method_on_a_post_endpoint_is_a_405(
    gateway: tuple[httpx.Client, RunningGateway], path: str, fmt: str
) -> None:
    http, _ = gateway
    for method in ("GET", "PUT", "DELETE"):
        response = http.request(method, path, headers=AUTH)
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert error_of(fmt, response)["message"] == f"Method {method} not allowed on {path}"
        assert_traced(response)


def test_get_endpoints_answer_head_and_refuse_post(gateway: tuple[httpx.Client, RunningGateway]) -> None:
    http, _ = gateway
    assert http.head("/v1/models", headers=AUTH).status_code == 200
    response = http.post("/v1/models", headers=AUTH, json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert error_of("openai_chat", response)["message"] == "Method POST not allowed on /v1/models"


@pytest.mark.parametrize(("path", "fmt"), PATHS)
def test_a_body_over_the_limit_is_a_413(
    gateway: tuple[httpx.Client, RunningGateway], path: str, fmt: str
) -> None:
    http, _ = gateway
    response = http.post(path, headers=AUTH, json=body_for(fmt, "x" * 3000))
    assert response.status_code == 413
    error = error_of(fmt, response)
    assert error["message"] == "Request body is larger than the limit of 2048 bytes"
    assert error["type" if fmt == "anthropic" else "code"] == "request_too_large"
    assert_traced(response)


@pytest.mark.parametrize(("path", "fmt"), PATHS)
def test_bad_json_and_bad_routing_input_are_400s(
    gateway: tuple[httpx.Client, RunningGateway], path: str, fmt: str
) -> None:
    http, _ = gateway
    response = http.post(path, headers={**AUTH, "content-type": "application/json"}, content=b"{not json")
    assert response.status_code == 400
    error = error_of(fmt, response)
    assert str(error["message"]).startswith("Request body is not valid JSON")
    # The routing layer's own error code reaches the client (it used to be dropped on the way).
    response = http.post(path, headers=AUTH, json={**body_for(fmt), "routing_preferences": "not a list"})
    assert response.status_code == 400
    error = error_of(fmt, response)
    if fmt != "anthropic":
        assert error["code"] == "invalid_request"
    assert_traced(response)


@pytest.mark.parametrize(("path", "fmt"), PROXY_PATHS)
def test_every_candidate_failing_is_a_502_naming_each_attempt(
    gateway: tuple[httpx.Client, RunningGateway], path: str, fmt: str
) -> None:
    http, _ = gateway
    response = http.post(path, headers=AUTH, json={**body_for(fmt), "model": "openai/gone"})
    assert response.status_code == 502
    error = error_of(fmt, response)
    assert error["attempts"] == [
        {"model": "openai/gone", "error": "connect", "reason": error["attempts"][0]["reason"]}  # type: ignore[index]
    ]
    if fmt != "anthropic":
        assert error["code"] == "upstream_error"
    assert response.headers["x-llmroute-model"] == "openai/gone"
    assert_traced(response)


@pytest.mark.parametrize(("path", "fmt"), PROXY_PATHS)
def test_a_proxied_answer_carries_the_same_traceparent_as_an_error(
    gateway: tuple[httpx.Client, RunningGateway], path: str, fmt: str
) -> None:
    http, _ = gateway
    response = http.post(path, headers=AUTH, json=body_for(fmt))
    assert response.status_code == 200, response.text
    assert_traced(response)
    assert_traced(http.get("/healthz", headers=AUTH))


@pytest.mark.parametrize(("path", "fmt"), PROXY_PATHS)
def test_a_body_that_stops_arriving_is_a_408_in_the_clients_format(
    gateway: tuple[httpx.Client, RunningGateway], path: str, fmt: str
) -> None:
    _, gw = gateway
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {KEY}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        sock.sendall(head.encode())
        started = time.monotonic()
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 408"), data
    assert 0.5 <= time.monotonic() - started <= 5.0
    body = json.loads(data.split(b"\r\n\r\n", 1)[1])
    if fmt == "anthropic":
        assert body["error"] == {
            "type": "invalid_request_error",
            "message": "The request body did not arrive in time",
        }
    else:
        assert body["error"]["code"] == "body_timeout"
        assert body["error"]["message"] == "The request body did not arrive in time"

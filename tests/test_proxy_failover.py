"""Failover along the ranked candidates: 429 (+ cooldown), 5xx, timeouts, connect errors,
mid-stream failures, 4xx pass-through, and the error when every candidate fails.

The route "chain" ranks [openai/primary, anthropic/backup]; an Arch-Router fake (a real
OpenAI-compatible server) always picks it, so every request has two candidates.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY

from conftest import RunningGateway, free_port
from fakes.providers import Answer, DropMidStream, ErrorEvent, Fail, FakeProvider, Hang, wait_until
from fakes.sse import json_events, stream_text

PRIMARY_KEY = "sk-primary-secret-7777"
BACKUP_KEY = "sk-ant-backup-secret-8888"
TEXT = "Hello from the fake provider"
CHAT = {"model": "anything", "messages": [{"role": "user", "content": "Write me a haiku"}]}


@dataclass
class Setup:
    url: str
    primary: FakeProvider
    backup: FakeProvider
    http: httpx.Client
    gateway: RunningGateway


def config_text(router_url: str, primary_url: str, backup_url: str, timeout: str = "2s") -> str:
    return f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: {timeout}}}]
model_providers:
  - model: openai/primary
    access_key: {PRIMARY_KEY}
    base_url: {primary_url}
  - model: anthropic/backup
    access_key: {BACKUP_KEY}
    base_url: {backup_url}
routing_preferences:
  - name: chain
    description: everything
    models: [openai/primary, anthropic/backup]
routing:
  router: {{type: arch_router, base_url: {router_url}, timeout_ms: 2000}}
"""


@pytest.fixture
def setup() -> Iterator[Setup]:
    with FakeProvider() as router, FakeProvider() as primary, FakeProvider() as backup:
        router.script(*[Answer(text='{"route": "chain"}')] * 50)
        gateway = RunningGateway(config_text(router.url, primary.url, backup.url))
        with gateway, httpx.Client(base_url=gateway.url, timeout=10) as http:
            yield Setup(gateway.url, primary, backup, http, gateway)


def metric(name: str, **labels: str) -> float:
    """A counter's current value in this process (the gateway under test runs in-process)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_decision_and_proxy_agree(setup: Setup) -> None:
    decision = setup.http.post("/routing/v1/chat/completions", json=CHAT).json()
    assert decision["models"] == ["openai/primary", "anthropic/backup"]
    response = setup.http.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 200
    assert response.headers["x-llmroute-model"] == "openai/primary"
    assert response.headers["x-llmroute-route"] == "chain"
    assert len(setup.primary.requests) == 1 and not setup.backup.requests


def test_upstream_connections_are_kept_alive(setup: Setup) -> None:
    for stream in (False, True, False, True):
        response = setup.http.post("/v1/chat/completions", json={**CHAT, "stream": stream})
        assert response.status_code == 200
    assert len({r.peer_port for r in setup.primary.requests}) == 1


def test_429_fails_over_and_cools_the_model_down(setup: Setup) -> None:
    setup.primary.script(Fail(429, headers={"Retry-After": "30"}))
    cooldowns = metric("llmroute_cooldowns_total", model="openai/primary")
    failovers = metric("llmroute_failovers_total", from_model="openai/primary", reason="status_429")
    first = setup.http.post("/v1/chat/completions", json=CHAT)
    assert first.status_code == 200, first.text
    assert first.headers["x-llmroute-model"] == "anthropic/backup"
    assert first.json()["choices"][0]["message"]["content"] == TEXT
    assert len(setup.primary.requests) == 1 and len(setup.backup.requests) == 1
    # While it cools down the primary is skipped without being called.
    second = setup.http.post("/v1/chat/completions", json=CHAT)
    assert second.status_code == 200
    assert second.headers["x-llmroute-model"] == "anthropic/backup"
    assert len(setup.primary.requests) == 1 and len(setup.backup.requests) == 2
    assert metric("llmroute_cooldowns_total", model="openai/primary") == cooldowns + 1
    assert (
        metric("llmroute_failovers_total", from_model="openai/primary", reason="status_429") == failovers + 1
    )


def test_429_without_retry_after_uses_a_short_default_cooldown(setup: Setup) -> None:
    setup.primary.script(Fail(429))
    assert (
        setup.http.post("/v1/chat/completions", json=CHAT).headers["x-llmroute-model"] == "anthropic/backup"
    )
    remaining = setup.gateway.gateway.proxy.cooldowns._until["openai/primary"] - time.monotonic()
    assert 0 < remaining <= 5


def test_5xx_fails_over_without_cooldown(setup: Setup) -> None:
    setup.primary.script(Fail(500))
    first = setup.http.post("/v1/chat/completions", json=CHAT)
    assert first.status_code == 200
    assert first.headers["x-llmroute-model"] == "anthropic/backup"
    second = setup.http.post("/v1/chat/completions", json=CHAT)
    assert second.headers["x-llmroute-model"] == "openai/primary"
    assert len(setup.primary.requests) == 2


def test_timeout_fails_over(setup: Setup) -> None:
    setup.primary.script(Hang(5))
    timeouts = metric("llmroute_upstream_errors_total", model="openai/primary", error="timeout")
    response = setup.http.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 200
    assert response.headers["x-llmroute-model"] == "anthropic/backup"
    assert metric("llmroute_upstream_errors_total", model="openai/primary", error="timeout") == timeouts + 1


def test_connect_error_fails_over() -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with FakeProvider() as router, FakeProvider() as backup:
        router.script(*[Answer(text='{"route": "chain"}')] * 5)
        with RunningGateway(config_text(router.url, dead, backup.url)) as gateway:
            response = httpx.post(gateway.url + "/v1/chat/completions", json=CHAT, timeout=10)
    assert response.status_code == 200
    assert response.headers["x-llmroute-model"] == "anthropic/backup"


def test_every_candidate_failing_is_a_502_naming_each_model(setup: Setup) -> None:
    setup.primary.script(Fail(500))
    setup.backup.script(
        Fail(503, body={"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
    )
    response = setup.http.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["type"] == "server_error"
    assert "openai/primary: HTTP 500" in error["message"]
    assert "anthropic/backup: HTTP 503: busy" in error["message"]
    assert [a["model"] for a in error["attempts"]] == ["openai/primary", "anthropic/backup"]
    assert response.headers["x-llmroute-route"] == "chain"


def test_every_candidate_failing_uses_the_clients_format(setup: Setup) -> None:
    setup.primary.script(Fail(500))
    setup.backup.script(Fail(500))
    body = {"model": "x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    response = setup.http.post("/v1/messages", json=body)
    assert response.status_code == 502
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "api_error"
    assert (
        "openai/primary" in payload["error"]["message"] and "anthropic/backup" in payload["error"]["message"]
    )


def test_all_rate_limited_is_a_503_with_retry_after(setup: Setup) -> None:
    setup.primary.script(Fail(429, headers={"Retry-After": "20"}))
    setup.backup.script(Fail(429, headers={"Retry-After": "7"}))
    response = setup.http.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    # Both now cool down: the next request calls nobody and says so.
    again = setup.http.post("/v1/chat/completions", json=CHAT)
    assert again.status_code == 503
    assert "cooling down" in again.json()["error"]["message"]
    assert len(setup.primary.requests) == 1 and len(setup.backup.requests) == 1


def test_all_timing_out_is_a_504(setup: Setup) -> None:
    setup.primary.script(Hang(5))
    setup.backup.script(Hang(5))
    response = setup.http.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 504
    assert [a["error"] for a in response.json()["error"]["attempts"]] == ["timeout", "timeout"]


def test_client_error_is_returned_unchanged(setup: Setup) -> None:
    upstream = {
        "error": {
            "message": "max_tokens is too large",
            "type": "invalid_request_error",
            "param": "max_tokens",
            "code": "integer_above_max_value",
        }
    }
    setup.primary.script(Fail(400, body=upstream))
    response = setup.http.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 400
    assert response.json() == upstream
    assert not setup.backup.requests  # a 4xx is not retried elsewhere
    assert response.headers["x-llmroute-model"] == "openai/primary"


def test_client_error_is_reshaped_for_another_format(setup: Setup) -> None:
    setup.primary.script(
        Fail(422, body={"error": {"message": "bad tool schema", "type": "invalid_request_error"}})
    )
    body = {"model": "x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    response = setup.http.post("/v1/messages", json=body)
    assert response.status_code == 422
    assert response.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "bad tool schema"},
    }


def test_redirect_is_a_failure_not_an_answer(setup: Setup) -> None:
    setup.primary.script(Fail(302, body=b"", headers={"Location": "http://elsewhere.example/"}))
    response = setup.http.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 200
    assert response.headers["x-llmroute-model"] == "anthropic/backup"


def test_responses_state_goes_natively_to_openai_and_skips_other_fallbacks(setup: Setup) -> None:
    body = {"model": "x", "input": "and then?", "previous_response_id": "resp_123"}
    ok = setup.http.post("/v1/responses", json=body)
    assert ok.status_code == 200
    assert setup.primary.last.path == "/v1/responses"
    assert setup.primary.last.body["previous_response_id"] == "resp_123"
    # The Anthropic fallback cannot take a stateful Responses request: it is skipped, and said so.
    setup.primary.script(Fail(500))
    failed = setup.http.post("/v1/responses", json=body)
    assert failed.status_code == 502
    assert "anthropic/backup: 'previous_response_id' is not supported" in failed.json()["error"]["message"]
    assert not setup.backup.requests


def test_stream_fails_over_before_the_first_byte(setup: Setup) -> None:
    setup.primary.script(Fail(500))
    response = setup.http.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert response.status_code == 200
    assert response.headers["x-llmroute-model"] == "anthropic/backup"
    assert stream_text("openai_chat", response.text) == TEXT
    assert json_events(response.text)[-1][1] == "[DONE]"


def test_stream_timeout_before_the_first_byte_fails_over(setup: Setup) -> None:
    setup.primary.script(Hang(5))
    response = setup.http.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert response.status_code == 200
    assert response.headers["x-llmroute-model"] == "anthropic/backup"


def test_stream_that_opens_with_an_error_event_fails_over(setup: Setup) -> None:
    setup.primary.script(ErrorEvent("model overloaded"))
    response = setup.http.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert response.headers["x-llmroute-model"] == "anthropic/backup"
    assert stream_text("openai_chat", response.text) == TEXT
    assert "error" not in response.text
    # The same for an Anthropic provider's overloaded_error, with nowhere left to go: a 502 naming it.
    setup.primary.script(Fail(500))
    setup.backup.script(ErrorEvent("Overloaded"))
    failed = setup.http.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert failed.status_code == 502
    assert (
        "anthropic/backup: the stream opened with an error: Overloaded" in failed.json()["error"]["message"]
    )


def test_dropped_stream_ends_with_an_error_event_same_format(setup: Setup) -> None:
    setup.primary.script(DropMidStream(after=2))
    response = setup.http.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert response.status_code == 200  # headers were already sent: no failover mid-stream
    events = json_events(response.text)
    assert events[-1][1] == "[DONE]"
    error = events[-2][1]["error"]
    assert "upstream stream failed" in error["message"]
    # Every event before the error is whole (the client never sees half an event).
    assert all(isinstance(data, dict) for _, data in events[:-1])
    assert not setup.backup.requests


def test_dropped_stream_ends_with_an_error_event_translated(setup: Setup) -> None:
    setup.primary.script(DropMidStream(after=3))
    body = {"model": "x", "max_tokens": 10, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    response = setup.http.post("/v1/messages", json=body)
    assert response.status_code == 200
    events = json_events(response.text)
    assert events[0][0] == "message_start"
    assert events[-1][0] == "error"
    assert events[-1][1]["type"] == "error"
    assert "upstream stream failed" in events[-1][1]["error"]["message"]


def test_stalled_stream_ends_with_an_error_event_after_the_read_timeout(setup: Setup) -> None:
    setup.primary.script(Answer(text="slow words here", delay=5))  # 5s between events, timeout is 2s
    body = {"model": "x", "input": "hi", "stream": True}
    response = setup.http.post("/v1/responses", json=body)
    assert response.status_code == 200
    events = json_events(response.text)
    assert events[0][0] == "response.created"
    assert events[-1][0] == "error"
    assert events[-1][1]["message"].startswith("upstream stream failed")
    assert [name for name, _ in events].count("response.output_text.delta") < 3  # it did not finish


def test_dropped_anthropic_stream_passthrough_ends_with_error_event(setup: Setup) -> None:
    setup.primary.script(Fail(500))
    setup.backup.script(DropMidStream(after=3))
    body = {"model": "x", "max_tokens": 10, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    response = setup.http.post("/v1/messages", json=body)
    assert response.headers["x-llmroute-model"] == "anthropic/backup"
    events = json_events(response.text)
    assert [name for name, _ in events][:2] == ["message_start", "content_block_start"]
    assert events[-1][0] == "error"


def test_client_disconnect_cancels_the_upstream_stream(setup: Setup) -> None:
    setup.primary.script(Answer(text=" ".join(["word"] * 200), delay=0.05))
    with setup.http.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as response:
        assert response.status_code == 200
        next(response.iter_raw())
    # Closing our connection mid-stream must stop the upstream request too.
    assert wait_until(setup.primary.stream_cancelled.is_set, timeout=5)


def test_client_disconnect_cancels_a_waiting_upstream_request(setup: Setup) -> None:
    assert_disconnect_cancels_a_waiting_upstream_request(setup)


def test_client_disconnect_cancels_a_waiting_upstream_request_under_plain_uvicorn() -> None:
    # Without llmroute's protocol there is no disconnect callback: a watcher task notices instead.
    with FakeProvider() as router, FakeProvider() as primary, FakeProvider() as backup:
        router.script(Answer(text='{"route": "chain"}'))
        gateway = RunningGateway(config_text(router.url, primary.url, backup.url), http="uvicorn")
        with gateway, httpx.Client(base_url=gateway.url, timeout=10) as http:
            assert_disconnect_cancels_a_waiting_upstream_request(
                Setup(gateway.url, primary, backup, http, gateway)
            )


def assert_disconnect_cancels_a_waiting_upstream_request(setup: Setup) -> None:
    setup.primary.script(Hang(5))
    with pytest.raises(httpx.ReadTimeout):
        setup.http.post("/v1/chat/completions", json=CHAT, timeout=httpx.Timeout(10, read=0.3))
    assert wait_until(setup.primary.hang_cancelled.is_set, timeout=5)
    # Had the gateway not noticed, it would have timed out on the primary and failed over.
    time.sleep(0.3)
    assert not setup.backup.requests


def test_provider_key_in_an_upstream_error_is_redacted(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    setup.primary.script(
        Fail(401, body={"error": {"message": f"Incorrect API key provided: {PRIMARY_KEY}."}})
    )
    response = setup.http.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 401
    assert PRIMARY_KEY not in response.text
    assert "[REDACTED]" in response.text
    setup.primary.script(Fail(500, body={"error": {"message": f"key {PRIMARY_KEY} exploded"}}))
    setup.backup.script(
        Fail(500, body={"type": "error", "error": {"type": "api_error", "message": BACKUP_KEY}})
    )
    failed = setup.http.post("/v1/chat/completions", json=CHAT)
    assert failed.status_code == 502
    assert PRIMARY_KEY not in failed.text and BACKUP_KEY not in failed.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert PRIMARY_KEY not in logged and BACKUP_KEY not in logged


def test_inline_routing_preferences_are_stripped_before_forwarding(setup: Setup) -> None:
    body = {
        **CHAT,
        "routing_preferences": [{"name": "chain", "description": "anything", "models": ["anthropic/backup"]}],
    }
    response = setup.http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert response.headers["x-llmroute-model"] == "anthropic/backup"
    forwarded = setup.backup.last.body
    assert "routing_preferences" not in forwarded and "routing_policy" not in forwarded
    policy = {
        **CHAT,
        "routing_policy": [
            {"model": "openai/primary", "routing_preferences": [{"name": "chain", "description": "all"}]}
        ],
    }
    response = setup.http.post("/v1/chat/completions", json=policy)
    assert response.headers["x-llmroute-model"] == "openai/primary"
    assert "routing_policy" not in setup.primary.last.body
    assert orjson.dumps(setup.primary.last.body).find(b"routing_") == -1

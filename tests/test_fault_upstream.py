"""Upstream faults against a real `llmroute up` process: a provider that hangs (timeout, then
failover to the next candidate) and one that resets the connection mid-stream (the client gets a
well-formed error event in its own format, and the gateway stays up and keeps serving).

Every request has two candidates: an Arch-Router fake always picks the route "chain", which
ranks [openai/primary, anthropic/backup].
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from fakes.providers import Answer, DropMidStream, FakeProvider, Hang
from fakes.sse import json_events, stream_text
from gateway_process import GatewayProcess

PRIMARY_KEY = "sk-fault-primary-3141"
BACKUP_KEY = "sk-ant-fault-backup-2718"
TEXT = "Hello from the fake provider"


@dataclass
class Setup:
    gw: GatewayProcess
    primary: FakeProvider
    backup: FakeProvider


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with FakeProvider() as router, FakeProvider() as primary, FakeProvider() as backup:
        router.script(*[Answer(text='{"route": "chain"}')] * 500)
        text = f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 1s}}]
model_providers:
  - {{model: openai/primary, access_key: {PRIMARY_KEY}, base_url: {primary.url}}}
  - {{model: anthropic/backup, access_key: {BACKUP_KEY}, base_url: {backup.url}}}
routing_preferences:
  - {{name: chain, description: everything, models: [openai/primary, anthropic/backup]}}
routing:
  router: {{type: arch_router, base_url: {router.url}, timeout_ms: 5000}}
"""
        with GatewayProcess(text, tmp_path_factory.mktemp("fault-upstream")) as gw:
            yield Setup(gw, primary, backup)


def chat(stream: bool = False) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": "Write me a haiku"}], "stream": stream}


def test_a_hung_provider_times_out_and_fails_over(setup: Setup) -> None:
    setup.primary.script(Hang(30))
    started = time.monotonic()
    response = httpx.post(setup.gw.url + "/v1/chat/completions", json=chat(), timeout=20)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.headers["x-llmroute-model"] == "anthropic/backup"
    assert response.json()["choices"][0]["message"]["content"] == TEXT
    # Bounded by the listener's 1 s read timeout, not by the provider's 30 s hang.
    assert elapsed < 15


def test_a_hung_stream_fails_over_before_the_first_byte(setup: Setup) -> None:
    setup.primary.script(Hang(30))
    response = httpx.post(setup.gw.url + "/v1/messages", json={**chat(True), "max_tokens": 50}, timeout=20)
    assert response.status_code == 200
    assert response.headers["x-llmroute-model"] == "anthropic/backup"
    assert stream_text("anthropic", response.text) == TEXT


def test_every_candidate_hung_is_a_504_in_the_clients_format(setup: Setup) -> None:
    setup.primary.script(Hang(30))
    setup.backup.script(Hang(30))
    response = httpx.post(setup.gw.url + "/v1/messages", json={**chat(), "max_tokens": 50}, timeout=20)
    assert response.status_code == 504
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "timeout_error"
    assert PRIMARY_KEY not in response.text and BACKUP_KEY not in response.text


@pytest.mark.parametrize(
    ("path", "fmt", "extra"),
    [
        ("/v1/chat/completions", "openai_chat", {}),
        ("/v1/messages", "anthropic", {"max_tokens": 50}),
        ("/v1/responses", "responses", {}),
    ],
)
def test_a_reset_mid_stream_ends_the_clients_stream_with_an_error_event(
    setup: Setup, path: str, fmt: str, extra: dict[str, object]
) -> None:
    setup.primary.script(DropMidStream(after=3))
    if fmt == "responses":
        body: dict[str, object] = {"input": "Write me a haiku", "stream": True}
    else:
        body = {**chat(True), **extra}
    response = httpx.post(setup.gw.url + path, json=body, timeout=20)
    # The first bytes had gone out: no failover, the stream ends with the format's error event.
    assert response.status_code == 200
    assert response.headers["x-llmroute-model"] == "openai/primary"
    events = json_events(response.text)
    if fmt == "openai_chat":
        assert events[-1][1] == "[DONE]"
        assert "error" in events[-2][1]
    elif fmt == "anthropic":
        assert events[-1][0] == "error"
        assert events[-1][1]["type"] == "error"
    else:
        assert events[-1][0] in ("error", "response.failed")
    assert PRIMARY_KEY not in response.text
    # The gateway is still up and serving.
    assert httpx.get(setup.gw.url + "/healthz").status_code == 200
    after = httpx.post(setup.gw.url + "/v1/chat/completions", json=chat(), timeout=20)
    assert after.status_code == 200
    assert setup.gw.alive


def test_nothing_went_to_the_log_as_a_crash(setup: Setup) -> None:
    log = setup.gw.log()
    assert "Traceback" not in log
    assert PRIMARY_KEY not in log and BACKUP_KEY not in log

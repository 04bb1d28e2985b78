"""Hot reload of a real `llmroute up` process: SIGHUP swaps the config atomically, requests in
flight finish on the config they started with, and a bad new config is refused (old one kept)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fakes.providers import Answer, FakeProvider
from fakes.sse import json_events, stream_text
from gateway_process import NO_ROUTER, GatewayProcess

KEY = "gw-reload-key-31d9a0c4"


def config(provider_url: str, alias_target: str, extra: str = "") -> str:
    return f"""
model_providers:
  - {{model: openai/a, access_key: sk-reload-1, base_url: {provider_url}, default: true}}
  - {{model: openai/b, access_key: sk-reload-1, base_url: {provider_url}}}
model_aliases:
  main: {{target: {alias_target}}}
{NO_ROUTER}{extra}"""


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with FakeProvider() as fake:
        yield fake


def served_by(gw: GatewayProcess, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"model": "main", "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(gw.url + "/v1/chat/completions", json=body, headers=headers, timeout=10)


def wait_for(predicate, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def reloads(gw: GatewayProcess, result: str) -> float:
    for line in httpx.get(gw.url + "/metrics").text.splitlines():
        if line.startswith(f'llmroute_config_reloads_total{{result="{result}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_sighup_reload_takes_effect_without_dropping_a_stream_in_flight(
    provider: FakeProvider, tmp_path: Path
) -> None:
    with GatewayProcess(config(provider.url, "openai/a"), tmp_path) as gw:
        assert served_by(gw).headers["x-llmroute-model"] == "openai/a"
        # A slow stream (0.6 s between events) starts on the old config...
        provider.script(Answer(text="one two three four five six", delay=0.6))
        chunks: list[bytes] = []
        started = threading.Event()
        result: dict[str, object] = {}

        def stream() -> None:
            body = {"model": "main", "stream": True, "messages": [{"role": "user", "content": "count"}]}
            with httpx.stream("POST", gw.url + "/v1/chat/completions", json=body, timeout=30) as response:
                result["model"] = response.headers["x-llmroute-model"]
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    started.set()
            result["status"] = response.status_code

        reader = threading.Thread(target=stream)
        reader.start()
        assert started.wait(10)
        # ...and the config changes under it.
        gw.config_path.write_text(config(provider.url, "openai/b"))
        gw.signal(signal.SIGHUP)
        assert wait_for(lambda: served_by(gw).headers["x-llmroute-model"] == "openai/b")
        assert reader.is_alive()  # the new config serves while the old stream is still going
        reader.join(30)
        assert result == {"model": "openai/a", "status": 200}
        text = b"".join(chunks).decode()
        assert stream_text("openai_chat", text) == "one two three four five six"
        assert json_events(text)[-1][1] == "[DONE]"
        assert reloads(gw, "ok") == 1
        assert gw.alive


def test_a_bad_config_is_refused_and_the_old_one_kept(provider: FakeProvider, tmp_path: Path) -> None:
    with GatewayProcess(config(provider.url, "openai/a"), tmp_path) as gw:
        gw.config_path.write_text(config(provider.url, "openai/nonexistent"))
        gw.signal(signal.SIGHUP)
        assert wait_for(lambda: reloads(gw, "error") == 1)
        gw.config_path.write_text("model_providers: [unclosed\n")
        gw.signal(signal.SIGHUP)
        assert wait_for(lambda: reloads(gw, "error") == 2)
        response = served_by(gw)
        assert response.status_code == 200
        assert response.headers["x-llmroute-model"] == "openai/a"
        log = gw.log()
        assert "reload refused, keeping the running config" in log
        assert "openai/nonexistent" in log  # the config error itself, named
        assert "YAML syntax error" in log
        assert "Traceback" not in log
        assert reloads(gw, "ok") == 0
        assert gw.alive


def test_reload_can_turn_auth_on(provider: FakeProvider, tmp_path: Path) -> None:
    with GatewayProcess(config(provider.url, "openai/a"), tmp_path) as gw:
        assert served_by(gw).status_code == 200
        auth = f"auth: {{keys: [{{key: {KEY}, name: ops}}]}}\n"
        gw.config_path.write_text(config(provider.url, "openai/a", auth))
        gw.signal(signal.SIGHUP)
        assert wait_for(lambda: served_by(gw).status_code == 401)
        assert served_by(gw, {"Authorization": f"Bearer {KEY}"}).status_code == 200
        assert httpx.get(gw.url + "/healthz").status_code == 200

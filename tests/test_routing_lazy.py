"""A config without routes does not load the embedded router until a request brings inline
routing_preferences (routing/lazy.py); a config with routes loads it at start-up, as before."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from conftest import RunningGateway
from gateway_process import GatewayProcess

PASSTHROUGH = """
version: v0.4.0
listeners: [{name: m, type: model, address: 127.0.0.1, port: 0}]
model_providers:
  - model: echo/fast
    default: true
  - model: echo/smart
"""
INLINE = [
    {
        "name": "code",
        "description": "writing and debugging code in a programming language",
        "models": ["echo/smart"],
    },
    {"name": "travel", "description": "flights, hotels and trips", "models": ["echo/fast"]},
]


def decide(url: str, text: str) -> dict[str, object]:
    body = {"messages": [{"role": "user", "content": text}], "routing_preferences": INLINE}
    response = httpx.post(url + "/routing/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_passthrough_gateway_loads_the_router_only_for_inline_preferences(tmp_path: Path) -> None:
    with GatewayProcess(PASSTHROUGH, tmp_path) as gw:
        plain = httpx.post(
            gw.url + "/v1/chat/completions",
            json={"model": "echo/fast", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert plain.status_code == 200
        before = gw.rss_bytes()
        assert decide(gw.url, "write a python function that sorts a list")["route"] == "code"
        assert decide(gw.url, "book me a flight to Lisbon and a hotel")["route"] == "travel"
        after = gw.rss_bytes()
    # The ONNX runtime, the model and the built-in embeddings: well over 50 MiB, loaded only now.
    assert after - before > 50 * 2**20, (before, after)


def test_a_router_that_cannot_load_degrades_to_the_fallback_and_is_counted(tmp_path: Path) -> None:
    config = (
        PASSTHROUGH + f"routing: {{router: {{type: embedded, model_path: {tmp_path / 'missing.onnx'}}}}}\n"
    )
    with RunningGateway(config) as gw:  # starts: nothing is loaded yet
        answer = decide(gw.url, "write a python function that sorts a list")
        assert answer["route"] is None and answer["fallback_model"] == "echo/fast"
        served = httpx.post(
            gw.url + "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "write code"}], "routing_preferences": INLINE},
        )
        assert served.status_code == 200
        assert served.headers["x-llmroute-model"] == "echo/fast"
        metrics = httpx.get(gw.url + "/metrics").text
    assert 'llmroute_router_failures_total{backend="embedded"}' in metrics


def test_a_config_with_routes_still_fails_at_start_up_when_the_model_is_missing(tmp_path: Path) -> None:
    from llmroute.config import load_config_text
    from llmroute.routing.embedding import EncoderLoadError
    from llmroute.server.gateway import Gateway

    config = load_config_text(
        PASSTHROUGH
        + "routing_preferences:\n  - {name: code, description: writing code, models: [echo/smart]}\n"
        + f"routing: {{router: {{type: embedded, model_path: {tmp_path / 'missing.onnx'}}}}}\n"
    )
    with pytest.raises(EncoderLoadError):
        Gateway(config)

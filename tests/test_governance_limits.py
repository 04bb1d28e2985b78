"""Limits: request body size from the config, and the cap on concurrent upstream requests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import REGISTRY

from conftest import RunningGateway
from fakes.providers import FakeProvider, Hang
from gateway_process import NO_ROUTER
from llmroute.config import ConfigError, load_config_text

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    with FakeProvider() as fake:
        yield fake


def config(provider_url: str, limits: str) -> str:
    return f"""
model_providers:
  - {{model: openai/gpt-4o, access_key: sk-limits-1, base_url: {provider_url}, default: true}}
{NO_ROUTER}limits: {limits}
"""


@pytest.mark.parametrize(
    ("path", "anthropic"),
    [("/v1/chat/completions", False), ("/v1/messages", True), ("/routing/v1/responses", False)],
)
def test_max_body_bytes_from_the_config(provider: FakeProvider, path: str, anthropic: bool) -> None:
    with RunningGateway(config(provider.url, "{max_body_bytes: 2KiB}")) as gw:
        small = httpx.post(gw.url + path, json={**CHAT, "max_tokens": 5, "input": "hi"})
        big_body = {**CHAT, "max_tokens": 5, "input": "x" * 3000}
        declared = httpx.post(gw.url + path, json=big_body)

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
            yield b'{"input": "'
            yield b"x" * 3000
            yield b'"}'

        streamed = httpx.post(gw.url + path, content=chunks(), headers={"content-type": "application/json"})
    assert small.status_code == 200, small.text
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert "2048 bytes" in response.text
        if anthropic:
            assert response.json()["error"]["type"] == "request_too_large"
        else:
            assert response.json()["error"]["code"] == "request_too_large"


async def _concurrent(url: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return await asyncio.gather(*(http.post("/v1/chat/completions", json=CHAT) for _ in range(count)))


def test_requests_past_the_concurrency_cap_queue_then_get_503(provider: FakeProvider) -> None:
    # Two slots; the provider holds each call for 2 s; a third request may wait 0.3 s for a slot.
    with RunningGateway(config(provider.url, "{max_concurrent_upstream: 2, queue_timeout: 0.3s}")) as gw:
        provider.script(Hang(2.0), Hang(2.0))
        before = REGISTRY.get_sample_value("llmroute_capacity_rejections_total") or 0.0
        responses = asyncio.run(_concurrent(gw.url, 3))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200, 200, 503]
        refused = next(r for r in responses if r.status_code == 503)
        assert refused.json()["error"]["code"] == "gateway_at_capacity"
        assert refused.headers["retry-after"] == "1"
        assert (REGISTRY.get_sample_value("llmroute_capacity_rejections_total") or 0.0) == before + 1
        # Every slot came back.
        assert gw.gateway.governance.gate.in_flight == 0
        assert [r.status_code for r in asyncio.run(_concurrent(gw.url, 2))] == [200, 200]


def test_a_queued_request_is_served_when_a_slot_frees_up(provider: FakeProvider) -> None:
    with RunningGateway(config(provider.url, "{max_concurrent_upstream: 1, queue_timeout: 20s}")) as gw:
        provider.script(Hang(0.5))
        responses = asyncio.run(_concurrent(gw.url, 3))
        assert [r.status_code for r in responses] == [200, 200, 200]
        assert gw.gateway.governance.gate.in_flight == 0


def test_a_slot_is_released_when_the_stream_ends_or_breaks(provider: FakeProvider) -> None:
    with RunningGateway(config(provider.url, "{max_concurrent_upstream: 1, queue_timeout: 0.2s}")) as gw:
        with httpx.Client(base_url=gw.url, timeout=10) as http:
            for _ in range(3):
                response = http.post("/v1/chat/completions", json={**CHAT, "stream": True})
                assert response.status_code == 200
            # A client that leaves mid-stream gives its slot back too.
            with http.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as response:
                next(response.iter_bytes())
            assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
        assert gw.gateway.governance.gate.in_flight == 0


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ("limits: {max_body_bytes: 0}", "greater than 0"),
        ("limits: {max_body_bytes: lots}", "invalid size 'lots'"),
        ("limits: {header_timeout: soon}", "invalid duration"),
        ("limits: {max_concurrent_upstream: -1}", "greater than 0"),
        ("limits: {max_connections: 5}", "limits.max_connections: unknown key"),
    ],
)
def test_bad_limits_config_is_one_clear_line(section: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text("model_providers: [{model: echo/small}]\n" + section, env={})
    assert fragment in str(caught.value)

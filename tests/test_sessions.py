"""Session pinning: the in-process LRU/TTL store, and Redis shared by two gateway instances."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from llmroute.routing.sessions import MemorySessionStore, Pin, RedisSessionStore

PIN = Pin(("anthropic/claude-sonnet-4-20250514",), "code_generation")


async def test_memory_store_lru_eviction() -> None:
    store = MemorySessionStore(ttl_seconds=60, max_entries=2)
    await store.put("a", PIN)
    await store.put("b", PIN)
    assert await store.get("a") == PIN  # "a" is now the most recently used
    await store.put("c", PIN)
    assert await store.get("b") is None
    assert await store.get("a") == PIN
    assert await store.get("c") == PIN
    assert len(store) == 2


async def test_memory_store_idle_ttl() -> None:
    store = MemorySessionStore(ttl_seconds=0.2, max_entries=10)
    await store.put("s", PIN)
    await asyncio.sleep(0.12)
    assert await store.get("s") == PIN  # used: the idle clock restarts
    await asyncio.sleep(0.12)
    assert await store.get("s") == PIN
    await asyncio.sleep(0.25)
    assert await store.get("s") is None


async def test_redis_store_roundtrip_ttl_and_cap(redis_server) -> None:  # type: ignore[no-untyped-def]
    store = RedisSessionStore(redis_server.url, ttl_seconds=1, max_entries=3, timeout_ms=200, key_prefix="t:")
    try:
        for name in "abcd":
            await store.put(name, PIN)
        assert await store.get("a") is None  # evicted: least recently used beyond the cap of 3
        assert await store.get("d") == PIN
        await asyncio.sleep(1.2)
        assert await store.get("d") is None  # idle past the TTL
    finally:
        await store.aclose()


def redis_config(url: str) -> str:
    return f"""
version: v0.4.0
model_providers:
  - model: openai/gpt-4o-mini
    default: true
  - model: anthropic/claude-sonnet-4-20250514
routing_preferences:
  - name: code_generation
    description: generating new code, writing functions
    models: [anthropic/claude-sonnet-4-20250514]
routing:
  session_store: {{type: redis, url: "{url}", timeout_ms: 100}}
"""


def decide(url: str, text: str, session: str) -> dict:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    response = httpx.post(url + "/routing/v1/chat/completions", json=body, headers={"X-Session-Id": session})
    assert response.status_code == 200, response.text
    return response.json()


def test_two_gateways_share_pins_through_redis(redis_server) -> None:  # type: ignore[no-untyped-def]
    from conftest import RunningGateway

    config = redis_config(redis_server.url)
    with RunningGateway(config) as one, RunningGateway(config) as two:
        first = decide(one.url, "Write a Python function for binary search", "shared-1")
        assert first["pinned"] is False and first["route"] == "code_generation"
        # The other replica has never seen this session: the pin comes from Redis.
        second = decide(two.url, "what's the capital of France?", "shared-1")
        assert second["pinned"] is True
        assert second["model"] == "anthropic/claude-sonnet-4-20250514"

        redis_server.stop()
        errors_before = store_errors()
        for i in range(20):
            start = time.perf_counter()
            data = decide(two.url, "Write a Python function for binary search", f"while-down-{i}")
            # Bounded by the 100 ms store timeout at worst, then the back-off skips Redis entirely;
            # the generous bound only catches a request that waited on a dead Redis.
            assert time.perf_counter() - start < 1.0
            assert data["pinned"] is False and data["route"] == "code_generation"
        assert store_errors() > errors_before


def store_errors() -> float:
    from prometheus_client import REGISTRY

    return sum(
        REGISTRY.get_sample_value("llmroute_session_store_errors_total", {"store": "redis", "operation": op})
        or 0
        for op in ("get", "put")
    )


@pytest.mark.parametrize("header", ["X-Model-Affinity", "X-Session-Id"])
def test_without_session_header_nothing_is_pinned(header: str) -> None:
    from conftest import RunningGateway

    config = redis_config("redis://127.0.0.1:1/0").replace("type: redis", "type: memory")
    with RunningGateway(config) as gw:
        body = {"messages": [{"role": "user", "content": "Write a Python function for binary search"}]}
        plain = httpx.post(gw.url + "/routing/v1/chat/completions", json=body).json()
        assert "pinned" not in plain
        pinned = httpx.post(gw.url + "/routing/v1/chat/completions", json=body, headers={header: "x"}).json()
        assert pinned["session_id"] == "x"

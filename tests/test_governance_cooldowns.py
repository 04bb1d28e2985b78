"""Failover cooldowns in Redis (`RedisCooldowns`): shared, never shortened, and degrading to the
local copy when Redis is unreachable. Against a real redis-server."""

from __future__ import annotations

from prometheus_client import REGISTRY

from conftest import RedisServer
from llmroute.governance.schema import SharedState
from llmroute.governance.shared import RedisCooldowns, SharedRedis


def shared(redis: RedisServer) -> SharedRedis:
    return SharedRedis(SharedState(type="redis", url=redis.url, timeout_ms=300))


async def test_a_cooldown_is_seen_by_another_replica_and_never_shortened(redis_server: RedisServer) -> None:
    one, two = shared(redis_server), shared(redis_server)
    try:
        a, b = RedisCooldowns(one), RedisCooldowns(two)
        assert await b.remaining("openai/gpt-4o") == 0.0
        await a.cool("openai/gpt-4o", 30)
        assert await b.is_cooling("openai/gpt-4o")
        assert 28 <= await b.remaining("openai/gpt-4o") <= 30
        # A shorter cooldown from the other replica does not cut the longer one short.
        await b.cool("openai/gpt-4o", 2)
        assert await a.remaining("openai/gpt-4o") > 25
        # A longer one extends it, for everyone (this replica answers from its own copy while that
        # lasts: the model is skipped either way).
        await b.cool("openai/gpt-4o", 120)
        assert await RedisCooldowns(one).remaining("openai/gpt-4o") > 100
        assert not await a.is_cooling("openai/other")
        # Keys live under the configured prefix.
        assert await one.client.exists("llmroute:cooldown:openai/gpt-4o") == 1
    finally:
        await one.aclose()
        await two.aclose()


async def test_redis_down_falls_back_to_what_this_replica_knows(redis_server: RedisServer) -> None:
    store = shared(redis_server)
    try:
        cooldowns = RedisCooldowns(store)
        redis_server.stop()
        before = (
            REGISTRY.get_sample_value(
                "llmroute_shared_state_errors_total", {"operation": "cooldown", "outcome": "local"}
            )
            or 0.0
        )
        await cooldowns.cool("anthropic/claude", 30)  # Redis is down: kept locally
        assert await cooldowns.is_cooling("anthropic/claude")
        assert not await cooldowns.is_cooling("anthropic/other")  # unknown here, Redis unreachable
        after = REGISTRY.get_sample_value(
            "llmroute_shared_state_errors_total", {"operation": "cooldown", "outcome": "local"}
        )
        assert after is not None and after >= before + 2
    finally:
        redis_server.start()
        await store.aclose()

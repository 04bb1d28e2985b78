"""State that every replica of the gateway shares: one Redis connection pool, bounded and guarded.

Rate-limit budgets and failover cooldowns live here when `shared_state: {type: redis}` is set, so
N replicas behind a load balancer behave as one gateway. Every call is capped by `timeout_ms`;
after a failure Redis is not asked again for `BACKOFF_SECONDS` (callers apply their fallback at
once instead of waiting on a dead server), and `StoreUnavailable` tells the caller to fall back.

`RedisCooldowns` is the proxy's `CooldownStore` over Redis: a model that answered 429 on one
replica is skipped by all of them. It keeps a local copy too, so a Redis outage degrades to the
per-process behaviour instead of forgetting every cooldown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from llmroute import redis_urls
from llmroute.governance.schema import SharedState
from llmroute.observability import metrics
from llmroute.proxy.cooldown import MAX_COOLDOWN_SECONDS, MemoryCooldowns

log = logging.getLogger("llmroute.governance")

T = TypeVar("T")

# Connections to Redis per process: enough for bursts, bounded so 1000 streams do not open 1000.
MAX_CONNECTIONS = 64


class StoreUnavailable(Exception):
    """Redis could not answer (down, timed out, or in back-off after a recent failure)."""


class SharedRedis:
    BACKOFF_SECONDS = 1.0

    def __init__(self, config: SharedState) -> None:
        assert config.url is not None  # enforced by the config model
        self.timeout = config.timeout_ms / 1000
        # Hash-tagged for Redis Cluster: one rate-limit script takes all of a request's buckets.
        self.prefix = redis_urls.key_prefix(config.url, config.key_prefix)
        self.client = redis_urls.connect(config.url, self.timeout, MAX_CONNECTIONS)
        self._scripts: list[str] = []
        self._down_until = 0.0
        self._last_warning = 0.0

    def register_script(self, source: str) -> Any:
        self._scripts.append(source)
        return self.client.register_script(source)

    async def warm(self) -> None:
        """Connect and load the scripts before serving, so the first burst of requests does not pay
        for connecting (and time out into the fallback). Redis being down here is not fatal."""
        try:
            async with asyncio.timeout(max(self.timeout * 10, 1.0)):
                await self.client.ping()
                for source in self._scripts:
                    await self.client.script_load(source)
        except Exception as exc:
            log.warning(
                "shared state: redis not reachable at startup (%s); will retry per request",
                type(exc).__name__,
            )

    async def call(self, operation: str, factory: Callable[[], Awaitable[T]]) -> T:
        """Run one Redis operation within the timeout; any trouble is `StoreUnavailable`."""
        if time.monotonic() < self._down_until:
            raise StoreUnavailable("in back-off after a recent failure")
        try:
            return await asyncio.wait_for(factory(), self.timeout)
        except Exception as exc:
            self._down_until = time.monotonic() + self.BACKOFF_SECONDS
            now = time.monotonic()
            if now - self._last_warning > 10.0:  # one line per outage burst, not one per request
                self._last_warning = now
                log.warning("shared state: redis %s failed (%s)", operation, type(exc).__name__)
            raise StoreUnavailable(type(exc).__name__) from None

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.client.connection_pool.disconnect()


# Extend a cooldown only if the new one ends later (a shorter 429 never cuts a longer rest short).
_COOL_SCRIPT = """
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ms)
end
return 1
"""


class RedisCooldowns:
    """Cooldowns shared by every replica (Redis key with a TTL per model), with a local mirror."""

    def __init__(self, shared: SharedRedis) -> None:
        self.shared = shared
        self.local = MemoryCooldowns()
        self._cool = shared.register_script(_COOL_SCRIPT)

    def _key(self, model: str) -> str:
        return f"{self.shared.prefix}cooldown:{model}"

    async def is_cooling(self, model: str) -> bool:
        return await self.remaining(model) > 0.0

    async def remaining(self, model: str) -> float:
        local = await self.local.remaining(model)
        if local > 0.0:
            return local  # known here already: no round trip
        try:
            millis = await self.shared.call("cooldown", lambda: self.shared.client.pttl(self._key(model)))
        except StoreUnavailable:
            metrics.SHARED_STATE_ERRORS.labels(operation="cooldown", outcome="local").inc()
            return 0.0
        return millis / 1000 if millis and millis > 0 else 0.0

    async def cool(self, model: str, seconds: float) -> None:
        seconds = min(max(seconds, 0.0), MAX_COOLDOWN_SECONDS)
        await self.local.cool(model, seconds)
        millis = int(seconds * 1000)
        if millis <= 0:
            return
        try:
            await self.shared.call("cooldown", lambda: self._cool(keys=[self._key(model)], args=[millis]))
        except StoreUnavailable:
            metrics.SHARED_STATE_ERRORS.labels(operation="cooldown", outcome="local").inc()

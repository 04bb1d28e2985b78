"""Session pinning stores (SPEC §6): a session id maps to the decision its first request got.

Two stores with one interface. `MemorySessionStore` is an in-process LRU with an idle TTL.
`RedisSessionStore` lets several gateway replicas share pins. A store that misbehaves never fails
or slows a request beyond its bound: every Redis call is capped by `timeout_ms`, errors are logged
and counted, and after a failure Redis is skipped for a short back-off so a dead Redis costs
requests nothing at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from llmroute import redis_urls
from llmroute.config.models import Routing
from llmroute.observability import metrics

log = logging.getLogger("llmroute.sessions")


@dataclass(frozen=True, slots=True)
class Pin:
    models: tuple[str, ...]
    route: str | None
    # How the pinned decision was made (route | alias | model | default), so a pinned answer keeps the
    # first answer's shape. None in pins written before this field existed.
    source: str | None = None

    def encode(self) -> bytes:
        return orjson.dumps({"models": self.models, "route": self.route, "source": self.source})

    @classmethod
    def decode(cls, raw: bytes | str) -> Pin:
        data = orjson.loads(raw)
        source = data.get("source")
        return cls(
            models=tuple(data["models"]),
            route=data.get("route"),
            source=source if isinstance(source, str) else None,
        )


class SessionStore(Protocol):
    kind: str

    async def get(self, session_id: str) -> Pin | None: ...

    async def put(self, session_id: str, pin: Pin) -> None: ...

    async def aclose(self) -> None: ...


class MemorySessionStore:
    """LRU of at most `max_entries` pins; an entry expires after `ttl` seconds without use."""

    kind = "memory"

    def __init__(self, ttl_seconds: float, max_entries: int) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[Pin, float]] = OrderedDict()

    async def get(self, session_id: str) -> Pin | None:
        item = self._entries.get(session_id)
        if item is None:
            return None
        pin, last_used = item
        now = time.monotonic()
        if now - last_used > self.ttl:
            del self._entries[session_id]
            return None
        self._entries[session_id] = (pin, now)
        self._entries.move_to_end(session_id)
        return pin

    async def put(self, session_id: str, pin: Pin) -> None:
        self._entries[session_id] = (pin, time.monotonic())
        self._entries.move_to_end(session_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    async def aclose(self) -> None:
        self._entries.clear()


# Store the pin, record its last use in an index, drop index entries that expired, and evict the
# least recently used sessions beyond the cap. One script keeps it atomic across replicas.
_PUT_SCRIPT = """
local key, index = KEYS[1], KEYS[2]
local value, ttl, now, cap, prefix = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
redis.call('SET', key, value, 'EX', ttl)
redis.call('ZADD', index, now, key)
redis.call('ZREMRANGEBYSCORE', index, '-inf', now - ttl)
local extra = redis.call('ZCARD', index) - cap
if extra > 0 then
  local victims = redis.call('ZRANGE', index, 0, extra - 1)
  redis.call('ZREMRANGEBYRANK', index, 0, extra - 1)
  redis.call('DEL', unpack(victims))
end
redis.call('EXPIRE', index, ttl)
return 1
"""


class RedisSessionStore:
    kind = "redis"

    # After a failure Redis is not asked again for this long: requests route unpinned meanwhile.
    BACKOFF_SECONDS = 1.0

    def __init__(
        self, url: str, ttl_seconds: int, max_entries: int, timeout_ms: int, key_prefix: str
    ) -> None:
        timeout = timeout_ms / 1000
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self.timeout = timeout
        # (hash-tagged for Redis Cluster: the put script touches the pin and the index together)
        self.prefix = key_prefix = redis_urls.key_prefix(url, key_prefix)
        self.index = f"{key_prefix}__lru__"
        self._client = redis_urls.connect(url, timeout)
        self._put_script = self._client.register_script(_PUT_SCRIPT)
        self._down_until = 0.0

    async def _call(self, operation: str, coro_factory: Callable[[], Awaitable[Any]]) -> Any:
        if time.monotonic() < self._down_until:
            metrics.SESSION_STORE_ERRORS.labels(store="redis", operation=operation).inc()
            return None
        try:
            return await asyncio.wait_for(coro_factory(), self.timeout)
        except (TimeoutError, Exception) as exc:  # any Redis trouble: route unpinned
            self._down_until = time.monotonic() + self.BACKOFF_SECONDS
            metrics.SESSION_STORE_ERRORS.labels(store="redis", operation=operation).inc()
            log.warning("session store redis %s failed (%s); routing unpinned", operation, type(exc).__name__)
            return None

    async def get(self, session_id: str) -> Pin | None:
        key = self.prefix + session_id

        async def fetch() -> bytes | None:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.getex(key, ex=self.ttl)
                pipe.zadd(self.index, {key: time.time()}, xx=True)
                raw, _ = await pipe.execute()
                return raw

        raw = await self._call("get", fetch)
        if raw is None:
            return None
        try:
            return Pin.decode(raw)
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("session store: ignoring a malformed pin for a session")
            return None

    async def put(self, session_id: str, pin: Pin) -> None:
        key = self.prefix + session_id
        await self._call(
            "put",
            lambda: self._put_script(
                keys=[key, self.index],
                args=[pin.encode(), self.ttl, time.time(), self.max_entries, self.prefix],
            ),
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def build_session_store(routing: Routing) -> SessionStore:
    store = routing.session_store
    if store.type == "redis":
        assert store.url is not None  # enforced by the config model
        return RedisSessionStore(
            store.url,
            routing.session_ttl_seconds,
            routing.session_max_entries,
            store.timeout_ms,
            store.key_prefix,
        )
    return MemorySessionStore(routing.session_ttl_seconds, routing.session_max_entries)

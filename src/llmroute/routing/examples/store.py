"""Where generated examples are kept: one JSON document per route set, on disk and in Redis.

Both are optional and both are best effort: a store that fails is logged and counted, and the
examples are generated again (or the router keeps using descriptions only). Values are
`{"route name": ["example", ...]}`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from llmroute.observability import metrics
from llmroute.redis_urls import connect

log = logging.getLogger("llmroute.routing.examples")

Examples = dict[str, list[str]]
REDIS_TIMEOUT_SECONDS = 2.0
KEY_PREFIX = "llmroute:route-examples:"


class ExampleStore:
    def __init__(self, cache_dir: str | None, redis_url: str | None) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir else None
        # Plain Redis, Sentinel or Cluster (llmroute/redis_urls.py): one key per route set, no scripts.
        self._redis: Any = connect(redis_url, REDIS_TIMEOUT_SECONDS) if redis_url else None

    async def get(self, key: str) -> Examples | None:
        found = await asyncio.to_thread(self._read_file, key)
        if found is None and self._redis is not None:
            found = _valid(await self._redis_call("get", self._redis.get(KEY_PREFIX + key)))
            if found is not None:
                await asyncio.to_thread(self._write_file, key, found)  # this replica's disk too
        return found

    async def put(self, key: str, examples: Examples) -> None:
        await asyncio.to_thread(self._write_file, key, examples)
        if self._redis is not None:
            data = json.dumps(examples, ensure_ascii=False)
            await self._redis_call("set", self._redis.set(KEY_PREFIX + key, data))

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    # -- disk ---------------------------------------------------------------------------------------

    def _path(self, key: str) -> Path | None:
        return self.cache_dir / f"{key}.json" if self.cache_dir else None

    def _read_file(self, key: str) -> Examples | None:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            return _valid(path.read_bytes())
        except OSError as exc:
            _store_error("disk", "read", exc)
            return None

    def _write_file(self, key: str, examples: Examples) -> None:
        path = self._path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename: a reader (another process on this host) never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(examples, f, ensure_ascii=False, indent=1)
            os.replace(tmp, path)
        except OSError as exc:
            _store_error("disk", "write", exc)

    # -- redis --------------------------------------------------------------------------------------

    async def _redis_call(self, operation: str, call: Any) -> Any:
        try:
            return await asyncio.wait_for(call, REDIS_TIMEOUT_SECONDS)
        except Exception as exc:  # any Redis trouble: generate (or keep) locally
            _store_error("redis", operation, exc)
            return None


def _valid(raw: bytes | str | None) -> Examples | None:
    """A stored document, or None when it is missing or not the expected shape."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    return {
        str(name): [e for e in items if isinstance(e, str)]
        for name, items in value.items()
        if isinstance(items, list)
    }


def _store_error(store: str, operation: str, exc: BaseException) -> None:
    metrics.ROUTE_EXAMPLE_STORE_ERRORS.labels(store=store, operation=operation).inc()
    log.warning("route examples %s %s failed: %s", store, operation, type(exc).__name__)

"""Redis clients for every shared store (session pins, rate limits, cooldowns, route examples),
from one URL that also names a Redis Sentinel or a Redis Cluster deployment.

- `redis://[:password@]host:port/db`, `rediss://…`, `unix://…`: one server, as before.
- `redis+sentinel://[:password@]host:port[,host:port…]/<service name>[/db]`: the sentinels are
  asked for the service's current master, and asked again after a failover.
- `redis+cluster://[:password@]host:port[,host:port…]`: a Redis Cluster; the nodes listed are the
  starting points, the cluster's slot map is read from them.

In Cluster mode every key a store uses carries its key prefix as a hash tag (`{llmroute:}…`), so
the keys one Lua script or pipeline touches always live in one slot (Cluster refuses cross-slot
scripts). A prefix that already holds a `{…}` tag is kept as written.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

SENTINEL = "redis+sentinel"
CLUSTER = "redis+cluster"


def is_cluster(url: str) -> bool:
    return url.startswith(CLUSTER + "://")


def key_prefix(url: str, prefix: str) -> str:
    """The prefix to use for `url`: hash-tagged in Cluster mode (see the module docstring)."""
    if is_cluster(url) and "{" not in prefix:
        return "{" + prefix + "}"
    return prefix


def _nodes(netloc: str, default_port: int) -> tuple[list[tuple[str, int]], str | None]:
    password = None
    if "@" in netloc:
        credentials, netloc = netloc.rsplit("@", 1)
        password = unquote(credentials.partition(":")[2] or credentials)
    nodes = []
    for part in netloc.split(","):
        host, _, port = part.rpartition(":") if part.count(":") == 1 else (part, "", "")
        nodes.append((host or part, int(port) if port else default_port))
    return nodes, password


def connect(url: str, timeout: float, max_connections: int | None = None) -> Any:
    """An asyncio Redis client for `url` (a `redis.asyncio.Redis`, or a `RedisCluster`)."""
    import redis.asyncio as aioredis

    common: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    scheme = url.partition("://")[0]
    if scheme == SENTINEL:
        from redis.asyncio.sentinel import Sentinel

        parts = urlsplit(url)
        nodes, password = _nodes(parts.netloc, 26379)
        path = [p for p in parts.path.split("/") if p]
        if not path:
            raise ValueError(
                f"{url}: a redis+sentinel URL needs the service name: redis+sentinel://host:26379/mymaster"
            )
        db = int(path[1]) if len(path) > 1 else 0
        sentinel = Sentinel(nodes, sentinel_kwargs=common, **common)
        return sentinel.master_for(path[0], db=db, password=password, retry_on_timeout=False)
    if scheme == CLUSTER:
        from redis.asyncio.cluster import ClusterNode, RedisCluster

        nodes, password = _nodes(urlsplit(url).netloc, 6379)
        extra: dict[str, Any] = {"max_connections": max_connections} if max_connections else {}
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in nodes],
            password=password,
            **common,
            **extra,
        )
    if max_connections:
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=timeout, **common
        )
        return aioredis.Redis(connection_pool=pool)
    return aioredis.from_url(url, retry_on_timeout=False, **common)

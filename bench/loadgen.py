"""A small HTTP/1.1 load generator (asyncio + httptools), for what wrk cannot do and where wrk is missing.

- `closed_loop(...)`: `connections` keep-alive connections, each sending its next request as soon as
  the previous answer ended, for `seconds`; latencies and status counts. The fallback for wrk.
- `first_byte(...)`: sequential streaming requests; per request the time until the first body byte
  (the first SSE bytes) and until the end of the stream. Always used for time-to-first-byte.

Raw protocol code instead of aiohttp/httpx: the client must cost little and the same for every
target, since the bench subtracts the direct numbers from the gateway numbers.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httptools


class ConnectionLost(Exception):
    pass


class _Connection(asyncio.Protocol):
    """One keep-alive client connection with at most one request in flight."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[int] | None = None
        self.first_body: float = 0.0
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionLost(str(exc or "closed by the server")))

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(ConnectionLost(f"bad response: {exc}"))

    def on_body(self, body: bytes) -> None:
        if not self.first_body:
            self.first_body = time.perf_counter()

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.parser.get_status_code())

    def send(self, request: bytes) -> asyncio.Future[int]:
        assert self.transport is not None
        self.first_body = 0.0
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter


def build_request(host: str, port: int, path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer sk-bench\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _connect(host: str, port: int) -> _Connection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(_Connection, host, port)
    return protocol


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, float]:
        non_2xx = sum(n for status, n in self.statuses.items() if not 200 <= status < 300)
        out: dict[str, float] = {"requests": len(self.latencies), "non_2xx": non_2xx, "errors": self.errors}
        out["rps"] = len(self.latencies) / self.seconds if self.seconds else 0.0
        out.update(percentiles_ms(self.latencies))
        return out


def percentiles_ms(samples: list[float]) -> dict[str, float]:
    if len(samples) < 2:
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "mean_ms": float("nan")}
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "mean_ms": statistics.fmean(samples) * 1000}


def fresh_bodies(bodies: list[bytes]) -> Iterator[bytes] | None:
    """None when the one body is static; else an endless supply with "{n}" made unique per request."""
    if len(bodies) == 1 and b"{n}" not in bodies[0]:
        return None
    return _numbered(bodies)


def _numbered(bodies: list[bytes]) -> Iterator[bytes]:
    stamp = str(time.time_ns()).encode()
    for n, body in enumerate(itertools.cycle(bodies), 1):
        yield body.replace(b"{n}", b"%s-%d" % (stamp, n))


async def closed_loop(
    host: str, port: int, path: str, bodies: list[bytes], connections: int, seconds: float
) -> LoadResult:
    result = LoadResult()
    supply = fresh_bodies(bodies)
    static = build_request(host, port, path, bodies[0])
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        conn: _Connection | None = None
        while time.perf_counter() < deadline:
            try:
                if conn is None or conn.transport is None or not conn.keep_alive:
                    conn = await _connect(host, port)
                request = static if supply is None else build_request(host, port, path, next(supply))
                started = time.perf_counter()
                status = await conn.send(request)
                result.latencies.append(time.perf_counter() - started)
                result.statuses[status] += 1
            except (OSError, ConnectionLost):
                result.errors += 1
                conn = None
                await asyncio.sleep(0.01)
        if conn is not None and conn.transport is not None:
            conn.transport.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    result.seconds = time.perf_counter() - started
    return result


async def first_byte(host: str, port: int, path: str, body: bytes, requests: int) -> dict[str, float]:
    """Sequential streaming requests: p50/p99 time to the first body byte and to the end.

    A body with "{n}" in it is made unique per request (see `fresh_bodies`)."""
    supply = fresh_bodies([body])
    request = build_request(host, port, path, body)
    ttfb: list[float] = []
    total: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    conn: _Connection | None = None
    for _ in range(requests):
        try:
            if conn is None or conn.transport is None or not conn.keep_alive:
                conn = await _connect(host, port)
            if supply is not None:
                request = build_request(host, port, path, next(supply))
            started = time.perf_counter()
            status = await conn.send(request)
            ended = time.perf_counter()
        except (OSError, ConnectionLost):
            errors += 1
            conn = None
            continue
        statuses[status] += 1
        if conn.first_body:
            ttfb.append(conn.first_body - started)
        total.append(ended - started)
    if conn is not None and conn.transport is not None:
        conn.transport.close()
    first = percentiles_ms(ttfb)
    end = percentiles_ms(total)
    non_2xx = sum(n for status, n in statuses.items() if not 200 <= status < 300)
    return {
        "requests": len(total),
        "non_2xx": non_2xx,
        "errors": errors,
        "ttfb_p50_ms": first["p50_ms"],
        "ttfb_p99_ms": first["p99_ms"],
        "total_p50_ms": end["p50_ms"],
        "total_p99_ms": end["p99_ms"],
    }


def run(coro):  # type: ignore[no-untyped-def]
    """Run on uvloop when it is installed (a cheaper client), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)

"""aiohttp vs httpx as the gateway's pooled upstream client (why providers/client.py uses aiohttp).

Both clients send the same POST (a small chat completion body) to bench/upstream.py on loopback,
with keep-alive and one pooled client each, under uvloop:

- sequential: one request at a time → p50/p99 latency per request;
- concurrent: 64 in flight → requests/s;
- streaming: read an 8-event SSE response chunk by chunk → per-request time.

The upstream runs in its own process (pinned to another CPU when there is one), so the numbers are
the client's cost plus loopback, which is what the gateway pays per upstream call.

    .venv/bin/python bench/upstream_client_bench.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx
import orjson

BENCH = Path(__file__).resolve().parent
BODY = orjson.dumps({"model": "bench", "messages": [{"role": "user", "content": "hello " * 20}]})
STREAM_BODY = orjson.dumps(
    {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
)
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer bench"}

Send = Callable[[bytes], Awaitable[int]]


async def run(send: Send, stream: Send, requests: int, concurrency: int) -> dict[str, float]:
    for _ in range(200):  # warm the pool
        await send(BODY)
    latencies = []
    for _ in range(requests):
        start = time.perf_counter()
        await send(BODY)
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    done = 0

    async def worker() -> None:
        nonlocal done
        while done < requests * 2:
            done += 1
            await send(BODY)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    rps = done / (time.perf_counter() - start)
    stream_times = []
    for _ in range(requests // 2):
        start = time.perf_counter()
        await stream(STREAM_BODY)
        stream_times.append(time.perf_counter() - start)
    return {
        "p50_us": latencies[len(latencies) // 2] * 1e6,
        "p99_us": latencies[int(len(latencies) * 0.99)] * 1e6,
        "rps": rps,
        "stream_p50_us": statistics.median(stream_times) * 1e6,
    }


async def bench_aiohttp(url: str, requests: int, concurrency: int) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=512, keepalive_timeout=60)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send(body: bytes) -> int:
            async with session.post(url, data=body, headers=HEADERS) as response:
                await response.read()
                return response.status

        async def stream(body: bytes) -> int:
            async with session.post(url, data=body, headers=HEADERS) as response:
                while await response.content.readany():
                    pass
                return response.status

        return await run(send, stream, requests, concurrency)


async def bench_httpx(url: str, requests: int, concurrency: int) -> dict[str, float]:
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512, keepalive_expiry=60)
    async with httpx.AsyncClient(limits=limits) as client:

        async def send(body: bytes) -> int:
            response = await client.post(url, content=body, headers=HEADERS)
            return response.status_code

        async def stream(body: bytes) -> int:
            async with client.stream("POST", url, content=body, headers=HEADERS) as response:
                async for _ in response.aiter_raw():
                    pass
                return response.status_code

        return await run(send, stream, requests, concurrency)


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the upstream did not start on port {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--port", type=int, default=18099)
    args = parser.parse_args()
    cmd = [sys.executable, str(BENCH / "upstream.py"), "--port", str(args.port)]
    if (os.cpu_count() or 1) > 1:
        cmd = ["taskset", "-c", "1", *cmd]
        os.sched_setaffinity(0, {0})
    upstream = subprocess.Popen(cmd)
    try:
        wait_for_port(args.port)
        url = f"http://127.0.0.1:{args.port}/v1/chat/completions"
        import uvloop

        for name, fn in (("aiohttp", bench_aiohttp), ("httpx", bench_httpx)):
            result = uvloop.run(fn(url, args.requests, args.concurrency))
            print(
                f"{name:8} sequential p50 {result['p50_us']:7.0f} µs  p99 {result['p99_us']:7.0f} µs   "
                f"concurrent({args.concurrency}) {result['rps']:7.0f} req/s   stream p50 {result['stream_p50_us']:7.0f} µs"
            )
    finally:
        upstream.terminate()
        upstream.wait()


if __name__ == "__main__":
    main()

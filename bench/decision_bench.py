"""Decision-service latency: /routing/v1/chat/completions with the embedded router and 10 routes.

Starts `llmroute up` on a free port with a 10-route config, then measures p50/p99 latency of
routing decisions for 1-turn and 8-turn conversations, sequentially and with 16 concurrent
clients, plus the router's own time (in-process, no HTTP). Prints a table and writes JSON.

    .venv/bin/python bench/decision_bench.py [--requests 300] [--json bench/results/decision.json]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

from bench_routes import ROUTES

CONFIG = (
    "version: v0.4.0\nmodel_providers:\n  - model: echo/small\n    default: true\n  - model: echo/large\n"
    + (
        "routing_preferences:\n"
        + "".join(
            f"  - name: {n}\n    description: {d}\n    models: [echo/large, echo/small]\n" for n, d in ROUTES
        )
    )
)

ONE_TURN = [{"role": "user", "content": "Write a Python function that merges two sorted lists"}]
EIGHT_TURNS = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "I have a CSV of monthly sales per region."},
    {"role": "assistant", "content": "Great, what would you like to know about it?"},
    {"role": "user", "content": "Which region grew fastest last quarter?"},
    {"role": "assistant", "content": "The West region grew 14% quarter over quarter."},
    {"role": "user", "content": "Can you chart that as a bar chart?"},
    {"role": "assistant", "content": "Here is a description of the bar chart..."},
    {"role": "user", "content": "Now write the pandas code that produces it."},
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "mean_ms": statistics.fmean(ordered) * 1000}


SUBJECTS = (
    "invoices",
    "sensor readings",
    "user accounts",
    "log lines",
    "orders",
    "survey answers",
    "tickets",
)


def fresh(messages: list[dict], i: int) -> list[dict]:
    """The conversation with a latest user turn the router has never seen, so its embedding cache cannot
    answer and the encoder runs (earlier turns stay the same, as in a real conversation)."""
    latest = dict(messages[-1])
    latest["content"] = f"{latest['content']} for the {SUBJECTS[i % len(SUBJECTS)]} of batch {i}"
    return [*messages[:-1], latest]


async def measure(
    url: str, messages: list[dict], requests: int, concurrency: int, unique: bool
) -> dict[str, float]:
    def body(i: int) -> bytes:
        return orjson.dumps({"model": "echo/small", "messages": fresh(messages, i) if unique else messages})

    headers = {"content-type": "application/json"}
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        for i in range(20):  # warm-up
            async with session.post(url, data=body(-1 - i), headers=headers) as response:
                await response.read()
        remaining = requests
        sent = 0

        async def worker() -> None:
            nonlocal remaining
            nonlocal sent
            while remaining > 0:
                remaining -= 1
                sent += 1
                payload = body(sent + concurrency * 100_000)
                start = time.perf_counter()
                async with session.post(url, data=payload, headers=headers) as response:
                    await response.read()
                    assert response.status == 200, response.status
                latencies.append(time.perf_counter() - start)

        wall = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - wall
    return {**percentiles(latencies), "rps": len(latencies) / wall}


def router_only(requests: int) -> dict[str, dict[str, float]]:
    from llmroute.routing.embedded import EmbeddedRouter
    from llmroute.routing.types import Route
    from llmroute.wire import parse_conversation

    router = EmbeddedRouter()
    routes = [Route(n, d, ("echo/large",)) for n, d in ROUTES]
    router.warm(routes)
    out = {}
    for name, messages in (("1-turn", ONE_TURN), ("8-turn", EIGHT_TURNS)):
        for unique in (True, False):
            samples = []
            for i in range(requests):
                conversation = parse_conversation(
                    "openai_chat", {"messages": fresh(messages, 900_000 + i) if unique else messages}
                )
                start = time.perf_counter()
                router.classify_sync(conversation, routes)
                samples.append(time.perf_counter() - start)
            out[f"{name} {'new prompts' if unique else 'cached'}"] = percentiles(samples)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--json", dest="json_path", default="bench/results/decision.json")
    args = parser.parse_args()

    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(CONFIG)
    llmroute = Path(sys.executable).with_name("llmroute")
    server = subprocess.Popen(
        [str(llmroute), "up", f.name, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/routing/v1/chat/completions"
    results: dict[str, object] = {"routes": len(ROUTES), "cpus": os.cpu_count()}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("gateway did not start") from None
                time.sleep(0.1)
        rows = []
        for name, messages in (("1-turn", ONE_TURN), ("8-turn", EIGHT_TURNS)):
            for unique in (True, False):
                for concurrency in (1, 16):
                    stats = asyncio.run(measure(url, messages, args.requests, concurrency, unique))
                    prompts = "new prompts" if unique else "cached"
                    rows.append({"conversation": f"{name} {prompts}", "concurrency": concurrency, **stats})
        results["http"] = rows
    finally:
        server.terminate()
        server.wait(timeout=30)
    results["router_only"] = router_only(args.requests)

    print(f"Decision latency, {len(ROUTES)} routes, embedded router, {os.cpu_count()} CPUs")
    print(f"{'conversation':<22}{'clients':>8}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}")
    for row in results["http"]:  # type: ignore[union-attr]
        print(
            f"{row['conversation']:<22}{row['concurrency']:>8}{row['p50_ms']:>10.2f}{row['p99_ms']:>10.2f}"
            f"{row['rps']:>10.0f}"
        )
    for name, stats in results["router_only"].items():  # type: ignore[union-attr]
        print(f"router only {name:<19}{stats['p50_ms']:>10.2f}{stats['p99_ms']:>10.2f}")
    Path(args.json_path).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json_path).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(f"written: {args.json_path}")


if __name__ == "__main__":
    main()

"""What tracing costs per request: OpenTelemetry off vs on, measured in-process through the ASGI app.

No network and no uvicorn: requests are driven straight into the ASGI app so that the numbers are
the gateway's own work (and are not drowned by loopback and HTTP parsing noise). Variants:

- the observability middleware alone, around an endpoint that does nothing (bare app / tracing
  off / on but unsampled / on and sampled),
- the whole gateway: `POST /v1/chat/completions` to the built-in `echo` provider (no upstream
  network; explicit model, so no router) and `POST /routing/v1/chat/completions` with an alias.

"On, sampled" has a BatchSpanProcessor whose exporter encodes every batch to OTLP protobuf (the
real work of the OTLP exporter) and drops it, so the background export thread's cost is counted.
The access log is at WARNING during the run (log I/O is the same with tracing off and on).
Variants run interleaved in rounds, so machine load hits them alike; medians are reported.

    .venv/bin/python bench/tracing_bench.py [--requests 2000] [--rounds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from llmroute.config import load_config_text
from llmroute.config.models import Tracing as TracingConfig
from llmroute.observability.middleware import ObservabilityMiddleware
from llmroute.observability.tracing import Tracing, build_tracing
from llmroute.server.app import create_app

CONFIG = """
version: v0.4.0
model_providers:
  - model: echo/fast
    default: true
model_aliases:
  fast: {target: echo/fast}
"""
CHAT_BODY = orjson.dumps({"model": "echo/fast", "messages": [{"role": "user", "content": "Say hi"}]})
DECIDE_BODY = orjson.dumps({"model": "fast", "messages": [{"role": "user", "content": "Say hi"}]})


class EncodingExporter(SpanExporter):
    """Does what the OTLP exporter does to a batch except sending it: encode to protobuf bytes."""

    def __init__(self) -> None:
        self.spans = 0
        self.bytes = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        self.bytes += len(encode_spans(spans).SerializeToString())
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def with_exporter(tracing: Tracing | None) -> EncodingExporter | None:
    if tracing is None:
        return None
    exporter = EncodingExporter()
    tracing.provider.add_span_processor(BatchSpanProcessor(exporter))
    return exporter


# --- driving an ASGI app ----------------------------------------------------------------------------


async def request(app: ASGIApp, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST" if body else "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 12000),
        "state": {},
    }
    delivered = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # the client never disconnects
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def per_request_us(
    app: ASGIApp, path: str, body: bytes, n: int, headers: list[tuple[bytes, bytes]] | None = None
) -> float:
    """Median of 5 batches' mean time per request, in microseconds (batches smooth out timer cost)."""
    hdrs = headers or []
    for _ in range(50):
        status = await request(app, path, body, hdrs)
        assert status == 200, f"{path}: {status}"
    batch = max(n // 5, 1)
    means = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(batch):
            await request(app, path, body, hdrs)
        means.append((time.perf_counter() - start) / batch * 1e6)
    return statistics.median(means)


async def noop_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    await Response(b"{}", media_type="application/json")(scope, receive, send)


@contextlib.asynccontextmanager
async def running(app: Any) -> AsyncIterator[Any]:
    async with app.router.lifespan_context(app):
        yield app


# --- the bench ---------------------------------------------------------------------------------------


async def bench(requests: int, rounds: int) -> dict[str, Any]:
    logging.getLogger("llmroute.access").setLevel(logging.WARNING)
    config = load_config_text(CONFIG)
    traced = load_config_text(CONFIG + "tracing: {service_name: bench, sampling_ratio: 1.0}\n")
    unsampled = load_config_text(CONFIG + "tracing: {service_name: bench, sampling_ratio: 0.0}\n")
    # The middleware alone.
    on = build_tracing(TracingConfig(service_name="bench", sampling_ratio=1.0), {})
    on_exporter = with_exporter(on)
    off_ratio = build_tracing(TracingConfig(service_name="bench", sampling_ratio=0.0), {})
    middleware_apps: dict[str, ASGIApp] = {
        "bare endpoint (no middleware)": noop_endpoint,
        "middleware, tracing off": ObservabilityMiddleware(noop_endpoint, ["/x"]),
        "middleware, tracing on, unsampled": ObservabilityMiddleware(noop_endpoint, ["/x"], off_ratio),
        "middleware, tracing on, sampled": ObservabilityMiddleware(noop_endpoint, ["/x"], on),
    }

    gateways = {
        "off": create_app(config),
        "on, unsampled": create_app(unsampled),
        "on, sampled": create_app(traced),
    }
    exporters: dict[str, EncodingExporter | None] = {
        name: with_exporter(app.state.gateway.tracing) for name, app in gateways.items()
    }

    results: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    async with contextlib.AsyncExitStack() as stack:
        for app in gateways.values():
            await stack.enter_async_context(running(app))
        for r in range(rounds):
            for name, app in middleware_apps.items():
                add(name, await per_request_us(app, "/x", b"", requests))
            for name, app in gateways.items():
                add(
                    f"proxy /v1/chat/completions (echo), tracing {name}",
                    await per_request_us(app, "/v1/chat/completions", CHAT_BODY, requests),
                )
                add(
                    f"decision /routing/v1/chat/completions (alias), tracing {name}",
                    await per_request_us(app, "/routing/v1/chat/completions", DECIDE_BODY, requests),
                )
            print(f"round {r + 1}/{rounds} done", file=sys.stderr, flush=True)

    medians = {name: statistics.median(values) for name, values in results.items()}
    if on is not None:
        on.shutdown()
    # (the gateways' own providers were shut down, and so flushed, when their lifespans ended)
    spans = sum(e.spans for e in (on_exporter, *exporters.values()) if e is not None)
    return {
        "requests_per_batch_set": requests,
        "rounds": rounds,
        "median_us": medians,
        "spans_exported": spans,
    }


def delta_rows(medians: dict[str, float]) -> list[tuple[str, float]]:
    rows = []
    base = medians["bare endpoint (no middleware)"]
    for name in (
        "middleware, tracing off",
        "middleware, tracing on, unsampled",
        "middleware, tracing on, sampled",
    ):
        rows.append((f"{name} vs bare", medians[name] - base))
    for kind in ("proxy /v1/chat/completions (echo)", "decision /routing/v1/chat/completions (alias)"):
        off = medians[f"{kind}, tracing off"]
        for variant in ("on, unsampled", "on, sampled"):
            rows.append((f"{kind}: tracing {variant} vs off", medians[f"{kind}, tracing {variant}"] - off))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="requests per variant per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    out = asyncio.run(bench(args.requests, args.rounds))
    medians = out["median_us"]
    width = max(len(name) for name in medians)
    print(f"\nper-request time, median of {args.rounds} rounds (µs)")
    for name, value in medians.items():
        print(f"  {name:<{width}}  {value:8.1f}")
    print("\ncost of each step (µs per request)")
    rows = delta_rows(medians)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value:+8.1f}")
    print(f"\nspans encoded by the exporters: {out['spans_exported']}")
    out["deltas_us"] = dict(rows)
    if args.json:
        with open(args.json, "wb") as f:
            f.write(orjson.dumps(out, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()

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
PROXY = "proxy /v1/chat/completions (echo)"
DECISION = "decision /routing/v1/chat/completions (alias)"
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


# CPU clocks by default: the requests never wait on I/O here, so CPU time is the gateway's work, and it
# does not count time other processes on a busy machine take from us. `--clock wall` uses perf_counter.
LATENCY_CLOCK = time.thread_time  # the event loop's thread: the request path
TOTAL_CLOCK = time.process_time  # every thread: includes the span exporter's


# --- driving an ASGI app ----------------------------------------------------------------------------


async def request(
    app: ASGIApp, path: str, body: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[int, float]:
    """Send one request into the app: (status, LATENCY_CLOCK() when the response's last byte was sent)."""
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
    done = 0.0

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # the client never disconnects
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, done
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            done = LATENCY_CLOCK()

    await app(scope, receive, send)
    return status, done


async def measure(
    app: ASGIApp, path: str, body: bytes, n: int, headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[float, float]:
    """(latency, total) per request in µs, each the median over 5 batches of the batch mean.

    latency: from the call until the response's last byte was handed to the server (what the client
    waits for), on LATENCY_CLOCK. total: until the app returned, on TOTAL_CLOCK, so it includes what
    the middleware does after the response (metrics, spans, the log line) and the span export
    thread's work: the cost per request, which bounds throughput.
    """
    hdrs = headers or []
    for _ in range(50):
        status, _done = await request(app, path, body, hdrs)
        assert status == 200, f"{path}: {status}"
    batch = max(n // 5, 1)
    latencies, totals = [], []
    for _ in range(5):
        waited = 0.0
        start = TOTAL_CLOCK()
        for _ in range(batch):
            sent = LATENCY_CLOCK()
            _status, done = await request(app, path, body, hdrs)
            waited += done - sent
        totals.append((TOTAL_CLOCK() - start) / batch * 1e6)
        latencies.append(waited / batch * 1e6)
    return statistics.median(latencies), statistics.median(totals)


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

    latency: dict[str, list[float]] = {}
    total: dict[str, list[float]] = {}

    async def run(name: str, app: ASGIApp, path: str, body: bytes) -> None:
        lat, tot = await measure(app, path, body, requests)
        latency.setdefault(name, []).append(lat)
        total.setdefault(name, []).append(tot)

    async with contextlib.AsyncExitStack() as stack:
        for app in gateways.values():
            await stack.enter_async_context(running(app))
        for r in range(rounds):
            for name, app in middleware_apps.items():
                await run(name, app, "/x", b"")
            for name, app in gateways.items():
                await run(f"{PROXY}, tracing {name}", app, "/v1/chat/completions", CHAT_BODY)
                await run(f"{DECISION}, tracing {name}", app, "/routing/v1/chat/completions", DECIDE_BODY)
            print(f"round {r + 1}/{rounds} done", file=sys.stderr, flush=True)

    median_latency = {name: statistics.median(values) for name, values in latency.items()}
    median_total = {name: statistics.median(values) for name, values in total.items()}
    if on is not None:
        on.shutdown()
    # (the gateways' own providers were shut down, and so flushed, when their lifespans ended)
    spans = sum(e.spans for e in (on_exporter, *exporters.values()) if e is not None)
    return {
        "clock": "wall" if LATENCY_CLOCK is time.perf_counter else "cpu",
        "requests_per_variant_per_round": requests,
        "rounds": rounds,
        "latency_us": median_latency,
        "total_us": median_total,
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
    for kind in (PROXY, DECISION):
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
    parser.add_argument(
        "--clock", choices=["cpu", "wall"], default="cpu", help="CPU time (default) or wall-clock time"
    )
    args = parser.parse_args()
    if args.clock == "wall":
        global LATENCY_CLOCK, TOTAL_CLOCK
        LATENCY_CLOCK = TOTAL_CLOCK = time.perf_counter
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    out = asyncio.run(bench(args.requests, args.rounds))
    lat, tot = out["latency_us"], out["total_us"]
    width = max(len(name) for name in lat)
    print(f"\nper request, median of {args.rounds} rounds (µs, {args.clock} clock)")
    print(f"  {'':<{width}}  {'latency':>8}  {'total':>8}")
    for name in lat:
        print(f"  {name:<{width}}  {lat[name]:8.1f}  {tot[name]:8.1f}")
    print("\nadded per request (µs): latency = before the response completes, total = CPU incl. after it")
    rows_lat, rows_tot = delta_rows(lat), delta_rows(tot)
    width = max(len(name) for name, _ in rows_lat)
    for (name, dl), (_n, dt) in zip(rows_lat, rows_tot, strict=True):
        print(f"  {name:<{width}}  {dl:+8.1f}  {dt:+8.1f}")
    print(f"\nspans encoded by the exporters: {out['spans_exported']}")
    out["added_latency_us"] = dict(rows_lat)
    out["added_total_us"] = dict(rows_tot)
    if args.json:
        with open(args.json, "wb") as f:
            f.write(orjson.dumps(out, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()

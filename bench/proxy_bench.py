"""Gateway overhead, side by side: direct vs through llmroute vs through LiteLLM's proxy (`make bench`).

One fake OpenAI upstream (bench/upstream.py: keep-alive, fixed reply, streaming variant) serves all
three, on the same machine, one worker each. For each target:

- sequential latency (1 connection): p50/p99, and what the gateway adds over calling the upstream directly;
- throughput at 32 and 256 connections (requests/s, non-2xx answers, transport errors);
- streaming: time to the first body byte, and what the gateway adds to it;
- llmroute again with routing on (embedded router, 10 routes, a new prompt every request so the
  embedding cache cannot answer), and llmroute with `--workers 2` for the multi-core number;
- resident memory of each llmroute process after its load.

Load comes from wrk (installed with apt-get when missing and possible) through bench/wrk_post.lua;
without wrk, from bench/loadgen.py (Python, asyncio + httptools). Time to first byte always comes
from loadgen.py. On a machine with 2+ CPUs the server under test and the upstream share CPU 0 and the
load generator runs on the others (why: bench/processes.py, `Layout`); as root, all at nice -10.
Each load run also records the server's CPU time, so the table shows CPU per request and requests
per CPU-second (throughput per core), which other work on a shared machine disturbs far less than
requests per second.

LiteLLM is installed (pinned version) into its own virtualenv under .bench/ on the first run; if that
fails the bench says why and reports direct vs llmroute only. Results: a table on stdout and JSON in
bench/results/proxy.json. `--soak` instead runs the memory soak (`make bench-soak`): RSS of a gateway
with the embedded model loaded, sampled over 100k requests.

    .venv/bin/python bench/proxy_bench.py [--seconds 8] [--no-litellm] [--json PATH]
    .venv/bin/python bench/proxy_bench.py --soak [--soak-requests 100000]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

import loadgen
from bench_routes import ROUTES
from litellm_proxy import LITELLM_ENV, LITELLM_VERSION, PASSTHROUGH_MODEL, ensure_litellm, litellm_config
from load import Load, ensure_wrk
from processes import CHAT_PATH, WORK_DIR, Layout, Process, free_port, running, wait_ready
from report import report, verdict

BENCH_DIR = Path(__file__).resolve().parent
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Write a Python function that merges two sorted lists."},
]
BODY = orjson.dumps({"model": PASSTHROUGH_MODEL, "messages": MESSAGES, "max_tokens": 64})
STREAM_BODY = orjson.dumps(
    {"model": PASSTHROUGH_MODEL, "messages": MESSAGES, "max_tokens": 64, "stream": True}
)

# One prompt per route; "{n}" becomes a per-request number, so every prompt is new to the router.
ROUTED_PROMPTS = [
    "Write a Python function that merges two sorted lists, variant {n}",
    "Please review this code for bugs: def f(x): return x/0  # case {n}",
    "My test fails with KeyError: 'user_id' in handler.py line {n}, why?",
    "Compare the trade-offs of microservices and a monolith for a team of {n} engineers",
    "Solve the equation 3x + {n} = 42 and explain each step",
    "Write a short poem about the sea and lighthouse number {n}",
    "Summarize this meeting: we agreed to ship release {n} next week after QA signs off",
    "Translate to French: the train leaves at {n} o'clock",
    "Here is a CSV of monthly sales; which region grew fastest? rows: {n}",
    "I want a refund for order #{n}, it arrived broken",
]


def routed_bodies() -> list[bytes]:
    return [
        orjson.dumps(
            {
                "model": "openai/bench-small",
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": 64,
            }
        )
        for prompt in ROUTED_PROMPTS
    ]


# A request the routing config serves (its models are openai/bench-large and openai/bench-small).
ROUTED_PROBE = routed_bodies()[0].replace(b"{n}", b"0")


# --- configs -------------------------------------------------------------------------------------


def llmroute_config(upstream_port: int, routed: bool) -> str:
    base = f"http://127.0.0.1:{upstream_port}"
    lines = [
        "version: v0.4.0",
        "listeners:",
        "  - name: model_listener",
        "    address: 127.0.0.1",
        "model_providers:",
    ]
    models = ["openai/bench-large", "openai/bench-small"] if routed else [PASSTHROUGH_MODEL]
    for i, model in enumerate(models):
        lines += [f"  - model: {model}", f"    base_url: {base}", "    access_key: sk-bench"]
        if i == len(models) - 1:
            lines.append("    default: true")
    if routed:
        lines.append("routing_preferences:")
        for name, description in ROUTES:
            lines += [
                f"  - name: {name}",
                f"    description: {description}",
                "    models: [openai/bench-large, openai/bench-small]",
            ]
    return "\n".join(lines) + "\n"


# --- measuring one target ------------------------------------------------------------------------


def measure(
    name: str,
    port: int,
    load: Load,
    server: Process,
    bodies: list[bytes],
    stream_body: bytes,
    seconds: float,
    seq_seconds: float,
    stream_requests: int,
    connections: tuple[int, ...] = (32, 256),
) -> dict[str, Any]:
    """Every measurement for one target; each load run also records the server's CPU time per request."""

    def run(connections: int, seconds: float) -> dict[str, float]:
        cpu = server.cpu_seconds()
        out = load.run(port, bodies, connections, seconds)
        used = server.cpu_seconds() - cpu
        if out["requests"] and used > 0:
            out["server_cpu_us_per_request"] = used / out["requests"] * 1e6
            # Throughput per core: what one fully busy CPU would serve at this cost per request.
            out["requests_per_cpu_second"] = out["requests"] / used
        return out

    print(f"  {name}: warm-up", flush=True)
    load.run(port, bodies, 32, 2)
    out: dict[str, Any] = {}
    if seq_seconds:
        print(f"  {name}: sequential ({seq_seconds:g}s)", flush=True)
        out["sequential"] = run(1, seq_seconds)
    for c in connections:
        print(f"  {name}: {c} connections ({seconds:g}s)", flush=True)
        out[f"c{c}"] = run(c, seconds)
    if stream_requests:
        print(f"  {name}: streaming time to first byte ({stream_requests} requests)", flush=True)
        loadgen.run(loadgen.first_byte("127.0.0.1", port, CHAT_PATH, stream_body, 20))  # warm-up
        out["stream"] = loadgen.run(
            loadgen.first_byte("127.0.0.1", port, CHAT_PATH, stream_body, stream_requests)
        )
    return out


def write_config(name: str, text: str) -> Path:
    WORK_DIR.mkdir(exist_ok=True)
    path = WORK_DIR / name
    path.write_text(text)
    return path


def llmroute_command(layout: Layout, config: Path, port: int, workers: int, pin: bool = True) -> list[str]:
    exe = Path(sys.executable).with_name("llmroute")
    cpus = layout.server if pin else None
    return [
        *layout.prefix(cpus),
        str(exe),
        "up",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def start_upstream(layout: Layout) -> tuple[Process, int]:
    """The fake OpenAI upstream (bench/upstream.py) on a free port, on the server's CPUs."""
    port = free_port()
    command = [
        *layout.prefix(layout.server),
        sys.executable,
        str(BENCH_DIR / "upstream.py"),
        "--port",
        str(port),
    ]
    return Process("upstream", command), port


def guarded(what: str, results: dict[str, Any], key: str, run: Callable[[], Any]) -> None:
    """Run one part of the bench; a failure is reported and recorded, and the rest still runs."""
    try:
        results[key] = run()
    except Exception as exc:
        print(f"  {what} failed: {exc}", flush=True)
        results[key] = {"error": str(exc)}


# --- main ----------------------------------------------------------------------------------------


def python_speed_us() -> float:
    """How fast this machine runs Python: microseconds for `sum(range(1000))`, best of 7."""
    return min(timeit.repeat("sum(range(1000))", number=1000, repeat=7)) / 1000 * 1e6


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    layout = Layout(pin=not args.no_pin, boost=not args.no_priority)
    layout.apply_to_self()
    load = Load(None if args.python_load else ensure_wrk(), layout)
    litellm_exe, litellm_why = ensure_litellm(install=not args.no_litellm)
    results: dict[str, Any] = {
        "conditions": {
            "cpus": os.cpu_count(),
            "layout": layout.describe(),
            "load_generator": load.tool,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "python_speed_us": python_speed_us(),
            "load_average_at_start": os.getloadavg(),
            "seconds_per_run": args.seconds,
            "sequential_seconds": args.seq_seconds,
            "stream_requests": args.stream_requests,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "targets": {},
    }
    targets = results["targets"]
    print(f"bench: {layout.describe()}; load: {load.tool}", flush=True)
    upstream, upstream_port = start_upstream(layout)
    try:
        wait_ready(upstream, upstream_port, BODY, 20)
        common = {
            "seconds": args.seconds,
            "seq_seconds": args.seq_seconds,
            "stream_requests": args.stream_requests,
        }

        print("direct (the fake upstream itself)", flush=True)
        guarded(
            "direct",
            targets,
            "direct",
            lambda: measure("direct", upstream_port, load, upstream, [BODY], STREAM_BODY, **common),
        )

        print("through llmroute (1 worker)", flush=True)
        config = write_config("llmroute-passthrough.yaml", llmroute_config(upstream_port, routed=False))

        def ours() -> dict[str, Any]:
            port = free_port()
            with running("llmroute", llmroute_command(layout, config, port, 1), port, BODY, 60) as gw:
                out = measure("llmroute", port, load, gw, [BODY], STREAM_BODY, **common)
                out["rss_mib"] = gw.rss_mib()
            return out

        guarded("llmroute", targets, "llmroute", ours)

        if litellm_exe is None:
            print(f"LiteLLM not measured: {litellm_why}", flush=True)
            targets["litellm"] = {"error": litellm_why}
        else:
            print(f"through LiteLLM {LITELLM_VERSION} proxy (1 worker)", flush=True)
            lconfig = write_config("litellm.yaml", litellm_config(upstream_port))

            def theirs() -> dict[str, Any]:
                port = free_port()
                command = [
                    *layout.prefix(layout.server),
                    str(litellm_exe),
                    "--config",
                    str(lconfig),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--num_workers",
                    "1",
                ]
                with running("litellm", command, port, BODY, 180, env=LITELLM_ENV) as proxy:
                    out = measure("litellm", port, load, proxy, [BODY], STREAM_BODY, **common)
                    out["rss_mib"] = proxy.rss_mib()
                return out

            guarded("litellm", targets, "litellm", theirs)

        if not args.no_routing:
            print(
                "through llmroute with routing on (embedded router, 10 routes, a new prompt per request)",
                flush=True,
            )
            rconfig = write_config("llmroute-routing.yaml", llmroute_config(upstream_port, routed=True))
            bodies = routed_bodies()
            # Streaming with routing: a new prompt every request too ("{n}" survives the JSON round trip).
            stream_routed = orjson.dumps({**orjson.loads(bodies[0]), "stream": True})

            def routed() -> dict[str, Any]:
                port = free_port()
                with running(
                    "llmroute-routing", llmroute_command(layout, rconfig, port, 1), port, ROUTED_PROBE, 180
                ) as gw:
                    ready_rss = gw.rss_mib()
                    out = measure("llmroute+routing", port, load, gw, bodies, stream_routed, **common)
                    out["rss_mib_ready"] = ready_rss
                    out["rss_mib"] = gw.rss_mib()
                return out

            guarded("llmroute routing", targets, "llmroute_routing", routed)

        if not args.no_multi and (os.cpu_count() or 1) >= 2:
            print("through llmroute --workers 2 (not pinned: the OS spreads the workers)", flush=True)

            def multi() -> dict[str, Any]:
                port = free_port()
                command = llmroute_command(layout, config, port, 2, pin=False)
                with running("llmroute-2-workers", command, port, BODY, 60) as gw:
                    out = measure(
                        "llmroute x2", port, load, gw, [BODY], STREAM_BODY, args.seconds, 0, 0, (256,)
                    )
                    out["rss_mib"] = gw.rss_mib()
                return out

            guarded("llmroute --workers 2", targets, "llmroute_2_workers", multi)
    finally:
        upstream.stop()
    results["conditions"]["load_average_at_end"] = os.getloadavg()
    return results


def run_soak(args: argparse.Namespace) -> dict[str, Any]:
    """RSS of a routing gateway (embedded model loaded) sampled while it serves `soak_requests`."""
    layout = Layout(pin=not args.no_pin, boost=not args.no_priority)
    layout.apply_to_self()
    load = Load(None if args.python_load else ensure_wrk(), layout)
    upstream, upstream_port = start_upstream(layout)
    samples: list[dict[str, float]] = []
    try:
        wait_ready(upstream, upstream_port, BODY, 20)
        config = write_config("llmroute-routing.yaml", llmroute_config(upstream_port, routed=True))
        port = free_port()
        # One prompt in `soak_new_every` is new to the router (the encoder runs, the embedding cache takes
        # an entry and, once full at 8,192, evicts one); the rest repeat (cache hits). The default (4)
        # fills the cache within the first third of 100k requests, so the second half shows whether
        # memory still grows once every bounded cache is full.
        repeated = [b.replace(b"{n}", b"fixed") for b in routed_bodies()]
        fresh = routed_bodies()
        every = max(1, args.soak_new_every)
        bodies = [
            fresh[i // every] if i % every == every - 1 else repeated[i % 10] for i in range(10 * every)
        ]
        with running(
            "llmroute-soak", llmroute_command(layout, config, port, 1), port, ROUTED_PROBE, 180
        ) as gw:
            samples.append({"requests": 0, "rss_mib": gw.rss_mib()})
            print(
                f"soak: RSS at ready {samples[0]['rss_mib']:.1f} MiB; target {args.soak_requests:,} requests",
                flush=True,
            )
            done = 0
            failed = 0
            while done < args.soak_requests:
                chunk = load.run(port, bodies, 32, args.soak_chunk_seconds)
                done += int(chunk["requests"])
                failed += int(chunk["non_2xx"] + chunk["errors"])
                samples.append({"requests": done, "rss_mib": gw.rss_mib(), "rps": chunk["rps"]})
                print(
                    f"  {done:>8,} requests  RSS {samples[-1]['rss_mib']:7.1f} MiB  {chunk['rps']:6,.0f} req/s",
                    flush=True,
                )
    finally:
        upstream.stop()
    # Growth over the second half: by then the bounded caches (embeddings, targets) are full.
    settled = next((s for s in samples if s["requests"] >= args.soak_requests / 2), samples[-1])
    return {
        "conditions": {"cpus": os.cpu_count(), "layout": layout.describe(), "load_generator": load.tool},
        "requests": samples[-1]["requests"],
        "non_2xx_and_errors": failed,
        "rss_mib_ready": samples[0]["rss_mib"],
        "rss_mib_end": samples[-1]["rss_mib"],
        "new_prompt_every": max(1, args.soak_new_every),
        "rss_mib_at_half": settled["rss_mib"],
        "requests_at_half": settled["requests"],
        "growth_mib_second_half": samples[-1]["rss_mib"] - settled["rss_mib"],
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8, help="length of each throughput run")
    parser.add_argument("--seq-seconds", type=float, default=6, help="length of each sequential run")
    parser.add_argument("--stream-requests", type=int, default=500)
    parser.add_argument("--no-litellm", action="store_true", help="do not install or measure LiteLLM")
    parser.add_argument("--no-routing", action="store_true", help="skip the routing-on run")
    parser.add_argument("--no-multi", action="store_true", help="skip the --workers 2 run")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument(
        "--no-priority", action="store_true", help="do not raise the bench processes' priority (root only)"
    )
    parser.add_argument("--python-load", action="store_true", help="use the Python load generator, not wrk")
    parser.add_argument("--soak", action="store_true", help="run the memory soak instead")
    parser.add_argument("--soak-requests", type=int, default=100_000)
    parser.add_argument("--soak-chunk-seconds", type=float, default=10)
    parser.add_argument("--soak-new-every", type=int, default=4, help="one prompt in N is new to the router")
    parser.add_argument(
        "--json", dest="json_path", default=None, help="default: bench/results/{proxy,soak}.json"
    )
    args = parser.parse_args()

    if args.soak:
        results = run_soak(args)
        path = Path(args.json_path or BENCH_DIR / "results" / "soak.json")
        print(
            f"\nsoak: {results['requests']:,} requests, {results['non_2xx_and_errors']} non-2xx/errors; "
            f"RSS ready {results['rss_mib_ready']:.1f} MiB, at {results['requests_at_half']:,} requests "
            f"{results['rss_mib_at_half']:.1f} MiB, end {results['rss_mib_end']:.1f} MiB "
            f"(growth over the second half: {results['growth_mib_second_half']:+.1f} MiB)"
        )
    else:
        results = run_bench(args)
        path = Path(args.json_path or BENCH_DIR / "results" / "proxy.json")
        c = results["conditions"]
        print(f"\nGateway overhead bench: {c['cpus']} CPUs, {c['layout']}; load: {c['load_generator']}")
        print(
            f"load average at start {c['load_average_at_start'][0]:.2f}, at end {c['load_average_at_end'][0]:.2f}; "
            f"CPU speed: sum(range(1000)) takes {c['python_speed_us']:.1f} us here (about 10 on a current "
            "desktop core: scale the absolute numbers by that ratio)"
        )
        print("\n".join(report(results)))
        print()
        print("\n".join(verdict(results)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(f"results written to {path}")


if __name__ == "__main__":
    main()

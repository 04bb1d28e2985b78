"""Decision latency of the embedded router: p50/p99 over sequential decisions with 10 routes.

Three shapes: a 1-turn conversation; an 8-turn conversation whose earlier turns were seen by the
previous decision (the gateway's steady state: only the new user turn is encoded); and the same 8-turn
conversation arriving cold (every turn encoded in one batch). Route texts are warmed first, as at start-up.
Two route sets: the CLINC150 domains with descriptions only (they borrow library examples) and with 24
generated examples per route (evals/generated/clinc150-routes.json).

    .venv/bin/python scripts/bench_router_latency.py [--n 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from llmroute.routing.embedded import EmbeddedRouter  # noqa: E402
from llmroute.routing.types import Route  # noqa: E402
from llmroute.wire.conversation import Message  # noqa: E402

ROUTE_SETS = {
    "descriptions": tuple(
        Route(r["name"], r["description"])
        for r in json.loads((ROOT / "evals" / "clinc150-descriptions.json").read_text("utf-8"))
    ),
    "examples": tuple(
        Route(r["name"], r["description"], examples=tuple(r["examples"]))
        for r in json.loads((ROOT / "evals" / "generated" / "clinc150-routes.json").read_text("utf-8"))
    ),
}
QUESTIONS = [
    "how much money do I have in checking",
    "what's the weather going to be like in Boston this weekend, should I bring an umbrella?",
    "book me a hotel near the conference center for three nights starting on the 14th",
    "my card was declined at the grocery store even though I paid it off yesterday, why?",
    "remind me to call the plumber tomorrow at 9",
    "what's a good substitute for buttermilk in pancakes",
]
HISTORY = [
    ("user", "I'm planning a trip to Lisbon in May, can you help me with flights?"),
    ("assistant", "Sure! Flights from Boston to Lisbon in May start around $540 round trip with TAP."),
    ("user", "great, and what about hotels in Alfama for 4 nights?"),
    ("assistant", "Memmo Alfama and Santiago de Alfama are both well reviewed, about 180 to 250 a night."),
    ("user", "do I need a visa as a US citizen?"),
    ("assistant", "No visa is needed for stays up to 90 days, but ETIAS registration is planned."),
    ("user", "ok and what plug adapter do I need there"),
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def measure(router: EmbeddedRouter, n: int, shape: str, routes: tuple[Route, ...]) -> list[float]:
    times = []
    for i in range(n):
        question = f"{QUESTIONS[i % len(QUESTIONS)]} ({shape} {len(routes[0].examples)} {i})"  # never cached
        if shape == "1-turn":
            conversation = [Message("user", question)]
        else:
            history = HISTORY if shape == "8-turn warm" else [(r, f"{t} [{i}]") for r, t in HISTORY]
            conversation = [*(Message(r, t) for r, t in history), Message("user", question)]
        start = time.perf_counter()
        router.classify_sync(conversation, routes)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    router = EmbeddedRouter()
    results = {}
    for name, routes in ROUTE_SETS.items():
        router.warm(routes)
        measure(router, 20, "1-turn", routes)  # warm-up: first runs allocate
        for shape in ("1-turn", "8-turn warm", "8-turn cold"):
            times = measure(router, args.n, shape, routes)
            results[f"{name}, {shape}"] = {
                "p50_ms": round(percentile(times, 50), 2),
                "p99_ms": round(percentile(times, 99), 2),
                "mean_ms": round(statistics.mean(times), 2),
            }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for shape, r in results.items():
            print(
                f"{shape:<26} p50 {r['p50_ms']:6.2f} ms   p99 {r['p99_ms']:6.2f} ms   (10 routes, {args.n} sequential)"
            )


if __name__ == "__main__":
    main()

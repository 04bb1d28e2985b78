"""Fit the embedded router's none-decision (src/llmroute/routing/data/calibration.json).

Data: evals/train/ (hand-written suites and conversations, see evals/train/README.md), never the dev
or CLINC eval sets. Every case gives one row: the router's decision features for its conversation and
whether a route is the answer. Single-turn requests are also replayed against the routes of unrelated
suites, where the right answer is no route, which gives the model many realistic "irrelevant" rows.

The model is a class-balanced, L2-regularised logistic regression on standardised features, fitted by
Newton's method: deterministic, no randomness, a few hundred bytes of weights.

    .venv/bin/python scripts/build_train_cases.py
    .venv/bin/python scripts/fit_calibration.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from llmroute.routing.embedded import UNCALIBRATED, Calibration, EmbeddedRouter  # noqa: E402
from llmroute.routing.eval import EvalCase, load_cases, load_suites  # noqa: E402
from llmroute.routing.types import Route  # noqa: E402
from llmroute.wire.conversation import Message  # noqa: E402

FEATURES = (
    "score",
    "latest_max_z",
    "carried_z",
    "has_context",
    "latest_raw",
    "ack",
    "chat",
    "log_words",
)
# Suites whose themes overlap: a request from one may legitimately fit the other, so no cross negatives.
RELATED = {
    frozenset(p)
    for p in [
        ("dev_team", "tutoring"),
        ("fitness_coach", "restaurant"),
        ("legal_help", "hr_helpdesk"),
        ("travel_agency", "hr_helpdesk"),
    ]
}
L2 = 1.0
OUTPUT = ROOT / "src" / "llmroute" / "routing" / "data" / "calibration.json"


def training_rows(
    router: EmbeddedRouter, cases: list[EvalCase], suites: dict
) -> tuple[np.ndarray, np.ndarray]:
    suite_of = {routes: name for name, routes in suites.items()}
    x, y = [], []

    def add(messages: Sequence[Message], routes: tuple[Route, ...], label: float) -> None:
        features = router.classify_sync(messages, routes).details["features"]
        x.append([features[f] for f in FEATURES])  # type: ignore[index]
        y.append(label)

    # Latest turns that close or leave a thread (thanks, "it worked", an off-topic aside).
    closings = [
        case.messages[-1]
        for case in cases
        if case.scenario in ("fulfilled", "shift") and case.expected is None
    ]
    for index, case in enumerate(cases):
        add(case.messages, case.routes, 1.0 if case.expected is not None else 0.0)
        if case.expected is None:
            continue
        # The same conversation against an unrelated suite: nothing there fits.
        home = suite_of[case.routes]
        for other, routes in suites.items():
            if other != home and frozenset((home, other)) not in RELATED:
                add(case.messages, routes, 0.0)
        # A thread that was going somewhere, closed by someone else's thanks or aside: no route.
        if sum(m.role == "user" for m in case.messages) > 1:
            for k in range(3):
                add([*case.messages[:-1], closings[(index * 3 + k) % len(closings)]], case.routes, 0.0)
    return np.array(x, dtype=np.float64), np.array(y, dtype=np.float64)


def fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    mean, scale = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-6)
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    # Balance the classes: cross-suite replay makes "no route" rows far more numerous.
    sample = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], L2)
    penalty[-1] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-(z @ w)))
        grad = z.T @ (sample * (p - y)) + penalty * w
        hess = (z * (sample * p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w[:-1], float(w[-1]), mean, scale


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="fail if the shipped calibration differs from a refit"
    )
    args = parser.parse_args()

    suites = load_suites(ROOT / "evals" / "train" / "suites.json")
    cases = load_cases(ROOT / "evals" / "train" / "cases.jsonl", suites)
    router = EmbeddedRouter(calibration=UNCALIBRATED)
    x, y = training_rows(router, cases, suites)
    w, bias, mean, scale = fit_logistic(x, y)
    calibration = Calibration(
        weights={f: round(float(v), 6) for f, v in zip(FEATURES, w, strict=True)},
        bias=round(bias, 6),
        mean={f: round(float(v), 6) for f, v in zip(FEATURES, mean, strict=True)},
        scale={f: round(float(v), 6) for f, v in zip(FEATURES, scale, strict=True)},
    )
    probabilities = np.array([calibration.probability(dict(zip(FEATURES, row, strict=True))) for row in x])
    accuracy = float(((probabilities >= 0.5) == (y == 1)).mean())
    print(f"{len(y)} rows ({int(y.sum())} route, {int(len(y) - y.sum())} none); fit accuracy {accuracy:.1%}")
    for f in FEATURES:
        print(f"  {f:<14} {calibration.weights[f]:+.3f}")
    text = (
        json.dumps(
            {"_about": "fitted by scripts/fit_calibration.py from evals/train/", **calibration.to_json()},
            indent=2,
        )
        + "\n"
    )
    if args.check:
        if OUTPUT.read_text("utf-8") != text:
            sys.exit(f"{OUTPUT.relative_to(ROOT)} is stale: rerun scripts/fit_calibration.py")
        print("calibration is up to date")
        return
    OUTPUT.write_text(text, "utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Leave-one-suite-out evaluation of the embedded router's fitted constants (docs/routing.md).

For each dev suite, the constants that `Settings` says were chosen on the dev suites (threshold,
threshold_descriptions, context_weight, ack_similarity) are re-chosen on the other suites from a small
grid, and the held-out suite is scored with them. The held-out accuracy is printed next to the
accuracy of one choice fitted on all suites, and of the shipped defaults.

    .venv/bin/python scripts/loso_eval.py ../shared/dev-evals/cases.jsonl ../shared/dev-evals/suites.json
    .venv/bin/python scripts/loso_eval.py ../shared/dev-evals/cases.jsonl evals/generated/dev-suites.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from llmroute.routing.embedded import EmbeddedRouter, Settings
from llmroute.routing.eval import load_cases, load_suites, run_cases

GRID = {
    "threshold": [1.5, 1.75, 2.0, 2.25, 2.5],
    "threshold_descriptions": [1.0, 1.25, 1.5, 1.75, 2.0],
    "context_weight": [0.2, 0.3, 0.5],
    "ack_similarity": [0.55, 0.6, 0.7],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases")
    parser.add_argument("suites")
    args = parser.parse_args()
    suites = load_suites(args.suites)
    cases = load_cases(args.cases, suites)
    lines = Path(args.cases).read_text("utf-8").splitlines()
    suite_of = {row["id"]: row["suite"] for row in map(json.loads, filter(str.strip, lines))}
    router = EmbeddedRouter()
    with_examples = any(r.examples for case in cases for r in case.routes)
    grid = dict(GRID)
    # Only the threshold that applies to these routes can matter; do not search the other one.
    grid["threshold_descriptions" if with_examples else "threshold"] = [None]  # type: ignore[list-item]
    names = list(grid)
    table: list[tuple[dict[str, float], dict[str, list[int]]]] = []
    for values in itertools.product(*grid.values()):
        chosen = {k: v for k, v in zip(names, values, strict=True) if v is not None}
        router.settings = replace(Settings(), **chosen)
        router._route_sets.clear()  # route sets hold settings-dependent data
        report = run_cases(router.classify_sync, cases)
        per_suite: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for result in report.results:
            counts = per_suite[suite_of[result.case.id]]
            counts[0] += result.correct
            counts[1] += 1
        table.append((chosen, dict(per_suite)))

    def score(entry: tuple[dict[str, float], dict[str, list[int]]], suites_in: list[str]) -> int:
        return sum(entry[1][s][0] for s in suites_in)

    all_suites = sorted({s for _, per in table for s in per})
    held_correct = held_total = 0
    print("held-out suite          correct  constants chosen on the other suites")
    for suite in all_suites:
        others = [s for s in all_suites if s != suite]
        best = max(table, key=lambda entry: score(entry, others))
        correct, total = best[1][suite]
        held_correct += correct
        held_total += total
        print(f"  {suite:22} {correct:3}/{total:<3}  {best[0]}")
    fitted = max(table, key=lambda entry: score(entry, all_suites))
    total_cases = sum(fitted[1][s][1] for s in all_suites)
    defaults = Settings()
    shipped = next((e for e in table if all(getattr(defaults, k) == v for k, v in e[0].items())), None)
    print(f"leave-one-suite-out (held out): {held_correct / held_total:.1%} ({held_correct}/{held_total})")
    print(f"fitted on all suites:           {score(fitted, all_suites) / total_cases:.1%}  {fitted[0]}")
    if shipped is not None:
        print(f"shipped defaults:               {score(shipped, all_suites) / total_cases:.1%}")


if __name__ == "__main__":
    main()

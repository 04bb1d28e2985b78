"""Leave-one-suite-out: an honest number for constants chosen on labelled suites (docs/routing.md).

For each suite, the embedded router's fitted constants (threshold, threshold_descriptions,
context_weight, ack_similarity) are chosen from a small grid on the other suites, and the held-out suite
is scored with them. Reported next to the accuracy of one choice fitted on every suite and of the
shipped defaults, so a tuned number never stands alone.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from llmroute.routing.embedded import EmbeddedRouter, Settings
from llmroute.routing.eval import EvalCase, run_cases

GRID: dict[str, list[float]] = {
    "threshold": [1.5, 1.75, 2.0, 2.25, 2.5],
    "threshold_descriptions": [1.0, 1.25, 1.5, 1.75, 2.0],
    "context_weight": [0.2, 0.3, 0.5],
    "ack_similarity": [0.55, 0.6, 0.7],
}

Choice = dict[str, float]
PerSuite = dict[str, tuple[int, int]]  # suite -> (correct, total)


@dataclass
class LeaveOneOutReport:
    held_out: list[tuple[str, int, int, Choice]]  # suite, correct, total, constants chosen without it
    fitted: tuple[Choice, int, int]  # the choice fitted on all suites, its correct, total
    shipped: tuple[int, int] | None  # the defaults' correct, total (None when off the grid)

    @property
    def accuracy(self) -> float:
        return sum(c for _, c, _, _ in self.held_out) / max(1, sum(n for _, _, n, _ in self.held_out))

    def to_text(self) -> str:
        lines = ["leave one suite out (constants chosen on the other suites):"]
        for suite, correct, total, choice in self.held_out:
            lines.append(f"  {suite:<24} {correct:>3}/{total:<3} {_choice(choice)}")
        correct = sum(c for _, c, _, _ in self.held_out)
        total = sum(n for _, _, n, _ in self.held_out)
        lines.append(f"held-out accuracy: {self.accuracy:.1%} ({correct}/{total})")
        choice, fit_correct, fit_total = self.fitted
        lines.append(f"fitted on all suites: {fit_correct / fit_total:.1%}  {_choice(choice)}")
        if self.shipped is not None:
            lines.append(f"shipped defaults: {self.shipped[0] / self.shipped[1]:.1%}")
        return "\n".join(lines)


def leave_one_suite_out(router: EmbeddedRouter, cases: Sequence[EvalCase]) -> LeaveOneOutReport:
    """Needs cases that name their suite. Mutates and then restores `router.settings`."""
    suites = sorted({c.suite for c in cases if c.suite is not None})
    if len(suites) < 2:
        raise ValueError("leave-one-suite-out needs cases from at least two suites (cases with a 'suite')")
    grid = dict(GRID)
    # Only the threshold for these routes can matter (with or without examples): do not search the other.
    with_examples = any(r.examples for case in cases for r in case.routes)
    del grid["threshold_descriptions" if with_examples else "threshold"]
    original = router.settings
    table: list[tuple[Choice, PerSuite]] = []
    try:
        for values in itertools.product(*grid.values()):
            choice = dict(zip(grid, values, strict=True))
            router.settings = replace(original, **choice)  # type: ignore[arg-type]
            router.forget_route_sets()  # they hold settings-dependent data
            table.append((choice, _per_suite(run_cases(router.classify_sync, cases).results)))
    finally:
        router.settings = original
        router.forget_route_sets()

    def correct(entry: tuple[Choice, PerSuite], among: list[str]) -> int:
        return sum(entry[1][s][0] for s in among)

    held_out = []
    for suite in suites:
        best = max(table, key=lambda entry: correct(entry, [s for s in suites if s != suite]))
        held_out.append((suite, *best[1][suite], best[0]))
    total = sum(n for _, n in table[0][1].values())
    fitted = max(table, key=lambda entry: correct(entry, suites))
    defaults = Settings()
    shipped = next((e for e in table if all(getattr(defaults, k) == v for k, v in e[0].items())), None)
    return LeaveOneOutReport(
        held_out=held_out,
        fitted=(fitted[0], correct(fitted, suites), total),
        shipped=(correct(shipped, suites), total) if shipped is not None else None,
    )


def _per_suite(results: Sequence[Any]) -> PerSuite:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for result in results:
        counts[result.case.suite][0] += result.correct
        counts[result.case.suite][1] += 1
    return {s: (c, n) for s, (c, n) in counts.items()}


def _choice(choice: Choice) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in choice.items())

"""`llmroute eval`: run labelled conversations through a router and measure it (SPEC §8).

A case is one JSON line: `{"id", "messages": [...], "expected": "<route>"|null, "scenario",
"routes": [{"name", "description", "examples"?}] | "suite": "<id>"}`. Routes come inline, from a
suite in the `--suites` file, or from the config's preferences, in that order.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmroute.routing.types import Classification, Route, Router
from llmroute.wire.conversation import Message


class EvalInputError(ValueError):
    """A cases or suites file is missing or malformed; the message names the file and line."""


@dataclass(frozen=True)
class EvalCase:
    id: str
    messages: tuple[Message, ...]
    expected: str | None
    scenario: str
    routes: tuple[Route, ...]
    suite: str | None = None  # the suite its routes came from, if any (leave-one-suite-out)


@dataclass(frozen=True)
class CaseResult:
    case: EvalCase
    got: str | None
    backend: str
    latency_ms: float
    error: str | None = None

    @property
    def correct(self) -> bool:
        return self.error is None and self.got == self.case.expected


@dataclass
class EvalReport:
    results: list[CaseResult] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return _ratio(sum(r.correct for r in self.results), len(self.results))

    def per_scenario(self) -> dict[str, tuple[int, int]]:
        """scenario -> (correct, total), in order of first appearance."""
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for r in self.results:
            counts[r.case.scenario][0] += r.correct
            counts[r.case.scenario][1] += 1
        return {k: (v[0], v[1]) for k, v in counts.items()}

    def confusions(self, top: int = 10) -> list[tuple[str | None, str | None, int]]:
        """(expected, got, count) for the most common mistakes."""
        pairs = Counter((r.case.expected, r.got) for r in self.results if not r.correct and r.error is None)
        return [(e, g, n) for (e, g), n in pairs.most_common(top)]

    def latency_percentile(self, p: float, turns: str = "all") -> float:
        """Decision latency percentile over all cases, or over "single"-turn or "multi"-turn ones.

        Each case is a new conversation, so a multi-turn case encodes every earlier turn too; in the
        gateway those were encoded by the conversation's previous decisions and come from the cache.
        """
        values = sorted(r.latency_ms for r in self.results if turns == "all" or _turns_kind(r.case) == turns)
        if not values:
            return 0.0
        index = min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))
        return values[index]

    def backend_split(self) -> dict[str, int]:
        return dict(Counter(r.backend for r in self.results if r.error is None))

    def errors(self) -> list[CaseResult]:
        return [r for r in self.results if r.error is not None]

    def to_json(self) -> dict[str, Any]:
        return {
            "cases": len(self.results),
            "accuracy": round(self.accuracy, 4),
            "per_scenario": {
                s: {"correct": c, "total": n, "accuracy": round(_ratio(c, n), 4)}
                for s, (c, n) in self.per_scenario().items()
            },
            "confusions": [{"expected": e, "got": g, "count": n} for e, g, n in self.confusions()],
            "latency_ms": {
                "p50": round(self.latency_percentile(50), 3),
                "p99": round(self.latency_percentile(99), 3),
                **{
                    f"{kind}_turn_p50": round(self.latency_percentile(50, kind), 3)
                    for kind in ("single", "multi")
                },
            },
            "backends": self.backend_split(),
            "errors": [{"id": r.case.id, "error": r.error} for r in self.errors()],
            "results": [
                {
                    "id": r.case.id,
                    "scenario": r.case.scenario,
                    "expected": r.case.expected,
                    "got": r.got,
                    "correct": r.correct,
                    "backend": r.backend,
                    "latency_ms": round(r.latency_ms, 3),
                }
                for r in self.results
            ],
        }

    def to_text(self) -> str:
        lines = [
            f"accuracy: {self.accuracy:.1%} ({sum(r.correct for r in self.results)}/{len(self.results)})"
        ]
        lines.append("per scenario:")
        for scenario, (c, n) in self.per_scenario().items():
            lines.append(f"  {scenario:<14} {_ratio(c, n):6.1%}  ({c}/{n})")
        confusions = self.confusions()
        if confusions:
            lines.append("most common confusions (expected -> got):")
            for e, g, n in confusions:
                lines.append(f"  {n:>4}  {e or 'none'} -> {g or 'none'}")
        lines.append(
            f"decision latency: p50 {self.latency_percentile(50):.2f} ms, p99 {self.latency_percentile(99):.2f} ms"
            f" (one user turn: p50 {self.latency_percentile(50, 'single'):.2f} ms; several, every turn encoded"
            f" as for a conversation's first decision: p50 {self.latency_percentile(50, 'multi'):.2f} ms)"
        )
        split = self.backend_split()
        if len(split) > 1 or any(b != "embedded" for b in split):
            lines.append("decided by: " + ", ".join(f"{b} {n}" for b, n in sorted(split.items())))
        for r in self.errors():
            lines.append(f"error in {r.case.id}: {r.error}")
        return "\n".join(lines)


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


# -- loading --------------------------------------------------------------------------------------


def routes_from_json(items: Any, where: str) -> tuple[Route, ...]:
    if not isinstance(items, list) or not items:
        raise EvalInputError(f"{where}: routes must be a non-empty list of {{name, description}}")
    routes = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise EvalInputError(f"{where}: every route needs a string 'name'")
        description = item.get("description")
        if not isinstance(description, str) or not description.strip():
            raise EvalInputError(f"{where}: route {item['name']!r} needs a non-empty 'description'")
        examples = item.get("examples", [])
        if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
            raise EvalInputError(f"{where}: route {item['name']!r}: 'examples' must be a list of strings")
        routes.append(Route(name=item["name"], description=description, examples=tuple(examples)))
    return tuple(routes)


def load_suites(path: str | Path) -> dict[str, tuple[Route, ...]]:
    try:
        raw = json.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise EvalInputError(f"cannot read suites file {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise EvalInputError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    if not isinstance(raw, dict):
        raise EvalInputError(f"{path}: expected an object mapping suite id -> list of routes")
    return {suite: routes_from_json(items, f"{path}: suite {suite!r}") for suite, items in raw.items()}


def _message(item: Any, where: str) -> Message:
    if not isinstance(item, dict) or not isinstance(item.get("role"), str):
        raise EvalInputError(f"{where}: each message needs a 'role' and 'content'")
    content = item.get("content", "")
    if isinstance(content, list):  # OpenAI/Anthropic content parts: keep the text ones
        content = "\n".join(
            p.get("text", "")
            for p in content
            if isinstance(p, dict) and p.get("type") in ("text", "input_text")
        )
    if not isinstance(content, str):
        raise EvalInputError(f"{where}: message content must be a string or a list of text parts")
    return Message(role=item["role"], text=content)


def load_cases(
    path: str | Path,
    suites: dict[str, tuple[Route, ...]] | None = None,
    default_routes: Sequence[Route] = (),
) -> list[EvalCase]:
    try:
        lines = Path(path).read_text("utf-8").splitlines()
    except OSError as exc:
        raise EvalInputError(f"cannot read cases file {path}: {exc.strerror or exc}") from exc
    cases = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalInputError(f"{where}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise EvalInputError(f"{where}: each line must be a JSON object")
        messages = row.get("messages")
        if not isinstance(messages, list) or not messages:
            raise EvalInputError(f"{where}: 'messages' must be a non-empty list")
        if "expected" not in row or not (row["expected"] is None or isinstance(row["expected"], str)):
            raise EvalInputError(f"{where}: 'expected' must be a route name or null")
        if "routes" in row:
            routes = routes_from_json(row["routes"], where)
        elif "suite" in row:
            if suites is None:
                raise EvalInputError(
                    f"{where}: case names suite {row['suite']!r} but no --suites file was given"
                )
            if row["suite"] not in suites:
                raise EvalInputError(f"{where}: unknown suite {row['suite']!r}")
            routes = suites[row["suite"]]
        elif default_routes:
            routes = tuple(default_routes)
        else:
            raise EvalInputError(
                f"{where}: no routes (inline 'routes', a 'suite', or routing_preferences in the config)"
            )
        expected = row["expected"]
        if expected is not None and expected not in {r.name for r in routes}:
            raise EvalInputError(f"{where}: expected route {expected!r} is not one of the case's routes")
        cases.append(
            EvalCase(
                id=str(row.get("id", number)),
                messages=tuple(_message(m, where) for m in messages),
                expected=expected,
                scenario=str(row.get("scenario") or "unspecified"),
                routes=routes,
                suite=str(row["suite"]) if "suite" in row and "routes" not in row else None,
            )
        )
    if not cases:
        raise EvalInputError(f"{path}: no cases")
    return cases


# -- running --------------------------------------------------------------------------------------

Classify = Callable[[Sequence[Message], Sequence[Route]], Classification]


def run_cases(classify: Classify, cases: Sequence[EvalCase]) -> EvalReport:
    """Classify every case in order, timing each decision on its own."""
    report = EvalReport()
    for case in cases:
        start = time.perf_counter()
        try:
            result = classify(case.messages, case.routes)
        except Exception as exc:  # a router failure is a result to report, not a crash
            report.results.append(_case_result(case, start, exc))
        else:
            report.results.append(_case_result(case, start, result))
    return report


async def run_cases_async(router: Router, cases: Sequence[EvalCase]) -> EvalReport:
    """Like `run_cases` for any Router (arch_router and cascade classify over the network)."""
    report = EvalReport()
    for case in cases:
        start = time.perf_counter()
        try:
            result = await router.classify(case.messages, case.routes)
        except Exception as exc:
            report.results.append(_case_result(case, start, exc))
        else:
            report.results.append(_case_result(case, start, result))
    return report


def _case_result(case: EvalCase, start: float, outcome: Classification | Exception) -> CaseResult:
    elapsed = (time.perf_counter() - start) * 1000
    if isinstance(outcome, Exception):
        return CaseResult(case, None, "error", elapsed, error=str(outcome) or type(outcome).__name__)
    return CaseResult(case, outcome.route, outcome.backend, elapsed)


def _turns_kind(case: EvalCase) -> str:
    users = sum(1 for message in case.messages if message.role == "user")
    return "multi" if users > 1 else "single"


async def evaluate(router: Router, cases: Sequence[EvalCase]) -> EvalReport:
    """Run the cases through `router`: synchronously when it offers `classify_sync` (the embedded
    router, so latency is the decision alone), else through its async `classify`."""
    classify_sync = getattr(router, "classify_sync", None)
    if callable(classify_sync):
        warm = getattr(router, "warm", None)
        if callable(warm):
            # Route texts are embedded once at start-up in the gateway; do the same before timing.
            for routes in dict.fromkeys(case.routes for case in cases):
                warm(routes)
        return run_cases(classify_sync, cases)
    return await run_cases_async(router, cases)

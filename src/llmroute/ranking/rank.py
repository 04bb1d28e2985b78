"""Ordering a route's candidate models by live cost or latency (SPEC §5).

Runs on every routed request, so it is a pure function over two dict lookups per model: no I/O,
no locks. Models with data come first, ascending; models without data follow in declared order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Protocol

MetricKindName = Literal["cost", "latency"]

# selection_policy.prefer -> the metric it ranks by; "none" keeps declared order.
PREFER_KIND: dict[str, MetricKindName] = {"cheapest": "cost", "fastest": "latency"}


class MetricsLookup(Protocol):
    """What ranking reads; `MetricsStore` provides it."""

    def cost(self, model: str) -> float | None: ...

    def latency(self, model: str) -> float | None: ...


def rank(models: Sequence[str], prefer: str, store: MetricsLookup | None) -> list[str]:
    """`models` ordered by `prefer` ("cheapest", "fastest" or "none").

    Stable: ties keep declared order. Models without data keep their declared order after the ranked
    ones. Without a store (no sources configured) or with `prefer: none`, the declared order.
    """
    if prefer == "none" or store is None:
        return list(models)
    kind = PREFER_KIND.get(prefer)
    if kind is None:
        raise ValueError(f"unknown selection_policy.prefer {prefer!r}: expected cheapest, fastest or none")
    lookup: Callable[[str], float | None] = store.cost if kind == "cost" else store.latency
    ranked: list[tuple[float, str]] = []
    unranked: list[str] = []
    for model in models:
        value = lookup(model)
        if value is None:
            unranked.append(model)
        else:
            ranked.append((value, model))
    # list.sort is stable, and keying on the value alone keeps declared order among equal values.
    ranked.sort(key=lambda pair: pair[0])
    return [model for _, model in ranked] + unranked

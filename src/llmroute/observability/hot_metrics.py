"""Per-request metric updates with fewer Python calls than prometheus_client's public methods.

`Counter.inc` and `Histogram.observe` check on every call that the metric is a labelled child and
that the amount is valid, and `observe` walks the buckets in a Python loop: four to seven Python
calls per update, and a proxied request makes about ten updates. For children looked up once and
kept (per endpoint, per model), these wrappers go straight to the child's value objects (the same
ones prometheus_client reads at scrape time, in single- and multi-process mode) and find the bucket
with `bisect`. They rely on three attributes of prometheus_client's children (`_value`, `_sum`,
`_buckets` with `_upper_bounds`); if a future version lacks them, the public methods are used.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import Any


class HotCounter:
    """`inc(amount)` for a labelled Counter child. Amounts must be ≥ 0 (not checked)."""

    __slots__ = ("inc",)

    def __init__(self, child: Any) -> None:
        value: Any = getattr(child, "_value", None)
        self.inc: Callable[[float], None] = value.inc if hasattr(value, "inc") else child.inc


class HotHistogram:
    """`observe(amount)` for a labelled Histogram child."""

    __slots__ = ("_add_to_sum", "_bounds", "_buckets", "observe")

    def __init__(self, child: Any) -> None:
        try:
            self._bounds = list(child._upper_bounds)
            self._buckets = [bucket.inc for bucket in child._buckets]
            self._add_to_sum = child._sum.inc
        except AttributeError:
            self.observe: Callable[[float], None] = child.observe
            return
        if len(self._bounds) != len(self._buckets):
            self.observe = child.observe
            return
        self.observe = self._observe

    def _observe(self, amount: float) -> None:
        self._add_to_sum(amount)
        # The first bucket whose upper bound is ≥ amount (the last bound is +Inf).
        self._buckets[bisect_left(self._bounds, amount)](1)

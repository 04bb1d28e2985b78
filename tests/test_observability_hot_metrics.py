"""The hot-path metric wrappers (observability/hot_metrics.py) count exactly what the public API counts."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from llmroute.observability.hot_metrics import HotCounter, HotHistogram

BUCKETS = (0.001, 0.005, 0.01, 0.1, 1.0)


def samples(registry: CollectorRegistry, name: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        if family.name == name:
            for sample in family.samples:
                if not sample.name.endswith("_created"):
                    out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_hot_histogram_matches_observe_bucket_for_bucket() -> None:
    public_registry, hot_registry = CollectorRegistry(), CollectorRegistry()
    public = Histogram("t_seconds", "t", ["endpoint"], buckets=BUCKETS, registry=public_registry)
    hot = Histogram("t_seconds", "t", ["endpoint"], buckets=BUCKETS, registry=hot_registry)
    fast = HotHistogram(hot.labels(endpoint="/v1/x"))
    rng = random.Random(7)
    # Values on the bucket bounds exactly, between them, below the first and above the last.
    values = [*BUCKETS, 0.0, 0.0005, 2.5, 100.0] + [rng.uniform(0, 1.5) for _ in range(500)]
    for value in values:
        public.labels(endpoint="/v1/x").observe(value)
        fast.observe(value)
    assert samples(hot_registry, "t_seconds") == samples(public_registry, "t_seconds")


def test_hot_counter_matches_inc() -> None:
    public_registry, hot_registry = CollectorRegistry(), CollectorRegistry()
    public = Counter("r", "r", ["status"], registry=public_registry)
    hot = Counter("r", "r", ["status"], registry=hot_registry)
    fast = HotCounter(hot.labels(status="200"))
    for amount in (1, 1, 5, 0, 12.5):
        public.labels(status="200").inc(amount)
        fast.inc(amount)
    assert samples(hot_registry, "r") == samples(public_registry, "r")
    assert samples(hot_registry, "r")[("r_total", (("status", "200"),))] == 19.5


def test_unknown_children_fall_back_to_the_public_methods() -> None:
    class Child:
        def __init__(self) -> None:
            self.seen: list[float] = []

        def inc(self, amount: float = 1) -> None:
            self.seen.append(amount)

        def observe(self, amount: float) -> None:
            self.seen.append(-amount)

    child = Child()
    HotCounter(child).inc(3)
    HotHistogram(child).observe(2)
    assert child.seen == [3, -2]

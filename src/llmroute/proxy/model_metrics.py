"""Per-model metric children, looked up once per model instead of `.labels()` on every request."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from llmroute.observability import metrics
from llmroute.observability.hot_metrics import HotCounter, HotHistogram


@dataclass(frozen=True, slots=True)
class ModelMetrics:
    latency: HotHistogram
    ttft: HotHistogram
    input_tokens: HotCounter
    output_tokens: HotCounter


@lru_cache(maxsize=10_000)  # bounded: wildcard providers accept open-ended model names
def model_metrics(model: str) -> ModelMetrics:
    return ModelMetrics(
        HotHistogram(metrics.UPSTREAM_LATENCY.labels(model=model)),
        HotHistogram(metrics.UPSTREAM_TTFT.labels(model=model)),
        HotCounter(metrics.TOKENS.labels(model=model, kind="input")),
        HotCounter(metrics.TOKENS.labels(model=model, kind="output")),
    )

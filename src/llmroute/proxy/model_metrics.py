"""Per-model metric children, looked up once per model instead of `.labels()` on every request."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from prometheus_client import Counter, Histogram

from llmroute.observability import metrics


@dataclass(frozen=True, slots=True)
class ModelMetrics:
    latency: Histogram
    ttft: Histogram
    input_tokens: Counter
    output_tokens: Counter


@lru_cache(maxsize=10_000)  # bounded: wildcard providers accept open-ended model names
def model_metrics(model: str) -> ModelMetrics:
    return ModelMetrics(
        metrics.UPSTREAM_LATENCY.labels(model=model),
        metrics.UPSTREAM_TTFT.labels(model=model),
        metrics.TOKENS.labels(model=model, kind="input"),
        metrics.TOKENS.labels(model=model, kind="output"),
    )

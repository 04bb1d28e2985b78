"""`GET /v1/metrics/models`'s body: the live cost/latency table, so operators can see why a ranking
came out as it did (each source's last refresh and error, each model's numbers, each ranked route's
order). The endpoint is server/endpoints.py's `metrics_models`."""

from __future__ import annotations

from typing import Any

from llmroute.ranking.store import MetricsStore


def models_table(store: MetricsStore | None) -> dict[str, Any]:
    if store is None:
        # No model_metrics_sources configured: every route keeps its declared order.
        return {"ready": True, "sources": [], "models": {}, "routes": []}
    return store.snapshot()

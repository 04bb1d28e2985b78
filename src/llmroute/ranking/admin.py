"""`GET /v1/metrics/models`: the live cost/latency table, so operators can see why a ranking came out
as it did (each source's last refresh and error, each model's numbers, each ranked route's order)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from llmroute.ranking.store import MetricsStore


def _store(request: Request) -> MetricsStore | None:
    gateway = getattr(request.app.state, "gateway", None)
    return getattr(gateway, "metrics", None)


async def metrics_models_endpoint(request: Request) -> Response:
    store = _store(request)
    if store is None:
        # No model_metrics_sources configured: every route keeps its declared order.
        return JSONResponse({"ready": True, "sources": [], "models": {}, "routes": []})
    return JSONResponse(store.snapshot())

"""`GET /metrics`: the Prometheus text exposition, for one process or for all the workers.

With `llmroute up --workers N` (N > 1) the server sets PROMETHEUS_MULTIPROC_DIR to a fresh
directory before the workers start; prometheus_client then keeps every worker's samples in files
there, and whichever worker answers the scrape reports the sum over all of them. With a single
process the default registry is served as it is.
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def exposition() -> bytes:
    """The current metrics as Prometheus text (all workers' when running in multiprocess mode)."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


async def metrics_endpoint(request: Request) -> Response:
    # Rendering reads every sample (and, with workers, their files): keep it off the event loop.
    body = await run_in_threadpool(exposition)
    return Response(body, media_type=CONTENT_TYPE_LATEST)

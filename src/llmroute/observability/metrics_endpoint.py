"""`GET /metrics`'s body: the Prometheus text exposition, for one process or for all the workers.

With `llmroute up --workers N` (N > 1) the server sets PROMETHEUS_MULTIPROC_DIR to a fresh
directory before the workers start; prometheus_client then keeps every worker's samples in files
there, and whichever worker answers the scrape reports the sum over all of them. With a single
process the default registry is served as it is.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def exposition() -> bytes:
    """The current metrics as Prometheus text (all workers' when running in multiprocess mode)."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)
        return generate_latest(registry)
    return generate_latest(REGISTRY)

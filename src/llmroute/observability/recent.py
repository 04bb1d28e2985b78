"""The last N routed requests of this process, for the routing console's live view (console/).

Off (None) unless `console.enabled`; then the observability middleware hands each finished request's
record here. A row is metadata (time, endpoint, status, route, model, pinned, failovers, latency); the
last user message is kept only with `console.show_content: true`. One deque append per request.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from llmroute.observability import record as records
from llmroute.observability.record import RequestRecord


class RecentRequests:
    def __init__(self, size: int, show_content: bool) -> None:
        self.rows: deque[dict[str, Any]] = deque(maxlen=size)
        self.show_content = show_content

    def observe(self, record: RequestRecord, total: float) -> None:
        if record.routing_started is None:
            return  # not a routed request (health checks, metrics, the console itself)
        failed = sum(1 for attempt in record.attempts if attempt.error is not None)
        row: dict[str, Any] = {
            "time": time.time(),
            "endpoint": record.endpoint,
            "status": record.status,
            "route": record.route,
            "model": record.model,
            "source": record.source,
            "pinned": record.pinned,
            "failovers": failed,
            "attempts": len(record.attempts),
            "latency_ms": round(total * 1000, 3),
            "router_ms": round(record.router_seconds * 1000, 3),
        }
        if self.show_content and record.prompt is not None:
            row["content"] = record.prompt
        self.rows.append(row)

    def snapshot(self) -> list[dict[str, Any]]:
        return list(reversed(self.rows))  # newest first


RECENT: RecentRequests | None = None


def configure(enabled: bool, size: int, show_content: bool) -> None:
    """Turn the ring on or off for this process (at start-up and at each config reload); rows survive
    a reload that keeps the size."""
    global RECENT
    if not enabled:
        RECENT = None
        records.KEEP_PROMPTS = False
        return
    if RECENT is None or RECENT.rows.maxlen != size:
        previous = RECENT.rows if RECENT is not None else ()
        RECENT = RecentRequests(size, show_content)
        RECENT.rows.extend(previous)
    RECENT.show_content = show_content
    records.KEEP_PROMPTS = show_content

"""Limits that keep one gateway process from being exhausted (`limits`).

`ConcurrencyGate` caps the upstream calls in flight (`max_concurrent_upstream`): a request past
the cap waits up to `queue_timeout` for a slot, then gets a 503 with `Retry-After`, so a burst
queues briefly instead of opening unbounded connections and memory.

The per-connection limits (slow and oversized clients) are the HTTP protocol's: server/protocol.py.
"""

from __future__ import annotations

import asyncio
import logging

from llmroute.errors import GatewayError
from llmroute.observability import metrics
from llmroute.observability.record import note_governance

log = logging.getLogger("llmroute.governance")


class ConcurrencyGate:
    def __init__(self, size: int, queue_timeout: float) -> None:
        self.size = size
        self.queue_timeout = queue_timeout
        self._slots = asyncio.Semaphore(size)

    @property
    def in_flight(self) -> int:
        return self.size - self._slots._value

    async def acquire(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # a free slot: no timer needed
            return
        try:
            async with asyncio.timeout(self.queue_timeout):
                await self._slots.acquire()
        except TimeoutError:
            metrics.CAPACITY_REJECTIONS.inc()
            note_governance("limits.at_capacity", slots=str(self.size))
            raise GatewayError(
                503,
                f"The gateway is at capacity ({self.size} upstream requests in flight); retry shortly",
                "gateway_at_capacity",
                {"Retry-After": "1"},
            ) from None

    def release(self) -> None:
        self._slots.release()

"""Limits that keep one gateway process from being exhausted (`limits`).

`ConcurrencyGate` caps the upstream calls in flight (`max_concurrent_upstream`): a request past
the cap waits up to `queue_timeout` for a slot, then gets a 503 with `Retry-After`, so a burst
queues briefly instead of opening unbounded connections and memory.

`GuardedHttpToolsProtocol` bounds each client connection: headers and body must arrive in time
and headers must stay small (uvicorn has no such limits of its own). It is also where each
response's headers are joined to its body in one write (server/response_writes.py).
"""

from __future__ import annotations

import asyncio
import logging

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from llmroute.governance.schema import Limits
from llmroute.observability import metrics
from llmroute.observability.record import note_governance
from llmroute.server.errors import ApiError
from llmroute.server.extensions import ON_DISCONNECT
from llmroute.server.response_writes import ResponseWrites
from llmroute.wire import error_body

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
            raise ApiError(
                503,
                f"The gateway is at capacity ({self.size} upstream requests in flight); retry shortly",
                "gateway_at_capacity",
                {"Retry-After": "1"},
            ) from None

    def release(self) -> None:
        self._slots.release()


# --- slow and oversized clients ------------------------------------------------------------------


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits uvicorn lacks: a client must deliver its request
    line and headers within `header_timeout` and its body within `body_timeout` after them, and its
    headers may not exceed `max_header_bytes`. Past a limit it gets a 408/431 and is disconnected,
    so slow (slowloris) or oversized clients cannot pile up connections, memory and tasks.

    The limits are class attributes set by `configure_protocol` when the app is built (`llmroute up`
    passes this class to uvicorn; workers are separate processes that each build their app).
    """

    header_timeout = Limits().header_timeout
    body_timeout = Limits().body_timeout
    max_header_bytes = Limits().max_header_bytes

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Each response's headers go out in one write with its body (server/response_writes.py).
        self._response_writes = ResponseWrites(transport, self.loop)
        # The current deadline (loop time) and what passing it means; None: nothing is due.
        # One timer serves them all: moving a deadline is two attribute writes, and the timer,
        # when it fires early, sleeps again until the deadline (two timers created and cancelled
        # per request cost more than the rest of the limits together).
        self._deadline: float | None = None
        self._reason = ""
        self._timer: asyncio.TimerHandle | None = None
        self._in_headers = True
        self._header_bytes = 0
        self._arm(self.header_timeout, "header_timeout")

    def _arm(self, seconds: float, reason: str) -> None:
        deadline = self.loop.time() + seconds
        self._deadline = deadline
        self._reason = reason
        timer = self._timer
        if timer is None or timer.when() > deadline:
            if timer is not None:
                timer.cancel()
            self._timer = self.loop.call_at(deadline, self._on_timer)

    def _disarm(self) -> None:
        self._deadline = None  # the pending timer, if any, finds nothing due

    def _on_timer(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None:
            return
        if self.loop.time() < deadline:  # the deadline moved since the timer was set
            self._timer = self.loop.call_at(deadline, self._on_timer)
            return
        self._deadline = None
        self._cut_off(self._reason)

    def _cut_off(self, reason: str) -> None:
        if self.transport.is_closing():
            return
        metrics.CLIENT_CUTOFFS.labels(reason=reason).inc()
        log.info("closing a connection from %s: %s", _peer(self.client), reason.replace("_", " "))
        cycle = self.cycle
        # (A completed cycle is the previous request on this kept-alive connection.)
        if cycle is None or cycle.response_complete or not cycle.response_started:
            status, message = _CUTOFF_ANSWERS[reason]
            body = orjson.dumps(error_body("openai_chat", status, message, reason))
            self.transport.write(
                f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
                + body
            )
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._in_headers:
            end = data.find(b"\r\n\r\n")
            self._header_bytes += len(data) if end < 0 else end + 4
            if self._header_bytes > self.max_header_bytes:
                self._disarm()
                self._in_headers = False
                self._cut_off("header_too_large")
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_headers:  # the next request on a kept-alive connection
            self._in_headers = True
            self._header_bytes = 0
            self._arm(self.header_timeout, "header_timeout")

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._arm(self.body_timeout, "body_timeout")
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.transport is self.transport:
            cycle.transport = self._response_writes  # type: ignore[assignment]
            # Callbacks for a client that disconnects before its response is complete.
            cycle.scope.setdefault("extensions", {})[ON_DISCONNECT] = []  # type: ignore[typeddict-unknown-key]

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            extensions = cycle.scope.get("extensions") or {}
            for callback in list(extensions.get(ON_DISCONNECT, ())):
                callback()


_CUTOFF_ANSWERS = {
    "header_timeout": (408, "The request headers did not arrive in time"),
    "body_timeout": (408, "The request body did not arrive in time"),
    "header_too_large": (431, "The request headers are too large"),
}
_REASONS = {408: "Request Timeout", 431: "Request Header Fields Too Large"}


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "a client"


def configure_protocol(limits: Limits | None) -> None:
    """Set the connection limits `GuardedHttpToolsProtocol` enforces (from the `limits` section)."""
    limits = limits or Limits()
    GuardedHttpToolsProtocol.header_timeout = limits.header_timeout
    GuardedHttpToolsProtocol.body_timeout = limits.body_timeout
    GuardedHttpToolsProtocol.max_header_bytes = limits.max_header_bytes

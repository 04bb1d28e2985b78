"""`llmroute up`'s HTTP protocol: uvicorn's httptools protocol with the rules uvicorn lacks.

- Slow and oversized clients (`GuardedHttpToolsProtocol`): request line and headers must arrive
  within `header_timeout`, the body within `body_timeout` after them, and headers may not exceed
  `max_header_bytes`. Past a limit the client gets a 408/431 and is disconnected, so slow
  (slowloris) or oversized clients cannot pile up connections, memory and tasks.
- One socket write per response (`ResponseWrites`): the status line and headers wait for the body.
- The disconnect extension (`ON_DISCONNECT`): callbacks the app registers in the request's scope,
  called if the client disconnects before its response is complete; `DisconnectWatch` is the
  request side of it (with a `receive()` task as the fallback under other servers).

The limits are class attributes set by `configure_protocol` when the app is built (`llmroute up`
passes this class to uvicorn; workers are separate processes that each build their app).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

from starlette.types import Receive, Scope
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from llmroute.errors import GatewayError
from llmroute.governance.schema import Limits
from llmroute.observability import metrics
from llmroute.server.errors import error_json, format_for_path

log = logging.getLogger("llmroute.server")

# ASGI scope extension (`scope["extensions"]`): a list of callbacks the app may add to;
# `GuardedHttpToolsProtocol` calls them if the client disconnects before its response is complete.
# Cheaper than a task per request waiting on `receive()` for the disconnect.
ON_DISCONNECT = "llmroute.on_disconnect"


# --- one write per response ----------------------------------------------------------------------

# One socket write per response instead of two: the status line and headers wait for the body.
#
# uvicorn writes a response's status line and headers as soon as the app sends
# `http.response.start`, then the body with `http.response.body`: two `send` system calls and two
# TCP segments for every JSON answer, and the client wakes up twice. `ResponseWrites` stands in
# for the connection's transport in uvicorn's request cycle (`GuardedHttpToolsProtocol` installs
# it): it holds the header block back and sends it in the same write as the first body bytes. So
# that headers are never held while a stream waits for its first chunk, a held block is also
# flushed at the end of the current event-loop iteration.
#
# Measured with `make bench`: see docs/performance.md.
CONTINUE = b"HTTP/1.1 100 Continue"


class ResponseWrites:
    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif data.startswith(b"HTTP/") and not data.startswith(CONTINUE):
            # The status line and headers (always the cycle's first write, bar a 100 Continue).
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:  # anything else uvicorn may ask of its transport
        return getattr(self._transport, name)


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
        # Each response's headers go out in one write with its body (`ResponseWrites` above).
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
            # In the client's format when its request line arrived (a body that is too slow); a
            # completed cycle is the previous request's, and headers that never ended name no path.
            current = cycle is not None and not cycle.response_complete
            fmt = format_for_path(cycle.scope["path"]) if cycle is not None and current else "openai_chat"
            body = error_json(fmt, GatewayError(status, message, reason))
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
            extensions = cast("dict[str, Any]", cycle.scope.setdefault("extensions", {}))
            extensions[ON_DISCONNECT] = []

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
            extensions = cast("dict[str, Any]", cycle.scope.get("extensions") or {})
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


# --- the disconnect extension, request side ------------------------------------------------------


class DisconnectWatch:
    """Cancels the request's task if the client disconnects before `stop()`.

    Through the server's `ON_DISCONNECT` callback list when it offers one (`llmroute up`), else
    with a task waiting on `receive()`: the body has been read already, so the only message left
    to receive is the disconnect.
    """

    __slots__ = ("_callbacks", "_task", "fired", "handler")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self.handler = handler
        self.fired = False
        self._task: asyncio.Task[None] | None = None
        extensions = scope.get("extensions")
        self._callbacks: list[Callable[[], None]] | None = (
            extensions.get(ON_DISCONNECT) if extensions else None
        )
        if self._callbacks is not None:
            self._callbacks.append(self._fire)
        else:
            self._task = asyncio.create_task(self._watch(receive))

    def _fire(self) -> None:
        self.fired = True
        self.handler.cancel()

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._fire()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        elif self._callbacks is not None and self._fire in self._callbacks:
            self._callbacks.remove(self._fire)

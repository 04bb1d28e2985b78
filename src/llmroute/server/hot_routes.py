"""The hot endpoints (proxy and decision POSTs): one flat path, without Starlette or middleware layers.

Every other request goes through the app's middleware (observability, then the gateway pin and key
check) and Starlette's router. Those layers cost a proxied request about a fifth of its CPU on
the bench (docs/performance.md): Starlette's error and exception middleware, a regex per route,
its route wrapper and `Request`, and each middleware's coroutine frame and `send` wrapper. A hot
request takes the same steps, in order, in one coroutine: open its observability record, pin it
to the current gateway and check its key, run the endpoint (raw ASGI scope and receive in, a
Starlette `Response` out), render errors exactly as the app's exception handlers do (the
client's API format, never a traceback), send the response with its `traceparent`, close the
record (metrics, span, log line).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from llmroute.observability.middleware import ObservabilityMiddleware
from llmroute.observability.record import RequestRecord
from llmroute.server.errors import ApiError, error_response, format_for_path
from llmroute.server.reload import InFlight, pin_and_check_key

log = logging.getLogger("llmroute.server")

# A hot endpoint: the request's scope and receive in, the response to send out.
HotEndpoint = Callable[[Scope, Receive], Awaitable[Response]]


class HotRoutes:
    def __init__(self, observability: ObservabilityMiddleware, in_flight: InFlight) -> None:
        self.observability = observability
        self.in_flight = in_flight

    async def serve(self, endpoint: HotEndpoint, scope: Scope, receive: Receive, send: Send) -> None:
        observability = self.observability
        record, span, token = observability.open(scope)
        try:
            gateway, refusal = pin_and_check_key(scope)
            if refusal is not None:
                await respond(refusal, record, scope, receive, send)
                return
            # In flight until the response is sent, a stream's last chunk included (reloads wait).
            self.in_flight.enter(gateway)
            try:
                await respond(await answer(endpoint, scope, receive), record, scope, receive, send)
            finally:
                self.in_flight.leave(gateway)
        except BaseException as exc:
            observability.failed(record, exc)
            raise
        finally:
            observability.close(record, span, token)


async def respond(
    response: Response, record: RequestRecord, scope: Scope, receive: Receive, send: Send
) -> None:
    response.raw_headers.append((b"traceparent", record.traceparent.encode()))
    record.status = response.status_code
    record.response_started = time.perf_counter()
    await response(scope, receive, send)


async def answer(endpoint: HotEndpoint, scope: Scope, receive: Receive) -> Response:
    """The endpoint's response, or the error response for what it raised."""
    try:
        return await endpoint(scope, receive)
    except ApiError as exc:
        return error_response(format_for_path(scope["path"]), exc.status, exc.message, exc.code, exc.headers)
    except Exception:
        # Never a traceback to the client; the log keeps the details (without request contents).
        log.exception("unexpected error on %s %s", scope["method"], scope["path"])
        return error_response(format_for_path(scope["path"]), 500, "Internal gateway error", "internal_error")

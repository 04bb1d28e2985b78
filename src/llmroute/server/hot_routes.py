"""The hot endpoints (proxy and decision POSTs), dispatched without Starlette's router.

Every proxied request used to pass through Starlette's error middleware, exception middleware,
router (a regex per route), route wrapper and `Request` object before reaching its handler:
about a fifth of the gateway's CPU per request on the bench (docs/performance.md). The hot
endpoints are a dict lookup away instead. They take the raw ASGI `scope` and `receive`, return a
Starlette `Response`, and their errors are rendered here exactly as the app's exception handlers
render them for every other path (the client's API format, never a traceback). Anything that is
not a POST to a hot path goes on to the Starlette app: health, metrics, model lists, 404 and 405.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from llmroute.server.errors import ApiError, error_response, format_for_path

log = logging.getLogger("llmroute.server")

# A hot endpoint: the request's scope and receive in, the response to send out.
HotEndpoint = Callable[[Scope, Receive], Awaitable[Response]]

# An ASGI scope extension (`scope["extensions"]`) that `llmroute up`'s HTTP protocol offers
# (governance/limits.py): a list the app may add callbacks to, called if the client disconnects
# before the response is complete. Cheaper than a task per request waiting on `receive()` for the
# disconnect; under other servers the endpoints fall back to such a task.
ON_DISCONNECT = "llmroute.on_disconnect"


class HotRoutes:
    def __init__(self, app: ASGIApp, endpoints: Mapping[str, HotEndpoint]) -> None:
        self.app = app
        self.endpoints = dict(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = None
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.endpoints.get(scope["path"])
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        try:
            response = await endpoint(scope, receive)
        except ApiError as exc:
            response = error_response(
                format_for_path(scope["path"]), exc.status, exc.message, exc.code, exc.headers
            )
        except Exception:
            # Never a traceback to the client; the log keeps the details (without request contents).
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            response = error_response(
                format_for_path(scope["path"]), 500, "Internal gateway error", "internal_error"
            )
        await response(scope, receive, send)

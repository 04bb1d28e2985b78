"""The console's page and assets, and the Starlette routes of the whole console."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import lru_cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from llmroute.console import api
from llmroute.server.app import gateway_of
from llmroute.server.errors import ApiError

STATIC = Path(__file__).parent / "static"
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
# Everything comes from this gateway: a CDN or inline script would not run.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@lru_cache(maxsize=len(ASSETS))
def asset(name: str) -> bytes:
    return (STATIC / name).read_bytes()


def serve(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        # The page holds no data, so it is served without a key (a browser cannot send one with a page
        # load); every API call it makes needs an admin key when keys are configured.
        if not gateway_of(request.scope).config.raw.console.enabled:
            raise ApiError(404, f"Unknown path {request.url.path}")
        return Response(asset(name), media_type=ASSETS[name], headers=SECURITY_HEADERS)

    return endpoint


async def slash(request: Request) -> Response:
    return RedirectResponse("/console", status_code=308)


def console_routes() -> list[Route]:
    return [
        Route("/console", serve("index.html"), methods=["GET"]),
        Route("/console/", slash, methods=["GET"]),
        Route("/console/console.js", serve("console.js"), methods=["GET"]),
        Route("/console/console.css", serve("console.css"), methods=["GET"]),
        Route("/console/api/state", api.state_endpoint, methods=["GET"]),
        Route("/console/api/decide", api.decide_endpoint, methods=["POST"]),
        Route("/console/api/eval", api.eval_endpoint, methods=["POST"]),
        Route("/console/api/live", api.live_endpoint, methods=["GET"]),
    ]

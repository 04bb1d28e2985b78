"""The console's page and assets, and the routes of the whole console (for server/app.py's table)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from starlette.responses import RedirectResponse, Response
from starlette.types import Receive, Scope

from llmroute.console import api
from llmroute.errors import GatewayError
from llmroute.server.endpoints import Endpoint
from llmroute.server.gateway import Gateway

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


def serve(name: str) -> Endpoint:
    async def endpoint(gateway: Gateway, scope: Scope, receive: Receive) -> Response:
        # The page holds no data, so it is served without a key (a browser cannot send one with a page
        # load); every API call it makes needs an admin key when keys are configured.
        if not gateway.config.raw.console.enabled:
            raise GatewayError(404, f"Unknown path {scope['path']}")
        return Response(asset(name), media_type=ASSETS[name], headers=SECURITY_HEADERS)

    return endpoint


async def slash(gateway: Gateway, scope: Scope, receive: Receive) -> Response:
    return RedirectResponse("/console", status_code=308)


def console_routes() -> dict[tuple[str, str], Endpoint]:
    return {
        ("GET", "/console"): serve("index.html"),
        ("GET", "/console/"): slash,
        ("GET", "/console/console.js"): serve("console.js"),
        ("GET", "/console/console.css"): serve("console.css"),
        ("GET", "/console/api/state"): api.state_endpoint,
        ("POST", "/console/api/decide"): api.decide_endpoint,
        ("POST", "/console/api/eval"): api.eval_endpoint,
        ("GET", "/console/api/live"): api.live_endpoint,
    }

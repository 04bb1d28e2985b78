"""The ASGI application `llmroute up` serves: one dispatcher for every request (SPEC §1).

Every HTTP request takes the same steps, in order, in one coroutine (`GatewayApp.serve`):

1. observe: open its record (trace ids from the incoming `traceparent`, the span when tracing);
2. pin it to the current gateway generation (a config reload does not move it) and check its
   API key when that gateway has keys;
3. find its endpoint in the `(method, path)` table, which also decides 404 and 405;
4. run the endpoint (the gateway, the raw scope and receive in, a `Response` out);
5. render any `GatewayError` in the client's API format (never a traceback: anything else is a
   logged 500), and send the response with the request's `traceparent`;
6. close the record: metrics, span, log line (for a stream, after its last byte).

There is no router, middleware stack or exception-handler layer: each would cost every request
a coroutine frame, a `send` wrapper or a regex (docs/performance.md). Starlette is kept for its
`Response` classes (plain, streaming) and `Headers`; see docs/architecture.md.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from llmroute.config.resolved import LoadedConfig
from llmroute.errors import GatewayError
from llmroute.governance.auth import check_key
from llmroute.observability.logs import configure_logging
from llmroute.observability.middleware import RequestObservability
from llmroute.server import endpoints
from llmroute.server.endpoints import Endpoint
from llmroute.server.errors import error_response, format_for_path
from llmroute.server.gateway import Gateway
from llmroute.server.protocol import configure_protocol
from llmroute.server.reload import AppState, InFlight, Reloader

log = logging.getLogger("llmroute.server")

# path → method → endpoint. A path that is absent is a 404; a method that is absent a 405.
Routes = Mapping[str, Mapping[str, Endpoint]]


def routes() -> dict[str, dict[str, Endpoint]]:
    from llmroute.console.pages import console_routes

    post = {
        "/v1/chat/completions": endpoints.proxy_endpoint("openai_chat"),
        "/v1/messages": endpoints.proxy_endpoint("anthropic"),
        "/v1/messages/count_tokens": endpoints.count_tokens_endpoint,
        "/v1/responses": endpoints.proxy_endpoint("responses"),
        "/v1/embeddings": endpoints.embeddings_endpoint,
        "/routing/v1/chat/completions": endpoints.decision_endpoint("openai_chat"),
        "/routing/v1/messages": endpoints.decision_endpoint("anthropic"),
        "/routing/v1/responses": endpoints.decision_endpoint("responses"),
    }
    get = {
        "/healthz": endpoints.healthz,
        "/readyz": endpoints.readyz,
        "/v1/models": endpoints.list_models,
        "/metrics": endpoints.metrics,
        "/v1/metrics/models": endpoints.metrics_models,
    }
    table: dict[str, dict[str, Endpoint]] = {path: {"POST": endpoint} for path, endpoint in post.items()}
    table.update({path: {"GET": endpoint, "HEAD": endpoint} for path, endpoint in get.items()})
    for (method, path), endpoint in console_routes().items():  # /console: 404 unless console.enabled
        table.setdefault(path, {})[method] = endpoint
        if method == "GET":
            table[path]["HEAD"] = endpoint
    return table


class GatewayApp:
    def __init__(self, gateway: Gateway) -> None:
        self.state = AppState(gateway)
        self.in_flight = InFlight()
        self.routes: Routes = routes()
        self.observability = RequestObservability(self.routes, tracing=gateway.tracing)
        self.reloader: Reloader | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.serve(scope, receive, send)
        elif kind == "lifespan":
            await self.lifespan(receive, send)
        else:  # websockets: not served
            await send({"type": "websocket.close", "code": 1000})

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        observability = self.observability
        record, span, token = observability.open(scope)
        try:
            # Pinned: the request finishes on this generation, a stream's last chunk included.
            gateway = self.state.gateway
            self.in_flight.enter(gateway)
            try:
                response = await self.answer(gateway, scope, receive)
                response.raw_headers.append((b"traceparent", record.traceparent.encode()))
                record.status = response.status_code
                record.response_started = time.perf_counter()
                await response(scope, receive, send)
            finally:
                self.in_flight.leave(gateway)
        except BaseException as exc:
            observability.failed(record, exc)
            raise
        finally:
            observability.close(record, span, token)

    async def answer(self, gateway: Gateway, scope: Scope, receive: Receive) -> Response:
        """The endpoint's response, or the error response for what it (or the key check) raised."""
        path: str = scope["path"]
        try:
            governance = gateway.governance
            if governance is not None and governance.keys is not None:
                check_key(governance.keys, scope)  # before routing: no key, no map of our paths
            methods = self.routes.get(path)
            if methods is None:
                raise GatewayError(404, f"Unknown path {path}")
            endpoint = methods.get(scope["method"])
            if endpoint is None:
                allow = ", ".join(methods)
                raise GatewayError(
                    405, f"Method {scope['method']} not allowed on {path}", headers={"Allow": allow}
                )
            return await endpoint(gateway, scope, receive)
        except GatewayError as exc:
            return error_response(format_for_path(path), exc)
        except Exception:
            # Never a traceback to the client; the log keeps the details (without request contents).
            log.exception("unexpected error on %s %s", scope["method"], path)
            return error_response(
                format_for_path(path), GatewayError(500, "Internal gateway error", "internal_error")
            )

    # --- lifespan --------------------------------------------------------------------------------

    async def lifespan(self, receive: Receive, send: Send) -> None:
        for phase, step in (("startup", self.start), ("shutdown", self.stop)):
            await receive()  # lifespan.startup, then lifespan.shutdown
            try:
                await step()
            except BaseException:
                await send({"type": f"lifespan.{phase}.failed", "message": traceback.format_exc()})
                raise
            await send({"type": f"lifespan.{phase}.complete"})

    async def start(self) -> None:
        gateway = self.state.gateway
        await gateway.start()
        # Hot reload (server/reload.py): SIGHUP, or a watched config file, swaps in a new gateway.
        self.reloader = Reloader(self.state, gateway.config.source_path, self.in_flight)
        self.reloader.install_signal_handler()
        self.reloader.watch_if_asked()

    async def stop(self) -> None:
        if self.reloader is not None:
            await self.reloader.close()
        await self.state.gateway.stop()  # the current one (a reload may have replaced the first)


def create_app(config: LoadedConfig) -> GatewayApp:
    gateway = Gateway(config)
    # Connection limits (slow or oversized clients) for `llmroute up`'s HTTP protocol.
    configure_protocol(config.raw.limits)
    return GatewayApp(gateway)


def app_from_env() -> GatewayApp:
    """Factory for `uvicorn --factory` (used by `--workers N`): the config path comes from LLMROUTE_CONFIG."""
    from llmroute.config import load_config

    # A worker is a fresh process: set up its logging as `llmroute up` was asked to.
    configure_logging(
        os.environ.get("LLMROUTE_LOG_FORMAT", "human"), os.environ.get("LLMROUTE_LOG_LEVEL", "info")
    )
    return create_app(load_config(os.environ["LLMROUTE_CONFIG"]))

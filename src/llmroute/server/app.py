"""The ASGI application: endpoints, error rendering and lifecycle (SPEC §1).

Handlers are thin: read the body, hand it to the decision pipeline or the proxy, render the
answer. Everything slow or stateful lives on the `Gateway` built at startup.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from llmroute.config.resolved import LoadedConfig
from llmroute.governance.auth import caller_key, model_allowed, tenant_of
from llmroute.governance.limits import configure_protocol
from llmroute.observability.logs import configure_logging
from llmroute.observability.metrics_endpoint import metrics_endpoint
from llmroute.observability.middleware import ObservabilityMiddleware
from llmroute.observability.record import current_record
from llmroute.observability.trace_context import new_trace_id, parse_traceparent
from llmroute.routing.agent_sessions import agent_session
from llmroute.routing.decision import DecisionError, decision_payload, session_id_from
from llmroute.server.errors import ApiError, error_response, format_for_path
from llmroute.server.gateway import Gateway
from llmroute.server.hot_routes import HotEndpoint, HotRoutes
from llmroute.server.reload import GatewayMiddleware, InFlight, Reloader, current_gateway
from llmroute.wire import ClientFormat, WireError, parse_conversation

log = logging.getLogger("llmroute.server")

JSON = "application/json"


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=JSON, headers=headers)


async def read_json(headers: Headers, receive: Receive, limit: int) -> dict[str, Any]:
    """The request body as a JSON object, refusing bodies over `limit` bytes before reading them whole."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"Request body is larger than the limit of {limit} bytes", "request_too_large")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            # The client left mid-body (or was cut off as too slow): nobody is there to answer.
            raise ApiError(499, "The client closed the connection before sending its whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ApiError(
                413, f"Request body is larger than the limit of {limit} bytes", "request_too_large"
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if not raw.strip():
        raise ApiError(400, "Request body is empty; expected a JSON object", "invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"Request body is not valid JSON: {exc}", "invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object", "invalid_json")
    return body


def trace_id_for(headers: Headers) -> str:
    record = current_record()
    if record is not None:
        return record.trace_id  # the request span's (set when the request began: observability open())
    parsed = parse_traceparent(headers.get("traceparent"))
    return parsed[0] if parsed else new_trace_id()


def gateway_of(scope: Scope) -> Gateway:
    # The gateway the request started on: after a config reload it still finishes there.
    return current_gateway(scope)


# --- endpoints -----------------------------------------------------------------------------------


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    gateway = gateway_of(request.scope)
    checks = gateway.readiness()
    ready = all(checks.values())
    body: dict[str, object] = {"status": "ready" if ready else "not ready", "checks": checks}
    if gateway.route_examples is not None:
        # Informational: until generated examples arrive the router uses descriptions only.
        body["route_examples"] = gateway.route_examples.status()
    return json_response(body, 200 if ready else 503)


async def list_models(request: Request) -> Response:
    config = gateway_of(request.scope).config
    key = caller_key(request.scope)  # with auth on: only what this key may use (aliases by target)

    def allowed(model: str) -> bool:
        return key is None or model_allowed(key, model)

    data = [
        {"id": model, "object": "model", "created": 0, "owned_by": model.partition("/")[0]}
        for model in config.models
        if allowed(model)
    ]
    data += [
        {"id": alias, "object": "model", "created": 0, "owned_by": "alias"}
        for alias, target in config.aliases.items()
        if allowed(target)
    ]
    return json_response({"object": "list", "data": data})


def decision_endpoint(fmt: ClientFormat) -> HotEndpoint:
    async def endpoint(scope: Scope, receive: Receive) -> Response:
        gateway = gateway_of(scope)
        headers = Headers(scope=scope)
        body = await read_json(headers, receive, gateway.max_body_bytes)
        governance = gateway.governance  # keys, guardrails; None when none is configured
        if governance is not None:
            body = await governance.screen_request(fmt, body)
        try:
            conversation = parse_conversation(fmt, body)
            agent = agent_session(fmt, headers, body, gateway.config.raw.routing.agent_sessions)
            decision = await gateway.decisions.decide(
                body, conversation, session_id_from(headers), agent, tenant=tenant_of(scope)
            )
        except (WireError, DecisionError) as exc:
            raise ApiError(exc.status, exc.message) from None
        if not decision.models:
            # The same 400 the proxy gives for this request (docs/decisions.md), not a 200 with an error.
            raise ApiError(
                400, decision.model_error or "No model could be chosen for this request", "model_not_found"
            )
        if governance is not None:
            decision = governance.authorize(scope, decision)
        trace_id = trace_id_for(headers)
        return json_response(decision_payload(decision, trace_id))

    return endpoint


# --- errors --------------------------------------------------------------------------------------


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(format_for_path(request.url.path), exc.status, exc.message, exc.code, exc.headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {
        404: f"Unknown path {request.url.path}",
        405: f"Method {request.method} not allowed on {request.url.path}",
    }
    message = messages.get(exc.status_code, str(exc.detail))
    return error_response(format_for_path(request.url.path), exc.status_code, message, None, exc.headers)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    # Never a traceback to the client; the log keeps the details (without request contents).
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(format_for_path(request.url.path), 500, "Internal gateway error", "internal_error")


# --- the app -------------------------------------------------------------------------------------


def hot_endpoints() -> dict[str, HotEndpoint]:
    """The POST endpoints on every request's path, served without Starlette's router (server/hot_routes.py)."""
    from llmroute.proxy.count_tokens import count_tokens_endpoint
    from llmroute.proxy.embeddings import embeddings_endpoint
    from llmroute.proxy.endpoint import proxy_endpoint

    return {
        "/v1/chat/completions": proxy_endpoint("openai_chat"),
        "/v1/messages": proxy_endpoint("anthropic"),
        "/v1/messages/count_tokens": count_tokens_endpoint(),
        "/v1/responses": proxy_endpoint("responses"),
        "/v1/embeddings": embeddings_endpoint(),
        "/routing/v1/chat/completions": decision_endpoint("openai_chat"),
        "/routing/v1/messages": decision_endpoint("anthropic"),
        "/routing/v1/responses": decision_endpoint("responses"),
    }


def routes() -> list[Route]:
    """Everything else, through Starlette: GET endpoints; other methods on the hot paths get a 405."""
    from llmroute.console.pages import console_routes
    from llmroute.ranking.admin import metrics_models_endpoint

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/v1/metrics/models", metrics_models_endpoint, methods=["GET"]),
        *console_routes(),  # /console (off unless console.enabled: then 404)
        # GatewayApp answers POSTs to these paths; the routes are here so that another method gets a 405.
        *(Route(path, hot_path_elsewhere, methods=["POST"]) for path in hot_endpoints()),
    ]


async def hot_path_elsewhere(request: Request) -> Response:
    raise HTTPException(405)  # unreachable: GatewayApp answers every POST to a hot path


class GatewayApp:
    """The ASGI app `llmroute up` serves.

    A POST to a hot endpoint takes the flat path of server/hot_routes.py. Everything else:
    observability (metrics, trace ids, log line) → pin to the current gateway and check API keys
    → Starlette. `state.gateway` is the gateway serving new requests (replaced by a reload); it is
    the Starlette app's state too.
    """

    def __init__(self, starlette: Starlette, gateway: Gateway, in_flight: InFlight) -> None:
        self.starlette = starlette
        self.state = starlette.state
        self.state.gateway = gateway
        self.hot = hot_endpoints()
        paths = [*self.hot, *(route.path for route in starlette.routes if isinstance(route, Route))]
        observability = ObservabilityMiddleware(
            GatewayMiddleware(starlette, in_flight=in_flight), endpoints=paths, tracing=gateway.tracing
        )
        self.handler = observability
        self.hot_routes = HotRoutes(observability, in_flight)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan (start and stop the gateway), websockets (refused)
            await self.starlette(scope, receive, send)
            return
        scope["app"] = self  # where the gateway pin finds `state.gateway`
        if scope["method"] == "POST":
            endpoint = self.hot.get(scope["path"])
            if endpoint is not None:
                await self.hot_routes.serve(endpoint, scope, receive, send)
                return
        await self.handler(scope, receive, send)


def create_app(config: LoadedConfig) -> GatewayApp:
    gateway = Gateway(config)
    # Connection limits (slow or oversized clients) for `llmroute up`'s HTTP protocol.
    configure_protocol(config.raw.limits)

    in_flight = InFlight()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        # Hot reload (server/reload.py): SIGHUP, or a watched config file, swaps in a new gateway.
        reloader = Reloader(app, config.source_path, in_flight)
        reloader.install_signal_handler()
        reloader.watch_if_asked()
        try:
            yield
        finally:
            await reloader.close()
            await app.state.gateway.stop()  # the current one (a reload may have replaced the first)

    starlette = Starlette(
        routes=routes(),
        lifespan=lifespan,
        exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: unexpected_error},
    )
    return GatewayApp(starlette, gateway, in_flight)


def app_from_env() -> GatewayApp:
    """Factory for `uvicorn --factory` (used by `--workers N`): the config path comes from LLMROUTE_CONFIG."""
    from llmroute.config import load_config

    # A worker is a fresh process: set up its logging as `llmroute up` was asked to.
    configure_logging(
        os.environ.get("LLMROUTE_LOG_FORMAT", "human"), os.environ.get("LLMROUTE_LOG_LEVEL", "info")
    )
    return create_app(load_config(os.environ["LLMROUTE_CONFIG"]))

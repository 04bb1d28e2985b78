"""The gateway's endpoints: each takes the request's gateway, scope and receive, returns a `Response`.

Errors are raised as `GatewayError` and rendered by the dispatcher (server/app.py). The decision
endpoints (/routing/v1/*) and the proxy endpoints (/v1/chat/completions, /v1/messages,
/v1/responses) share one `prepare` step: read the body, screen it (request guardrails), parse the
conversation, decide the candidates. So a decision and a proxied request always agree, and bad
input is a 400 in the client's format before any provider is called.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive, Scope

from llmroute.errors import GatewayError
from llmroute.governance.auth import caller_key, model_allowed
from llmroute.observability.metrics_endpoint import exposition
from llmroute.observability.record import current_record
from llmroute.proxy import count_tokens, embeddings
from llmroute.proxy.request import ClientRequest
from llmroute.ranking.admin import models_table
from llmroute.routing.agent_sessions import agent_session
from llmroute.routing.decision import Decision, decision_payload, session_id_from
from llmroute.server.body import read_json
from llmroute.server.gateway import Gateway
from llmroute.server.protocol import DisconnectWatch
from llmroute.wire import ClientFormat, parse_conversation

JSON = "application/json"

# An endpoint: the gateway the request is pinned to, its scope and receive in, the response out.
Endpoint = Callable[[Gateway, Scope, Receive], Awaitable[Response]]


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=JSON)


# --- decisions and proxying ----------------------------------------------------------------------


async def prepare(gateway: Gateway, fmt: ClientFormat, scope: Scope, receive: Receive) -> ClientRequest:
    """Read → screen → parse → decide: the request with its candidates, or a GatewayError (4xx)."""
    headers = Headers(scope=scope)
    body = await read_json(headers, receive, gateway.max_body_bytes)
    governance = gateway.governance  # keys, limits, guardrails; None when none is configured
    if governance is not None:
        body = await governance.screen_request(fmt, body)
    key = caller_key(scope)
    conversation = parse_conversation(fmt, body)
    agent = agent_session(fmt, headers, body, gateway.config.raw.routing.agent_sessions)
    decision = await gateway.decisions.decide(
        body, conversation, session_id_from(headers), agent, tenant=key.name if key is not None else None
    )
    if not decision.models:
        # The same 400 on both endpoints (docs/decisions.md), not a 200 with an error.
        raise GatewayError(
            400, decision.model_error or "No model could be chosen for this request", "model_not_found"
        )
    record = current_record()
    assert record is not None  # the dispatcher opened it
    return ClientRequest(fmt, body, headers, decision, key, record)


def decision_endpoint(fmt: ClientFormat) -> Endpoint:
    async def endpoint(gateway: Gateway, scope: Scope, receive: Receive) -> Response:
        request = await prepare(gateway, fmt, scope, receive)
        decision = request.decision
        if gateway.governance is not None:
            decision = gateway.governance.authorize(request.key, decision)
        return json_response(decision_payload(decision, request.record.trace_id))

    return endpoint


def proxy_endpoint(fmt: ClientFormat) -> Endpoint:
    async def endpoint(gateway: Gateway, scope: Scope, receive: Receive) -> Response:
        request = await prepare(gateway, fmt, scope, receive)
        # A client that hangs up while we wait for the provider cancels the upstream request
        # (a long non-streaming generation is not paid for when nobody will read it).
        watch = DisconnectWatch(scope, receive)
        governance = gateway.governance
        ticket = None
        try:
            if governance is not None:
                ticket = await governance.admit(request)
            response = await gateway.proxy.forward(request)
            if governance is None or ticket is None:
                return response
            # The ticket (rate-limit budget, concurrency slot) is settled once the response is sent.
            return await governance.screen_response(fmt, ticket.bind(response, request.record))
        except asyncio.CancelledError:
            if watch.fired:
                watch.handler.uncancel()
                return Response(status_code=499)  # nobody is listening; nginx's "client closed request"
            raise
        finally:
            watch.stop()
            if ticket is not None:
                ticket.abandon()  # no-op once bound to the response

    return endpoint


async def embeddings_endpoint(gateway: Gateway, scope: Scope, receive: Receive) -> Response:
    headers = Headers(scope=scope)
    body = await read_json(headers, receive, gateway.max_body_bytes)
    embeddings.check_input(body)
    record = current_record()
    assert record is not None
    request = ClientRequest(
        "openai_chat", body, headers, embeddings.decide(gateway.config, body), caller_key(scope), record
    )
    governance = gateway.governance
    ticket = None
    try:
        if governance is not None:
            ticket = await governance.admit(request)
        response = await embeddings.forward(gateway.proxy, request)
        if governance is None or ticket is None:
            return response
        return await governance.screen_response("openai_chat", ticket.bind(response, record))
    finally:
        if ticket is not None:
            ticket.abandon()


async def count_tokens_endpoint(gateway: Gateway, scope: Scope, receive: Receive) -> Response:
    headers = Headers(scope=scope)
    body = await read_json(headers, receive, gateway.max_body_bytes)
    parse_conversation("anthropic", body)  # the same checks as /v1/messages
    body.pop("routing_preferences", None)  # never forwarded, as on /v1/messages
    body.pop("routing_policy", None)
    model = count_tokens.resolve(gateway.config, body)
    if gateway.governance is not None:  # a key limited to some models may count only for those
        gateway.governance.authorize(caller_key(scope), Decision([model], None, "model", model))
    return await count_tokens.count(gateway.proxy, model, body, headers)


# --- the rest ------------------------------------------------------------------------------------


async def healthz(gateway: Gateway, scope: Scope, receive: Receive) -> Response:
    return json_response({"status": "ok"})


async def readyz(gateway: Gateway, scope: Scope, receive: Receive) -> Response:
    checks = gateway.readiness()
    ready = all(checks.values())
    body: dict[str, object] = {"status": "ready" if ready else "not ready", "checks": checks}
    if gateway.route_examples is not None:
        # Informational: until generated examples arrive the router uses descriptions only.
        body["route_examples"] = gateway.route_examples.status()
    return json_response(body, 200 if ready else 503)


async def list_models(gateway: Gateway, scope: Scope, receive: Receive) -> Response:
    config = gateway.config
    key = caller_key(scope)  # with auth on: only what this key may use (aliases by target)

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


async def metrics(gateway: Gateway, scope: Scope, receive: Receive) -> Response:
    # Rendering reads every sample (and, with workers, their files): keep it off the event loop.
    return Response(await run_in_threadpool(exposition), media_type=CONTENT_TYPE_LATEST)


async def metrics_models(gateway: Gateway, scope: Scope, receive: Receive) -> Response:
    return json_response(models_table(gateway.metrics))

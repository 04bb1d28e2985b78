"""`POST /v1/messages/count_tokens`: Anthropic's token counting, for any configured model (SPEC §11).

Claude Code asks it how full its context is. The `model` is resolved as for `/v1/messages` (an
alias, a declared or wildcard model, else the default), without running the router or touching
session pins: a count is not a turn of the conversation. An Anthropic-format provider counts
itself (the body is forwarded with its key, the client's betas and the provider's model id); for
any other provider, or an Anthropic-compatible one without the endpoint (404/405), the gateway
estimates the count (proxy/token_estimate.py) and says so in `x-llmroute-token-count`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive, Scope

from llmroute.providers.client import UpstreamError
from llmroute.proxy.errors import redact, redact_bytes
from llmroute.proxy.forward import ANTHROPIC_CLIENT_HEADERS, client_key
from llmroute.proxy.header_values import header_value
from llmroute.proxy.replies import HttpReply
from llmroute.proxy.targets import Target, TargetError
from llmroute.proxy.token_estimate import estimate_tokens
from llmroute.routing.decision import Decision
from llmroute.server.app import gateway_of, read_json
from llmroute.server.errors import ApiError
from llmroute.server.gateway import Gateway
from llmroute.server.hot_routes import HotEndpoint
from llmroute.wire import WireError, parse_conversation

JSON = "application/json"
COUNT_HEADER = "x-llmroute-token-count"  # "exact" (the provider counted) or how it was estimated
# Statuses that mean "this provider has no count_tokens endpoint": estimate instead.
NO_ENDPOINT = (404, 405)


def resolve(gateway: Gateway, body: dict[str, Any]) -> str:
    config = gateway.config
    requested = body.get("model")
    if isinstance(requested, str) and requested:
        model = config.aliases.get(requested) or config.resolve_model(requested)
        if model is None:
            raise ApiError(400, f"Model '{requested}' not found in configured providers", "model_not_found")
        return model
    if config.default_model is None:
        raise ApiError(400, "No model was given and no default model is configured", "model_not_found")
    return config.default_model


async def estimate(model: str, body: dict[str, Any]) -> Response:
    # A long conversation takes milliseconds to tokenize: off the event loop.
    tokens, how = await asyncio.to_thread(estimate_tokens, body)
    headers = {"x-llmroute-model": header_value(model), COUNT_HEADER: how}
    return Response(orjson.dumps({"input_tokens": tokens}), media_type=JSON, headers=headers)


async def forward(
    gateway: Gateway, target: Target, body: dict[str, Any], headers: Headers
) -> Response | None:
    """The provider's own count, or None when it has no count_tokens endpoint."""
    proxy = gateway.proxy
    out = dict(headers_for(target, headers))
    payload = {**body, "model": target.model_id}
    key = client_key(headers) if target.passthrough_auth else None
    secrets = proxy.targets.secrets + ((key,) if key else ())  # never echo a passed-through key either
    try:
        reply = HttpReply(await proxy.client.post(target.url + "/count_tokens", out, orjson.dumps(payload)))
        try:
            data = await reply.read()
        finally:
            reply.close()
    except UpstreamError as exc:
        message = redact(exc.message, secrets)
        raise ApiError(504 if exc.kind == "timeout" else 502, f"{target.model}: {message}") from None
    if reply.status in NO_ENDPOINT:
        return None
    response_headers = {"x-llmroute-model": header_value(target.model), COUNT_HEADER: "exact"}
    media = reply.headers.get("content-type") or JSON
    return Response(redact_bytes(data, secrets), reply.status, media_type=media, headers=response_headers)


def headers_for(target: Target, client_headers: Headers) -> dict[str, str]:
    out = dict(target.headers)
    if target.passthrough_auth:
        out.update(target.auth_headers(client_key(client_headers)))
    for name in ANTHROPIC_CLIENT_HEADERS:
        value = client_headers.get(name)
        if value:
            out[name] = value
    return out


def count_tokens_endpoint() -> HotEndpoint:
    async def endpoint(scope: Scope, receive: Receive) -> Response:
        gateway = gateway_of(scope)
        headers = Headers(scope=scope)
        body = await read_json(headers, receive, gateway.max_body_bytes)
        try:
            parse_conversation("anthropic", body)  # the same checks as /v1/messages
        except WireError as exc:
            raise ApiError(exc.status, exc.message) from None
        body.pop("routing_preferences", None)  # never forwarded, as on /v1/messages
        body.pop("routing_policy", None)
        model = resolve(gateway, body)
        if gateway.governance is not None:  # a key limited to some models may count only for those
            gateway.governance.authorize(scope, Decision([model], None, "model", model))
        try:
            target = gateway.proxy.targets.get(model)
        except TargetError as exc:
            raise ApiError(502, str(exc)) from None
        if target.interface == "anthropic":
            counted = await forward(gateway, target, body, headers)
            if counted is not None:
                return counted
        return await estimate(model, body)

    return endpoint

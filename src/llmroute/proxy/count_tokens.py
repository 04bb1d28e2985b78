"""`POST /v1/messages/count_tokens`: Anthropic's token counting, for any configured model (SPEC §11).

Claude Code asks it how full its context is. The `model` is resolved as for `/v1/messages` (an
alias, a declared or wildcard model, else the default), without running the router or touching
session pins: a count is not a turn of the conversation. An Anthropic-format provider counts
itself (the body is forwarded with its key, the client's betas and the provider's model id); for
any other provider, or an Anthropic-compatible one without the endpoint (404/405), the gateway
estimates the count (proxy/token_estimate.py) and says so in `x-llmroute-token-count`. The HTTP
endpoint is server/endpoints.py's `count_tokens_endpoint`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from llmroute.config.resolved import LoadedConfig
from llmroute.errors import GatewayError, UpstreamError
from llmroute.proxy.errors import redact, redact_bytes
from llmroute.proxy.forward import ANTHROPIC_CLIENT_HEADERS, Proxy, client_key
from llmroute.proxy.header_values import header_value
from llmroute.proxy.replies import HttpReply
from llmroute.proxy.targets import Target
from llmroute.proxy.token_estimate import estimate_tokens

JSON = "application/json"
COUNT_HEADER = "x-llmroute-token-count"  # "exact" (the provider counted) or how it was estimated
# Statuses that mean "this provider has no count_tokens endpoint": estimate instead.
NO_ENDPOINT = (404, 405)


def resolve(config: LoadedConfig, body: dict[str, Any]) -> str:
    requested = body.get("model")
    if isinstance(requested, str) and requested:
        model = config.aliases.get(requested) or config.resolve_model(requested)
        if model is None:
            raise GatewayError(
                400, f"Model '{requested}' not found in configured providers", "model_not_found"
            )
        return model
    if config.default_model is None:
        raise GatewayError(400, "No model was given and no default model is configured", "model_not_found")
    return config.default_model


async def estimate(model: str, body: dict[str, Any]) -> Response:
    # A long conversation takes milliseconds to tokenize: off the event loop.
    tokens, how = await asyncio.to_thread(estimate_tokens, body)
    headers = {"x-llmroute-model": header_value(model), COUNT_HEADER: how}
    return Response(orjson.dumps({"input_tokens": tokens}), media_type=JSON, headers=headers)


async def count(proxy: Proxy, model: str, body: dict[str, Any], headers: Mapping[str, str]) -> Response:
    """The provider's own count when it is an Anthropic API that has the endpoint, else an estimate."""
    target = proxy.targets.get(model)  # TargetError (a 502) when the model has no usable provider
    if target.interface == "anthropic":
        counted = await forward(proxy, target, body, headers)
        if counted is not None:
            return counted
    return await estimate(model, body)


async def forward(
    proxy: Proxy, target: Target, body: dict[str, Any], headers: Mapping[str, str]
) -> Response | None:
    """The provider's own count, or None when it has no count_tokens endpoint."""
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
        raise GatewayError(exc.status, f"{target.model}: {redact(exc.message, secrets)}") from None
    if reply.status in NO_ENDPOINT:
        return None
    response_headers = {"x-llmroute-model": header_value(target.model), COUNT_HEADER: "exact"}
    media = reply.headers.get("content-type") or JSON
    return Response(redact_bytes(data, secrets), reply.status, media_type=media, headers=response_headers)


def headers_for(target: Target, client_headers: Mapping[str, str]) -> dict[str, str]:
    out = dict(target.headers)
    if target.passthrough_auth:
        out.update(target.auth_headers(client_key(client_headers)))
    for name in ANTHROPIC_CLIENT_HEADERS:
        value = client_headers.get(name)
        if value:
            out[name] = value
    return out

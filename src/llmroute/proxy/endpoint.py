"""The proxy endpoints (/v1/chat/completions, /v1/messages, /v1/responses).

The same decision pipeline as /routing/v1/* picks the candidates (so both always agree); the
`Proxy` on the gateway forwards along them. Bad input is a 400 in the client's format before any
provider is called.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from llmroute.proxy.forward import ClientRequestError
from llmroute.routing.decision import DecisionError, session_id_from
from llmroute.server.app import gateway_of, read_json, trace_id_for
from llmroute.server.errors import ApiError
from llmroute.wire import ClientFormat, WireError, parse_conversation


def proxy_endpoint(fmt: ClientFormat):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        gateway = gateway_of(request)
        body = await read_json(request, gateway.max_body_bytes)
        try:
            conversation = parse_conversation(fmt, body)
            decision = await gateway.decisions.decide(body, conversation, session_id_from(request.headers))
        except (WireError, DecisionError) as exc:
            raise ApiError(exc.status, exc.message) from None
        if not decision.models:
            raise ApiError(400, decision.model_error or "No model could be chosen for this request", "model_not_found")
        try:
            return await gateway.proxy.forward(
                fmt, body, decision, request.headers, trace_id_for(request), request.url.path, started
            )
        except ClientRequestError as exc:
            raise ApiError(exc.status, exc.message) from None

    return endpoint

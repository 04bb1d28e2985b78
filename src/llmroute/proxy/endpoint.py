"""The proxy endpoints (/v1/chat/completions, /v1/messages, /v1/responses).

The same decision pipeline as /routing/v1/* picks the candidates (so both always agree); the
`Proxy` on the gateway forwards along them. Bad input is a 400 in the client's format before any
provider is called.
"""

from __future__ import annotations

import asyncio
import time

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive, Scope

from llmroute.proxy.forward import ClientRequestError
from llmroute.routing.decision import DecisionError, session_id_from
from llmroute.server.app import gateway_of, read_json, trace_id_for
from llmroute.server.errors import ApiError
from llmroute.server.hot_routes import HotEndpoint
from llmroute.wire import ClientFormat, WireError, parse_conversation


def proxy_endpoint(fmt: ClientFormat) -> HotEndpoint:
    async def endpoint(scope: Scope, receive: Receive) -> Response:
        started = time.perf_counter()
        gateway = gateway_of(scope)
        headers = Headers(scope=scope)
        body = await read_json(headers, receive, gateway.max_body_bytes)
        governance = gateway.governance  # keys, limits, guardrails; None when none is configured
        if governance is not None:
            body = await governance.screen_request(fmt, body)
        try:
            conversation = parse_conversation(fmt, body)
            decision = await gateway.decisions.decide(body, conversation, session_id_from(headers))
        except (WireError, DecisionError) as exc:
            raise ApiError(exc.status, exc.message) from None
        if not decision.models:
            raise ApiError(
                400, decision.model_error or "No model could be chosen for this request", "model_not_found"
            )
        # A client that hangs up while we wait for the provider cancels the upstream request
        # (a long non-streaming generation is not paid for when nobody will read it).
        handler = asyncio.current_task()
        assert handler is not None
        watcher = asyncio.create_task(cancel_on_disconnect(receive, handler))
        ticket = None
        try:
            if governance is not None:
                decision, ticket = await governance.admit(scope, fmt, body, decision)
            response = await gateway.proxy.forward(
                fmt, body, decision, headers, trace_id_for(headers), scope["path"], started
            )
            # The ticket (rate-limit budget, concurrency slot) is settled once the response is sent.
            return response if ticket is None else ticket.bind(response)
        except ClientRequestError as exc:
            raise ApiError(exc.status, exc.message) from None
        except asyncio.CancelledError:
            if watcher.done() and not watcher.cancelled() and watcher.result():
                handler.uncancel()
                return Response(status_code=499)  # nobody is listening; nginx's "client closed request"
            raise
        finally:
            watcher.cancel()
            if ticket is not None:
                ticket.abandon()  # no-op once bound to the response

    return endpoint


async def cancel_on_disconnect(receive: Receive, handler: asyncio.Task[object]) -> bool:
    """Wait for the client to disconnect, then cancel `handler`. The body has been read already,
    so the only message left to receive is the disconnect."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            handler.cancel()
            return True

"""The proxy endpoints (/v1/chat/completions, /v1/messages, /v1/responses).

The same decision pipeline as /routing/v1/* picks the candidates (so both always agree); the
`Proxy` on the gateway forwards along them. Bad input is a 400 in the client's format before any
provider is called.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive, Scope

from llmroute.governance.auth import tenant_of
from llmroute.proxy.forward import ClientRequestError
from llmroute.routing.agent_sessions import agent_session
from llmroute.routing.decision import DecisionError, session_id_from
from llmroute.server.app import gateway_of, read_json, trace_id_for
from llmroute.server.errors import ApiError
from llmroute.server.extensions import ON_DISCONNECT
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
            agent = agent_session(fmt, headers, body, gateway.config.raw.routing.agent_sessions)
            decision = await gateway.decisions.decide(
                body, conversation, session_id_from(headers), agent, tenant=tenant_of(scope)
            )
        except (WireError, DecisionError) as exc:
            raise ApiError(exc.status, exc.message) from None
        if not decision.models:
            raise ApiError(
                400, decision.model_error or "No model could be chosen for this request", "model_not_found"
            )
        # A client that hangs up while we wait for the provider cancels the upstream request
        # (a long non-streaming generation is not paid for when nobody will read it).
        watch = DisconnectWatch(scope, receive)
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
            if watch.fired:
                watch.handler.uncancel()
                return Response(status_code=499)  # nobody is listening; nginx's "client closed request"
            raise
        finally:
            watch.stop()
            if ticket is not None:
                ticket.abandon()  # no-op once bound to the response

    return endpoint


class DisconnectWatch:
    """Cancels the request's task if the client disconnects before `stop()`.

    Through the server's `ON_DISCONNECT` callback list when it offers one (`llmroute up`), else
    with a task waiting on `receive()`: the body has been read already, so the only message left
    to receive is the disconnect.
    """

    __slots__ = ("_callbacks", "_task", "fired", "handler")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self.handler = handler
        self.fired = False
        self._task: asyncio.Task[None] | None = None
        extensions = scope.get("extensions")
        self._callbacks: list[Callable[[], None]] | None = (
            extensions.get(ON_DISCONNECT) if extensions else None
        )
        if self._callbacks is not None:
            self._callbacks.append(self._fire)
        else:
            self._task = asyncio.create_task(self._watch(receive))

    def _fire(self) -> None:
        self.fired = True
        self.handler.cancel()

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._fire()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        elif self._callbacks is not None and self._fire in self._callbacks:
            self._callbacks.remove(self._fire)

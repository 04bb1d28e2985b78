"""The governance the request path calls: one object per gateway (and per config generation).

`build_governance(config)` returns None when the config has no governance section, and the
endpoints skip every hook then: an unconfigured feature costs a request nothing. Otherwise the
endpoints call, in order:

1. `await screen_request(fmt, body)` before routing: the request guardrails (may redact the body
   in place, or refuse it with an `ApiError`);
2. `authorize(scope, decision)` after routing: keep only the models the caller's key may use
   (403 when none is left);
3. `await admit(scope, fmt, body, decision)` before forwarding (proxy only): authorize, then take
   the rate-limit budget and a concurrency slot. It returns a `Ticket` (or None when nothing needs
   settling); `ticket.bind(response)` settles it when the response has been sent (token usage
   corrected from the response, slot released), `ticket.abandon()` when forwarding failed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from llmroute.config.resolved import LoadedConfig
from llmroute.governance.auth import KeyTable, caller_key, model_allowed
from llmroute.governance.guardrails import GuardrailChain, build_checks
from llmroute.governance.limits import ConcurrencyGate
from llmroute.governance.ratelimit import MemoryBuckets, RateLimiter, RedisBuckets, Reservation, compile_rules
from llmroute.governance.shared import RedisCooldowns, SharedRedis
from llmroute.governance.stream_guard import Finder, finders, screen_stream
from llmroute.observability import metrics
from llmroute.observability.record import note_governance
from llmroute.proxy.cooldown import CooldownStore
from llmroute.proxy.header_values import header_text
from llmroute.routing.decision import Decision
from llmroute.server.errors import ApiError, error_response
from llmroute.wire import ClientFormat, SSEDecoder
from llmroute.wire.sse import MAX_EVENT_BYTES
from llmroute.wire.usage import StreamUsageReader, usage_from_bytes

log = logging.getLogger("llmroute.governance")


class Governance:
    def __init__(self, config: LoadedConfig) -> None:
        raw = config.raw
        self.keys: KeyTable | None = KeyTable(raw.auth) if raw.auth is not None else None
        shared = raw.shared_state
        self.shared: SharedRedis | None = (
            SharedRedis(shared) if shared is not None and shared.type == "redis" else None
        )
        # Failover cooldowns for the proxy: shared through Redis when configured (else the proxy's own).
        self.cooldowns: CooldownStore | None = (
            RedisCooldowns(self.shared) if self.shared is not None else None
        )
        rules = compile_rules(raw.rate_limits, raw.auth)
        self.limiter: RateLimiter | None = None
        if rules:
            buckets = RedisBuckets(self.shared) if self.shared is not None else MemoryBuckets()
            self.limiter = RateLimiter(rules, buckets, raw.rate_limits)
        limits = raw.limits
        self.gate: ConcurrencyGate | None = None
        if limits is not None and limits.max_concurrent_upstream is not None:
            self.gate = ConcurrencyGate(limits.max_concurrent_upstream, limits.queue_timeout)
        guardrails = raw.guardrails
        self._http: aiohttp.ClientSession | None = None
        self.request_guards: GuardrailChain | None = None
        self.response_guards: GuardrailChain | None = None
        if guardrails is not None and guardrails.request:
            self.request_guards = GuardrailChain(
                build_checks(guardrails.request, "request", self._session), "request"
            )
        if guardrails is not None and guardrails.response:
            self.response_guards = GuardrailChain(
                build_checks(guardrails.response, "response", self._session), "response"
            )
        self._needs_http = guardrails is not None and any(
            g.type == "http" for g in (*guardrails.request, *guardrails.response)
        )
        # Corrections still being written to the rate-limit store (kept so they are not collected).
        self._pending: set[asyncio.Task[None]] = set()
        # pii and blocklist on streamed answers too (None: streams pass as they are)
        self.stream_guards: list[tuple[str, Finder]] | None = None
        self.stream_window = 0
        if self.response_guards is not None and guardrails is not None and guardrails.streams == "screen":
            self.stream_guards = finders(self.response_guards.checks) or None
            self.stream_window = guardrails.stream_window_chars

    def _session(self) -> aiohttp.ClientSession:
        """The HTTP client for external guardrail filters (opened in start())."""
        if self._http is None:
            raise RuntimeError("Governance.start() was not awaited")
        return self._http

    @property
    def active(self) -> bool:
        """Whether any of it has work to do per request (or state to share)."""
        parts = (self.keys, self.shared, self.limiter, self.gate, self.request_guards, self.response_guards)
        return any(part is not None for part in parts)

    async def start(self) -> None:
        if self._needs_http and self._http is None:
            self._http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        if self.shared is not None:
            await self.shared.warm()

    async def stop(self) -> None:
        if self._pending:
            await asyncio.wait(self._pending, timeout=2.0)
        if self.shared is not None:
            await self.shared.aclose()
        if self._http is not None:
            await self._http.close()
            self._http = None

    # --- request hooks ---------------------------------------------------------------------------

    async def screen_request(self, fmt: ClientFormat, body: dict[str, Any]) -> dict[str, Any]:
        """The request guardrails: the body to route and forward (redacted or replaced), or ApiError."""
        if self.request_guards is None:
            return body
        screened, _ = await self.request_guards.run(fmt, body)
        return screened

    def authorize(self, scope: Scope, decision: Decision) -> Decision:
        """The decision restricted to the models the caller's key may use."""
        key = caller_key(scope)
        if key is None or key.allowed_models is None:
            return decision
        allowed = [model for model in decision.models if model_allowed(key, model)]
        if len(allowed) == len(decision.models):
            return decision
        if not allowed:
            metrics.AUTH_FAILURES.labels(reason="model_not_allowed").inc()
            note_governance("auth.model_not_allowed", key=key.name)
            refused = ", ".join(decision.models) or "none"
            log.info("auth: key '%s' may not use %s", key.name, refused)
            raise ApiError(
                403,
                f"This API key may not use the model(s) chosen for this request ({refused}); "
                f"allowed: {', '.join(key.allowed_models) or 'none'}",
                "model_not_allowed",
            )
        return dataclasses.replace(decision, models=allowed)

    async def admit(
        self, scope: Scope, fmt: ClientFormat, body: dict[str, Any], decision: Decision
    ) -> tuple[Decision, Ticket | None]:
        """Authorize, take a concurrency slot, take the rate-limit budget. Raises ApiError 403/429/503."""
        decision = self.authorize(scope, decision)
        if self.gate is None and self.limiter is None and self.response_guards is None:
            return decision, None
        if self.gate is not None:
            await self.gate.acquire()
        reservation: Reservation | None = None
        try:
            if self.limiter is not None:
                key = caller_key(scope)
                models, reservation = await self.limiter.reserve(
                    fmt, key.name if key is not None else None, decision.models, body
                )
                if len(models) != len(decision.models):
                    decision = dataclasses.replace(decision, models=models)
        except BaseException:
            if self.gate is not None:
                self.gate.release()
            raise
        return decision, Ticket(self, fmt, reservation)

    def _later(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)


class Ticket:
    """What one admitted request holds (a concurrency slot, a rate-limit reservation) until its
    response has been sent; then the slot is released and the reservation corrected."""

    __slots__ = ("_done", "bound", "fmt", "governance", "reservation")

    def __init__(self, governance: Governance, fmt: ClientFormat, reservation: Reservation | None) -> None:
        self.governance = governance
        self.fmt = fmt
        self.reservation = reservation
        self.bound = False
        self._done = False

    def bind(self, response: Response) -> Response:
        """Settle once `response` has been sent (a stream: after its last chunk, or when it is cut)."""
        self.bound = True
        model = header_text(response.headers.get("x-llmroute-model"))
        failed = response.status_code >= 400
        if isinstance(response, StreamingResponse):
            guards = self.governance.stream_guards
            if guards is not None and response.status_code == 200:
                # pii / blocklist with a held-back window (governance/stream_guard.py)
                response.body_iterator = screen_stream(
                    response.body_iterator, self.fmt, guards, self.governance.stream_window
                )
            response.body_iterator = self._watch(response.body_iterator, model, failed)
            return response
        tokens = None
        if self.reservation is not None and not failed:
            usage = usage_from_bytes(self.fmt, bytes(response.body))
            tokens = usage.input_tokens + usage.output_tokens if usage is not None else None
        self._finish(model, tokens, failed)
        guards = self.governance.response_guards
        if guards is not None and response.status_code == 200:
            return ScreenedResponse(response, guards, self.fmt)
        return response

    def abandon(self) -> None:
        """The request ended without a response to bind (an error, a cancelled client)."""
        if not self.bound:
            self._finish(None, None, True, refund=True)

    async def _watch(self, chunks: AsyncIterator[Any], model: str | None, failed: bool) -> AsyncIterator[Any]:
        counting = self.reservation is not None and self.governance.limiter is not None
        # Our own output, already bounded by the proxy's decoder; translation may grow an event a
        # little, so this one only reads usage and never cuts the stream.
        decoder = SSEDecoder(max_event_bytes=4 * MAX_EVENT_BYTES) if counting else None
        reader = StreamUsageReader(self.fmt) if counting else None
        try:
            async for chunk in chunks:
                if decoder is not None and reader is not None:
                    for event in decoder.feed(chunk if isinstance(chunk, bytes) else str(chunk).encode()):
                        reader.feed(event)
                yield chunk
        finally:
            usage = reader.usage if reader is not None else None
            tokens = usage.input_tokens + usage.output_tokens if usage is not None else None
            self._finish(model, tokens, failed)

    def _finish(self, model: str | None, tokens: int | None, failed: bool, refund: bool = False) -> None:
        if self._done:
            return
        self._done = True
        governance = self.governance
        if governance.gate is not None:
            governance.gate.release()
        limiter, reservation = governance.limiter, self.reservation
        if limiter is not None and reservation is not None:
            if refund:
                governance._later(limiter.refund(reservation))
            else:
                governance._later(limiter.settle(reservation, model, tokens, failed))


def build_governance(config: LoadedConfig) -> Governance | None:
    """The request-path governance, or None when the config has no governance section at all."""
    raw = config.raw
    sections = (raw.auth, raw.rate_limits, raw.guardrails, raw.limits, raw.shared_state)
    if all(section is None for section in sections):
        return None
    governance = Governance(config)
    return governance if governance.active else None


class ScreenedResponse(Response):
    """A complete response that runs the response guardrails when it is sent (they are async, and
    the endpoint hands its response over synchronously)."""

    def __init__(self, inner: Response, guards: GuardrailChain, fmt: ClientFormat) -> None:
        self.inner = inner
        self.guards = guards
        self.fmt = fmt
        self.status_code = inner.status_code
        self.body = inner.body
        self.background = inner.background
        self.raw_headers = inner.raw_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = self.inner
        try:
            parsed = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            keep = {
                name: value
                for name, value in response.headers.items()
                if name.startswith("x-llmroute-") or name == "traceparent"
            }
            try:
                screened, changed = await self.guards.run(self.fmt, parsed)
            except ApiError as exc:
                response = error_response(
                    self.fmt, exc.status, exc.message, exc.code, {**keep, **exc.headers}
                )
            else:
                if changed:
                    response = Response(
                        orjson.dumps(screened), response.status_code, keep, "application/json"
                    )
        await response(scope, receive, send)

"""Forwarding one request along the ranked candidates, with failover (SPEC §7).

For each candidate model in the decision's order: skip it while it cools down after a 429; build
the upstream request (translated when the provider speaks another API); send it. A 429, a 5xx,
a connect error or a timeout moves on to the next candidate (for streams: only until the first
byte has gone to the client, which is why the first upstream chunk is read before answering).
Any other 4xx goes back to the client as it is (re-shaped into the client's error format when
the provider speaks another API). When every candidate failed the client gets a 502/503/504 that
names each model tried and why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from llmroute.config.resolved import LoadedConfig
from llmroute.errors import Failure, UpstreamError
from llmroute.observability import metrics
from llmroute.observability.record import RequestRecord, start_attempt
from llmroute.providers.client import UpstreamClient
from llmroute.proxy.cooldown import CooldownStore, MemoryCooldowns, retry_after_seconds
from llmroute.proxy.deployments import Balancer, DeploymentState
from llmroute.proxy.errors import Attempt, all_failed, redact, redact_bytes, scanned_secrets, scrub
from llmroute.proxy.header_values import header_value
from llmroute.proxy.model_metrics import model_metrics
from llmroute.proxy.replies import EchoReply, HttpReply, Reply
from llmroute.proxy.request import ClientRequest
from llmroute.proxy.streams import opening_error, pipe_same_format, pipe_translated
from llmroute.proxy.targets import Target, TargetError, Targets
from llmroute.wire import (
    ClientFormat,
    Usage,
    WireError,
    error_message_from,
    translate_error_body,
    translate_request,
    translate_response,
    translator_for,
)
from llmroute.wire.dispatch import UpstreamFormat
from llmroute.wire.drops import dropped
from llmroute.wire.usage import usage_from_bytes, usage_from_response

log = logging.getLogger("llmroute.proxy")

JSON = "application/json"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# Client headers an upstream of the same API should still see (feature flags, API version): a
# beta the gateway does not know must reach the provider (SPEC §11). Auth headers never pass.
ANTHROPIC_CLIENT_HEADERS = ("anthropic-version", "anthropic-beta")
OPENAI_CLIENT_HEADERS = ("openai-beta",)


def client_key(headers: Mapping[str, str]) -> str | None:
    """The API key the client sent (for passthrough_auth): Bearer token, x-api-key or api-key."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return headers.get("x-api-key") or headers.get("api-key") or None


def upstream_route(fmt: ClientFormat, target: Target) -> tuple[UpstreamFormat | ClientFormat, str]:
    """Which API to speak to the target, and at which URL."""
    if target.interface == "anthropic":
        return "anthropic", target.url
    if fmt == "responses" and target.responses_url:
        return "responses", target.responses_url  # native pass-through, no translation
    return "openai_chat", target.url


class Proxy:
    def __init__(self, config: LoadedConfig, cooldowns: CooldownStore | None = None) -> None:
        self.config = config
        self.targets = Targets(config)
        self.client = UpstreamClient(config.raw.listener.timeout)
        self.cooldowns: CooldownStore = cooldowns or MemoryCooldowns()
        # Models with several deployments (or a request budget): their order and load (proxy/deployments.py).
        self.balancer = Balancer(config)

    async def start(self) -> None:
        await self.client.start()

    async def stop(self) -> None:
        await self.client.close()

    # --- building the upstream request -----------------------------------------------------------

    def payload(
        self, fmt: ClientFormat, upstream: UpstreamFormat | ClientFormat, target: Target, body: dict[str, Any]
    ) -> dict[str, Any]:
        out = translate_request(fmt, upstream, body, max_tokens_field=target.spec.max_tokens_field)
        if out is body:
            out = dict(body)  # the client's body stays as sent: later candidates may need it
        else:
            for field in dropped(fmt, upstream, body):
                metrics.TRANSLATION_DROPS.labels(client=fmt, upstream=upstream, field=field).inc()
        out["model"] = target.model_id
        return out

    def headers(
        self,
        target: Target,
        upstream: str,
        client_headers: Mapping[str, str],
        traceparent: str,
        key: str | None,
    ) -> dict[str, str]:
        headers = dict(target.headers)
        if target.passthrough_auth:
            headers.update(target.auth_headers(key))
        names = ANTHROPIC_CLIENT_HEADERS if upstream == "anthropic" else OPENAI_CLIENT_HEADERS
        for name in names:
            value = client_headers.get(name)
            if value:
                headers[name] = value
        headers["traceparent"] = traceparent
        return headers

    async def send(self, target: Target, url: str, headers: dict[str, str], payload: dict[str, Any]) -> Reply:
        if target.interface == "echo":
            return EchoReply(payload, target.model_id)
        log.debug("upstream POST %s model=%s", url, target.model)
        return HttpReply(await self.client.post(url, headers, orjson.dumps(payload)))

    # --- the failover loop -----------------------------------------------------------------------

    async def forward(self, request: ClientRequest) -> Response:
        """Answer one client request from the first candidate that works."""
        # (The response's `traceparent` is the request span's: the dispatcher sets it.)
        fmt, body, decision, record = request.fmt, request.body, request.decision, request.record
        # No route header when no route matched: "none" would read as a route of that name.
        base_headers = {"x-llmroute-route": header_value(decision.route)} if decision.route else {}
        base_headers["x-llmroute-pinned"] = "true" if decision.pinned else "false"
        stream = request.stream
        # The client's own key matters only to passthrough_auth models (header look-ups are not free).
        key = client_key(request.headers) if self.targets.passthrough else None
        attempts: list[Attempt] = []
        upstream_seconds = 0.0
        candidates = decision.models
        # Every deployment of a model is tried before the next model.
        slots = self._slots(candidates, attempts)

        for index, (model, deployment) in enumerate(slots):
            label = self.config.model_label(model)  # bounded: a wildcard's models count as `provider/*`
            rest_key = deployment.target.deployment if deployment is not None else model
            cooling = await self.cooldowns.remaining(rest_key)
            if cooling > 0:
                reason = (
                    f"deployment {rest_key} cooling down ({cooling:.0f}s left)"
                    if deployment is not None
                    else f"cooling down after a 429 ({cooling:.0f}s left)"
                )
                attempts.append(Attempt(model, Failure.COOLING, reason, cooling))
                continue
            if deployment is not None:
                target = deployment.target
            else:
                try:
                    target = self.targets.get(model)
                except TargetError as exc:  # config validation should make this impossible; never a 500
                    attempts.append(Attempt(model, Failure.CONFIG, str(exc)))
                    continue
            secrets = self.targets.secrets + ((key,) if key and target.passthrough_auth else ())
            upstream, url = upstream_route(fmt, target)
            try:
                payload = self.payload(fmt, upstream, target, body)
            except WireError as exc:
                if not attempts:
                    raise  # the request cannot go to the model chosen for it: the client's 400
                # A fallback candidate that cannot take this request (e.g. a Responses request with
                # previous_response_id on a provider without the Responses API): skip it.
                attempts.append(Attempt(model, Failure.UNTRANSLATABLE, exc.message))
                continue
            # Observability: the attempt's own traceparent (its span id), its timing and outcome.
            tried = start_attempt(model, record.trace_id)
            headers = self.headers(target, upstream, request.headers, tried.traceparent, key)
            sent = time.perf_counter()
            reply: Reply | None = None
            outcome: str | None = "cancelled"  # the deployment's outcome when the loop is left here
            if deployment is not None:
                self.balancer.started(deployment)
            try:
                reply = await self.send(target, url, headers, payload)
                if reply.status == 429 or reply.status >= 500:
                    attempt = await self._retryable_status(model, reply, secrets, rest_key)
                    outcome = None  # counted below, with the failure
                elif reply.status < 200 or 300 <= reply.status < 400:
                    reply.close()  # redirects are not followed: a provider moved is a broken provider
                    raise UpstreamError(
                        Failure.BAD_RESPONSE, f"unexpected HTTP {reply.status} from the provider"
                    )
                elif reply.status >= 400:
                    outcome = "status_4xx"
                    tried.finish(Failure.STATUS_4XX, reply.status)
                    return await self._client_error(request, upstream, target, reply, secrets, base_headers)
                elif stream:
                    chunks = reply.chunks()
                    first = await anext(chunks, None)
                    if first is None:
                        raise UpstreamError(
                            Failure.STREAM_RESET, "the upstream ended the stream without sending anything"
                        )
                    opening = opening_error(first)
                    if opening is not None:
                        # Nothing has reached the client yet, so an error that opens the stream
                        # (Anthropic's overloaded_error arrives this way, after a 200) still fails over.
                        raise UpstreamError(
                            Failure.STREAM_ERROR, f"the stream opened with an error: {opening}"
                        )
                    waited = time.perf_counter() - sent
                    model_metrics(label).ttft.observe(waited)
                    outcome = "ok"
                    tried.finish(None, reply.status, stream=True)
                    # (llmroute_gateway_overhead_seconds is observed when the request is closed)
                    upstream_stream = UpstreamStream(upstream, target, reply, first, chunks, secrets, sent)
                    return self._stream(request, upstream_stream, base_headers)
                else:
                    data = await reply.read()
                    waited = time.perf_counter() - sent
                    model_metrics(label).latency.observe(waited)
                    tried.finish(None, reply.status)
                    outcome = "ok"
                    return self._complete(
                        request, upstream, target, reply.status, data, base_headers, secrets
                    )
            except UpstreamError as exc:
                if reply is not None:
                    reply.close()
                attempt = Attempt(model, exc.kind, redact(exc.message, secrets))
                outcome = None
            except BaseException:
                # Cancelled (the client left) or a bug: never leave the provider connection open.
                if reply is not None:
                    reply.close()
                raise
            finally:
                if deployment is not None:
                    self.balancer.finished(deployment, outcome)
            upstream_seconds += time.perf_counter() - sent
            if deployment is not None:
                self.balancer.count(deployment, attempt.kind)
                if attempt.kind is not Failure.STATUS_429:  # a 429 already rests for its Retry-After
                    await self.cooldowns.cool(rest_key, self.balancer.policy.failure_cooldown)
                    metrics.COOLDOWNS.labels(model=model).inc()
                attempt = Attempt(
                    model, attempt.kind, f"deployment {rest_key}: {attempt.reason}", attempt.retry_after
                )
            attempts.append(attempt)
            tried.finish(attempt.kind, reply.status if reply is not None else None)
            metrics.UPSTREAM_ERRORS.labels(model=label, error=attempt.kind).inc()
            if index + 1 < len(slots):
                metrics.FAILOVERS.labels(from_model=label, reason=attempt.kind).inc()
                log.warning("upstream %s failed (%s), trying the next candidate", model, attempt.reason)
            else:
                log.warning("upstream %s failed (%s)", model, attempt.reason)

        base_headers["x-llmroute-model"] = header_value(candidates[0] if candidates else "none")
        return all_failed(fmt, attempts, base_headers)

    def _slots(
        self, candidates: list[str], attempts: list[Attempt]
    ) -> list[tuple[str, DeploymentState | None]]:
        """(model, deployment) pairs in the order to try them; None: the model's single target."""
        balancer = self.balancer
        if not balancer.balanced:
            return [(model, None) for model in candidates]
        slots: list[tuple[str, DeploymentState | None]] = []
        for model in candidates:
            if not balancer.handles(model):
                slots.append((model, None))
                continue
            plan = balancer.plan(model)
            for state in plan.over_budget:
                reason = f"deployment {state.target.deployment} used its requests_per_minute"
                attempts.append(Attempt(model, Failure.COOLING, reason, 60.0))
            slots.extend((model, state) for state in plan.states)
        return slots

    # --- outcomes --------------------------------------------------------------------------------

    async def _retryable_status(
        self, model: str, reply: Reply, secrets: tuple[str, ...], rest_key: str | None = None
    ) -> Attempt:
        """A 429 or 5xx: why, and for a 429 a rest for `rest_key` (the model, or one deployment of it)."""
        try:
            data = await reply.read()
        except UpstreamError:
            data = b""
        finally:
            reply.close()
        message = redact(error_message_from(data, reply.status), secrets)[:300]
        if reply.status == 429:
            seconds = cooldown_seconds(reply.headers)
            await self.cooldowns.cool(rest_key or model, seconds)
            metrics.COOLDOWNS.labels(model=self.config.model_label(model)).inc()
            reason = f"HTTP 429 rate limited, cooling down {seconds:g}s: {message}"
            return Attempt(model, Failure.STATUS_429, reason, seconds)
        return Attempt(model, Failure.STATUS_5XX, f"HTTP {reply.status}: {message}")

    async def _client_error(
        self,
        request: ClientRequest,
        upstream: str,
        target: Target,
        reply: Reply,
        secrets: tuple[str, ...],
        headers: dict[str, str],
    ) -> Response:
        """A non-retryable 4xx: the provider's answer, unchanged (re-shaped only across API formats)."""
        try:
            data = await reply.read()
        except UpstreamError:
            data = b""
        finally:
            reply.close()
        label = self.config.model_label(target.model)
        metrics.UPSTREAM_ERRORS.labels(model=label, error=Failure.STATUS_4XX).inc()
        data = redact_bytes(data, secrets)
        fmt = request.fmt
        request.record.served_model = target.model
        headers = {**headers, "x-llmroute-model": header_value(target.model)}
        if upstream == fmt:
            media = reply.headers.get("content-type") or JSON
            return Response(data, status_code=reply.status, media_type=media, headers=headers)
        body = translate_error_body(fmt, reply.status, data)
        return Response(orjson.dumps(body), status_code=reply.status, media_type=JSON, headers=headers)

    def _complete(
        self,
        request: ClientRequest,
        upstream: UpstreamFormat | ClientFormat,
        target: Target,
        status: int,
        data: bytes,
        headers: dict[str, str],
        secrets: tuple[str, ...],
    ) -> Response:
        fmt = request.fmt
        headers = {**headers, "x-llmroute-model": header_value(target.model)}
        # SPEC §7: never a provider key in a response, even from an upstream that echoes its request.
        scanned = scanned_secrets(secrets)
        label = self.config.model_label(target.model)
        if upstream == fmt:
            # Same API: the provider's bytes go back untouched; usage is read without parsing it all.
            self._note_answer(request.record, target.model, label, usage_from_bytes(fmt, data))
            return Response(scrub(data, scanned), status_code=status, media_type=JSON, headers=headers)
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamError(
                Failure.BAD_RESPONSE, "the upstream answered 2xx with a body that is not JSON"
            ) from None
        if not isinstance(parsed, dict):
            raise UpstreamError(
                Failure.BAD_RESPONSE, "the upstream answered 2xx with a body that is not a JSON object"
            )
        self._note_answer(request.record, target.model, label, usage_from_response(upstream, parsed))
        answered_by = parsed.get("model")
        name = answered_by if isinstance(answered_by, str) else target.model_id
        out = translate_response(fmt, upstream, parsed, name, request=request.body)
        return Response(
            scrub(orjson.dumps(out), scanned), status_code=status, media_type=JSON, headers=headers
        )

    def _stream(
        self, request: ClientRequest, answer: UpstreamStream, headers: dict[str, str]
    ) -> UpstreamStreamResponse:
        fmt, target, record = request.fmt, answer.target, request.record
        model = target.model
        label = self.config.model_label(model)
        record.served_model = model

        def on_end(usage: Usage | None, error: str | None) -> None:
            model_metrics(label).latency.observe(time.perf_counter() - answer.sent)
            if error is not None:
                metrics.UPSTREAM_ERRORS.labels(model=label, error=Failure.STREAM_RESET).inc()
                log.warning("upstream %s stream ended with an error: %s", model, error)
            self._note_answer(record, model, label, usage)

        reply, first, chunks, secrets = answer.reply, answer.first, answer.chunks, answer.secrets
        translator = translator_for(fmt, answer.upstream, target.model_id, request=request.body)
        if translator is None:
            content = pipe_same_format(fmt, reply, first, chunks, secrets, on_end)
        else:
            content = pipe_translated(translator, answer.upstream, reply, first, chunks, secrets, on_end)
        headers = {**headers, **SSE_HEADERS, "x-llmroute-model": header_value(model)}
        return UpstreamStreamResponse(reply, content, media_type="text/event-stream", headers=headers)

    @staticmethod
    def _note_answer(record: RequestRecord, model: str, label: str, usage: Usage | None) -> None:
        """The answer's model and usage: on the request record (once), and in the token metrics."""
        record.served_model = model
        record.usage = usage
        if usage is not None:
            if usage.input_tokens:
                model_metrics(label).input_tokens.inc(usage.input_tokens)
            if usage.output_tokens:
                model_metrics(label).output_tokens.inc(usage.output_tokens)


@dataclass(slots=True)
class UpstreamStream:
    """A stream that opened well: what the client's stream is made from."""

    upstream: UpstreamFormat | ClientFormat
    target: Target
    reply: Reply
    first: bytes  # the first chunk, already read (failover is possible until it is sent)
    chunks: AsyncIterator[bytes]  # the rest
    secrets: tuple[str, ...]
    sent: float  # when the upstream request was sent (perf_counter)


class UpstreamStreamResponse(StreamingResponse):
    """A streaming response that always lets go of its upstream connection, even when the client
    left before the body started (then the pipe generator never runs, nor its `finally`)."""

    def __init__(self, reply: Reply, content: AsyncIterator[bytes], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.reply = reply

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.reply.close()


def cooldown_seconds(headers: Mapping[str, str]) -> float:
    """How long to rest a model after its 429: `retry-after-ms` (OpenAI), `Retry-After`, or the default."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    return retry_after_seconds(headers.get("retry-after"))

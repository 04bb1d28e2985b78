"""`POST /v1/embeddings`: OpenAI embeddings, proxied to OpenAI-compatible providers (SPEC §11).

The `model` is resolved like a chat request's without a route: an alias, a declared model (full
name, `name` or bare id), a wildcard provider's model, else the `default: true` model. The call
takes the chat path's machinery: gateway keys and their model lists, rate limits and the
concurrency cap (governance `admit`), the platform's key (or the client's with passthrough_auth),
429 cooldowns and failover along the candidates (429, 5xx, connect errors and timeouts), the same
metrics, spans and errors. The provider's answer goes back byte for byte. Anthropic-format
providers have no embeddings API: a 400 naming the model. The HTTP endpoint is
server/endpoints.py's `embeddings_endpoint`.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.responses import Response

from llmroute.config.resolved import LoadedConfig
from llmroute.errors import Failure, GatewayError, UpstreamError
from llmroute.observability import metrics
from llmroute.observability.record import start_attempt
from llmroute.proxy.errors import Attempt, all_failed, redact, redact_bytes
from llmroute.proxy.forward import Proxy, client_key, cooldown_seconds
from llmroute.proxy.header_values import header_value
from llmroute.proxy.model_metrics import model_metrics
from llmroute.proxy.replies import HttpReply
from llmroute.proxy.request import ClientRequest
from llmroute.proxy.targets import Target, TargetError
from llmroute.routing.decision import Decision
from llmroute.wire import error_message_from
from llmroute.wire.usage import usage_from_bytes

JSON = "application/json"
CHAT_SUFFIX = "/chat/completions"


def check_input(body: dict[str, Any]) -> None:
    """What the gateway reads or must not forward malformed: `model` and `input` (the rest passes)."""
    value = body.get("input")
    ok = isinstance(value, str) and value != ""
    if isinstance(value, list) and value:
        ok = all(isinstance(v, str) for v in value) or all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        )
        ok = ok or all(
            isinstance(v, list) and v and all(isinstance(t, int) and not isinstance(t, bool) for t in v)
            for v in value
        )
    if not ok:
        raise GatewayError(
            400,
            "'input' must be a non-empty string, an array of strings, or an array of token arrays",
            "invalid_request",
        )
    if "model" in body and not isinstance(body["model"], str):
        raise GatewayError(400, "'model' must be a string", "invalid_request")


def decide(config: LoadedConfig, body: dict[str, Any]) -> Decision:
    requested = body.get("model")
    if requested:
        if requested in config.aliases:
            return Decision([config.aliases[requested]], None, "alias", None)
        model = config.resolve_model(requested)
        if model is None:
            raise GatewayError(
                400, f"Model '{requested}' not found in configured providers", "model_not_found"
            )
        return Decision([model], None, "model", model)
    if config.default_model is None:
        raise GatewayError(400, "No model was given and no default model is configured", "model_not_found")
    return Decision([config.default_model], None, "default", config.default_model)


def embeddings_url(target: Target) -> str | None:
    """The provider's embeddings URL, next to its chat completions URL (Azure's query kept)."""
    if target.interface != "openai":
        return None
    at = target.url.rfind(CHAT_SUFFIX)
    if at < 0:
        return None
    return target.url[:at] + "/embeddings" + target.url[at + len(CHAT_SUFFIX) :]


async def forward(proxy: Proxy, request: ClientRequest) -> Response:
    decision, body, record = request.decision, request.body, request.record
    base_headers = {"x-llmroute-route": "none"}
    key = client_key(request.headers) if proxy.targets.passthrough else None
    attempts: list[Attempt] = []
    for index, model in enumerate(decision.models):
        label = proxy.config.model_label(model)  # bounded: a wildcard's models count as `provider/*`
        cooling = await proxy.cooldowns.remaining(model)
        if cooling > 0:
            attempts.append(
                Attempt(model, Failure.COOLING, f"cooling down after a 429 ({cooling:.0f}s left)", cooling)
            )
            continue
        try:
            target = proxy.targets.get(model)
        except TargetError as exc:
            attempts.append(Attempt(model, Failure.CONFIG, str(exc)))
            continue
        url = embeddings_url(target)
        if url is None:
            if not attempts and index + 1 == len(decision.models):
                raise GatewayError(400, f"Model '{model}' is served by a provider without an embeddings API")
            attempts.append(Attempt(model, Failure.UNTRANSLATABLE, "the provider has no embeddings API"))
            continue
        secrets = proxy.targets.secrets + ((key,) if key and target.passthrough_auth else ())
        tried = start_attempt(model, record.trace_id)
        headers = dict(target.headers)
        if target.passthrough_auth:
            headers.update(target.auth_headers(key))
        headers["traceparent"] = tried.traceparent
        sent = time.perf_counter()
        reply: HttpReply | None = None
        try:
            reply = HttpReply(await proxy.client.post(url, headers, _payload(body, target)))
            data = await reply.read()
        except UpstreamError as exc:
            attempt = Attempt(model, exc.kind, redact(exc.message, secrets))
        else:
            model_metrics(label).latency.observe(time.perf_counter() - sent)
            if reply.status == 429 or reply.status >= 500:
                message = redact(error_message_from(data, reply.status), secrets)[:300]
                if reply.status == 429:
                    seconds = cooldown_seconds(reply.headers)
                    await proxy.cooldowns.cool(model, seconds)
                    metrics.COOLDOWNS.labels(model=label).inc()
                    attempt = Attempt(model, Failure.STATUS_429, f"HTTP 429 rate limited: {message}", seconds)
                else:
                    attempt = Attempt(model, Failure.STATUS_5XX, f"HTTP {reply.status}: {message}")
            else:
                tried.finish(None if reply.status < 400 else Failure.STATUS_4XX, reply.status)
                record.served_model = model
                if reply.status < 300:
                    usage = record.usage = usage_from_bytes("openai_chat", data)
                    if usage is not None and usage.input_tokens:
                        model_metrics(label).input_tokens.inc(usage.input_tokens)
                else:
                    metrics.UPSTREAM_ERRORS.labels(model=label, error=Failure.STATUS_4XX).inc()
                media = reply.headers.get("content-type") or JSON
                out_headers = {**base_headers, "x-llmroute-model": header_value(model)}
                return Response(
                    redact_bytes(data, secrets), reply.status, media_type=media, headers=out_headers
                )
        finally:
            if reply is not None:
                reply.close()
        attempts.append(attempt)
        tried.finish(attempt.kind, reply.status if reply is not None else None)
        metrics.UPSTREAM_ERRORS.labels(model=label, error=attempt.kind).inc()
        if index + 1 < len(decision.models):
            metrics.FAILOVERS.labels(from_model=label, reason=attempt.kind).inc()
    base_headers["x-llmroute-model"] = header_value(decision.models[0] if decision.models else "none")
    return all_failed("openai_chat", attempts, base_headers)


def _payload(body: dict[str, Any], target: Target) -> bytes:
    return orjson.dumps({**body, "model": target.model_id})

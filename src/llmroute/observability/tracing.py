"""OpenTelemetry tracing (SPEC §9): one server span per request, child spans for routing and upstream calls.

Off unless the config has a `tracing:` section or an OTLP endpoint is set in the environment
(`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`); `OTEL_SDK_DISABLED=true`
turns it off whatever the config says. Off, no OpenTelemetry code runs per request.

On, the server span starts when the request arrives (its trace id is the response's `trace_id`
and `traceparent`, continuing an incoming W3C `traceparent`). The child spans are written when
the request ends, from the `RequestRecord` the pipeline and the proxy filled in, with their real
start and end times: that keeps the SDK out of the decision pipeline and the failover loop. Each
upstream attempt span gets the span id that was sent upstream in its `traceparent`, so the
provider's own spans hang under the right attempt.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from llmroute import __version__
from llmroute.config.models import Tracing as TracingConfig
from llmroute.observability.record import RequestRecord

log = logging.getLogger("llmroute.tracing")

DEFAULT_SERVICE_NAME = "llmroute"
_PROPAGATOR = TraceContextTextMapPropagator()


class _PresetSpanIds(RandomIdGenerator):
    """Random ids, except for the next span when one is preset (an upstream attempt's id, chosen earlier)."""

    def __init__(self) -> None:
        self._preset = threading.local()

    def preset(self, span_id: int) -> None:
        self._preset.value = span_id

    def generate_span_id(self) -> int:
        value = getattr(self._preset, "value", None)
        if value is None:
            return super().generate_span_id()
        self._preset.value = None
        return value


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for a collector's base URL (`/v1/traces` appended) or a full traces URL."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


def _env_endpoint(environ: Mapping[str, str]) -> str | None:
    if environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    if environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return traces_url(environ["OTEL_EXPORTER_OTLP_ENDPOINT"])
    return None


class Tracing:
    """The gateway's tracer. `provider` is the SDK TracerProvider (tests add span processors to it)."""

    def __init__(self, provider: TracerProvider, ids: _PresetSpanIds) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("llmroute", __version__)
        self._ids = ids

    # --- the server span -------------------------------------------------------------------------

    def start_request(self, record: RequestRecord, traceparent: str | None, tracestate: str | None) -> Span:
        """Open the request's server span and give the record its trace id, span id and sampled flag."""
        parent = None
        if traceparent:
            carrier = {"traceparent": traceparent}
            if tracestate:
                carrier["tracestate"] = tracestate
            parent = _PROPAGATOR.extract(carrier)
        attributes: dict[str, str] = {"http.request.method": record.method, "url.path": record.path}
        if record.endpoint != "other":
            attributes["http.route"] = record.endpoint
            name = f"{record.method} {record.endpoint}"
        else:
            name = record.method
        span = self.tracer.start_span(
            name, parent, kind=SpanKind.SERVER, attributes=attributes, start_time=record.started_ns
        )
        context = span.get_span_context()
        record.trace_id = trace.format_trace_id(context.trace_id)
        record.span_id = trace.format_span_id(context.span_id)
        record.sampled = context.trace_flags.sampled
        return span

    def finish_request(self, span: Span, record: RequestRecord, overhead: float) -> None:
        """Write the routing and upstream child spans, then close the server span."""
        ended = record.ended if record.ended is not None else record.started
        if span.is_recording():
            parent = trace.set_span_in_context(span)
            if record.routing_started is not None:
                self._routing_span(record, parent)
            for index in range(len(record.attempts)):
                self._attempt_span(record, index, parent, ended)
            status = record.status or 500
            span.set_attribute("http.response.status_code", status)
            span.set_attribute("llmroute.route", record.route or "none")
            if record.model:
                span.set_attribute("llmroute.model", record.model)
            span.set_attribute("llmroute.attempts", len(record.attempts))
            span.set_attribute("llmroute.gateway_overhead_ms", round(overhead * 1000, 3))
            for event, attributes, moment in record.governance or ():
                span.add_event(f"llmroute.{event}", attributes, timestamp=record.clock_ns(moment))
            if record.error is not None:
                span.set_status(Status(StatusCode.ERROR, record.error))
            elif status >= 500:
                span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=record.clock_ns(ended))

    def _routing_span(self, record: RequestRecord, parent: Context) -> None:
        assert record.routing_started is not None
        attributes: dict[str, str | bool | float | list[str]] = {
            "llmroute.route": record.route or "none",
            "llmroute.candidates": list(record.candidates),
            "llmroute.pinned": record.pinned,
            "llmroute.decision.source": record.source or "none",
        }
        if record.router_backend:
            attributes["llmroute.router.backend"] = record.router_backend
            attributes["llmroute.router.latency_ms"] = round(record.router_seconds * 1000, 3)
        if record.router_error:
            attributes["llmroute.router.error"] = record.router_error
        span = self.tracer.start_span(
            "llmroute.routing",
            parent,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=record.clock_ns(record.routing_started),
        )
        end = record.routing_ended if record.routing_ended is not None else record.routing_started
        span.end(end_time=record.clock_ns(end))

    def _attempt_span(self, record: RequestRecord, index: int, parent: Context, ended: float) -> None:
        attempt = record.attempts[index]
        followed = index + 1 < len(record.attempts)
        provider, _, model_id = attempt.model.partition("/")
        attributes: dict[str, str | bool | int] = {
            "llmroute.model": attempt.model,
            "llmroute.provider": provider,
            "gen_ai.request.model": model_id or attempt.model,
            "llmroute.attempt": index + 1,
            "llmroute.upstream.stream": attempt.stream,
        }
        if attempt.status is not None:
            attributes["http.response.status_code"] = attempt.status
        if attempt.error is not None:
            attributes["error.type"] = attempt.error
            if followed:
                attributes["llmroute.failover_reason"] = attempt.error
        # The span takes the id already sent upstream as the parent in this attempt's traceparent.
        self._ids.preset(int(attempt.span_id, 16))
        span = self.tracer.start_span(
            "llmroute.upstream",
            parent,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=record.clock_ns(attempt.started),
        )
        if attempt.error is not None:
            span.set_status(Status(StatusCode.ERROR, attempt.error))
        end = attempt.ended if attempt.ended is not None else ended
        if attempt.stream and attempt.error is None:
            # The attempt was decided at the first chunk; the stream itself ran until the request ended.
            span.set_attribute(
                "llmroute.upstream.time_to_first_chunk_ms", round((end - attempt.started) * 1000, 3)
            )
            end = ended
        span.end(end_time=record.clock_ns(end))

    def shutdown(self) -> None:
        """Flush buffered spans to the exporter and stop its thread (blocks; call off the event loop)."""
        self.provider.shutdown()


def build_tracing(config: TracingConfig | None, environ: Mapping[str, str] | None = None) -> Tracing | None:
    """The tracer for this config and environment, or None when tracing is off."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    endpoint = traces_url(config.otlp_endpoint) if config and config.otlp_endpoint else _env_endpoint(env)
    if config is None and endpoint is None:
        return None
    service = (
        (config.service_name if config else None) or env.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
    )
    resource = Resource.create({"service.name": service, "service.version": __version__})
    # Without a ratio in the config the SDK reads OTEL_TRACES_SAMPLER / _ARG (default: parent-based, all).
    ratio = config.sampling_ratio if config else None
    sampler = ParentBased(TraceIdRatioBased(ratio)) if ratio is not None else None
    ids = _PresetSpanIds()
    provider = TracerProvider(sampler=sampler, resource=resource, id_generator=ids)
    if endpoint is not None:
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        log.info("tracing on: OTLP/HTTP to %s (service %s)", endpoint, service)
    else:
        log.warning(
            "tracing is on but no OTLP endpoint is set (tracing.otlp_endpoint or OTEL_EXPORTER_OTLP_ENDPOINT): "
            "spans are recorded but not exported"
        )
    return Tracing(provider, ids)

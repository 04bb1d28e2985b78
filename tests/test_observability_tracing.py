"""OpenTelemetry tracing through the real gateway: the span tree of a routed, failed-over request.

The gateway's own TracerProvider gets an in-memory exporter; a fake OTLP/HTTP collector (a real
HTTP server decoding the protobuf the SDK's exporter sends) checks the configured export path.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from conftest import RunningGateway, free_port
from fakes.providers import Answer, Fail, FakeProvider
from llmroute.config.models import Tracing as TracingConfig
from llmroute.observability.tracing import build_tracing, traces_url

GPT = "openai/gpt-4o"
CLAUDE = "anthropic/claude-sonnet-4"
ROUTE_CODING = Answer(text='{"route": "coding"}')
INCOMING_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING_PARENT = "00f067aa0ba902b7"
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$")


def gateway_config(openai: FakeProvider, anthropic: FakeProvider, router: FakeProvider, tracing: str) -> str:
    return f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 30s}}]
model_providers:
  - model: {GPT}
    access_key: sk-openai-trace-test
    base_url: {openai.url}
    default: true
  - model: {CLAUDE}
    access_key: sk-ant-trace-test
    base_url: {anthropic.url}
routing_preferences:
  - name: coding
    description: writing and debugging code
    models: [{GPT}, {CLAUDE}]
routing:
  router: {{type: arch_router, base_url: {router.url}, timeout_ms: 30000}}
{tracing}
"""


class Env:
    def __init__(
        self, gateway: RunningGateway, openai: FakeProvider, anthropic: FakeProvider, router: FakeProvider
    ) -> None:
        self.gateway = gateway
        self.openai = openai
        self.anthropic = anthropic
        self.router = router
        self.http = httpx.Client(base_url=gateway.url, timeout=10)
        self.spans = InMemorySpanExporter()
        gateway.gateway.tracing.provider.add_span_processor(SimpleSpanProcessor(self.spans))

    def finished(self, expect_request: bool = False, timeout: float = 10.0) -> list[ReadableSpan]:
        """Take the spans finished so far. With `expect_request`, first wait (bounded) for the request's
        root span: it ends after the last body byte is sent, so the client can hold the whole response
        a moment before the span tree is complete."""
        deadline = time.monotonic() + timeout
        while expect_request and time.monotonic() < deadline:
            if any(s.parent is None for s in self.spans.get_finished_spans()):
                break
            time.sleep(0.005)
        spans = list(self.spans.get_finished_spans())
        self.spans.clear()
        return spans


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with FakeProvider() as openai, FakeProvider() as anthropic, FakeProvider() as router:
        tracing = "tracing: {service_name: llmroute-test, sampling_ratio: 1.0}"
        with RunningGateway(gateway_config(openai, anthropic, router, tracing)) as gateway:
            yield Env(gateway, openai, anthropic, router)


def by_name(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def test_routed_failed_over_request_has_the_full_span_tree(env: Env) -> None:
    env.finished()
    env.router.script(ROUTE_CODING)
    env.openai.script(Fail(500))
    response = env.http.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "write a binary search"}], "max_tokens": 20},
        headers={"traceparent": f"00-{INCOMING_TRACE}-{INCOMING_PARENT}-01"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-llmroute-model"] == CLAUDE
    spans = env.finished(expect_request=True)

    (server,) = by_name(spans, "POST /v1/chat/completions")
    (routing,) = by_name(spans, "llmroute.routing")
    attempts = sorted(by_name(spans, "llmroute.upstream"), key=lambda s: s.attributes["llmroute.attempt"])
    assert len(spans) == 4

    # The server span continues the caller's trace; the response names the span.
    assert server.kind == SpanKind.SERVER
    assert f"{server.context.trace_id:032x}" == INCOMING_TRACE
    assert server.parent is not None and f"{server.parent.span_id:016x}" == INCOMING_PARENT
    assert response.headers["traceparent"] == f"00-{INCOMING_TRACE}-{server.context.span_id:016x}-01"
    assert server.attributes["http.request.method"] == "POST"
    assert server.attributes["http.route"] == "/v1/chat/completions"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["llmroute.route"] == "coding"
    assert server.attributes["llmroute.model"] == CLAUDE
    assert server.attributes["llmroute.attempts"] == 2
    assert server.resource.attributes["service.name"] == "llmroute-test"

    # Routing: a child of the server span, with the router's verdict.
    assert routing.parent is not None and routing.parent.span_id == server.context.span_id
    assert routing.context.trace_id == server.context.trace_id
    assert routing.attributes["llmroute.route"] == "coding"
    assert routing.attributes["llmroute.router.backend"] == "arch_router"
    assert list(routing.attributes["llmroute.candidates"]) == [GPT, CLAUDE]
    assert routing.attributes["llmroute.pinned"] is False
    assert routing.attributes["llmroute.decision.source"] == "route"

    # Two upstream attempts: the 500 (failed over) then the answer.
    failed, answered = attempts
    for attempt in attempts:
        assert attempt.kind == SpanKind.CLIENT
        assert attempt.parent is not None and attempt.parent.span_id == server.context.span_id
    assert failed.attributes["llmroute.model"] == GPT
    assert failed.attributes["http.response.status_code"] == 500
    assert failed.attributes["error.type"] == "status_5xx"
    assert failed.attributes["llmroute.failover_reason"] == "status_5xx"
    assert failed.status.status_code == StatusCode.ERROR
    assert answered.attributes["llmroute.model"] == CLAUDE
    assert answered.attributes["gen_ai.request.model"] == "claude-sonnet-4"
    assert answered.attributes["http.response.status_code"] == 200
    assert "error.type" not in answered.attributes
    assert answered.status.status_code != StatusCode.ERROR

    # Children lie inside the parent, in order: routing, then attempt 1, then attempt 2.
    assert server.start_time <= routing.start_time <= routing.end_time <= failed.start_time
    assert failed.end_time <= answered.start_time <= answered.end_time <= server.end_time

    # Each provider got the trace with its own attempt span as the parent.
    for fake, attempt in ((env.openai, failed), (env.anthropic, answered)):
        sent = TRACEPARENT.match(fake.last.headers["traceparent"])
        assert sent is not None
        assert sent.group(1) == INCOMING_TRACE
        assert sent.group(2) == f"{attempt.context.span_id:016x}"


def test_streamed_attempt_span_lasts_the_stream(env: Env) -> None:
    env.finished()
    env.router.script(ROUTE_CODING)
    env.openai.script(Answer(text="one two three four", delay=0.02))
    response = env.http.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "write code"}], "stream": True},
    )
    assert response.status_code == 200
    assert "data: [DONE]" in response.text
    spans = env.finished(expect_request=True)
    (attempt,) = by_name(spans, "llmroute.upstream")
    (server,) = by_name(spans, "POST /v1/chat/completions")
    assert attempt.attributes["llmroute.upstream.stream"] is True
    first_chunk_ns = attempt.attributes["llmroute.upstream.time_to_first_chunk_ms"] * 1e6
    # The span covers the whole stream (four delayed events), well past its first chunk.
    assert attempt.end_time - attempt.start_time > first_chunk_ns
    assert attempt.end_time <= server.end_time


def test_decision_endpoint_trace_id_is_the_span_trace_id(env: Env) -> None:
    env.finished()
    env.router.script(ROUTE_CODING)
    response = env.http.post(
        "/routing/v1/chat/completions", json={"messages": [{"role": "user", "content": "fix my code"}]}
    )
    assert response.status_code == 200, response.text
    (server,) = by_name(env.finished(expect_request=True), "POST /routing/v1/chat/completions")
    assert response.json()["trace_id"] == f"{server.context.trace_id:032x}"
    match = TRACEPARENT.match(response.headers["traceparent"])
    assert match is not None
    assert match.groups() == (f"{server.context.trace_id:032x}", f"{server.context.span_id:016x}", "01")


def test_pinned_request_marks_the_routing_span(env: Env) -> None:
    headers = {"x-session-id": "trace-test-session"}
    env.router.script(ROUTE_CODING)
    body = {"messages": [{"role": "user", "content": "write a parser"}]}
    assert env.http.post("/v1/chat/completions", json=body, headers=headers).status_code == 200
    env.finished(expect_request=True)  # the first request's spans, so they cannot land in the second's
    assert env.http.post("/v1/chat/completions", json=body, headers=headers).status_code == 200
    (routing,) = by_name(env.finished(expect_request=True), "llmroute.routing")
    assert routing.attributes["llmroute.pinned"] is True
    assert routing.attributes["llmroute.decision.source"] == "pinned"
    assert "llmroute.router.backend" not in routing.attributes


def test_client_error_from_upstream_is_an_attempt_without_failover(env: Env) -> None:
    env.finished()
    env.router.script(ROUTE_CODING)
    env.openai.script(Fail(400))
    response = env.http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 400
    spans = env.finished(expect_request=True)
    (attempt,) = by_name(spans, "llmroute.upstream")
    assert attempt.attributes["error.type"] == "status_4xx"
    assert "llmroute.failover_reason" not in attempt.attributes
    (server,) = by_name(spans, "POST /v1/chat/completions")
    assert server.attributes["http.response.status_code"] == 400


def test_health_probes_are_not_traced(env: Env) -> None:
    env.finished()
    response = env.http.get("/healthz")
    assert response.status_code == 200
    assert TRACEPARENT.match(response.headers["traceparent"])
    assert env.finished() == []


def test_sampling_ratio_zero_records_nothing_but_keeps_trace_ids() -> None:
    with FakeProvider() as openai, FakeProvider() as anthropic, FakeProvider() as router:
        tracing = "tracing: {sampling_ratio: 0}"
        with RunningGateway(gateway_config(openai, anthropic, router, tracing)) as gateway:
            spans = InMemorySpanExporter()
            gateway.gateway.tracing.provider.add_span_processor(SimpleSpanProcessor(spans))
            router.script(ROUTE_CODING)
            response = httpx.post(
                gateway.url + "/routing/v1/chat/completions",
                json={"messages": [{"role": "user", "content": "x"}]},
            )
            assert response.status_code == 200
            match = TRACEPARENT.match(response.headers["traceparent"])
            assert match is not None
            assert match.group(3) == "00"  # not sampled
            assert response.json()["trace_id"] == match.group(1)
            assert spans.get_finished_spans() == ()


def test_tracing_off_continues_the_incoming_trace_without_an_sdk() -> None:
    with FakeProvider() as openai, FakeProvider() as anthropic, FakeProvider() as router:
        config = gateway_config(openai, anthropic, router, tracing="")
        with RunningGateway(config) as gateway:
            assert gateway.gateway.tracing is None
            router.script(ROUTE_CODING)
            response = httpx.post(
                gateway.url + "/v1/chat/completions",
                json={"messages": [{"role": "user", "content": "x"}]},
                headers={"traceparent": f"00-{INCOMING_TRACE}-{INCOMING_PARENT}-01"},
            )
            assert response.status_code == 200
            returned = TRACEPARENT.match(response.headers["traceparent"])
            sent = TRACEPARENT.match(openai.last.headers["traceparent"])
            assert returned is not None and sent is not None
            assert returned.group(1) == sent.group(1) == INCOMING_TRACE
            assert INCOMING_PARENT not in (returned.group(2), sent.group(2))


# --- export over OTLP/HTTP ---------------------------------------------------------------------------


class Collector:
    """A minimal OTLP/HTTP trace collector: decodes each POST /v1/traces body as the protobuf request."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                message = ExportTraceServiceRequest()
                message.ParseFromString(body)
                collector.requests.append(message)
                collector.paths.append(self.path)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Collector:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def span_names(self) -> list[str]:
        return [
            span.name
            for request in self.requests
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    def service_names(self) -> set[str]:
        return {
            attribute.value.string_value
            for request in self.requests
            for resource in request.resource_spans
            for attribute in resource.resource.attributes
            if attribute.key == "service.name"
        }


def test_spans_are_exported_over_otlp_http_to_the_configured_endpoint() -> None:
    with (
        Collector() as collector,
        FakeProvider() as openai,
        FakeProvider() as anthropic,
        FakeProvider() as router,
    ):
        tracing = f"tracing: {{otlp_endpoint: '{collector.url}', service_name: gw-otlp-test}}"
        with RunningGateway(gateway_config(openai, anthropic, router, tracing)) as gateway:
            router.script(ROUTE_CODING)
            response = httpx.post(
                gateway.url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}
            )
            assert response.status_code == 200
        # Leaving the gateway shuts the provider down, which flushes the batch to the collector.
        assert collector.paths and set(collector.paths) == {"/v1/traces"}
        assert sorted(collector.span_names()) == sorted(
            ["POST /v1/chat/completions", "llmroute.routing", "llmroute.upstream"]
        )
        assert collector.service_names() == {"gw-otlp-test"}


# --- turning it on and off -------------------------------------------------------------------------


def test_tracing_is_off_without_config_or_otel_endpoint() -> None:
    assert build_tracing(None, {}) is None


def test_otel_endpoint_in_the_environment_turns_tracing_on() -> None:
    tracing = build_tracing(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert tracing is not None
    tracing.shutdown()


def test_otel_sdk_disabled_wins_over_the_config() -> None:
    config = TracingConfig(otlp_endpoint="http://127.0.0.1:4318")
    assert build_tracing(config, {"OTEL_SDK_DISABLED": "true"}) is None


def test_service_name_falls_back_to_otel_service_name() -> None:
    tracing = build_tracing(TracingConfig(), {"OTEL_SERVICE_NAME": "from-env"})
    assert tracing is not None
    assert tracing.provider.resource.attributes["service.name"] == "from-env"
    tracing.shutdown()


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://tempo:4318", "http://tempo:4318/v1/traces"),
        ("http://tempo:4318/", "http://tempo:4318/v1/traces"),
        ("https://otlp.example.com/otlp", "https://otlp.example.com/otlp/v1/traces"),
        ("http://jaeger:4318/v1/traces", "http://jaeger:4318/v1/traces"),
    ],
)
def test_traces_url(endpoint: str, url: str) -> None:
    assert traces_url(endpoint) == url

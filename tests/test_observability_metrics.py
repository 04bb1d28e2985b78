"""`GET /metrics` after real requests: the counters and histograms move by what the requests did.

A real gateway on loopback, real fake providers (OpenAI and Anthropic speaking HTTP), a real
Arch-Router backend (a fake OpenAI server answering `{"route": ...}`), and the exposition parsed
with prometheus_client's own text parser. The registry is shared by every test in the process,
so each test compares a scrape before with one after.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import RunningGateway, free_port
from fakes.providers import Answer, Fail, FakeProvider

CHAT = "/v1/chat/completions"
GPT = "openai/gpt-4o"
CLAUDE = "anthropic/claude-sonnet-4"
ROUTE_CODING = Answer(text='{"route": "coding"}')


class Scrape:
    """One parse of /metrics: sample values by name and labels."""

    def __init__(self, text: str) -> None:
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        self.types: dict[str, str] = {}
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)


class Env:
    def __init__(
        self, gateway: RunningGateway, openai: FakeProvider, anthropic: FakeProvider, router: FakeProvider
    ):
        self.gateway = gateway
        self.openai = openai
        self.anthropic = anthropic
        self.router = router
        self.http = httpx.Client(base_url=gateway.url, timeout=10)

    def scrape(self) -> Scrape:
        response = self.http.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        return Scrape(response.text)

    def chat(self, text: str = "write a binary search in Python", **extra: Any) -> httpx.Response:
        self.router.script(ROUTE_CODING)
        headers = extra.pop("headers", None)
        body = {"messages": [{"role": "user", "content": text}], "max_tokens": 20, **extra}
        return self.http.post(CHAT, json=body, headers=headers)


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    closed_port = free_port()  # nothing listens there: the cost source's refreshes fail
    with FakeProvider() as openai, FakeProvider() as anthropic, FakeProvider() as router:
        config = f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 30s}}]
model_providers:
  - model: {GPT}
    access_key: sk-openai-metrics-test
    base_url: {openai.url}
    default: true
  - model: {CLAUDE}
    access_key: sk-ant-metrics-test
    base_url: {anthropic.url}
routing_preferences:
  - name: coding
    description: writing and debugging code
    models: [{GPT}, {CLAUDE}]
model_metrics_sources:
  - type: cost_metrics
    url: http://127.0.0.1:{closed_port}/costs
    refresh_interval: 60
routing:
  router: {{type: arch_router, base_url: {router.url}, timeout_ms: 30000}}
"""
        with RunningGateway(config) as gateway:
            yield Env(gateway, openai, anthropic, router)


def test_metrics_endpoint_is_prometheus_text_with_every_family(env: Env) -> None:
    scrape = env.scrape()
    expected = {
        "llmroute_requests": "counter",
        "llmroute_request_duration_seconds": "histogram",
        "llmroute_gateway_overhead_seconds": "histogram",
        "llmroute_routing_decisions": "counter",
        "llmroute_router_latency_seconds": "histogram",
        "llmroute_session_pins": "counter",
        "llmroute_upstream_latency_seconds": "histogram",
        "llmroute_upstream_time_to_first_token_seconds": "histogram",
        "llmroute_upstream_errors": "counter",
        "llmroute_failovers": "counter",
        "llmroute_cooldowns": "counter",
        "llmroute_tokens": "counter",
        "llmroute_metric_source_refresh_failures": "counter",
    }
    for name, kind in expected.items():
        assert scrape.types.get(name) == kind, name


def test_a_routed_request_moves_request_routing_upstream_and_token_metrics(env: Env) -> None:
    before = env.scrape()
    response = env.chat()
    assert response.status_code == 200, response.text
    assert response.headers["x-llmroute-model"] == GPT
    after = env.scrape()

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert delta("llmroute_requests_total", endpoint=CHAT, status="200") == 1
    assert delta("llmroute_request_duration_seconds_count", endpoint=CHAT) == 1
    assert delta("llmroute_request_duration_seconds_sum", endpoint=CHAT) > 0
    assert delta("llmroute_gateway_overhead_seconds_count", endpoint=CHAT) == 1
    assert delta("llmroute_gateway_overhead_seconds_sum", endpoint=CHAT) > 0
    # The overhead excludes the upstream time, so it is below the total.
    assert delta("llmroute_gateway_overhead_seconds_sum", endpoint=CHAT) < delta(
        "llmroute_request_duration_seconds_sum", endpoint=CHAT
    )
    assert delta("llmroute_routing_decisions_total", route="coding", model=GPT, source="route") == 1
    assert delta("llmroute_router_latency_seconds_count", backend="arch_router") == 1
    assert delta("llmroute_upstream_latency_seconds_count", model=GPT) == 1
    assert delta("llmroute_upstream_latency_seconds_bucket", model=GPT, le="+Inf") == 1
    assert delta("llmroute_tokens_total", model=GPT, kind="input") == 11
    assert delta("llmroute_tokens_total", model=GPT, kind="output") == 7


def test_failover_counts_the_error_the_failover_and_the_cooldown(env: Env) -> None:
    before = env.scrape()
    # 429 with a 50 ms cooldown (so later tests find gpt-4o available again), then a 500.
    env.openai.script(Fail(429, headers={"retry-after-ms": "50"}))
    first = env.chat()
    assert first.status_code == 200, first.text
    assert first.headers["x-llmroute-model"] == CLAUDE
    time.sleep(0.06)
    env.openai.script(Fail(500))
    second = env.chat()
    assert second.status_code == 200, second.text
    assert second.headers["x-llmroute-model"] == CLAUDE
    after = env.scrape()

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert delta("llmroute_upstream_errors_total", model=GPT, error="status_429") == 1
    assert delta("llmroute_upstream_errors_total", model=GPT, error="status_5xx") == 1
    assert delta("llmroute_failovers_total", from_model=GPT, reason="status_429") == 1
    assert delta("llmroute_failovers_total", from_model=GPT, reason="status_5xx") == 1
    assert delta("llmroute_cooldowns_total", model=GPT) == 1
    assert delta("llmroute_upstream_latency_seconds_count", model=CLAUDE) == 2
    assert delta("llmroute_requests_total", endpoint=CHAT, status="200") == 2
    # The routing decision is the route's, whoever answered.
    assert delta("llmroute_routing_decisions_total", route="coding", model=GPT, source="route") == 2


def test_all_candidates_failing_is_counted_as_a_gateway_error(env: Env) -> None:
    before = env.scrape()
    env.openai.script(Fail(500))
    env.anthropic.script(Fail(500))
    response = env.chat()
    assert response.status_code == 502, response.text
    after = env.scrape()
    assert (
        after.value("llmroute_requests_total", endpoint=CHAT, status="502")
        - before.value("llmroute_requests_total", endpoint=CHAT, status="502")
        == 1
    )
    assert (
        after.value("llmroute_upstream_errors_total", model=CLAUDE, error="status_5xx")
        - before.value("llmroute_upstream_errors_total", model=CLAUDE, error="status_5xx")
        == 1
    )


def test_streaming_observes_time_to_first_token(env: Env) -> None:
    before = env.scrape()
    response = env.chat(stream=True, stream_options={"include_usage": True})
    assert response.status_code == 200
    assert "data: [DONE]" in response.text
    after = env.scrape()
    assert (
        after.value("llmroute_upstream_time_to_first_token_seconds_count", model=GPT)
        - before.value("llmroute_upstream_time_to_first_token_seconds_count", model=GPT)
        == 1
    )
    assert (
        after.value("llmroute_gateway_overhead_seconds_count", endpoint=CHAT)
        - before.value("llmroute_gateway_overhead_seconds_count", endpoint=CHAT)
        == 1
    )
    assert (
        after.value("llmroute_tokens_total", model=GPT, kind="output")
        - before.value("llmroute_tokens_total", model=GPT, kind="output")
        == 7
    )


def test_session_pins_count_misses_then_hits(env: Env) -> None:
    before = env.scrape()
    headers = {"x-session-id": "metrics-test-session"}
    assert env.chat(headers=headers).status_code == 200
    # Pinned: the router is not asked again (nothing is scripted for it, so it would fail).
    response = env.http.post(
        CHAT, json={"messages": [{"role": "user", "content": "and now in Go"}]}, headers=headers
    )
    assert response.status_code == 200
    after = env.scrape()
    assert (
        after.value("llmroute_session_pins_total", result="miss")
        - before.value("llmroute_session_pins_total", result="miss")
        == 1
    )
    assert (
        after.value("llmroute_session_pins_total", result="hit")
        - before.value("llmroute_session_pins_total", result="hit")
        == 1
    )


def test_decision_endpoint_and_unknown_paths_are_labelled(env: Env) -> None:
    before = env.scrape()
    env.router.script(ROUTE_CODING)
    decision = env.http.post(
        "/routing/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}
    )
    assert decision.status_code == 200
    assert env.http.get("/no/such/path/123").status_code == 404
    bad = env.http.post(CHAT, content=b"{not json")
    assert bad.status_code == 400
    after = env.scrape()

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert delta("llmroute_requests_total", endpoint="/routing/v1/chat/completions", status="200") == 1
    assert delta("llmroute_gateway_overhead_seconds_count", endpoint="/routing/v1/chat/completions") == 1
    # Unknown paths share one label: clients cannot blow up the series count.
    assert delta("llmroute_requests_total", endpoint="other", status="404") == 1
    assert (
        "llmroute_requests_total",
        frozenset({("endpoint", "/no/such/path/123"), ("status", "404")}),
    ) not in (after.samples)
    assert delta("llmroute_requests_total", endpoint=CHAT, status="400") == 1


def test_metric_source_refresh_failures_are_counted(env: Env) -> None:
    scrape = env.scrape()
    assert scrape.value("llmroute_metric_source_refresh_failures_total", source="cost_metrics") >= 1

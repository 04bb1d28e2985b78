"""Seed 003 end to end: the real gateway ranks a route's models by live data from real HTTP sources.

The sources are real HTTP servers on loopback speaking the three formats; the gateway is the real app
under uvicorn (conftest's RunningGateway); every check goes through the decision endpoint, the admin
endpoint or /readyz. The router is `arch_router` pointed at a fake OpenAI-compatible model server that
answers Arch-Router's JSON by keyword, so these tests exercise ranking, not embedding quality.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from conftest import RunningGateway
from test_ranking_support import MetricsHTTPServer, Reply, catalog_document, cost_document, prometheus_vector

CLAUDE, GPT4O, MINI = "anthropic/claude-sonnet-4-20250514", "openai/gpt-4o", "openai/gpt-4o-mini"
MISTRAL = "mistral/mistral-large-latest"  # declared, but no source knows it
KEYS = {"OPENAI_API_KEY": "sk-test-openai", "ANTHROPIC_API_KEY": "sk-ant-test", "MISTRAL_API_KEY": "mk-test"}
CODE_PROMPT = "write a sorting algorithm in Python"
CHAT_PROMPT = "hi there! how is your day going?"
LATENCY_QUERY = (
    "histogram_quantile(0.95, sum by (model_name, le) (rate(llm_request_duration_seconds_bucket[5m])))"
)

PROVIDERS = f"""
model_providers:
  - model: {CLAUDE}
    access_key: $ANTHROPIC_API_KEY
  - model: {GPT4O}
    access_key: $OPENAI_API_KEY
  - model: {MINI}
    access_key: $OPENAI_API_KEY
    default: true
  - model: {MISTRAL}
    access_key: $MISTRAL_API_KEY
"""


# What the fake router model answers when the latest user message contains a phrase.
ROUTE_FOR_PHRASE = {"sorting algorithm": "code generation", "how is your day": "general questions"}


def arch_router_answer(body: bytes) -> Reply:
    """An OpenAI chat completion carrying Arch-Router's `{"route": ...}` answer for the prompt."""
    prompt = json.loads(body)["messages"][0]["content"]
    conversation = prompt.split("<conversation>", 1)[1].split("</conversation>", 1)[0]
    route = next((name for phrase, name in ROUTE_FOR_PHRASE.items() if phrase in conversation), "other")
    completion = {
        "id": "chatcmpl-router",
        "object": "chat.completion",
        "created": 0,
        "model": "Arch-Router",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": json.dumps({"route": route})},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    return Reply(body=json.dumps(completion).encode())


def router_section(sources: MetricsHTTPServer) -> str:
    sources.post_handlers["/v1/chat/completions"] = arch_router_answer
    return f"""
routing:
  router:
    type: arch_router
    base_url: {sources.url}
"""


def seed_003_config(sources: MetricsHTTPServer) -> str:
    return f"""
version: v0.4.0
{PROVIDERS}
{router_section(sources)}
routing_preferences:
  - name: code generation
    description: generating new code snippets, functions or boilerplate
    models: [{CLAUDE}, {GPT4O}, {MISTRAL}, {MINI}]
    selection_policy:
      prefer: cheapest
  - name: general questions
    description: casual conversation and simple queries
    models: [{GPT4O}, {MINI}, {CLAUDE}]
    selection_policy:
      prefer: fastest
model_metrics_sources:
  - type: cost_metrics
    url: {sources.url}/costs
    refresh_interval: 0.2
    auth:
      type: bearer
      token: cost-api-token
  - type: prometheus_metrics
    url: {sources.url}/prom
    query: {LATENCY_QUERY}
    refresh_interval: 0.2
"""


class RankingLog(logging.Handler):
    """Collects the ranking logger's records while a module-scoped gateway runs (caplog is per test)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def warnings(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno == logging.WARNING]


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout}s")
        time.sleep(0.05)


def decide(gateway: RunningGateway, text: str, **extra: Any) -> dict[str, Any]:
    body = {"model": MINI, "messages": [{"role": "user", "content": text}], **extra}
    response = httpx.post(f"{gateway.url}/routing/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def set_costs(sources: MetricsHTTPServer, claude: float) -> None:
    sources.set_json(
        "/costs", cost_document({CLAUDE: (claude, claude), GPT4O: (2.5, 10.0), MINI: (0.15, 0.6)})
    )


@pytest.fixture(scope="module")
def ranking_log() -> Iterator[RankingLog]:
    handler = RankingLog()
    logger = logging.getLogger("llmroute.ranking")
    previous = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(previous)


@pytest.fixture(scope="module")
def sources() -> Iterator[MetricsHTTPServer]:
    server = MetricsHTTPServer()
    set_costs(server, claude=9.0)  # claude 18.0, gpt-4o 12.5, mini 0.75
    server.set_json("/prom/api/v1/query", prometheus_vector({CLAUDE: 0.3, MINI: 0.5, GPT4O: 0.9}))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(sources: MetricsHTTPServer, ranking_log: RankingLog) -> Iterator[RunningGateway]:
    with RunningGateway(seed_003_config(sources), KEYS) as gw:
        yield gw


def test_cheapest_route_ranks_by_cost_and_missing_model_is_last(
    gateway: RunningGateway, sources: MetricsHTTPServer, ranking_log: RankingLog
) -> None:
    set_costs(sources, claude=9.0)
    wait_until(lambda: decide(gateway, CODE_PROMPT)["models"][:3] == [MINI, GPT4O, CLAUDE])
    data = decide(gateway, CODE_PROMPT)
    assert data["route"] == "code generation"
    assert data["models"] == [MINI, GPT4O, CLAUDE, MISTRAL]
    assert data["model"] == MINI
    # The bearer token from the config reached the cost endpoint.
    assert sources.requests_to("/costs")[0].headers["Authorization"] == "Bearer cost-api-token"
    # Startup named the model without data.
    assert any(
        "route 'code generation'" in line
        and f"model '{MISTRAL}' has no cost data" in line
        and "ranked last" in line
        for line in ranking_log.warnings()
    )


def test_fastest_route_ranks_by_prometheus_latency(
    gateway: RunningGateway, sources: MetricsHTTPServer
) -> None:
    data = decide(gateway, CHAT_PROMPT)
    assert data["route"] == "general questions"
    assert data["models"] == [CLAUDE, MINI, GPT4O]
    assert sources.requests_to("/prom/api/v1/query")[0].query == {"query": [LATENCY_QUERY]}


def test_refresh_reranks_and_failed_refresh_keeps_data(
    gateway: RunningGateway, sources: MetricsHTTPServer
) -> None:
    set_costs(sources, claude=0.1)  # claude becomes the cheapest
    wait_until(lambda: decide(gateway, CODE_PROMPT)["models"] == [CLAUDE, MINI, GPT4O, MISTRAL])

    sources.set_reply("/costs", Reply(status=503, body=b"cost service down"))
    failures = gateway.gateway.metrics.refresh_failures
    before = failures["cost_metrics"]
    wait_until(lambda: failures["cost_metrics"] >= before + 2)
    assert decide(gateway, CODE_PROMPT)["models"] == [CLAUDE, MINI, GPT4O, MISTRAL]
    table = httpx.get(f"{gateway.url}/v1/metrics/models").json()
    cost_source = next(s for s in table["sources"] if s["name"] == "cost_metrics")
    assert "HTTP 503" in cost_source["last_error"]
    assert cost_source["loaded"] is True
    assert table["models"][CLAUDE]["cost"] == pytest.approx(0.2)
    assert httpx.get(f"{gateway.url}/readyz").status_code == 200  # loaded once: still ready

    set_costs(sources, claude=9.0)
    wait_until(lambda: decide(gateway, CODE_PROMPT)["models"] == [MINI, GPT4O, CLAUDE, MISTRAL])


def test_inline_preferences_with_selection_policy_are_ranked(gateway: RunningGateway) -> None:
    inline = [
        {
            "name": "code generation",
            "description": "generating new code snippets",
            "models": [CLAUDE, MISTRAL, GPT4O],
            "selection_policy": {"prefer": "fastest"},
        },
        {"name": "general questions", "description": "casual conversation", "models": [MINI]},
    ]
    data = decide(gateway, CODE_PROMPT, routing_preferences=inline)
    assert data["route"] == "code generation"
    assert data["models"] == [CLAUDE, GPT4O, MISTRAL]  # latency 0.3 < 0.9; mistral has none: last


def test_admin_endpoint_explains_the_ranking(gateway: RunningGateway) -> None:
    response = httpx.get(f"{gateway.url}/v1/metrics/models")
    assert response.status_code == 200
    table = response.json()
    assert "cost-api-token" not in response.text
    assert table["ready"] is True
    assert table["models"][GPT4O] == {"cost": 12.5, "latency": 0.9}
    assert {s["name"] for s in table["sources"]} == {"cost_metrics", "prometheus_metrics"}
    assert all(s["last_success"] for s in table["sources"])
    routes = {route["name"]: route for route in table["routes"]}
    assert routes["code generation"]["missing"] == [MISTRAL]
    assert [entry["model"] for entry in routes["general questions"]["ranked"]] == [CLAUDE, MINI, GPT4O]


def test_digitalocean_source_down_at_startup_then_ranks_with_aliases(ranking_log: RankingLog) -> None:
    catalog = MetricsHTTPServer()  # not listening yet: the gateway must start anyway
    router = MetricsHTTPServer().start()
    config = f"""
version: v0.4.0
{PROVIDERS}
{router_section(router)}
routing_preferences:
  - name: code generation
    description: generating new code snippets, functions or boilerplate
    models: [{CLAUDE}, {GPT4O}, {MINI}]
    selection_policy:
      prefer: cheapest
model_metrics_sources:
  - type: digitalocean_pricing
    url: {catalog.url}/v2/gen-ai/models/catalog
    refresh_interval: 60
    model_aliases:
      openai-gpt-4o: {GPT4O}
      openai-gpt-4o-mini: {MINI}
      anthropic-claude-sonnet-4: {CLAUDE}
"""
    ranking_log.records.clear()
    with RunningGateway(config, KEYS) as gw:
        try:
            ready = httpx.get(f"{gw.url}/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["metric_sources"] is False
            # Requests are still served, in declared order.
            assert decide(gw, CODE_PROMPT)["models"] == [CLAUDE, GPT4O, MINI]
            assert any(
                f"model '{CLAUDE}' has no cost data" in line
                and "digitalocean_pricing has not loaded yet" in line
                for line in ranking_log.warnings()
            )

            catalog.set_json(
                "/v2/gen-ai/models/catalog",
                catalog_document(
                    {
                        "anthropic-claude-sonnet-4": (3.0, 15.0),
                        "openai-gpt-4o": (2.5, 10.0),
                        "openai-gpt-4o-mini": (0.15, 0.6),
                    }
                ),
            )
            catalog.start()
            wait_until(lambda: httpx.get(f"{gw.url}/readyz").status_code == 200)
            assert decide(gw, CODE_PROMPT)["models"] == [MINI, GPT4O, CLAUDE]
        finally:
            catalog.stop()
            router.stop()

"""MetricsStore + rank against real HTTP sources on loopback: startup, refresh, failures, warnings."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import REGISTRY

from llmroute.config.models import CostMetricsSource, PrometheusMetricsSource
from llmroute.ranking import CostMetrics, DigitalOceanPricing, MetricsStore, PrometheusMetrics, rank
from llmroute.routing.types import Route
from llmroute.server.endpoints import metrics_models
from test_ranking_support import (
    MetricsHTTPServer,
    Reply,
    catalog_document,
    cost_document,
    eventually,
    prometheus_vector,
)

GPT4O, MINI, SONNET, HAIKU = (
    "openai/gpt-4o",
    "openai/gpt-4o-mini",
    "anthropic/claude-sonnet-4",
    "anthropic/haiku",
)


@pytest.fixture
def server() -> Iterator[MetricsHTTPServer]:
    srv = MetricsHTTPServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def ranking_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="llmroute.ranking")
    return caplog


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "llmroute.ranking" and r.levelno == logging.WARNING
    ]


async def test_cheapest_ranks_by_input_plus_output(server: MetricsHTTPServer) -> None:
    server.set_json("/costs", cost_document({GPT4O: (2.5, 10.0), MINI: (0.15, 0.6), SONNET: (3.0, 15.0)}))
    store = MetricsStore([CostMetrics(url=f"{server.url}/costs", bearer_token="tok-123")])
    await store.start()
    try:
        assert store.ready
        assert store.cost(MINI) == pytest.approx(0.75)
        assert rank([SONNET, GPT4O, MINI], "cheapest", store) == [MINI, GPT4O, SONNET]
        assert rank([SONNET, GPT4O, MINI], "none", store) == [SONNET, GPT4O, MINI]
        assert server.requests_to("/costs")[0].headers["Authorization"] == "Bearer tok-123"
    finally:
        await store.stop()


async def test_fastest_ranks_by_prometheus_latency(server: MetricsHTTPServer) -> None:
    server.set_json("/api/v1/query", prometheus_vector({GPT4O: 1.2, MINI: 0.4, SONNET: 2.5}))
    store = MetricsStore([PrometheusMetrics(url=server.url, query="avg by (model_name) (llm_p95_seconds)")])
    await store.start()
    try:
        assert rank([SONNET, GPT4O, MINI], "fastest", store) == [MINI, GPT4O, SONNET]
        assert store.latency(SONNET) == 2.5
        assert store.cost(SONNET) is None
        assert server.requests_to("/api/v1/query")[0].query["query"] == [
            "avg by (model_name) (llm_p95_seconds)"
        ]
    finally:
        await store.stop()


async def test_digitalocean_aliases_bridge_catalog_ids(server: MetricsHTTPServer) -> None:
    server.set_json(
        "/v2/gen-ai/models/catalog",
        catalog_document(
            {
                "openai-gpt-4o": (2.5, 10.0),
                "openai-gpt-4o-mini": (0.15, 0.6),
                "llama3-8b": (0.2, 0.2),
                "openai-o1": (0.01, 0.01),
            }
        ),
    )
    store = MetricsStore(
        [
            DigitalOceanPricing(
                url=f"{server.url}/v2/gen-ai/models/catalog",
                model_aliases={"openai-gpt-4o": GPT4O, "openai-gpt-4o-mini": MINI},
            )
        ]
    )
    await store.start()
    try:
        models = ["openai/o1", GPT4O, "ollama/llama3-8b", MINI]
        # openai/o1 has no alias: its price sits under "openai-o1", which matches nothing, so it is last.
        assert rank(models, "cheapest", store) == ["ollama/llama3-8b", MINI, GPT4O, "openai/o1"]
        # Without an alias the DO id is the key; the bare model id of ollama/llama3-8b happens to match it.
        assert store.cost("ollama/llama3-8b") == pytest.approx(0.4)
        assert store.cost("openai-gpt-4o") is None
    finally:
        await store.stop()


async def test_bare_model_id_matches_full_name(server: MetricsHTTPServer) -> None:
    server.set_json("/costs", cost_document({"gpt-4o": (2.5, 10.0), MINI: (0.15, 0.6)}))
    store = MetricsStore([CostMetrics(url=f"{server.url}/costs")])
    await store.start()
    try:
        assert store.cost(GPT4O) == 12.5
        assert store.cost("gpt-4o") == 12.5
        assert store.cost("gpt-4o-mini") is None  # the table has the full name only
    finally:
        await store.stop()


async def test_store_accepts_config_entries(server: MetricsHTTPServer) -> None:
    server.set_json("/costs", cost_document({GPT4O: (1, 1)}))
    server.set_json("/api/v1/query", prometheus_vector({GPT4O: 0.3}))
    store = MetricsStore(
        [
            CostMetricsSource(type="cost_metrics", url=f"{server.url}/costs", refresh_interval=60),
            PrometheusMetricsSource(
                type="prometheus_metrics", url=server.url, query="q", refresh_interval=60
            ),
        ]
    )
    await store.start()
    try:
        assert (store.cost(GPT4O), store.latency(GPT4O)) == (2.0, 0.3)
        assert store.ready
    finally:
        await store.stop()


async def test_refresh_picks_up_new_data(server: MetricsHTTPServer) -> None:
    server.set_json("/costs", cost_document({GPT4O: (1.0, 1.0), MINI: (2.0, 2.0)}))
    store = MetricsStore([CostMetrics(url=f"{server.url}/costs", refresh_interval=0.05)])
    await store.start()
    try:
        assert rank([MINI, GPT4O], "cheapest", store) == [GPT4O, MINI]
        server.set_json("/costs", cost_document({GPT4O: (5.0, 5.0), MINI: (0.1, 0.1)}))
        await eventually(lambda: rank([MINI, GPT4O], "cheapest", store) == [MINI, GPT4O])
        assert store.cost(GPT4O) == 10.0
    finally:
        await store.stop()


async def test_failed_refresh_keeps_last_good_data(server: MetricsHTTPServer, ranking_log) -> None:
    failed: list[str] = []
    server.set_json("/api/v1/query", prometheus_vector({GPT4O: 0.2, SONNET: 0.9}))
    store = MetricsStore(
        [PrometheusMetrics(url=server.url, query="q", refresh_interval=0.05)],
        on_refresh_failure=failed.append,
    )
    await store.start()
    try:
        first_success = store.snapshot()["sources"][0]["last_success"]
        server.set_reply("/api/v1/query", Reply(status=500, body=b"prometheus exploded"))
        await eventually(lambda: store.refresh_failures["prometheus_metrics"] >= 2)

        assert rank([SONNET, GPT4O], "fastest", store) == [GPT4O, SONNET]
        assert store.latency(SONNET) == 0.9
        assert store.ready
        assert failed[:2] == ["prometheus_metrics", "prometheus_metrics"]
        status = store.snapshot()["sources"][0]
        assert status["last_success"] == first_success
        assert "HTTP 500" in status["last_error"]
        assert status["failures"] >= 2
        assert any(
            "refresh failed" in line and "keeping 2 models" in line for line in warnings_in(ranking_log)
        )
        exported = REGISTRY.get_sample_value(
            "llmroute_metric_source_refresh_failures_total", {"source": "prometheus_metrics"}
        )
        assert exported is not None and exported >= 2

        # A bad document is a failed refresh too, not an empty table.
        server.set_json("/api/v1/query", {"status": "error", "error": "bad query"})
        before = store.refresh_failures["prometheus_metrics"]
        await eventually(lambda: store.refresh_failures["prometheus_metrics"] > before)
        assert store.latency(GPT4O) == 0.2
    finally:
        await store.stop()


async def test_source_down_at_startup_is_retried(ranking_log) -> None:
    server = MetricsHTTPServer()  # nothing listens on its port yet
    store = MetricsStore([CostMetrics(url=f"{server.url}/costs", refresh_interval=60)], retry_initial=0.05)
    route = Route(name="code", description="code", models=(SONNET, MINI), prefer="cheapest")
    await store.start(startup_timeout=5.0)
    try:
        assert not store.ready
        store.warn_missing([route])
        assert rank(route.models, "cheapest", store) == [SONNET, MINI]
        assert any(
            f"model '{SONNET}' has no cost data" in line and "cost_metrics has not loaded yet" in line
            for line in warnings_in(ranking_log)
        )
        assert store.snapshot()["sources"][0]["loaded"] is False

        server.set_json("/costs", cost_document({SONNET: (3, 15), MINI: (0.15, 0.6)}))
        server.start()
        await eventually(lambda: store.ready)
        assert rank(route.models, "cheapest", store) == [MINI, SONNET]
        assert any("now has data" in r.getMessage() for r in ranking_log.records)
    finally:
        await store.stop()
        server.stop()


async def test_slow_source_does_not_block_startup(server: MetricsHTTPServer, ranking_log) -> None:
    server.set_reply("/costs", Reply(hang=True))
    store = MetricsStore([CostMetrics(url=f"{server.url}/costs", timeout=30)], retry_initial=0.05)
    await store.start(startup_timeout=0.2)
    try:
        assert not store.ready
        assert any("did not answer within the 0.2s startup timeout" in m for m in warnings_in(ranking_log))
        # The background task keeps going: the hung request ends (dropped), the retry gets the data.
        server.set_json("/costs", cost_document({GPT4O: (1, 2)}))
        server.release()
        await eventually(lambda: store.ready)
        assert store.cost(GPT4O) == 3.0
    finally:
        await store.stop()


async def test_missing_models_ranked_last_with_warn(server: MetricsHTTPServer, ranking_log) -> None:
    server.set_json("/costs", cost_document({GPT4O: (2.5, 10.0), MINI: (0.15, 0.6)}))
    store = MetricsStore([CostMetrics(url=f"{server.url}/costs", refresh_interval=0.05)])
    routes = [
        Route(name="code", description="d", models=(HAIKU, GPT4O, SONNET, MINI), prefer="cheapest"),
        Route(name="chat", description="d", models=(SONNET, GPT4O), prefer="none"),
        Route(name="fast", description="d", models=(MINI,), prefer="fastest"),
    ]
    await store.start()
    try:
        store.warn_missing(routes)
        assert rank(routes[0].models, "cheapest", store) == [MINI, GPT4O, HAIKU, SONNET]
        warned = warnings_in(ranking_log)
        assert any("route 'code'" in w and f"'{HAIKU}'" in w and "ranked last" in w for w in warned)
        assert any("route 'code'" in w and f"'{SONNET}'" in w for w in warned)
        assert any(
            "route 'fast'" in w and "no prometheus_metrics" not in w and "no latency source" in w
            for w in warned
        )
        assert not any("route 'chat'" in w for w in warned)  # prefer: none needs no data
        assert not any(f"'{GPT4O}' has no" in w for w in warned)

        # A refresh that changes the set of missing models warns again, for the newly missing one only.
        ranking_log.clear()
        server.set_json("/costs", cost_document({HAIKU: (0.25, 1.25), MINI: (0.15, 0.6)}))
        await eventually(lambda: store.cost(GPT4O) is None)
        await eventually(lambda: any(f"'{GPT4O}' has no cost data" in w for w in warnings_in(ranking_log)))
        assert not any(f"'{SONNET}'" in w for w in warnings_in(ranking_log))
        assert any(f"'{HAIKU}' now has data" in r.getMessage() for r in ranking_log.records)

        # Unchanged refreshes do not repeat the warning.
        ranking_log.clear()
        count = len(server.requests_to("/costs"))
        await eventually(lambda: len(server.requests_to("/costs")) >= count + 3)
        assert not any("has no cost data" in w for w in warnings_in(ranking_log))
    finally:
        await store.stop()


def test_rank_is_stable_and_total() -> None:
    class Table:
        """A fixed lookup: rank() is pure over the MetricsLookup protocol."""

        def __init__(self, costs: dict[str, float]) -> None:
            self.costs = costs

        def cost(self, model: str) -> float | None:
            return self.costs.get(model)

        def latency(self, model: str) -> float | None:
            return None

    table = Table({"a": 1.0, "b": 1.0, "c": 0.5, "d": 1.0})
    assert rank(["a", "x", "b", "c", "y", "d"], "cheapest", table) == ["c", "a", "b", "d", "x", "y"]
    assert rank(["b", "a"], "cheapest", table) == ["b", "a"]  # ties keep declared order
    assert rank(["a", "x"], "fastest", table) == ["a", "x"]  # no latency data: declared order
    assert rank(["d", "c"], "cheapest", None) == ["d", "c"]
    assert rank([], "cheapest", table) == []
    with pytest.raises(ValueError, match=r"unknown selection_policy\.prefer 'priciest'"):
        rank(["a"], "priciest", table)


async def test_store_without_sources_is_ready() -> None:
    store = MetricsStore([])
    await store.start()
    try:
        assert store.ready
        assert store.snapshot() == {"ready": True, "sources": [], "models": {}, "routes": []}
    finally:
        await store.stop()


def test_two_sources_of_one_type_rejected() -> None:
    with pytest.raises(ValueError, match="only one cost_metrics source is allowed"):
        MetricsStore([CostMetrics(url="http://127.0.0.1:1/a"), CostMetrics(url="http://127.0.0.1:1/b")])


async def test_admin_endpoint_shows_table_and_refresh_status(server: MetricsHTTPServer) -> None:
    server.set_json("/costs", cost_document({GPT4O: (2.5, 10.0), MINI: (0.15, 0.6)}))
    server.set_json("/api/v1/query", prometheus_vector({GPT4O: 0.7}))
    store = MetricsStore(
        [
            CostMetrics(url=f"{server.url}/costs", bearer_token="never-shown"),
            PrometheusMetrics(url=server.url, query="q"),
        ]
    )

    class Gateway:
        metrics: MetricsStore | None = store

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        response = await metrics_models(Gateway(), scope, receive)  # type: ignore[arg-type]
        await response(scope, receive, send)

    await store.start()
    store.warn_missing([Route(name="code", description="d", models=(SONNET, GPT4O, MINI), prefer="cheapest")])
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
            response = await client.get("/v1/metrics/models")
            assert response.status_code == 200
            body = response.json()
            assert "never-shown" not in response.text
            assert body["ready"] is True
            assert body["models"][GPT4O] == {"cost": 12.5, "latency": 0.7}
            assert body["models"][MINI] == {"cost": 0.75, "latency": None}
            by_name = {source["name"]: source for source in body["sources"]}
            assert by_name["cost_metrics"]["url"] == f"{server.url}/costs"
            assert by_name["cost_metrics"]["last_success"].endswith("Z")
            assert by_name["prometheus_metrics"]["failures"] == 0
            assert body["routes"] == [
                {
                    "name": "code",
                    "prefer": "cheapest",
                    "ranked": [
                        {"model": MINI, "cost": 0.75},
                        {"model": GPT4O, "cost": 12.5},
                        {"model": SONNET, "cost": None},
                    ],
                    "missing": [SONNET],
                }
            ]

            Gateway.metrics = None  # no sources configured
            empty = (await client.get("/v1/metrics/models")).json()
            assert empty == {"ready": True, "sources": [], "models": {}, "routes": []}
    finally:
        await store.stop()

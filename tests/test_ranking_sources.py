"""Each metric source against a real HTTP server on loopback: formats, auth, aliases, bad answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from llmroute.config.models import CostMetricsSource, DigitalOceanPricingSource, PrometheusMetricsSource
from llmroute.ranking import (
    CostMetrics,
    DigitalOceanPricing,
    PrometheusMetrics,
    SourceError,
    source_from_config,
)
from test_ranking_support import (
    MetricsHTTPServer,
    Reply,
    catalog_document,
    cost_document,
    prometheus_vector,
)


@pytest.fixture
def server() -> Iterator[MetricsHTTPServer]:
    srv = MetricsHTTPServer().start()
    yield srv
    srv.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_cost_metrics_sums_prices_and_sends_bearer(server: MetricsHTTPServer, session) -> None:
    server.set_json(
        "/costs", cost_document({"openai/gpt-4o": (2.5, 10.0), "openai/gpt-4o-mini": (0.15, 0.6)})
    )
    source = CostMetrics(url=f"{server.url}/costs", bearer_token="s3cret-token")

    result = await source.fetch(session)

    assert result.values == {"openai/gpt-4o": 12.5, "openai/gpt-4o-mini": 0.75}
    assert server.requests_to("/costs")[0].headers["Authorization"] == "Bearer s3cret-token"


async def test_cost_metrics_without_auth_sends_no_authorization(server: MetricsHTTPServer, session) -> None:
    server.set_json("/costs", cost_document({"a/b": (1, 2)}))
    await CostMetrics(url=f"{server.url}/costs").fetch(session)
    assert "Authorization" not in server.requests_to("/costs")[0].headers


async def test_cost_metrics_skips_malformed_entries(server: MetricsHTTPServer, session) -> None:
    document = cost_document({"good/model": (1.0, 2.0)})
    document["no/output"] = {"input_per_million": 1.0}
    document["text/prices"] = {"input_per_million": "abc", "output_per_million": 1}
    document["not/an/object"] = 5
    server.set_json("/costs", document)

    result = await CostMetrics(url=f"{server.url}/costs").fetch(session)

    assert result.values == {"good/model": 3.0}
    assert len(result.skipped) == 3
    assert any("no/output" in note for note in result.skipped)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(status=401, body=b'{"error": "unauthorized"}'), "HTTP 401"),
        (Reply(status=503, body=b""), "HTTP 503"),
        (Reply(body=b"<html>oops</html>", content_type="text/html"), "not JSON"),
        (Reply(body=b"[1, 2, 3]"), "expected a JSON object"),
    ],
)
async def test_cost_metrics_bad_answers_raise_clear_errors(
    server: MetricsHTTPServer, session, reply: Reply, expected: str
) -> None:
    server.set_reply("/costs", reply)
    source = CostMetrics(url=f"{server.url}/costs", bearer_token="s3cret-token")

    with pytest.raises(SourceError) as caught:
        await source.fetch(session)

    assert expected in str(caught.value)
    assert "s3cret-token" not in str(caught.value)


async def test_connection_refused_is_a_source_error(session) -> None:
    down = MetricsHTTPServer()  # never started: nothing listens on its port
    with pytest.raises(SourceError, match="failed"):
        await CostMetrics(url=f"{down.url}/costs").fetch(session)


async def test_hanging_source_times_out(server: MetricsHTTPServer, session) -> None:
    server.set_reply("/costs", Reply(hang=True))
    with pytest.raises(SourceError, match=r"timed out after 0\.2s"):
        await CostMetrics(url=f"{server.url}/costs", timeout=0.2).fetch(session)


async def test_credentials_in_url_are_not_shown(session) -> None:
    down = MetricsHTTPServer()
    source = CostMetrics(url=f"http://user:pa55word@127.0.0.1:{down.port}/costs")
    assert "pa55word" not in source.display_url
    with pytest.raises(SourceError) as caught:
        await source.fetch(session)
    assert "pa55word" not in str(caught.value)


async def test_digitalocean_catalog_applies_aliases(server: MetricsHTTPServer, session) -> None:
    catalog = catalog_document({"openai-gpt-4o": (2.5, 10.0), "anthropic-claude-3.5-sonnet": (3.0, 15.0)})
    catalog["data"].append({"model_id": "bge-embeddings", "pricing": None})
    catalog["data"].append({"name": "entry without id"})
    server.set_json("/v2/gen-ai/models/catalog", catalog)
    source = DigitalOceanPricing(
        url=f"{server.url}/v2/gen-ai/models/catalog", model_aliases={"openai-gpt-4o": "openai/gpt-4o"}
    )

    result = await source.fetch(session)

    # Aliased ids are stored under our model name, the others under the DO model_id.
    assert result.values == {"openai/gpt-4o": 12.5, "anthropic-claude-3.5-sonnet": 18.0}
    assert len(result.skipped) == 2


async def test_digitalocean_catalog_wrong_shape(server: MetricsHTTPServer, session) -> None:
    server.set_json("/catalog", {"models": []})
    with pytest.raises(SourceError, match='expected \\{"data"'):
        await DigitalOceanPricing(url=f"{server.url}/catalog").fetch(session)


async def test_prometheus_sends_the_query_and_reads_model_name(server: MetricsHTTPServer, session) -> None:
    query = 'histogram_quantile(0.95, sum by (model_name, le) (rate(llm_latency_bucket{job="gw"}[5m])))'
    document = prometheus_vector({"openai/gpt-4o": 0.9, "anthropic/claude-sonnet": "1.7", "slow/nan": "NaN"})
    document["data"]["result"].append({"metric": {"job": "gw"}, "value": [1.0, "0.1"]})
    server.set_json("/prom/api/v1/query", document)

    result = await PrometheusMetrics(url=f"{server.url}/prom/", query=query).fetch(session)

    assert result.values == {"openai/gpt-4o": 0.9, "anthropic/claude-sonnet": 1.7}
    assert server.requests_to("/prom/api/v1/query")[0].query == {"query": [query]}
    assert len(result.skipped) == 2  # the NaN sample and the one without model_name


async def test_prometheus_duplicate_samples_keep_the_slowest(server: MetricsHTTPServer, session) -> None:
    document = prometheus_vector({"m/a": 0.5})
    document["data"]["result"].append({"metric": {"model_name": "m/a", "pod": "2"}, "value": [1.0, "0.8"]})
    server.set_json("/api/v1/query", document)
    result = await PrometheusMetrics(url=server.url, query="x").fetch(session)
    assert result.values == {"m/a": 0.8}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"},
            "parse error at char 3",
        ),
        ({"status": "success", "data": {"resultType": "scalar", "result": [1, "2"]}}, "instant vector"),
        ({"status": "success", "data": {"resultType": "matrix", "result": []}}, "instant vector"),
        ({"status": "success"}, "no data.result"),
    ],
)
async def test_prometheus_bad_answers(server: MetricsHTTPServer, session, document, expected: str) -> None:
    server.set_json("/api/v1/query", document)
    with pytest.raises(SourceError, match=expected):
        await PrometheusMetrics(url=server.url, query="up").fetch(session)


def test_sources_from_config() -> None:
    cost = source_from_config(
        CostMetricsSource.model_validate(
            {
                "type": "cost_metrics",
                "url": "http://127.0.0.1:1/c",
                "refresh_interval": "30s",
                "auth": {"type": "bearer", "token": "t"},
            }
        )
    )
    assert isinstance(cost, CostMetrics)
    assert (cost.bearer_token, cost.refresh_interval, cost.kind) == ("t", 30.0, "cost")

    do = source_from_config(
        DigitalOceanPricingSource.model_validate(
            {"type": "digitalocean_pricing", "model_aliases": {"a": "b"}}
        )
    )
    assert isinstance(do, DigitalOceanPricing)
    assert do.url == "https://api.digitalocean.com/v2/gen-ai/models/catalog"
    assert do.model_aliases == {"a": "b"}

    prom = source_from_config(
        PrometheusMetricsSource.model_validate(
            {
                "type": "prometheus_metrics",
                "url": "http://127.0.0.1:9090",
                "query": "up",
                "refresh_interval": 60,
            }
        )
    )
    assert isinstance(prom, PrometheusMetrics)
    assert (prom.query, prom.kind, prom.endpoint) == ("up", "latency", "http://127.0.0.1:9090/api/v1/query")

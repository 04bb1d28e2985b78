"""Live metric sources (SPEC §5): where cost and latency numbers come from.

Each source is one HTTP GET that turns a document into a flat table `{model name: number}`:
`cost_metrics` and `digitalocean_pricing` give a cost (input + output price per million tokens),
`prometheus_metrics` gives a latency (lower is faster). The store (`store.py`) schedules the fetches
and keeps the last good table; a source only fetches and parses, and raises `SourceError` with a
one-line reason when it cannot.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from llmroute.config.models import (
    DIGITALOCEAN_CATALOG_URL,
    CostMetricsSource,
    DigitalOceanPricingSource,
    PrometheusMetricsSource,
)

MetricKind = Literal["cost", "latency"]
# Bodies above this are not a price list or a query result; refuse them instead of buffering them.
MAX_BODY_BYTES = 16 * 1024 * 1024


class SourceError(Exception):
    """A fetch failed or returned something we cannot use. The message is one line, safe to log."""


@dataclass(slots=True)
class FetchResult:
    """A parsed table plus the entries that were skipped (shown in logs and the admin endpoint)."""

    values: dict[str, float]
    skipped: list[str] = field(default_factory=list)


class MetricsSource(Protocol):
    """The interface the store schedules. `name` is the config `type`; the config allows one per type."""

    name: str
    kind: MetricKind
    refresh_interval: float
    timeout: float

    @property
    def display_url(self) -> str:
        """The URL without credentials, for logs and the admin endpoint."""
        ...

    async def fetch(self, session: aiohttp.ClientSession) -> FetchResult: ...


def redact_url(url: str) -> str:
    """The URL with any `user:password@` removed so it can be logged."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


async def get_json(
    session: aiohttp.ClientSession,
    url: str,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> Any:
    """GET `url` and decode its JSON body; every failure becomes a `SourceError` naming the cause."""
    shown = redact_url(url)
    try:
        async with session.get(
            url,
            headers=dict(headers or {}),
            params=dict(params) if params else None,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            body = await response.content.read(MAX_BODY_BYTES + 1)
            status = response.status
    except TimeoutError as exc:
        raise SourceError(f"GET {shown} timed out after {timeout:g}s") from exc
    except aiohttp.InvalidURL as exc:
        raise SourceError(f"invalid url {shown!r}") from exc
    except aiohttp.ClientError as exc:
        raise SourceError(f"GET {shown} failed: {exc.__class__.__name__}: {exc}") from exc
    if len(body) > MAX_BODY_BYTES:
        raise SourceError(f"GET {shown}: response larger than {MAX_BODY_BYTES} bytes")
    if status != 200:
        snippet = body[:200].decode("utf-8", "replace").replace("\n", " ").strip()
        raise SourceError(f"GET {shown} answered HTTP {status}" + (f": {snippet}" if snippet else ""))
    try:
        return json.loads(body)
    except ValueError as exc:
        raise SourceError(f"GET {shown}: response is not JSON ({exc})") from exc


def _number(value: Any) -> float | None:
    """A finite float from a JSON number or numeric string, else None (bools are not numbers here)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _price_sum(prices: Any, input_key: str, output_key: str) -> float | None:
    if not isinstance(prices, Mapping):
        return None
    input_price = _number(prices.get(input_key))
    output_price = _number(prices.get(output_key))
    if input_price is None or output_price is None:
        return None
    return input_price + output_price


@dataclass(slots=True)
class CostMetrics:
    """`cost_metrics`: `{"<model>": {"input_per_million": f, "output_per_million": f}}` from `url`."""

    url: str
    refresh_interval: float = 300.0
    timeout: float = 5.0
    bearer_token: str | None = None
    name: str = "cost_metrics"
    kind: MetricKind = "cost"

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    async def fetch(self, session: aiohttp.ClientSession) -> FetchResult:
        headers = {"Accept": "application/json"}
        if self.bearer_token:
            headers["Authorization"] = f"Bearer {self.bearer_token}"
        document = await get_json(session, self.url, timeout=self.timeout, headers=headers)
        if not isinstance(document, dict):
            raise SourceError(
                f"{self.display_url}: expected a JSON object mapping model name to "
                f'{{"input_per_million", "output_per_million"}}, got {type(document).__name__}'
            )
        result = FetchResult(values={})
        for model, prices in document.items():
            cost = _price_sum(prices, "input_per_million", "output_per_million")
            if cost is None:
                result.skipped.append(f"{model}: needs numeric input_per_million and output_per_million")
            else:
                result.values[str(model)] = cost
        return result


@dataclass(slots=True)
class DigitalOceanPricing:
    """`digitalocean_pricing`: the DO model catalog, stored under `model_id` or its alias."""

    url: str = DIGITALOCEAN_CATALOG_URL
    refresh_interval: float = 300.0
    timeout: float = 5.0
    model_aliases: Mapping[str, str] = field(default_factory=dict)
    name: str = "digitalocean_pricing"
    kind: MetricKind = "cost"

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    async def fetch(self, session: aiohttp.ClientSession) -> FetchResult:
        document = await get_json(
            session, self.url, timeout=self.timeout, headers={"Accept": "application/json"}
        )
        entries = document.get("data") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise SourceError(f'{self.display_url}: expected {{"data": [catalog entries]}}')
        result = FetchResult(values={})
        for index, entry in enumerate(entries):
            model_id = entry.get("model_id") if isinstance(entry, dict) else None
            if not isinstance(model_id, str) or not model_id:
                result.skipped.append(f"data[{index}]: no model_id")
                continue
            cost = _price_sum(entry.get("pricing"), "input_price_per_million", "output_price_per_million")
            if cost is None:
                # Catalog entries without token pricing (e.g. embeddings-only or free tiers) are normal.
                result.skipped.append(
                    f"{model_id}: needs pricing.input_price_per_million and pricing.output_price_per_million"
                )
                continue
            result.values[self.model_aliases.get(model_id, model_id)] = cost
        return result


@dataclass(slots=True)
class PrometheusMetrics:
    """`prometheus_metrics`: an instant query whose samples carry a `model_name` label; value = latency."""

    url: str
    query: str
    refresh_interval: float = 300.0
    timeout: float = 5.0
    name: str = "prometheus_metrics"
    kind: MetricKind = "latency"

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    @property
    def endpoint(self) -> str:
        return f"{self.url.rstrip('/')}/api/v1/query"

    async def fetch(self, session: aiohttp.ClientSession) -> FetchResult:
        document = await get_json(
            session,
            self.endpoint,
            timeout=self.timeout,
            headers={"Accept": "application/json"},
            params={"query": self.query},
        )
        if not isinstance(document, dict):
            raise SourceError(f"{self.display_url}: not a Prometheus API response")
        if document.get("status") != "success":
            reason = document.get("error") or document.get("status") or "no status"
            raise SourceError(f"{self.display_url}: query {self.query!r} failed: {reason}")
        data = document.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("result"), list):
            raise SourceError(f"{self.display_url}: response has no data.result list")
        if data.get("resultType") != "vector":
            raise SourceError(
                f"{self.display_url}: query {self.query!r} returned a {data.get('resultType')}, "
                "expected an instant vector with a model_name label"
            )
        result = FetchResult(values={})
        for sample in data["result"]:
            labels = sample.get("metric") if isinstance(sample, dict) else None
            model = labels.get("model_name") if isinstance(labels, dict) else None
            if not isinstance(model, str) or not model:
                result.skipped.append(f"sample without a model_name label: {labels}")
                continue
            pair = sample.get("value")
            latency = _number(pair[1]) if isinstance(pair, list) and len(pair) == 2 else None
            if latency is None:
                # NaN is what histogram_quantile/ratios give for a model without traffic in the window.
                result.skipped.append(f"{model}: value {pair!r} is not a finite number")
                continue
            if model in result.values:
                # The query did not aggregate by model_name; keep the slowest so we never flatter a model.
                result.skipped.append(f"{model}: several samples; aggregate the query by model_name")
                latency = max(latency, result.values[model])
            result.values[model] = latency
        return result


SourceConfig = CostMetricsSource | PrometheusMetricsSource | DigitalOceanPricingSource


def source_from_config(config: SourceConfig) -> MetricsSource:
    """The runtime source for one `model_metrics_sources` entry."""
    if isinstance(config, CostMetricsSource):
        return CostMetrics(
            url=config.url,
            refresh_interval=config.refresh_interval,
            timeout=config.timeout,
            bearer_token=config.auth.token if config.auth else None,
        )
    if isinstance(config, DigitalOceanPricingSource):
        return DigitalOceanPricing(
            url=config.url,
            refresh_interval=config.refresh_interval,
            timeout=config.timeout,
            model_aliases=dict(config.model_aliases),
        )
    if isinstance(config, PrometheusMetricsSource):
        return PrometheusMetrics(
            url=config.url,
            query=config.query,
            refresh_interval=config.refresh_interval,
            timeout=config.timeout,
        )
    raise TypeError(f"unknown metrics source config {type(config).__name__}")

"""Live cost/latency data and ranking of a route's candidate models (SPEC §5, seed 003)."""

from llmroute.ranking.rank import PREFER_KIND, MetricsLookup, rank
from llmroute.ranking.sources import (
    CostMetrics,
    DigitalOceanPricing,
    FetchResult,
    MetricsSource,
    PrometheusMetrics,
    SourceError,
    source_from_config,
)
from llmroute.ranking.store import MetricsStore

__all__ = [
    "PREFER_KIND",
    "CostMetrics",
    "DigitalOceanPricing",
    "FetchResult",
    "MetricsLookup",
    "MetricsSource",
    "MetricsStore",
    "PrometheusMetrics",
    "SourceError",
    "rank",
    "source_from_config",
]

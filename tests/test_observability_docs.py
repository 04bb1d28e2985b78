"""The Grafana dashboard and docs/observability.md name only metrics the gateway exports (no typos, no stale names)."""

from __future__ import annotations

import json
import re

from prometheus_client.metrics import MetricWrapperBase

from conftest import REPO
from llmroute.observability import metrics

DOCS = REPO / "docs"
NAME = re.compile(r"\bllmroute_[a-z_]+")
SUFFIXES = ("_bucket", "_count", "_sum")
# What SPEC §9 asks for; other parts of the gateway add their own metrics beside these.
CORE = {
    "llmroute_requests_total",
    "llmroute_request_duration_seconds",
    "llmroute_gateway_overhead_seconds",
    "llmroute_routing_decisions_total",
    "llmroute_router_latency_seconds",
    "llmroute_session_pins_total",
    "llmroute_session_store_errors_total",
    "llmroute_upstream_latency_seconds",
    "llmroute_upstream_time_to_first_token_seconds",
    "llmroute_upstream_errors_total",
    "llmroute_failovers_total",
    "llmroute_cooldowns_total",
    "llmroute_tokens_total",
    "llmroute_metric_source_refresh_failures_total",
}


def exported_names() -> set[str]:
    """Sample names as Prometheus sees them (counters with `_total`), from the metrics module."""
    names = set()
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        for family in value.describe():
            names.add(family.name + "_total" if family.type == "counter" else family.name)
    return names


def family(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix) and not name.endswith("_total"):
            return name.removesuffix(suffix)
    return name


def test_dashboard_queries_only_exported_metrics() -> None:
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    assert exprs
    used = {family(name) for expr in exprs for name in NAME.findall(expr)}
    exported = exported_names()
    assert used - exported == set()
    # The core request, routing and upstream metrics each have a panel.
    assert CORE - used == set()


def test_docs_name_only_exported_metrics() -> None:
    text = (DOCS / "observability.md").read_text()
    documented = {family(name) for name in NAME.findall(text)}
    assert documented - exported_names() == set()
    assert CORE - documented == set()

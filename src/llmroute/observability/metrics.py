"""Prometheus metrics (SPEC §9). Every metric the gateway exports is declared here, once.

Names are prefixed `llmroute_`. Labels are bounded sets (endpoint paths we serve, configured
model and route names, small enums) so cardinality stays flat whatever clients send.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Latency buckets in seconds, from 50 µs (gateway overhead) to 5 min (long generations).
_FAST = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
_SLOW = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

REQUESTS = Counter("llmroute_requests_total", "HTTP requests served", ["endpoint", "status"])
REQUEST_DURATION = Histogram(
    "llmroute_request_duration_seconds", "Total time to answer a request", ["endpoint"], buckets=_SLOW
)
GATEWAY_OVERHEAD = Histogram(
    "llmroute_gateway_overhead_seconds",
    "Time the gateway itself added to a request (total minus upstream time)",
    ["endpoint"],
    buckets=_FAST,
)

ROUTING_DECISIONS = Counter(
    "llmroute_routing_decisions_total",
    "Routing decisions by route and chosen model",
    ["route", "model", "source"],
)
ROUTER_LATENCY = Histogram(
    "llmroute_router_latency_seconds",
    "Time the router took to classify a request",
    ["backend"],
    buckets=_FAST,
)
ROUTER_FAILURES = Counter(
    "llmroute_router_failures_total",
    "Router calls that failed and fell back to the fallback model",
    ["backend"],
)
CASCADE_DECISIONS = Counter(
    "llmroute_cascade_decisions_total", "Which backend decided in the cascade router", ["backend"]
)

SESSION_PINS = Counter("llmroute_session_pins_total", "Session pin look-ups", ["result"])  # hit|miss
# Generated route examples (docs/routing.md): one count per route set and outcome:
# generated | loaded (from disk or Redis) | failed (generator down, hung or answered garbage; retried later)
ROUTE_EXAMPLE_SETS = Counter(
    "llmroute_route_example_sets_total", "Route sets given generated examples, by outcome", ["result"]
)
ROUTE_EXAMPLE_STORE_ERRORS = Counter(
    "llmroute_route_example_store_errors_total",
    "Failed reads and writes of the generated-examples cache",
    ["store", "operation"],  # store: disk|redis, operation: read|write|get|set
)
SESSION_STORE_ERRORS = Counter(
    "llmroute_session_store_errors_total",
    "Session store calls that failed or timed out",
    ["store", "operation"],
)

UPSTREAM_LATENCY = Histogram(
    "llmroute_upstream_latency_seconds", "Upstream response time (to the last byte)", ["model"], buckets=_SLOW
)
UPSTREAM_TTFT = Histogram(
    "llmroute_upstream_time_to_first_token_seconds",
    "Time to the first streamed byte",
    ["model"],
    buckets=_SLOW,
)
UPSTREAM_ERRORS = Counter(
    "llmroute_upstream_errors_total", "Upstream failures by model and class", ["model", "error"]
)  # error: status_429|status_5xx|status_4xx|timeout|connect|stream_reset
FAILOVERS = Counter(
    "llmroute_failovers_total", "Requests that moved on to the next candidate", ["from_model", "reason"]
)
TRANSLATION_DROPS = Counter(
    "llmroute_translation_dropped_total",
    "Request fields, blocks and roles left out when translating to a provider's API (no counterpart)",
    ["client", "upstream", "field"],
)  # field: a fixed set of names (wire/drops.py), unknown ones as "other"
COOLDOWNS = Counter("llmroute_cooldowns_total", "Models put in cooldown after a 429/5xx", ["model"])
TOKENS = Counter(
    "llmroute_tokens_total", "Tokens reported by upstream usage", ["model", "kind"]
)  # input|output
# Deployments of one model (entries sharing a `name`; proxy/deployments.py). The deployment label is
# the entry's deployment_id or its model name, never a key.
DEPLOYMENT_REQUESTS = Counter(
    "llmroute_deployment_requests_total",
    "Upstream attempts on a deployment of a model with several",
    ["model", "deployment", "outcome"],
)  # outcome: ok|status_4xx|status_429|status_5xx|timeout|connect|...
DEPLOYMENT_IN_FLIGHT = Gauge(
    "llmroute_deployment_in_flight",
    "Upstream requests waiting on a deployment",
    ["model", "deployment"],
    multiprocess_mode="livesum",
)

METRIC_SOURCE_REFRESH_FAILURES = Counter(
    "llmroute_metric_source_refresh_failures_total", "Failed refreshes of cost/latency sources", ["source"]
)
METRIC_SOURCE_LAST_SUCCESS = Gauge(
    "llmroute_metric_source_last_success_timestamp_seconds",
    "Unix time of the last good refresh",
    ["source"],
    # With several workers (each refreshes on its own) report the most recent one.
    multiprocess_mode="max",
)

# --- governance (governance/, docs/governance.md) ---------------------------------------------------

AUTH_FAILURES = Counter(
    "llmroute_auth_failures_total", "Requests refused by gateway API key checks", ["reason"]
)  # reason: missing|invalid|model_not_allowed
RATE_LIMITED = Counter(
    "llmroute_rate_limited_total", "Requests refused by a rate limit rule", ["rule", "kind"]
)  # kind: requests|tokens
SHARED_STATE_ERRORS = Counter(
    "llmroute_shared_state_errors_total",
    "Shared state (Redis) calls that failed or timed out, and what the gateway did instead",
    ["operation", "outcome"],
)  # operation: rate_limit|cooldown; outcome: allowed|denied|local
GUARDRAIL_DECISIONS = Counter(
    "llmroute_guardrail_decisions_total", "Guardrail outcomes", ["guardrail", "stage", "action"]
)  # stage: request|response; action: pass|redact|block|error_allow|error_deny
CAPACITY_REJECTIONS = Counter(
    "llmroute_capacity_rejections_total", "Requests refused because max_concurrent_upstream stayed full"
)
CLIENT_CUTOFFS = Counter(
    "llmroute_client_cutoffs_total",
    "Connections closed because the client was too slow or too big",
    ["reason"],
)  # reason: header_timeout|body_timeout|header_too_large
CONFIG_RELOADS = Counter("llmroute_config_reloads_total", "Config reloads", ["result"])  # ok|error

"""The YAML configuration, as pydantic models (SPEC §2).

Every model forbids unknown keys so a typo is an error with its path instead of a setting that
silently does nothing. Cross-field rules that need the whole document (models referenced by
routes and aliases, metric sources vs. selection policies, the version gate) live in
`validate.py`; this module only describes shapes and per-field rules.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llmroute.durations import parse_duration
from llmroute.governance import schema as governance

Duration = Annotated[float, Field(gt=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- listeners -----------------------------------------------------------------------------------


class Listener(Strict):
    name: str = "model_listener"
    type: Literal["model"] = "model"
    address: str = "0.0.0.0"
    port: int = Field(default=12000, ge=0, le=65535)
    timeout: Duration = 300.0
    # Accepted for compatibility with the legacy `egress_traffic` form (seed 004); the gateway speaks
    # every client format on every listener, so it changes nothing.
    message_format: Literal["openai", "anthropic"] | None = None

    @field_validator("timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


# --- providers -----------------------------------------------------------------------------------


class InlinePreference(Strict):
    """A route attached to a provider (legacy form, seeds 001 and 004) or posted inline by a client."""

    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    examples: list[str] = Field(default_factory=list)


class ModelProvider(Strict):
    model: str = Field(min_length=1)
    access_key: str | None = None
    base_url: str | None = None
    default: bool = False
    name: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    passthrough_auth: bool = False
    provider_interface: Literal["openai", "anthropic"] | None = None
    # Azure OpenAI's `api-version` query parameter.
    api_version: str | None = None
    routing_preferences: list[InlinePreference] | None = None
    # Deployments are entries sharing one `name` (docs/deploy.md). This one's share of the model's traffic.
    weight: float = Field(default=1.0, gt=0)
    # Its label in metrics, logs and cooldowns (never a key); default: the model name, numbered #1, #2...
    deployment_id: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:/#@-]+$"
    )
    # Requests per minute this gateway process sends it; past that it is skipped like a cooling one.
    requests_per_minute: int | None = Field(default=None, gt=0)

    @field_validator("model")
    @classmethod
    def _provider_prefix(cls, value: str) -> str:
        provider, sep, model_id = value.partition("/")
        if not sep or not provider or not model_id:
            raise ValueError(f"model '{value}' must be written as <provider>/<model_id>, e.g. openai/gpt-4o")
        return value

    @property
    def provider(self) -> str:
        return self.model.partition("/")[0]

    @property
    def model_id(self) -> str:
        return self.model.partition("/")[2]

    @property
    def is_wildcard(self) -> bool:
        return self.model_id == "*"

    @property
    def display_name(self) -> str:
        return self.name or self.model


class ModelAlias(Strict):
    target: str = Field(min_length=1)


# --- routing preferences -------------------------------------------------------------------------


class SelectionPolicy(Strict):
    prefer: Literal["cheapest", "fastest", "none"] = "none"


class RoutingPreference(Strict):
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    models: list[str] = Field(min_length=1)
    selection_policy: SelectionPolicy = Field(default_factory=SelectionPolicy)
    # Our extension: sample requests that belong to this route; they sharpen the embedded router.
    examples: list[str] = Field(default_factory=list)


# --- metric sources (seed 003) -------------------------------------------------------------------


class BearerAuth(Strict):
    type: Literal["bearer"] = "bearer"
    token: str


class _Source(Strict):
    refresh_interval: Duration = 300.0
    # Bound on one fetch; a slow source never blocks startup or requests for longer than this.
    timeout: Duration = 5.0

    @field_validator("refresh_interval", "timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class CostMetricsSource(_Source):
    type: Literal["cost_metrics"]
    url: str
    auth: BearerAuth | None = None


class PrometheusMetricsSource(_Source):
    type: Literal["prometheus_metrics"]
    url: str
    query: str


DIGITALOCEAN_CATALOG_URL = "https://api.digitalocean.com/v2/gen-ai/models/catalog"


class DigitalOceanPricingSource(_Source):
    type: Literal["digitalocean_pricing"]
    url: str = DIGITALOCEAN_CATALOG_URL
    model_aliases: dict[str, str] = Field(default_factory=dict)


MetricsSource = Annotated[
    CostMetricsSource | PrometheusMetricsSource | DigitalOceanPricingSource,
    Field(discriminator="type"),
]


# --- routing section -----------------------------------------------------------------------------


class SessionStore(Strict):
    type: Literal["memory", "redis"] = "memory"
    url: str | None = None
    # Every Redis call is bounded by this; past it the request routes unpinned.
    timeout_ms: int = Field(default=100, gt=0)
    key_prefix: str = "llmroute:session:"

    @model_validator(mode="after")
    def _redis_needs_url(self) -> SessionStore:
        if self.type == "redis" and not self.url:
            raise ValueError("session_store type redis needs a url, e.g. redis://localhost:6379/0")
        return self


class RouteExamples(Strict):
    """`routing.router.examples`: example requests for routes that have none (docs/routing.md).

    A configured model writes them once per route set (`generator`), or a reviewed file written by
    `llmroute routes expand` supplies them (`include`). Hand-written `examples` on a route always win.
    """

    # the declared model that writes examples (its full name, `name` or bare id); unset: include only
    generator: str | None = None
    # examples asked for per route
    per_route: int = Field(default=24, ge=3, le=50)
    # one JSON file per route set, kept across restarts; unset: memory (and Redis, when configured)
    cache_dir: str | None = None
    # a YAML file written by `llmroute routes expand`, relative to the config file
    include: str | None = None
    # one generator call (one route) may take this long
    timeout_ms: int = Field(default=60_000, gt=0)
    # generator calls in flight at once, over all route sets
    max_concurrency: int = Field(default=2, gt=0)
    # route sets whose examples are kept in memory (inline sets beyond it are evicted, oldest first)
    max_route_sets: int = Field(default=256, gt=0)
    # wait before retrying a failed route set; doubles with each failure, up to an hour
    retry_seconds: float = Field(default=30.0, gt=0)


class LoadBalancing(Strict):
    """How requests spread over the deployments of one model (entries sharing a `name`)."""

    # weighted: random, in proportion to `weight`; least_in_flight: fewest requests waiting per unit of weight.
    strategy: Literal["weighted", "least_in_flight"] = "weighted"
    # A deployment that fails (5xx, timeout, connect error) rests this long; a 429 rests for its Retry-After.
    failure_cooldown: Duration = 10.0

    @field_validator("failure_cooldown", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class RouterConfig(Strict):
    type: Literal["embedded", "arch_router", "cascade"] = "embedded"
    # embedded
    model_path: str | None = None
    tokenizer_path: str | None = None
    # embedded: the z-score the best route needs when it has examples (default 2.25, docs/routing.md)
    threshold: float | None = None
    # embedded: the z-score the best route needs with descriptions only (default 1.25)
    threshold_descriptions: float | None = None
    # arch_router (also used by cascade)
    base_url: str | None = None
    model: str = "Arch-Router"
    api_key: str | None = None
    timeout_ms: int = Field(default=3000, gt=0)
    max_context_tokens: int = Field(default=2048, gt=0)
    max_concurrency: int = Field(default=16, gt=0)
    # cascade: ask arch_router when the embedded router's margin is below this
    cascade_margin: float = Field(default=0.05, ge=0)
    # example requests written for routes that have none (embedded and cascade routers)
    examples: RouteExamples | None = None

    @model_validator(mode="after")
    def _remote_needs_endpoint(self) -> RouterConfig:
        if self.type in ("arch_router", "cascade") and not self.base_url:
            raise ValueError(f"router type {self.type} needs base_url (an OpenAI-compatible endpoint)")
        return self


class AgentSessions(Strict):
    """Coding agents' own session ids pin their sessions (routing/agent_sessions.py)."""

    enabled: bool = True
    # Only a user's turn re-routes an agent session; tool results and continuations keep its model.
    route_on_user_only: bool = True


class Routing(Strict):
    session_ttl_seconds: int = Field(default=600, gt=0)
    # Deployments of one model (entries sharing a `name`): how requests spread over them.
    load_balancing: LoadBalancing = Field(default_factory=LoadBalancing)
    session_max_entries: int = Field(default=10000, gt=0)
    session_store: SessionStore = Field(default_factory=SessionStore)
    router: RouterConfig = Field(default_factory=RouterConfig)
    agent_sessions: AgentSessions = Field(default_factory=AgentSessions)


# --- observability -------------------------------------------------------------------------------


class Tracing(Strict):
    """OpenTelemetry tracing (docs/observability.md). Unset keys fall back to the standard OTEL_* variables."""

    # OTLP over HTTP (protobuf): a collector's base URL (`http://localhost:4318`, `/v1/traces` is added)
    # or the full traces URL. Unset: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT.
    otlp_endpoint: str | None = None
    # Share of new traces to record (0..1); a sampled incoming `traceparent` is always followed.
    sampling_ratio: float | None = Field(default=None, ge=0, le=1)
    service_name: str | None = Field(default=None, min_length=1)

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(
                "must be an http:// or https:// URL of an OTLP/HTTP collector, e.g. http://localhost:4318"
            )
        return value


# --- routing console ------------------------------------------------------------------------------


class Console(Strict):
    """The routing console in the browser at /console (docs/console.md)."""

    # Off by default. With `auth` keys configured, only keys with `admin: true` may use it.
    enabled: bool = False
    # Show each recent request's last user message in the live view (off: metadata only).
    show_content: bool = False
    # How many recent requests the live view keeps (per gateway process).
    recent: int = Field(default=200, ge=1, le=10000)


# --- the document --------------------------------------------------------------------------------


class Config(Strict):
    version: str | None = None
    listeners: list[Listener] = Field(default_factory=lambda: [Listener()])
    model_providers: list[ModelProvider] = Field(min_length=1)
    model_aliases: dict[str, ModelAlias] = Field(default_factory=dict)
    routing_preferences: list[RoutingPreference] = Field(default_factory=list)
    model_metrics_sources: list[MetricsSource] = Field(default_factory=list)
    routing: Routing = Field(default_factory=Routing)
    tracing: Tracing | None = None
    # Governance (docs/governance.md): gateway API keys, rate limits, guardrails, limits, shared state.
    auth: governance.Auth | None = None
    rate_limits: governance.RateLimits | None = None
    guardrails: governance.Guardrails | None = None
    limits: governance.Limits | None = None
    shared_state: governance.SharedState | None = None
    console: Console = Field(default_factory=Console)

    @model_validator(mode="after")
    def _governance_cross_check(self) -> Config:
        errors = governance.cross_check(self.auth, self.rate_limits, self.shared_state)
        if errors:
            raise ValueError("; ".join(errors))
        return self

    @property
    def listener(self) -> Listener:
        """The model listener (the first one of type model)."""
        return self.listeners[0]

"""The decision pipeline (SPEC §3): which models should serve this request, in which order.

Shared by the decision-only endpoints (/routing/v1/*) and the proxy (/v1/*), so both always agree.
Order: inline preferences → session pin → alias → router + ranking → the request's model or the
default. The router failing never fails the request: it degrades to the fallback, logs and counts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from llmroute.config.models import InlinePreference, RoutingPreference
from llmroute.config.resolved import LoadedConfig
from llmroute.errors import GatewayError
from llmroute.observability import metrics
from llmroute.observability.hot_metrics import HotCounter
from llmroute.observability.record import note_decision, note_prompt
from llmroute.ranking.rank import rank
from llmroute.routing.agent_sessions import AgentSession
from llmroute.routing.examples.service import ExampleService
from llmroute.routing.inline_checks import (
    DEFAULT_LIMITS,
    InlineRouteError,
    check_count,
    check_route,
    check_total,
)
from llmroute.routing.sessions import Pin, SessionStore
from llmroute.routing.types import Classification, Route, Router
from llmroute.wire.conversation import Message

log = logging.getLogger("llmroute.routing")

# Request headers that name a session, in priority order (SPEC §6).
SESSION_HEADERS = ("x-model-affinity", "x-session-id")
MAX_SESSION_ID_LENGTH = 256


class DecisionError(GatewayError):
    """The request cannot be routed as sent (bad inline preferences, unknown model): a 4xx."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid_request") -> None:
        super().__init__(status, message, code)


@dataclass(slots=True)
class Decision:
    # Candidates in the order to try them. Empty only when nothing could be resolved (see model_error).
    models: list[str]
    route: str | None
    # How the decision was made: pinned | alias | route | model | default
    source: str
    fallback_model: str | None
    session_id: str | None = None
    pinned: bool = False
    router_backend: str | None = None
    router_seconds: float = 0.0
    router_error: str | None = None
    # What the router reported beyond the route (scores, evidence, threshold): `llmroute route --explain`
    router_details: dict[str, Any] | None = None
    # Why `models` is empty: the request named a model we do not serve.
    model_error: str | None = None
    # For a pinned decision: how the pinned one was made (route | alias | model | default).
    pinned_source: str | None = None
    # The routes came with the request (inline routing_preferences), not from the config.
    inline_routes: bool = False


def session_id_from(headers: Any) -> str | None:
    """The session id from `X-Model-Affinity` (first) or `X-Session-Id`; blank or absurdly long ids are ignored."""
    for name in SESSION_HEADERS:
        value = headers.get(name)
        if value:
            value = value.strip()
            if value and len(value) <= MAX_SESSION_ID_LENGTH:
                return value
    return None


def scoped_pin_key(tenant: str, key: str) -> str:
    """The store key of a tenant's pin. The name's length comes first so that no (tenant, session
    id) pair can spell another's. Without auth there are no tenants and keys stay as they were."""
    return f"key:{len(tenant)}:{tenant}:{key}"


class DecisionService:
    def __init__(
        self,
        config: LoadedConfig,
        router: Router,
        sessions: SessionStore | None = None,
        metrics_store: Any = None,
        examples: ExampleService | None = None,
    ) -> None:
        self.config = config
        self.router = router
        self.sessions = sessions
        self.metrics_store = metrics_store
        self.examples = examples  # generated route examples (routing.router.examples)
        limits = config.raw.limits
        self.inline_limits = limits.inline_routes if limits is not None else DEFAULT_LIMITS
        # Requests routed on their own (inline) routes take turns at the router: a client sending
        # new route sets (each embedded before it is used) cannot hold every router thread.
        self._inline_slots = asyncio.Semaphore(self.inline_limits.max_concurrent)

    # --- inline preferences ----------------------------------------------------------------------

    def inline_routes(self, body: dict[str, Any]) -> tuple[Route, ...] | None:
        """Strip `routing_preferences` / `routing_policy` from the body; their routes, or None if absent."""
        preferences = body.pop("routing_preferences", None)
        policy = body.pop("routing_policy", None)
        if preferences is None and policy is None:
            return None
        limits = self.inline_limits
        routes: list[Route] = []
        try:
            check_count(preferences, policy, limits)
            if preferences is not None:
                routes.extend(self._parse_preferences(preferences))
            if policy is not None:
                routes.extend(self._parse_policy(policy))
            check_total(routes, limits)
        except InlineRouteError as exc:
            raise DecisionError(str(exc)) from None
        names = [r.name for r in routes]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None and preferences is not None:
            raise DecisionError(f"routing_preferences: duplicate route name '{duplicate}'")
        return tuple(_merge_same_name(routes))

    def _resolve(self, where: str, ref: Any) -> str:
        if not isinstance(ref, str) or not ref:
            raise DecisionError(f"{where}: must be a model name string")
        full = self.config.resolve_model(ref)
        if full is None:
            available = ", ".join(sorted(self.config.models)) or "none"
            raise DecisionError(
                f"{where}: model '{ref}' is not declared in model_providers (available: {available})"
            )
        return full

    def _parse_preferences(self, raw: Any) -> list[Route]:
        if not isinstance(raw, list) or not raw:
            raise DecisionError(
                "routing_preferences must be a non-empty array of {name, description, models}"
            )
        routes = []
        for i, item in enumerate(raw):
            try:
                pref = RoutingPreference.model_validate(item)
            except ValidationError as exc:
                raise DecisionError(f"routing_preferences[{i}]: {_first_error(exc)}") from None
            route = Route(pref.name, pref.description, (), pref.selection_policy.prefer, tuple(pref.examples))
            check_route(route, f"routing_preferences[{i}]", self.inline_limits)
            models = tuple(
                self._resolve(f"routing_preferences[{i}].models[{j}]", m) for j, m in enumerate(pref.models)
            )
            routes.append(replace(route, models=models))
        return routes

    def _parse_policy(self, raw: Any) -> list[Route]:
        if not isinstance(raw, list) or not raw:
            raise DecisionError("routing_policy must be a non-empty array of {model, routing_preferences}")
        routes = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict) or set(item) - {"model", "routing_preferences"}:
                raise DecisionError(
                    f"routing_policy[{i}] must be an object with 'model' and 'routing_preferences'"
                )
            model = self._resolve(f"routing_policy[{i}].model", item.get("model"))
            prefs = item.get("routing_preferences")
            if not isinstance(prefs, list) or not prefs:
                raise DecisionError(f"routing_policy[{i}].routing_preferences must be a non-empty array")
            for j, pref_raw in enumerate(prefs):
                try:
                    pref = InlinePreference.model_validate(pref_raw)
                except ValidationError as exc:
                    raise DecisionError(
                        f"routing_policy[{i}].routing_preferences[{j}]: {_first_error(exc)}"
                    ) from None
                route = Route(pref.name, pref.description, (model,), "none", tuple(pref.examples))
                check_route(route, f"routing_policy[{i}].routing_preferences[{j}]", self.inline_limits)
                routes.append(route)
        return routes

    # --- the pipeline ----------------------------------------------------------------------------

    async def decide(
        self,
        body: dict[str, Any],
        conversation: Sequence[Message],
        session_id: str | None = None,
        agent: AgentSession | None = None,
        *,
        tenant: str | None = None,
    ) -> Decision:
        """Decide for one request. Mutates `body`: inline preferences are stripped (never forwarded).

        `session_id` is the client's own session header; `agent` the session a coding agent sent,
        used only without one (routing/agent_sessions.py). `tenant` (the caller's gateway key
        name) scopes the pin: another key sending the same session id gets a pin of its own.
        """
        started = time.perf_counter()
        note_prompt(conversation)  # a no-op unless the routing console shows content
        routes = self.inline_routes(body)
        inline = routes is not None
        if routes is None:
            routes = self.config.routes
        requested = body.get("model")
        requested = requested if isinstance(requested, str) else None
        fallback, model_error = self._fallback(requested)

        pin_key, look_up = session_id, True
        if session_id is None and agent is not None and routes:
            # Only a router's choice can change between turns: without routes an agent's requests
            # need no pin (and no session store round trip).
            session_id, pin_key, look_up = agent.id, agent.key, not agent.reroute
        if pin_key is not None and tenant is not None:
            pin_key = scoped_pin_key(tenant, pin_key)
        if pin_key is not None and self.sessions is not None and look_up:
            pin = await self.sessions.get(pin_key)
            if pin is not None:
                metrics.SESSION_PINS.labels(result="hit").inc()
                pinned = Decision(
                    list(pin.models),
                    pin.route,
                    "pinned",
                    fallback,
                    session_id,
                    pinned=True,
                    pinned_source=pin.source,
                )
                return self._observed(pinned, started)
            metrics.SESSION_PINS.labels(result="miss").inc()

        if inline and routes:
            async with self._inline_slots:
                decision = await self._decide_fresh(requested, routes, conversation, fallback, model_error)
        else:
            decision = await self._decide_fresh(requested, routes, conversation, fallback, model_error)
        decision.session_id = session_id
        decision.inline_routes = inline
        if pin_key is not None and self.sessions is not None and decision.models:
            await self.sessions.put(pin_key, Pin(tuple(decision.models), decision.route, decision.source))
        return self._observed(decision, started)

    def _observed(self, decision: Decision, started: float) -> Decision:
        """Count the decision and note it for the request's routing span and log line.

        The metric's labels are bounded whatever the client sends: an inline route counts as
        `inline`, a model a wildcard serves as `provider/*` (docs/observability.md)."""
        config = self.config
        model = config.model_label(decision.models[0]) if decision.models else "none"
        route = config.route_label(decision.route, decision.inline_routes)
        _decision_counter(route, model, decision.source).inc(1)
        note_decision(decision, started)
        return decision

    async def _decide_fresh(
        self,
        requested: str | None,
        routes: Sequence[Route],
        conversation: Sequence[Message],
        fallback: str | None,
        model_error: str | None,
    ) -> Decision:
        if requested is not None and requested in self.config.aliases:
            return Decision([self.config.aliases[requested]], None, "alias", fallback)

        backend, seconds, error, details = None, 0.0, None, None
        if routes:
            if self.examples is not None:
                routes = self.examples.apply(tuple(routes))
            classification, seconds, error = await self._classify(conversation, routes)
            backend = classification.backend if classification else self.router.name
            details = classification.details if classification else None
            route = _find(routes, classification.route) if classification else None
            if route is not None:
                return Decision(
                    rank(route.models, route.prefer, self.metrics_store),
                    route.name,
                    "route",
                    fallback,
                    router_backend=backend,
                    router_seconds=seconds,
                    router_details=details,
                )

        source = "model" if requested else "default"
        models = [fallback] if fallback else []
        return Decision(
            models,
            None,
            source,
            fallback,
            router_backend=backend,
            router_seconds=seconds,
            router_error=error,
            router_details=details,
            model_error=model_error,
        )

    async def _classify(
        self, conversation: Sequence[Message], routes: Sequence[Route]
    ) -> tuple[Classification | None, float, str | None]:
        start = time.perf_counter()
        try:
            result = await self.router.classify(conversation, routes)
        except Exception as exc:  # any router trouble degrades to the fallback model (SPEC §3.6)
            seconds = time.perf_counter() - start
            reason = f"{type(exc).__name__}: {exc}"[:200]
            metrics.ROUTER_FAILURES.labels(backend=self.router.name).inc()
            log.warning("router %s failed, using the fallback model: %s", self.router.name, reason)
            return None, seconds, reason
        seconds = time.perf_counter() - start
        metrics.ROUTER_LATENCY.labels(backend=self.router.name).observe(seconds)
        return result, seconds, None

    def _fallback(self, requested: str | None) -> tuple[str | None, str | None]:
        """SPEC §3.5: the request's model if we serve it; no model → the default; else an error message."""
        if requested:
            target = self.config.aliases.get(requested) or self.config.resolve_model(requested)
            if target is not None:
                return target, None
            return None, f"Model '{requested}' not found in configured providers"
        if self.config.default_model:
            return self.config.default_model, None
        return None, "No model was given and no default model is configured"


@lru_cache(maxsize=10_000)  # `.labels()` takes a lock and sorts its arguments: once per label set
def _decision_counter(route: str, model: str, source: str) -> HotCounter:
    return HotCounter(metrics.ROUTING_DECISIONS.labels(route=route, model=model, source=source))


def _find(routes: Sequence[Route], name: str | None) -> Route | None:
    if name is None:
        return None
    return next((r for r in routes if r.name == name), None)


def _merge_same_name(routes: list[Route]) -> list[Route]:
    """Routes of the same name (legacy routing_policy lists one per model) become one, models in order."""
    merged: dict[str, Route] = {}
    for route in routes:
        seen = merged.get(route.name)
        if seen is None:
            merged[route.name] = route
        else:
            models = seen.models + tuple(m for m in route.models if m not in seen.models)
            merged[route.name] = Route(
                seen.name, seen.description, models, seen.prefer, seen.examples + route.examples
            )
    return list(merged.values())


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    return f"{where}: {message}" if where else message


def no_route_matched(decision: Decision) -> bool:
    """The router found no route and the request's model (or the default) serves it."""
    if decision.route is not None:
        return False
    if decision.source == "pinned":
        return decision.pinned_source in ("model", "default")
    return decision.source in ("model", "default")


def decision_payload(decision: Decision, trace_id: str) -> dict[str, Any]:
    """The decision endpoint's JSON (SPEC §3): ranked models, models[0], route, trace id, session fields."""
    if no_route_matched(decision):
        # No route matched (seeds 001/002 show "none"); fallback_model says what the proxy would use
        # (for a pinned session: the pinned model, so the first and later answers have one shape).
        payload: dict[str, Any] = {
            "models": ["none"],
            "model": "none",
            "route": None,
            "fallback_model": decision.models[0] if decision.models else decision.fallback_model,
        }
        if decision.model_error:
            payload["error"] = decision.model_error
    else:
        payload = {"models": decision.models, "model": decision.models[0], "route": decision.route}
    payload["trace_id"] = trace_id
    if decision.session_id is not None:
        payload["session_id"] = decision.session_id
        payload["pinned"] = decision.pinned
    return payload

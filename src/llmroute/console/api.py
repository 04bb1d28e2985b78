"""The routing console's JSON API (/console/api/*), read by the page in console/static/.

- `GET  state`: the config's routes, models, aliases, router and threshold (the playground's starting point);
- `POST decide`: run the gateway's router on a conversation against the config's routes or edited ones,
  and answer the classification as the router gave it (route, score, margin, every `details` key) plus
  the threshold and the ranked models; no provider is called and no session is pinned;
- `POST eval`: an uploaded `llmroute eval` file (JSONL) against the config's or edited routes: accuracy,
  per-scenario numbers, confusions (routing/eval.py's report);
- `GET  live`: the last requests, provider and deployment cooldowns, metric-source freshness and the
  ranking table.

Off (404) unless `console.enabled`. With `auth` keys configured every call needs a key with `admin: true`
(the gateway middleware has already checked that the key is valid).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive, Scope

from llmroute.config.models import RoutingPreference
from llmroute.errors import GatewayError
from llmroute.governance.auth import caller_key
from llmroute.observability import recent
from llmroute.ranking.rank import rank
from llmroute.routing.eval import EvalInputError, EvalReport, load_cases, run_cases_async
from llmroute.routing.types import Route
from llmroute.server.body import read_json
from llmroute.server.gateway import Gateway
from llmroute.wire import parse_conversation

MAX_EVAL_CASES = 2000
MAX_ROUTES = 100


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def check_console(gateway: Gateway, scope: Scope) -> None:
    """Refuse unless the console is on and the caller may use it."""
    if not gateway.config.raw.console.enabled:
        raise GatewayError(404, f"Unknown path {scope['path']}")
    if gateway.config.raw.auth is not None:
        key = caller_key(scope)
        if key is None or not key.admin:
            raise GatewayError(
                403, "The routing console needs a gateway key with admin: true", "permission_denied"
            )


# --- state ---------------------------------------------------------------------------------------


def threshold_of(gateway: Gateway) -> float | None:
    """The router's threshold: the configured one, else what the router says it uses (if it says)."""
    configured = gateway.config.raw.routing.router.threshold
    if configured is not None:
        return configured
    router = gateway.router
    for holder in (router, getattr(router, "tuning", None), getattr(router, "primary", None)):
        value = getattr(holder, "threshold", None)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def route_json(route: Route) -> dict[str, Any]:
    return {
        "name": route.name,
        "description": route.description,
        "models": list(route.models),
        "prefer": route.prefer,
        "examples": list(route.examples),
    }


async def state_endpoint(gateway: Gateway, scope: Scope, receive: Receive) -> Response:
    check_console(gateway, scope)
    config = gateway.config
    return json_response(
        {
            "routes": [route_json(route) for route in config.routes],
            "models": list(config.models),
            "aliases": config.aliases,
            "default_model": config.default_model,
            "router": {"type": config.raw.routing.router.type, "backend": gateway.router.name},
            "threshold": threshold_of(gateway),
            "show_content": config.raw.console.show_content,
        }
    )


# --- decide --------------------------------------------------------------------------------------


def routes_from(gateway: Gateway, raw: Any) -> tuple[Route, ...]:
    """Edited routes from the page (`models` optional: a route set being tried need not be served)."""
    if raw is None:
        return gateway.config.routes
    if not isinstance(raw, list) or not raw:
        raise GatewayError(400, "routes must be a non-empty list of {name, description, examples?, models?}")
    if len(raw) > MAX_ROUTES:
        raise GatewayError(400, f"at most {MAX_ROUTES} routes")
    routes: list[Route] = []
    names: set[str] = set()
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise GatewayError(400, f"routes[{i}] must be an object")
        models = item.get("models") or []
        try:
            pref = RoutingPreference.model_validate({**item, "models": models or ["-"]})
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
            raise GatewayError(400, f"routes[{i}].{where}: {message}") from None
        if pref.name in names:
            raise GatewayError(400, f"routes[{i}].name: duplicate route name '{pref.name}'")
        names.add(pref.name)
        resolved = []
        for j, ref in enumerate(models):
            full = gateway.config.resolve_model(ref) if isinstance(ref, str) else None
            if full is None:
                raise GatewayError(
                    400, f"routes[{i}].models[{j}]: model {ref!r} is not declared in model_providers"
                )
            resolved.append(full)
        routes.append(
            Route(
                pref.name,
                pref.description.strip(),
                tuple(resolved),
                pref.selection_policy.prefer,
                tuple(pref.examples),
            )
        )
    return tuple(routes)


async def decide_endpoint(gateway: Gateway, scope: Scope, receive: Receive) -> Response:
    check_console(gateway, scope)
    body = await read_json(Headers(scope=scope), receive, gateway.max_body_bytes)
    routes = routes_from(gateway, body.get("routes"))
    conversation = parse_conversation("openai_chat", {"messages": body.get("messages")})
    if not routes:
        raise GatewayError(400, "no routes: the config has no routing_preferences; add or paste some")
    started = time.perf_counter()
    try:
        result = await gateway.router.classify(conversation, routes)
    except Exception as exc:  # the router's trouble is the answer here, not a 500
        return json_response({"error": f"router failed: {type(exc).__name__}: {exc}"[:300]}, 502)
    seconds = time.perf_counter() - started
    chosen = next((r for r in routes if r.name == result.route), None)
    if chosen is not None and chosen.models:
        ranked = rank(chosen.models, chosen.prefer, gateway.metrics)
    else:
        ranked = [gateway.config.default_model] if gateway.config.default_model else []
    return json_response(
        {
            "route": result.route,
            "backend": result.backend,
            "score": result.score,
            "margin": result.margin,
            "details": result.details,
            "threshold": threshold_of(gateway),
            "models": ranked,
            "fallback": chosen is None,
            "latency_ms": round(seconds * 1000, 3),
            "routes": [r.name for r in routes],
        }
    )


# --- eval ----------------------------------------------------------------------------------------


async def eval_endpoint(gateway: Gateway, scope: Scope, receive: Receive) -> Response:
    check_console(gateway, scope)
    body = await read_json(Headers(scope=scope), receive, gateway.max_body_bytes)
    text = body.get("cases")
    if not isinstance(text, str) or not text.strip():
        raise GatewayError(400, "cases must be the text of an `llmroute eval` file (one JSON case per line)")
    if sum(1 for line in text.splitlines() if line.strip()) > MAX_EVAL_CASES:
        raise GatewayError(400, f"at most {MAX_EVAL_CASES} cases per upload")
    routes = routes_from(gateway, body.get("routes"))
    # load_cases reads a file (the CLI's input); the upload goes through one so both parse alike.
    handle, path = tempfile.mkstemp(prefix="llmroute-eval-", suffix=".jsonl")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        try:
            cases = load_cases(path, default_routes=routes)
        except EvalInputError as exc:
            raise GatewayError(400, str(exc).replace(path, "upload")) from None
    finally:
        os.unlink(path)
    # One case at a time, yielding between them: the embedded router answers without awaiting anything,
    # so a long upload would otherwise hold the event loop (and every request) until it is done.
    report = EvalReport()
    for case in cases:
        report.results.extend((await run_cases_async(gateway.router, [case])).results)
        await asyncio.sleep(0)
    return json_response(report.to_json())


# --- live ----------------------------------------------------------------------------------------


async def live_endpoint(gateway: Gateway, scope: Scope, receive: Receive) -> Response:
    check_console(gateway, scope)
    cooldowns = gateway.proxy.cooldowns
    local = getattr(cooldowns, "local", cooldowns)  # shared (Redis) cooldowns keep a local mirror
    snapshot = getattr(local, "snapshot", None)
    resting = snapshot() if callable(snapshot) else {}
    ring = recent.RECENT
    return json_response(
        {
            "now": time.time(),
            "recent": ring.snapshot() if ring is not None else [],
            "show_content": gateway.config.raw.console.show_content,
            "cooldowns": [{"target": k, "seconds_left": v} for k, v in sorted(resting.items())],
            "deployments": gateway.proxy.balancer.snapshot(),
            "metrics": gateway.metrics.snapshot() if gateway.metrics is not None else None,
        }
    )

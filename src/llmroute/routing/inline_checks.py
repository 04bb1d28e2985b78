"""Checks on inline `routing_preferences` / `routing_policy` a client sends with its request.

An inline route's name goes where config names go: the `x-llmroute-route` response header, log
lines, decision payloads. A client chooses it, so it must be printable text of bounded length (no
CR/LF or other control characters). And every new route set is embedded before the request is
answered, so its size is bounded too (`limits.inline_routes`, governance/schema.py): 1,500
routes took 17 s of CPU, 20,000 took minutes and hundreds of MB. A request outside a bound is a
400 naming the limit, before any router or upstream call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmroute.governance.schema import InlineRouteLimits
from llmroute.routing.types import Route

DEFAULT_LIMITS = InlineRouteLimits()
_KEY = "limits.inline_routes"


class InlineRouteError(ValueError):
    """Inline preferences outside what the gateway accepts (a 400 naming the rule)."""


def check_count(raw_preferences: Any, raw_policy: Any, limits: InlineRouteLimits) -> None:
    """Before any parsing: how many routes the request brings (a cheap `len`, whatever their size)."""
    count = len(raw_preferences) if isinstance(raw_preferences, list) else 0
    if isinstance(raw_policy, list):
        for item in raw_policy:
            prefs = item.get("routing_preferences") if isinstance(item, dict) else None
            count += len(prefs) if isinstance(prefs, list) else 0
    if count > limits.max_routes:
        raise InlineRouteError(
            f"routing_preferences: {count} routes, more than {_KEY}.max_routes ({limits.max_routes})"
        )


def check_name(name: str, where: str, limits: InlineRouteLimits = DEFAULT_LIMITS) -> None:
    """`where` is the name's path in the body, e.g. `routing_preferences[3].name`."""
    if len(name) > limits.max_name_chars:
        raise InlineRouteError(
            f"{where}: {len(name)} characters, more than {_KEY}.max_name_chars ({limits.max_name_chars})"
        )
    if not name.isprintable() or name != name.strip():
        raise InlineRouteError(
            f"{where}: must be printable text without control characters (no CR/LF, tabs)"
            " or surrounding spaces"
        )


def check_route(route: Route, where: str, limits: InlineRouteLimits) -> None:
    """One parsed route's name, description and examples; `where` is its path in the body."""
    check_name(route.name, f"{where}.name", limits)
    if len(route.description) > limits.max_description_chars:
        raise InlineRouteError(
            f"{where}.description: {len(route.description)} characters, more than"
            f" {_KEY}.max_description_chars ({limits.max_description_chars})"
        )
    if len(route.examples) > limits.max_examples:
        raise InlineRouteError(
            f"{where}.examples: {len(route.examples)} examples, more than"
            f" {_KEY}.max_examples ({limits.max_examples})"
        )
    for j, example in enumerate(route.examples):
        if len(example) > limits.max_example_chars:
            raise InlineRouteError(
                f"{where}.examples[{j}]: {len(example)} characters, more than"
                f" {_KEY}.max_example_chars ({limits.max_example_chars})"
            )


def check_total(routes: Sequence[Route], limits: InlineRouteLimits) -> None:
    total = sum(len(r.name) + len(r.description) + sum(map(len, r.examples)) for r in routes)
    if total > limits.max_total_chars:
        raise InlineRouteError(
            f"routing_preferences: {total} characters of names, descriptions and examples, more than"
            f" {_KEY}.max_total_chars ({limits.max_total_chars})"
        )

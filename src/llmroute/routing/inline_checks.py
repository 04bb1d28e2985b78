"""Checks on inline `routing_preferences` / `routing_policy` a client sends with its request.

An inline route's name goes where config names go: the `x-llmroute-route` response header, log
lines, decision payloads. A client chooses it, so it must be printable text of bounded length (no
CR/LF or other control characters); a bad one is a 400 before any upstream call.
"""

from __future__ import annotations

MAX_ROUTE_NAME_CHARS = 128


class InlineRouteError(ValueError):
    """Inline preferences outside what the gateway accepts (a 400 naming the rule)."""


def check_name(name: str, where: str) -> None:
    """`where` is the name's path in the body, e.g. `routing_preferences[3].name`."""
    if len(name) > MAX_ROUTE_NAME_CHARS:
        raise InlineRouteError(f"{where}: longer than {MAX_ROUTE_NAME_CHARS} characters ({len(name)})")
    if not name.isprintable() or name != name.strip():
        raise InlineRouteError(
            f"{where}: must be printable text without control characters (no CR/LF, tabs)"
            " or surrounding spaces"
        )

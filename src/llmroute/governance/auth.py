"""Gateway API keys: who is calling, and may they (the `auth` config section).

A client sends its gateway key the way its SDK sends a provider key: `Authorization: Bearer <key>`
(OpenAI SDKs), `x-api-key: <key>` (Anthropic SDKs) or `api-key: <key>` (Azure). Keys are held as
SHA-256 digests, so a lookup never compares secrets byte by byte (no timing side channel) and the
plain keys are not kept around. A missing or unknown key is a 401 in the client's API format; the
presented key is never echoed or logged.

`check_key` runs in the dispatcher (server/app.py) against the keys of the gateway
the request is pinned to, so a config reload can turn auth on, off or change the keys; with no
`auth` section it is not called at all.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable

from starlette.types import Scope

from llmroute.errors import GatewayError
from llmroute.governance.schema import Auth, GatewayKey, model_pattern_matches
from llmroute.observability import metrics
from llmroute.observability.record import note_governance

log = logging.getLogger("llmroute.governance")

# Where the key check leaves the caller's key for the endpoints (the ASGI scope's `state`).
STATE_KEY = "llmroute_gateway_key"

CONSOLE_ASSETS = frozenset(("/console", "/console/", "/console/console.js", "/console/console.css"))

MISSING = "Missing API key: send your gateway key as 'Authorization: Bearer <key>' or 'x-api-key: <key>'"
INVALID = "Invalid API key"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


def presented_key(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The key the client sent (raw ASGI headers): Bearer token, then x-api-key, then api-key."""
    bearer = x_api_key = api_key = None
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                bearer = token.strip()
        elif name == b"x-api-key":
            x_api_key = value.decode("latin-1").strip()
        elif name == b"api-key":
            api_key = value.decode("latin-1").strip()
    return bearer or x_api_key or api_key or None


class KeyTable:
    def __init__(self, auth: Auth) -> None:
        self._by_digest: dict[bytes, GatewayKey] = {_digest(k.key): k for k in auth.keys}
        # The console's page and script hold no data (its API checks for an admin key), and a browser
        # cannot send a key with a page load.
        self.open_paths = frozenset(auth.open_paths) | CONSOLE_ASSETS
        # Every configured key, to scrub from anything echoed.
        self.secrets: tuple[str, ...] = tuple(k.key for k in auth.keys)

    def lookup(self, presented: str) -> GatewayKey | None:
        return self._by_digest.get(_digest(presented))


def model_allowed(key: GatewayKey, model: str) -> bool:
    if key.allowed_models is None:
        return True
    return any(model_pattern_matches(pattern, model) for pattern in key.allowed_models)


def caller_key(scope: Scope) -> GatewayKey | None:
    """The gateway key the key check accepted for this request (None when auth is off)."""
    state = scope.get("state")
    return state.get(STATE_KEY) if state else None


def check_key(keys: KeyTable, scope: Scope) -> None:
    """Leave the accepted key in the request's state, or raise the 401 to answer with."""
    if scope["path"] in keys.open_paths:
        return
    presented = presented_key(scope["headers"])
    key = keys.lookup(presented) if presented else None
    if key is not None:
        scope.setdefault("state", {})[STATE_KEY] = key
        return
    reason = "missing" if presented is None else "invalid"
    metrics.AUTH_FAILURES.labels(reason=reason).inc()
    note_governance("auth.refused", reason=reason)
    log.info("auth: refused %s %s (%s key)", scope["method"], scope["path"], reason)
    raise GatewayError(
        401,
        MISSING if presented is None else INVALID,
        "invalid_api_key",
        {"WWW-Authenticate": 'Bearer realm="llmroute"'},
    )

"""The governance the request path calls: one object per gateway (and per config generation).

`build_governance(config)` returns None when the config has no governance section, and the
endpoints skip every hook then: an unconfigured feature costs a request nothing. Otherwise the
endpoints call, in order:

1. `await screen_request(fmt, body)` before routing: the request guardrails (may redact the body
   in place, or refuse it with an `ApiError`);
2. `authorize(scope, decision)` after routing: keep only the models the caller's key may use
   (403 when none is left);
3. `await admit(scope, fmt, body, decision)` before forwarding (proxy only): authorize, then take
   the rate-limit budget and a concurrency slot. It returns a `Ticket` (or None when nothing needs
   settling); `ticket.bind(response)` settles it when the response has been sent (token usage
   corrected from the response, slot released), `ticket.abandon()` when forwarding failed.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from starlette.responses import Response
from starlette.types import Scope

from llmroute.config.resolved import LoadedConfig
from llmroute.governance.auth import KeyTable, caller_key, model_allowed
from llmroute.observability import metrics
from llmroute.routing.decision import Decision
from llmroute.server.errors import ApiError
from llmroute.wire import ClientFormat

log = logging.getLogger("llmroute.governance")


class Governance:
    def __init__(self, config: LoadedConfig) -> None:
        raw = config.raw
        self.keys: KeyTable | None = KeyTable(raw.auth) if raw.auth is not None else None

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    # --- request hooks ---------------------------------------------------------------------------

    async def screen_request(self, fmt: ClientFormat, body: dict[str, Any]) -> dict[str, Any]:
        return body

    def authorize(self, scope: Scope, decision: Decision) -> Decision:
        """The decision restricted to the models the caller's key may use."""
        key = caller_key(scope)
        if key is None or key.allowed_models is None:
            return decision
        allowed = [model for model in decision.models if model_allowed(key, model)]
        if len(allowed) == len(decision.models):
            return decision
        if not allowed:
            metrics.AUTH_FAILURES.labels(reason="model_not_allowed").inc()
            refused = ", ".join(decision.models) or "none"
            log.info("auth: key '%s' may not use %s", key.name, refused)
            raise ApiError(
                403,
                f"This API key may not use the model(s) chosen for this request ({refused}); "
                f"allowed: {', '.join(key.allowed_models) or 'none'}",
                "model_not_allowed",
            )
        return dataclasses.replace(decision, models=allowed)

    async def admit(
        self, scope: Scope, fmt: ClientFormat, body: dict[str, Any], decision: Decision
    ) -> tuple[Decision, Ticket | None]:
        return self.authorize(scope, decision), None


class Ticket:
    """What one admitted request holds until its response is done."""

    def bind(self, response: Response) -> Response:
        return response

    def abandon(self) -> None:
        pass


def build_governance(config: LoadedConfig) -> Governance | None:
    raw = config.raw
    if raw.auth is None:
        return None
    return Governance(config)

"""The `cascade` router: the cheap local router first, the remote model only when it is unsure.

The embedded router answers most requests in a millisecond on the CPU; when its best route wins by
less than `margin` (a close call between two routes, or a weak match) the request goes to
Arch-Router, which is slower but reads the conversation as a whole. A remote failure never costs the
request its answer: the primary's classification stands.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from llmroute.observability import metrics
from llmroute.routing.types import Classification, Route, Router, RouterError
from llmroute.wire.conversation import Message


class CascadeRouter:
    name = "cascade"

    def __init__(self, primary: Router, secondary: Router, margin: float) -> None:
        if margin < 0:
            raise ValueError("cascade margin must be >= 0")
        self.primary = primary
        self.secondary = secondary
        self.margin = margin
        # Who made each final decision, by Classification.backend ("embedded", "arch_router");
        # read by `llmroute eval` and the metrics exporter.
        self.decided_by: Counter[str] = Counter()
        # Times the secondary was asked and could not answer (the primary's answer was kept).
        self.secondary_errors = 0

    async def classify(self, conversation: Sequence[Message], routes: Sequence[Route]) -> Classification:
        try:
            first = await self.primary.classify(conversation, routes)
        except RouterError as primary_error:
            # The primary is local and should not fail; if it does, the secondary is still a router.
            result = await self._ask_secondary(conversation, routes, fallback=None)
            if result is None:
                raise RouterError(f"both routers failed; primary: {primary_error}") from None
            result.details["primary_error"] = str(primary_error)
            return self._decided(result)

        if first.margin >= self.margin:
            return self._decided(first)
        second = await self._ask_secondary(conversation, routes, fallback=first)
        if second is None:
            return self._decided(first)
        second.details["primary"] = {
            "backend": first.backend,
            "route": first.route,
            "score": first.score,
            "margin": first.margin,
        }
        return self._decided(second)

    async def _ask_secondary(
        self, conversation: Sequence[Message], routes: Sequence[Route], fallback: Classification | None
    ) -> Classification | None:
        """The secondary's answer, or None after recording why it failed on `fallback`."""
        try:
            return await self.secondary.classify(conversation, routes)
        except RouterError as exc:
            self.secondary_errors += 1
            if fallback is not None:
                fallback.details["secondary_error"] = str(exc)
            return None

    def _decided(self, result: Classification) -> Classification:
        self.decided_by[result.backend] += 1
        metrics.CASCADE_DECISIONS.labels(backend=result.backend).inc()
        return result

    async def aclose(self) -> None:
        try:
            await self.primary.aclose()
        finally:
            await self.secondary.aclose()

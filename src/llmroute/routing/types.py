"""Small value types shared by the routers, the decision pipeline and the ranking code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from llmroute.wire.conversation import Message


@dataclass(frozen=True, slots=True)
class Route:
    """A routing preference: when a request matches `description`, use `models` (ranked by `prefer`)."""

    name: str
    description: str
    models: tuple[str, ...] = ()
    prefer: str = "none"  # "none" | "cheapest" | "fastest"
    examples: tuple[str, ...] = ()


@dataclass(slots=True)
class Classification:
    """What a router answered. `route` is None for "no route" (irrelevant, fulfilled, below threshold)."""

    route: str | None
    backend: str
    score: float = 0.0  # best route's score (backend specific scale)
    margin: float = 0.0  # best minus second-best score; the cascade uses it as confidence
    details: dict[str, object] = field(default_factory=dict)


class RouterError(Exception):
    """The router could not answer (timeout, bad output, unreachable). The pipeline degrades to the fallback."""


class Router(Protocol):
    name: str

    async def classify(self, conversation: Sequence[Message], routes: Sequence[Route]) -> Classification:
        """Pick the route for the latest user intent, or None. Raise RouterError when unable to answer."""
        ...

    async def aclose(self) -> None: ...

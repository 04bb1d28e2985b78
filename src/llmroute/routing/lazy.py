"""A router built on first use: for configs without routes, whose requests are routed only when a
client sends inline `routing_preferences`.

The embedded router loads an ONNX model and embeds a few hundred built-in texts when it is built
(~150 MB of memory and a couple of seconds). A gateway that only passes requests through, or
routes by alias and model name, should not pay that. The first request that needs the router
builds it, in a worker thread (never on the event loop); requests that do not need it never wait.
A router that fails to build fails that request's routing like any router failure: the request
gets the fallback model and the failure is counted and logged; the next request tries again.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any

from llmroute.routing.types import Classification, Route, Router, RouterError
from llmroute.wire.conversation import Message


class LazyRouter:
    def __init__(self, name: str, build: Callable[[], Router]) -> None:
        self.name = name
        self._build = build
        self._router: Router | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._router is not None

    def get(self) -> Router:
        """The router, built now if it was not yet (blocking: call it from a worker thread)."""
        router = self._router
        if router is None:
            with self._lock:
                if self._router is None:
                    self._router = self._build()
                router = self._router
        return router

    def warm(self, routes: Sequence[Route]) -> None:
        if routes:
            warm = getattr(self.get(), "warm", None)
            if warm is not None:
                warm(routes)

    async def classify(self, conversation: Sequence[Message], routes: Sequence[Route]) -> Classification:
        router = self._router
        if router is None:
            try:
                router = await asyncio.to_thread(self.get)
            except Exception as exc:
                raise RouterError(f"{self.name} router could not be loaded: {exc}") from exc
        return await router.classify(conversation, routes)

    def classify_sync(self, conversation: Sequence[Message], routes: Sequence[Route]) -> Classification:
        classify: Any = getattr(self.get(), "classify_sync")  # noqa: B009 (only the embedded router has it)
        return classify(conversation, routes)  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        if self._router is not None:
            await self._router.aclose()

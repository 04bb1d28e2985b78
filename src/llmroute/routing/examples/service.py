"""Generated examples for the gateway: looked up on the request path, written in the background.

The request path only reads memory (`apply`). A route set seen without examples is queued: the
background task first looks in the store (disk, Redis: another replica may have written them),
else asks the generator once per route. Until then the router uses descriptions only; a failure is
counted, logged and retried with back-off, and never touches a request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from llmroute.config.models import RouteExamples
from llmroute.config.resolved import LoadedConfig
from llmroute.observability import metrics
from llmroute.providers.client import UpstreamClient
from llmroute.proxy.targets import Targets
from llmroute.routing.examples.generator import Generator, GeneratorError
from llmroute.routing.examples.prompt import MIN_EXAMPLES, parse_answer, render, route_set_key
from llmroute.routing.examples.store import Examples, ExampleStore
from llmroute.routing.types import Route

log = logging.getLogger("llmroute.routing.examples")

MAX_RETRY_SECONDS = 3600.0

Routes = tuple[Route, ...]


async def generate(
    routes: Sequence[Route], generator: Generator, per_route: int, limit: asyncio.Semaphore
) -> Examples:
    """Ask the generator once for each route without hand-written examples; raises GeneratorError."""

    async def one(route: Route) -> list[str]:
        async with limit:
            answer = await generator.ask(render(routes, route, per_route), per_route)
        examples = parse_answer(answer, per_route)
        if len(examples) < MIN_EXAMPLES:
            raise GeneratorError(f"{generator.model} gave no usable examples for route '{route.name}'")
        return examples

    wanted = [r for r in routes if not r.examples]
    results = await asyncio.gather(*(one(r) for r in wanted))
    return {route.name: examples for route, examples in zip(wanted, results, strict=True)}


def with_examples(routes: Routes, examples: Examples) -> Routes:
    """The routes, each without hand-written examples given the generated ones."""
    return tuple(r if r.examples else replace(r, examples=tuple(examples.get(r.name, ()))) for r in routes)


class ExampleService:
    def __init__(
        self,
        cfg: RouteExamples,
        generator: Generator | None,
        store: ExampleStore,
        config_routes: Routes,
        on_ready: Callable[[Routes], Awaitable[None]] | None = None,
    ) -> None:
        self.cfg = cfg
        self.generator = generator
        self.store = store
        self.config_routes = config_routes
        self.on_ready = on_ready  # e.g. embed the new examples before the next request needs them
        self._memory: OrderedDict[str, Examples] = OrderedDict()
        self._applied: OrderedDict[Routes, Routes] = OrderedDict()
        self._pending: set[str] = set()
        self._failures: dict[str, int] = {}
        self._retry_at: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._limit = asyncio.Semaphore(cfg.max_concurrency)

    # -- the request path ---------------------------------------------------------------------------

    def apply(self, routes: Routes) -> Routes:
        """`routes` with their generated examples when known; else as given, and generation is queued."""
        done = self._applied.get(routes)
        if done is not None:
            return done
        if all(r.examples for r in routes):
            return routes  # every route has hand-written examples: nothing to add
        key = route_set_key(routes)
        examples = self._memory.get(key)
        if examples is None:
            self._queue(key, routes)
            return routes
        done = with_examples(routes, examples)
        self._applied[routes] = done
        while len(self._applied) > self.cfg.max_route_sets:
            self._applied.popitem(last=False)
        return done

    # -- state for /readyz --------------------------------------------------------------------------

    def status(self) -> str:
        """The config routes' examples: ready | generating | retrying | none (nothing to generate)."""
        routes = self.config_routes
        if not routes or all(r.examples for r in routes):
            return "none"
        key = route_set_key(routes)
        if key in self._memory:
            return "ready"
        return "retrying" if key in self._failures else "generating"

    def adopt(self, previous: ExampleService) -> None:
        """Keep the examples a previous generation of the gateway already has (config reload):
        sets are keyed by their routes' names and descriptions, so unchanged routes ask no one again."""
        for key, examples in previous._memory.items():
            self._remember(key, examples)

    # -- the background side ------------------------------------------------------------------------

    def start(self) -> None:
        """Queue the config routes now, so their examples are usually there before the first request."""
        if self.config_routes:
            self.apply(self.config_routes)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.store.aclose()

    def _queue(self, key: str, routes: Routes) -> None:
        if len(self._retry_at) > 4 * self.cfg.max_route_sets:
            self._forget_expired_failures()
        if key in self._pending or time.monotonic() < self._retry_at.get(key, 0.0):
            return
        # Bound the work one client can queue with ever-new inline route sets.
        if len(self._pending) >= self.cfg.max_route_sets:
            return
        self._pending.add(key)
        task = asyncio.get_running_loop().create_task(self._fill(key, routes))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fill(self, key: str, routes: Routes) -> None:
        try:
            examples = await self.store.get(key)
            if examples is not None:
                metrics.ROUTE_EXAMPLE_SETS.labels(result="loaded").inc()
            else:
                if self.generator is None:
                    return  # include-only config: routes without examples keep descriptions only
                examples = await generate(routes, self.generator, self.cfg.per_route, self._limit)
                await self.store.put(key, examples)
                metrics.ROUTE_EXAMPLE_SETS.labels(result="generated").inc()
                log.info("route examples written for %d routes (route set %s)", len(examples), key[:12])
            self._remember(key, examples)
            self._failures.pop(key, None)
            self._retry_at.pop(key, None)
            if self.on_ready is not None:
                await self.on_ready(with_examples(routes, examples))
        except Exception as exc:  # GeneratorError, or anything unforeseen: never more than a retry later
            failures = self._failures[key] = self._failures.get(key, 0) + 1
            wait = min(self.cfg.retry_seconds * 2 ** (failures - 1), MAX_RETRY_SECONDS)
            self._retry_at[key] = time.monotonic() + wait
            metrics.ROUTE_EXAMPLE_SETS.labels(result="failed").inc()
            log.warning("route examples not generated (%s); descriptions only, retry in %.1fs", exc, wait)
            if routes == self.config_routes:
                # The config's routes are retried on their own; an inline set when it is next used.
                asyncio.get_running_loop().call_later(wait, self._retry, key, routes)
        finally:
            self._pending.discard(key)

    def _retry(self, key: str, routes: Routes) -> None:
        # The timer may fire a hair before `_retry_at` (loop clocks round): the wait is over.
        self._retry_at.pop(key, None)
        self.apply(routes)

    def _forget_expired_failures(self) -> None:
        now = time.monotonic()
        for key in [k for k, at in self._retry_at.items() if at <= now]:
            self._retry_at.pop(key)
            self._failures.pop(key, None)

    def _remember(self, key: str, examples: Examples) -> None:
        self._memory[key] = examples
        self._memory.move_to_end(key)
        while len(self._memory) > self.cfg.max_route_sets:
            self._memory.popitem(last=False)


def build_example_service(
    config: LoadedConfig,
    targets: Targets,
    client: UpstreamClient,
    on_ready: Callable[[Routes], Awaitable[None]] | None = None,
) -> ExampleService | None:
    """The service for `routing.router.examples`, or None when it is not configured."""
    router = config.raw.routing.router
    cfg = router.examples
    if cfg is None or router.type == "arch_router":  # Arch-Router reads descriptions only
        return None
    generator = None
    if cfg.generator is not None:
        model = config.resolve_model(cfg.generator)
        assert model is not None  # checked at load (config/route_examples.py)
        generator = Generator(model, targets, client, cfg.timeout_ms / 1000)
    return ExampleService(
        cfg, generator, ExampleStore(cfg.cache_dir, shared_redis_url(config)), config.routes, on_ready
    )


def shared_redis_url(config: LoadedConfig) -> str | None:
    """The Redis that replicas already share (shared_state first, else the session store), if any."""
    shared, sessions = config.raw.shared_state, config.raw.routing.session_store
    if shared is not None and shared.type == "redis":
        return shared.url
    if sessions.type == "redis":
        return sessions.url
    return None

"""The live cost/latency table: fetched at startup, refreshed in the background (SPEC §5).

One background task per source fetches it every `refresh_interval` seconds. A failed fetch keeps the
last good table, is logged and counted (`refresh_failures`), and is retried with a backoff capped at
the interval, so a source that was down at startup comes in as soon as it is back. The request path
only reads plain dicts (`cost()`, `latency()`); a refresh swaps them whole, so a reader never sees a
half-updated table and never waits for the network.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from pydantic import BaseModel

from llmroute.observability import metrics
from llmroute.ranking.rank import PREFER_KIND, rank
from llmroute.ranking.sources import (
    MetricKind,
    MetricsSource,
    SourceConfig,
    SourceError,
    source_from_config,
)
from llmroute.routing.types import Route

log = logging.getLogger("llmroute.ranking")

_KIND_WORD: dict[MetricKind, str] = {"cost": "cost", "latency": "latency"}


@dataclass(slots=True)
class SourceState:
    """What one source has given us so far; the admin endpoint shows it."""

    source: MetricsSource
    values: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    last_success: float | None = None  # wall-clock seconds
    last_attempt: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    failures: int = 0
    consecutive_failures: int = 0
    first_attempt_done: asyncio.Event = field(default_factory=asyncio.Event)


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _bare(model: str) -> str | None:
    provider, sep, model_id = model.partition("/")
    return model_id if sep and provider and model_id else None


class MetricsStore:
    """Live cost and latency per model, from the configured `model_metrics_sources`.

    `sources` may be runtime sources (`sources.py`) or the config entries themselves. Pass a shared
    `session` to reuse a connection pool; otherwise the store opens (and closes) its own.
    """

    def __init__(
        self,
        sources: Sequence[SourceConfig | MetricsSource],
        session: aiohttp.ClientSession | None = None,
        *,
        on_refresh_failure: Callable[[str], None] | None = None,
        retry_initial: float = 1.0,
    ) -> None:
        self._states: dict[str, SourceState] = {}
        for item in sources:
            source = source_from_config(item) if isinstance(item, BaseModel) else item
            if source.name in self._states:
                raise ValueError(f"only one {source.name} source is allowed")
            self._states[source.name] = SourceState(source)
        self._session = session
        self._owns_session = False
        self._on_refresh_failure = on_refresh_failure
        self._retry_initial = retry_initial
        self._tasks: list[asyncio.Task[None]] = []
        self._tables: dict[MetricKind, dict[str, float]] = {"cost": {}, "latency": {}}
        self._routes: tuple[Route, ...] = ()
        self._missing: set[tuple[str, str]] = set()
        # Failed fetches per source name (the config `type`); exported as a Prometheus counter.
        self.refresh_failures: dict[str, int] = dict.fromkeys(self._states, 0)

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self, startup_timeout: float = 5.0) -> None:
        """First fetch of every source (bounded by `startup_timeout`), then refresh in the background.

        Never raises for a source that is down or slow: the gateway serves with whatever arrived and
        the background task keeps retrying; `ready` tells /readyz when everything has loaded.
        """
        if self._tasks:
            return
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        for name, state in self._states.items():
            self._tasks.append(asyncio.create_task(self._refresh_loop(state), name=f"metrics-source:{name}"))
        if not self._states:
            return
        waiters = [asyncio.create_task(state.first_attempt_done.wait()) for state in self._states.values()]
        _done, pending = await asyncio.wait(waiters, timeout=startup_timeout)
        for waiter in pending:
            waiter.cancel()
        for name, state in self._states.items():
            if not state.first_attempt_done.is_set():
                log.warning(
                    "metrics source %s (%s) did not answer within the %gs startup timeout; "
                    "serving without its data and retrying in the background",
                    name,
                    state.source.display_url,
                    startup_timeout,
                )

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
            self._owns_session = False

    async def _refresh_loop(self, state: SourceState) -> None:
        interval = state.source.refresh_interval
        backoff = min(self._retry_initial, interval)
        while True:
            ok = await self.refresh(state.source.name)
            state.first_attempt_done.set()
            if ok:
                backoff = min(self._retry_initial, interval)
                await asyncio.sleep(interval)
            else:
                # Retry sooner than the interval (data is missing or going stale), backing off to it.
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, interval)

    async def refresh(self, name: str) -> bool:
        """Fetch one source now. Returns False (and keeps the last good data) when the fetch failed."""
        state = self._states[name]
        source = state.source
        assert self._session is not None, "MetricsStore.start() opens the HTTP session"
        state.last_attempt = time.time()
        try:
            result = await source.fetch(self._session)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # SourceError is the expected case; anything else is a bug in a parser, and must not kill
            # the refresh loop either.
            reason = str(exc) if isinstance(exc, SourceError) else f"{exc.__class__.__name__}: {exc}"
            self._record_failure(state, reason)
            return False
        if result.skipped != state.skipped and result.skipped:
            log.warning(
                "metrics source %s skipped %d entries: %s",
                name,
                len(result.skipped),
                "; ".join(result.skipped[:10]) + (" …" if len(result.skipped) > 10 else ""),
            )
        recovered = state.consecutive_failures > 0
        state.values = result.values
        state.skipped = result.skipped
        state.last_success = time.time()
        state.consecutive_failures = 0
        metrics.METRIC_SOURCE_LAST_SUCCESS.labels(source=name).set(state.last_success)
        self._rebuild(source.kind)
        if recovered:
            log.info("metrics source %s recovered: %d models", name, len(result.values))
        self._check_missing(startup=False)
        return True

    def _record_failure(self, state: SourceState, reason: str) -> None:
        name = state.source.name
        state.failures += 1
        state.consecutive_failures += 1
        state.last_error = reason
        state.last_error_at = time.time()
        self.refresh_failures[name] = self.refresh_failures.get(name, 0) + 1
        metrics.METRIC_SOURCE_REFRESH_FAILURES.labels(source=name).inc()
        kept = (
            f"keeping {len(state.values)} models from {_iso(state.last_success)}"
            if state.last_success is not None
            else "no data yet"
        )
        log.warning(
            "metrics source %s refresh failed (%d in a row): %s; %s",
            name,
            state.consecutive_failures,
            reason,
            kept,
        )
        if self._on_refresh_failure is not None:
            try:
                self._on_refresh_failure(name)
            except Exception:
                log.exception("on_refresh_failure hook failed for %s", name)

    def _rebuild(self, kind: MetricKind) -> None:
        table: dict[str, float] = {}
        for state in self._states.values():
            if state.source.kind == kind:
                table.update(state.values)
        # Swap, never mutate: readers on the request path see the old or the new table, never a mix.
        self._tables[kind] = table

    # --- reads (request path) ---------------------------------------------------------------------

    def _lookup(self, kind: MetricKind, model: str) -> float | None:
        table = self._tables[kind]
        value = table.get(model)
        if value is None:
            bare = _bare(model)
            if bare is not None:
                value = table.get(bare)
        return value

    def cost(self, model: str) -> float | None:
        """Input + output price per million tokens, by full `provider/model` name, then bare model id."""
        return self._lookup("cost", model)

    def latency(self, model: str) -> float | None:
        """Latency from Prometheus (lower is faster), by full name, then bare model id."""
        return self._lookup("latency", model)

    @property
    def ready(self) -> bool:
        """True once every source has loaded at least once (a later failure keeps it ready)."""
        return all(state.last_success is not None for state in self._states.values())

    # --- missing-data warnings --------------------------------------------------------------------

    def warn_missing(self, routes: Sequence[Route]) -> None:
        """Log a WARN for each model of a cheapest/fastest route that has no data (it is ranked last).

        The routes are remembered: after each refresh that changes which models lack data, the newly
        missing ones are warned about again (and the ones that gained data are logged at INFO).
        """
        self._routes = tuple(routes)
        self._missing = set()
        self._check_missing(startup=True)

    def _missing_pairs(self) -> set[tuple[str, str]]:
        missing: set[tuple[str, str]] = set()
        for route in self._routes:
            kind = PREFER_KIND.get(route.prefer)
            if kind is None:
                continue
            for model in route.models:
                if self._lookup(kind, model) is None:
                    missing.add((route.name, model))
        return missing

    def _check_missing(self, *, startup: bool) -> None:
        if not self._routes:
            return
        missing = self._missing_pairs()
        prefer_of = {route.name: route.prefer for route in self._routes}
        for route_name, model in sorted(missing - self._missing):
            prefer = prefer_of[route_name]
            log.warning(
                "route '%s' prefers %s but model '%s' has no %s data (%s); it is ranked last",
                route_name,
                prefer,
                model,
                _KIND_WORD[PREFER_KIND[prefer]],
                self._sources_note(PREFER_KIND[prefer]),
            )
        if not startup:
            for route_name, model in sorted(self._missing - missing):
                log.info("route '%s': model '%s' now has data and is ranked", route_name, model)
        self._missing = missing

    def _sources_note(self, kind: MetricKind) -> str:
        states = [state for state in self._states.values() if state.source.kind == kind]
        if not states:
            return f"no {kind} source is configured"
        notes = []
        for state in states:
            if state.last_success is None:
                error = f": {state.last_error}" if state.last_error else ""
                notes.append(f"{state.source.name} has not loaded yet{error}")
            else:
                notes.append(f"not listed by {state.source.name}")
        return "; ".join(notes)

    # --- admin view -------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The current table, each source's refresh status and each ranked route's order (JSON-able)."""
        now = time.time()
        sources = []
        for state in self._states.values():
            source = state.source
            sources.append(
                {
                    "name": source.name,
                    "kind": source.kind,
                    "url": source.display_url,
                    "refresh_interval_seconds": source.refresh_interval,
                    "loaded": state.last_success is not None,
                    "models": len(state.values),
                    "last_success": _iso(state.last_success),
                    "age_seconds": round(now - state.last_success, 3) if state.last_success else None,
                    "last_attempt": _iso(state.last_attempt),
                    "last_error": state.last_error,
                    "last_error_at": _iso(state.last_error_at),
                    "failures": state.failures,
                    "consecutive_failures": state.consecutive_failures,
                    "skipped": list(state.skipped),
                }
            )
        cost, latency = self._tables["cost"], self._tables["latency"]
        models = {
            model: {"cost": cost.get(model), "latency": latency.get(model)}
            for model in sorted(cost.keys() | latency.keys())
        }
        routes = []
        for route in self._routes:
            kind = PREFER_KIND.get(route.prefer)
            if kind is None:
                continue
            routes.append(
                {
                    "name": route.name,
                    "prefer": route.prefer,
                    "ranked": [
                        {"model": model, kind: self._lookup(kind, model)}
                        for model in rank(route.models, route.prefer, self)
                    ],
                    "missing": [model for model in route.models if self._lookup(kind, model) is None],
                }
            )
        return {"ready": self.ready, "sources": sources, "models": models, "routes": routes}

"""Hot reload: `SIGHUP` (or a change to the config file, when watched) swaps in a new config.

A reload builds a complete new `Gateway` from the file beside the running one, starts it, and
swaps `app.state.gateway` in one assignment, so a request sees either the old config or the new
one, never a mix. A config that does not load (syntax, validation, a missing variable) or a
gateway that fails to start is refused: the error is logged line by line, counted in
`llmroute_config_reloads_total{result="error"}`, and the old gateway keeps serving.

Each request is pinned to the gateway it started on (the dispatcher, server/app.py): it finishes on
that config, streams included, and the old gateway is stopped only once its last request is
done (or after the listener's timeout). In-process state that should outlive a reload moves to
the new gateway: in-memory session pins, cooldowns and rate-limit budgets, and the tracer the
dispatcher's observability holds.

Listener address/port and workers cannot change without a restart. With `--workers N`, send
SIGHUP to each worker process (uvicorn's supervisor answers SIGHUP by restarting its workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

from llmroute.config import ConfigError, load_config
from llmroute.config.resolved import LoadedConfig
from llmroute.observability import metrics
from llmroute.server.gateway import Gateway
from llmroute.server.protocol import configure_protocol

log = logging.getLogger("llmroute.reload")

# How long a retired gateway may keep finishing its requests, at most.
MAX_DRAIN_SECONDS = 300.0
# How often a watched config file is checked for changes.
WATCH_INTERVAL_SECONDS = 2.0
# Set to a number of seconds to also reload when the config file changes (checked that often).
WATCH_ENV = "LLMROUTE_WATCH_CONFIG"


class AppState:
    """`gateway`: the gateway serving new requests (a reload replaces it; requests keep theirs)."""

    __slots__ = ("gateway",)

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway


class InFlight:
    """Requests in flight per gateway generation, so a retired one is stopped only when idle."""

    def __init__(self) -> None:
        self._counts: dict[Gateway, int] = {}
        self._idle: dict[Gateway, asyncio.Event] = {}

    def enter(self, gateway: Gateway) -> None:
        self._counts[gateway] = self._counts.get(gateway, 0) + 1

    def leave(self, gateway: Gateway) -> None:
        left = self._counts[gateway] - 1
        if left:
            self._counts[gateway] = left
            return
        del self._counts[gateway]
        idle = self._idle.pop(gateway, None)
        if idle is not None:
            idle.set()

    def count(self, gateway: Gateway) -> int:
        return self._counts.get(gateway, 0)

    async def drained(self, gateway: Gateway, timeout: float) -> bool:
        """Wait until `gateway` has no request in flight; False if `timeout` passed first."""
        if gateway not in self._counts:
            return True
        idle = self._idle.setdefault(gateway, asyncio.Event())
        try:
            await asyncio.wait_for(idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


class Reloader:
    def __init__(
        self,
        state: AppState,
        config_path: str | None,
        in_flight: InFlight,
        load: Callable[[str], LoadedConfig] = load_config,
    ) -> None:
        self.state = state
        self.config_path = config_path
        self.in_flight = in_flight
        self._load = load
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._signal_installed = False
        self._watcher: asyncio.Task[None] | None = None

    # --- triggers --------------------------------------------------------------------------------

    def install_signal_handler(self) -> None:
        """Reload on SIGHUP. Only possible when the event loop runs in the main thread."""
        if self.config_path is None:
            return
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_signal)
        except (ValueError, RuntimeError, NotImplementedError) as exc:
            log.debug("no SIGHUP reload in this process: %s", exc)
            return
        self._signal_installed = True

    def watch(self, interval: float = WATCH_INTERVAL_SECONDS) -> None:
        """Also reload when the config file's modification time or size changes."""
        if self.config_path is not None and self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch(interval))

    def watch_if_asked(self) -> None:
        """Watch the file when LLMROUTE_WATCH_CONFIG names an interval in seconds."""
        raw = os.environ.get(WATCH_ENV, "").strip()
        if not raw:
            return
        try:
            interval = float(raw)
        except ValueError:
            log.warning("%s=%r is not a number of seconds; not watching the config file", WATCH_ENV, raw)
            return
        if interval > 0:
            self.watch(interval)

    def _on_signal(self) -> None:
        log.info("SIGHUP: reloading %s", self.config_path)
        self._spawn(self.reload())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(self, interval: float) -> None:
        assert self.config_path is not None
        last = _stamp(self.config_path)
        while True:
            await asyncio.sleep(interval)
            now = _stamp(self.config_path)
            if now != last and now is not None:
                last = now
                log.info("config file changed: reloading %s", self.config_path)
                await self.reload()

    async def close(self) -> None:
        if self._signal_installed:
            with contextlib.suppress(ValueError, RuntimeError):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._signal_installed = False
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    # --- the reload ------------------------------------------------------------------------------

    async def reload(self) -> bool:
        """Load, build and start the new gateway, swap it in, retire the old one. False if refused."""
        if self.config_path is None:
            return False
        async with self._lock:
            old: Gateway = self.state.gateway
            try:
                config = await asyncio.to_thread(self._load, self.config_path)
            except ConfigError as exc:
                return self._refuse(f"the new config is invalid:\n{exc}")
            except Exception as exc:  # never let a reload take the gateway down
                return self._refuse(f"the new config could not be loaded ({type(exc).__name__}: {exc})")
            restart_only = _restart_only_changes(old.config, config)
            try:
                # Building a router may load a model: off the event loop.
                new = await asyncio.to_thread(Gateway, config)
                carry_state(old, new)
                await new.start()
            except Exception as exc:
                log.exception("reload: the new gateway failed to start")
                return self._refuse(f"the new gateway failed to start ({type(exc).__name__}: {exc})")
            configure_protocol(config.raw.limits)
            self.state.gateway = new
            metrics.CONFIG_RELOADS.labels(result="ok").inc()
            for warning in restart_only:
                log.warning("reload: %s", warning)
            log.info("reload: now serving the new config from %s", self.config_path)
            self._spawn(self._retire(old, config.raw.listener.timeout))
            return True

    def _refuse(self, reason: str) -> bool:
        metrics.CONFIG_RELOADS.labels(result="error").inc()
        for line in reason.splitlines():
            log.error("reload refused, keeping the running config: %s", line)
        return False

    async def _retire(self, old: Gateway, timeout: float) -> None:
        drained = await self.in_flight.drained(old, min(timeout + 5.0, MAX_DRAIN_SECONDS))
        if not drained:
            log.warning(
                "reload: %d request(s) still running on the previous config; stopping it anyway",
                self.in_flight.count(old),
            )
        detach_carried_state(old)
        try:
            await old.stop()
        except Exception:
            log.exception("reload: stopping the previous gateway failed")


def _stamp(path: str) -> tuple[float, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime, info.st_size


def _restart_only_changes(old: LoadedConfig, new: LoadedConfig) -> list[str]:
    warnings = []
    before, after = old.raw.listener, new.raw.listener
    if (before.address, before.port) != (after.address, after.port):
        warnings.append("listener address/port changes take effect at the next restart")
    return warnings


# --- state that outlives a reload ----------------------------------------------------------------


def carry_state(old: Gateway, new: Gateway) -> None:
    """Move in-process state from `old` to `new`, where both keep it in the same kind of store."""
    from llmroute.governance.ratelimit import MemoryBuckets
    from llmroute.proxy.cooldown import MemoryCooldowns
    from llmroute.routing.sessions import MemorySessionStore

    if isinstance(old.sessions, MemorySessionStore) and isinstance(new.sessions, MemorySessionStore):
        old.sessions.ttl = new.sessions.ttl
        old.sessions.max_entries = new.sessions.max_entries
        new.sessions = old.sessions
        new.decisions.sessions = old.sessions
    if isinstance(old.proxy.cooldowns, MemoryCooldowns) and isinstance(new.proxy.cooldowns, MemoryCooldowns):
        new.proxy.cooldowns = old.proxy.cooldowns
    old_limiter = old.governance.limiter if old.governance is not None else None
    new_limiter = new.governance.limiter if new.governance is not None else None
    if (
        old_limiter is not None
        and new_limiter is not None
        and isinstance(old_limiter.buckets, MemoryBuckets)
        and isinstance(new_limiter.buckets, MemoryBuckets)
    ):
        new_limiter.buckets = old_limiter.buckets
    if old.route_examples is not None and new.route_examples is not None:
        new.route_examples.adopt(old.route_examples)
    # The observability middleware holds the tracer it was built with: keep that one.
    if new.tracing is not None and new.tracing is not old.tracing:
        new.tracing.shutdown()
    new.tracing = old.tracing


def detach_carried_state(old: Gateway) -> None:
    """Before a retired gateway is stopped: give it fresh copies of what the new one now owns."""
    from llmroute.routing.sessions import MemorySessionStore

    if isinstance(old.sessions, MemorySessionStore):
        old.sessions = MemorySessionStore(old.sessions.ttl, old.sessions.max_entries)
    old.tracing = None

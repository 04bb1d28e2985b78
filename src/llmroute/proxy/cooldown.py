"""Which models are resting after a 429: skipped by failover until their cooldown ends.

In-process for now; the interface is async so a shared store (Redis) can back it later without
changing the callers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

# When a 429 carries no usable Retry-After, rest the model this long.
DEFAULT_COOLDOWN_SECONDS = 5.0
# Never trust an upstream asking us to stay away longer than this.
MAX_COOLDOWN_SECONDS = 300.0


class CooldownStore(Protocol):
    async def is_cooling(self, model: str) -> bool: ...

    async def cool(self, model: str, seconds: float) -> None: ...

    async def remaining(self, model: str) -> float: ...


class MemoryCooldowns:
    """model → monotonic time its cooldown ends. Expired entries are dropped on read."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._until: dict[str, float] = {}
        self._clock = clock

    async def is_cooling(self, model: str) -> bool:
        return await self.remaining(model) > 0.0

    async def remaining(self, model: str) -> float:
        until = self._until.get(model)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0.0:
            del self._until[model]
            return 0.0
        return left

    def snapshot(self) -> dict[str, float]:
        """What is resting now and for how many more seconds (for the console's live view)."""
        now = self._clock()
        return {model: round(until - now, 3) for model, until in self._until.items() if until > now}

    async def cool(self, model: str, seconds: float) -> None:
        seconds = min(max(seconds, 0.0), MAX_COOLDOWN_SECONDS)
        until = self._clock() + seconds
        # A shorter second cooldown never cuts an earlier, longer one short.
        if until > self._until.get(model, 0.0):
            self._until[model] = until


def retry_after_seconds(value: str | None, default: float = DEFAULT_COOLDOWN_SECONDS) -> float:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); `default` when absent or unusable."""
    if not value:
        return default
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return default
        seconds = when.timestamp() - time.time()
    if seconds != seconds or seconds < 0:  # NaN or in the past
        return default
    return min(seconds, MAX_COOLDOWN_SECONDS)

"""Token-aware rate limits: requests and tokens per minute, per model and per key (`rate_limits`).

Each rule owns token buckets: capacity = the per-minute limit, refilled continuously at
limit/60 per second, so a client may burst up to a minute's budget and then proceeds at the
limit's pace. A request takes 1 from every matching requests-bucket and its *estimated* tokens
(prompt text / 4 + the output it asks for) from every matching tokens-bucket, all or nothing. When
the response tells the real usage the difference is given back or taken (a bucket may go into
debt, which delays later requests). A request that does not fit gets a 429 with `Retry-After`.

Two stores with one interface: `MemoryBuckets` (this process) and `RedisBuckets`, where a Lua
script checks and takes every bucket of a request atomically with Redis's clock, so any number of
replicas share one budget. Redis unreachable: `on_store_error` says whether requests go through
unlimited (`allow`, the default) or get a 503 (`deny`); either way it is logged and counted.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from llmroute.errors import GatewayError
from llmroute.governance.schema import Auth, RateLimitRule, RateLimits, model_pattern_matches
from llmroute.governance.shared import SharedRedis, StoreUnavailable
from llmroute.observability import metrics
from llmroute.observability.record import note_governance
from llmroute.wire import ClientFormat

log = logging.getLogger("llmroute.governance")

ANONYMOUS = "-"
# Rough tokens per character of prompt text, and per message of framing.
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
_OUTPUT_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
# Structural fields of messages and blocks: not text the model reads as tokens of its own.
_NOT_TEXT = frozenset({"type", "id", "role", "call_id", "tool_call_id", "tool_use_id"})


@dataclass(frozen=True, slots=True)
class Charge:
    bucket: str  # "<rule>|<kind>|<per values>"
    capacity: int  # per minute
    cost: int
    rule: str
    kind: str  # requests | tokens


class Buckets(Protocol):
    async def take(self, charges: Sequence[Charge]) -> tuple[float, int]:
        """Take every charge, or none: (0, -1) when taken, else (seconds until it would fit, index of
        the first charge that does not fit). Raises StoreUnavailable."""
        ...

    async def adjust(self, charges: Sequence[Charge]) -> None:
        """Add each charge's cost unconditionally (negative gives back). Raises StoreUnavailable."""
        ...

    async def aclose(self) -> None: ...


class MemoryBuckets:
    """Buckets in this process: bucket → (level, monotonic time of the level)."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[float, float]] = {}

    def _level(self, charge: Charge, now: float) -> float:
        level, then = self._state.get(charge.bucket, (float(charge.capacity), now))
        return min(float(charge.capacity), level + (now - then) * charge.capacity / 60.0)

    async def take(self, charges: Sequence[Charge]) -> tuple[float, int]:
        now = time.monotonic()
        levels = [self._level(c, now) for c in charges]
        wait, blocking = 0.0, -1
        for i, (charge, level) in enumerate(zip(charges, levels, strict=True)):
            if charge.cost > level:
                needed = (charge.cost - level) * 60.0 / charge.capacity
                if needed > wait:
                    wait, blocking = needed, i
        if blocking >= 0:
            return wait, blocking
        for charge, level in zip(charges, levels, strict=True):
            self._state[charge.bucket] = (level - charge.cost, now)
        self._forget_full(now)
        return 0.0, -1

    async def adjust(self, charges: Sequence[Charge]) -> None:
        now = time.monotonic()
        for charge in charges:
            self._state[charge.bucket] = (self._level(charge, now) - charge.cost, now)

    def _forget_full(self, now: float) -> None:
        # Bound memory with many per-key buckets: a bucket that has refilled equals no entry.
        if len(self._state) > 10_000:
            self._state = {b: (lv, t) for b, (lv, t) in self._state.items() if now - t < 120 or lv < 0}

    async def aclose(self) -> None:
        self._state.clear()


# KEYS: bucket keys. ARGV: mode ("take" | "adjust"), then per key: capacity, cost.
# State per bucket: hash {l: level, t: ms}. Redis's own clock, so replicas' clocks do not matter.
# A bucket expires once it would be full again (a missing bucket is a full one).
_BUCKETS_SCRIPT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local mode = ARGV[1]
local levels = {}
local wait, blocking = 0, -1
for i = 1, #KEYS do
  local cap = tonumber(ARGV[2 * i])
  local cost = tonumber(ARGV[2 * i + 1])
  local rate = cap / 60000
  local state = redis.call('HMGET', KEYS[i], 'l', 't')
  local level, t = tonumber(state[1]), tonumber(state[2])
  if level == nil or t == nil then
    level, t = cap, now_ms
  end
  level = math.min(cap, level + math.max(0, now_ms - t) * rate)
  levels[i] = level
  if mode == 'take' and cost > level then
    local needed = (cost - level) / rate
    if needed > wait then
      wait, blocking = needed, i - 1
    end
  end
end
if blocking >= 0 then
  return {math.ceil(wait), blocking}
end
for i = 1, #KEYS do
  local cap = tonumber(ARGV[2 * i])
  local left = levels[i] - tonumber(ARGV[2 * i + 1])
  redis.call('HSET', KEYS[i], 'l', tostring(left), 't', now_ms)
  redis.call('PEXPIRE', KEYS[i], math.ceil((cap - left) / (cap / 60000)) + 1000)
end
return {0, -1}
"""


class RedisBuckets:
    def __init__(self, shared: SharedRedis) -> None:
        self.shared = shared
        self._script = shared.register_script(_BUCKETS_SCRIPT)

    def _run(self, mode: str, charges: Sequence[Charge]) -> Any:
        keys = [f"{self.shared.prefix}ratelimit:{c.bucket}" for c in charges]
        args: list[Any] = [mode]
        for charge in charges:
            args += [charge.capacity, charge.cost]
        return self._script(keys=keys, args=args)

    async def take(self, charges: Sequence[Charge]) -> tuple[float, int]:
        wait_ms, blocking = await self.shared.call("rate_limit", lambda: self._run("take", charges))
        return int(wait_ms) / 1000, int(blocking)

    async def adjust(self, charges: Sequence[Charge]) -> None:
        await self.shared.call("rate_limit", lambda: self._run("adjust", charges))

    async def aclose(self) -> None:
        pass  # the SharedRedis owner closes the pool


# --- rules ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    models: tuple[str, ...] | None
    keys: frozenset[str] | None
    per: tuple[str, ...]
    requests_per_minute: int | None
    tokens_per_minute: int | None

    def matches(self, key: str | None, model: str) -> bool:
        if self.keys is not None and key not in self.keys:
            return False
        return self.models is None or any(model_pattern_matches(p, model) for p in self.models)

    def charges(self, key: str | None, model: str, requests: int, tokens: int) -> list[Charge]:
        subject = "|".join(
            f"key={key or ANONYMOUS}" if dimension == "key" else f"model={model}" for dimension in self.per
        )
        out = []
        if self.requests_per_minute is not None and requests:
            bucket = f"{self.name}|requests|{subject}"
            out.append(Charge(bucket, self.requests_per_minute, requests, self.name, "requests"))
        if self.tokens_per_minute is not None and tokens:
            bucket = f"{self.name}|tokens|{subject}"
            out.append(Charge(bucket, self.tokens_per_minute, tokens, self.name, "tokens"))
        return out


def compile_rules(rate_limits: RateLimits | None, auth: Auth | None) -> list[Rule]:
    rules: list[Rule] = []
    for i, rule in enumerate(rate_limits.rules if rate_limits is not None else ()):
        rules.append(_compile(rule, rule.name or f"rule{i}"))
    for key in auth.keys if auth is not None else ():
        if key.rate_limits is not None:
            limits = key.rate_limits
            if limits.requests_per_minute is not None or limits.tokens_per_minute is not None:
                rules.append(
                    Rule(
                        f"key:{key.name}",
                        None,
                        frozenset({key.name}),
                        (),
                        limits.requests_per_minute,
                        limits.tokens_per_minute,
                    )
                )
    return rules


def _compile(rule: RateLimitRule, name: str) -> Rule:
    return Rule(
        name,
        tuple(rule.models) if rule.models is not None else None,
        frozenset(rule.keys) if rule.keys is not None else None,
        tuple(rule.per),
        rule.requests_per_minute,
        rule.tokens_per_minute,
    )


# --- estimating a request's tokens ---------------------------------------------------------------


def _text_chars(value: Any, depth: int = 0) -> int:
    """Characters of text in a (part of a) message: strings, and the strings inside content blocks."""
    if isinstance(value, str):
        return len(value)
    if depth > 8:
        return 0
    if isinstance(value, list):
        return sum(_text_chars(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return sum(_text_chars(item, depth + 1) for k, item in value.items() if k not in _NOT_TEXT)
    return 0


def estimate_tokens(fmt: ClientFormat, body: dict[str, Any], default_output: int) -> int:
    """Prompt tokens (text / 4 plus framing) + the output the request may produce."""
    messages = body.get("input" if fmt == "responses" else "messages")
    count = len(messages) if isinstance(messages, list) else 1
    chars = _text_chars(messages)
    for field in ("system", "instructions", "tools"):
        chars += _text_chars(body.get(field))
    prompt = math.ceil(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * count
    output = default_output
    for field in _OUTPUT_FIELDS:
        value = body.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            output = value
            break
    return prompt + output


# --- the limiter ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Reservation:
    """What one admitted request took, so the response can correct it."""

    key: str | None
    model: str
    estimate: int
    charges: list[Charge]


class RateLimiter:
    def __init__(self, rules: list[Rule], buckets: Buckets, config: RateLimits | None) -> None:
        self.rules = rules
        self.buckets = buckets
        self.on_store_error = config.on_store_error if config is not None else "allow"
        self.default_output = config.default_output_tokens if config is not None else 256
        self.counts_tokens = any(rule.tokens_per_minute is not None for rule in rules)

    def _charges(self, key: str | None, model: str, requests: int, tokens: int) -> list[Charge]:
        out: list[Charge] = []
        for rule in self.rules:
            if rule.matches(key, model):
                out.extend(rule.charges(key, model, requests, tokens))
        return out

    async def reserve(
        self, fmt: ClientFormat, key: str | None, candidates: list[str], body: dict[str, Any]
    ) -> tuple[list[str], Reservation | None]:
        """Take the budget for the first candidate that fits. Returns the candidates from that one on
        (those refused before it are skipped) and the reservation; raises a 429 when none fits."""
        estimate = estimate_tokens(fmt, body, self.default_output) if self.counts_tokens else 0
        waits: list[tuple[float, Charge]] = []
        for index, model in enumerate(candidates):
            charges = self._charges(key, model, 1, estimate)
            if not charges:
                return candidates[index:], None
            too_big = next((c for c in charges if c.cost > c.capacity), None)
            if too_big is not None:
                waits.append((math.inf, too_big))
                continue
            try:
                wait, blocking = await self.buckets.take(charges)
            except StoreUnavailable:
                self._store_down()  # raises when the policy is to deny
                return candidates[index:], None
            if blocking < 0:
                return candidates[index:], Reservation(key, model, estimate, charges)
            waits.append((wait, charges[blocking]))
        raise self._refusal(waits, estimate)

    def _store_down(self) -> None:
        if self.on_store_error == "deny":
            metrics.SHARED_STATE_ERRORS.labels(operation="rate_limit", outcome="denied").inc()
            note_governance("rate_limit.store_unavailable", outcome="denied")
            raise GatewayError(
                503,
                "Rate limiting is unavailable (shared state store unreachable); try again shortly",
                "rate_limit_store_unavailable",
                {"Retry-After": "1"},
            )
        metrics.SHARED_STATE_ERRORS.labels(operation="rate_limit", outcome="allowed").inc()
        note_governance("rate_limit.store_unavailable", outcome="allowed")

    def _refusal(self, waits: list[tuple[float, Charge]], estimate: int) -> GatewayError:
        wait, charge = min(waits, key=lambda pair: pair[0])
        for _, refused in waits:
            metrics.RATE_LIMITED.labels(rule=refused.rule, kind=refused.kind).inc()
        note_governance("rate_limit.refused", rule=charge.rule, kind=charge.kind)
        log.info(
            "rate limit: refused by rule '%s' (%s per minute: %d)", charge.rule, charge.kind, charge.capacity
        )
        if math.isinf(wait):
            return GatewayError(
                429,
                f"Request too large: it needs about {estimate} tokens, more than the rate limit "
                f"'{charge.rule}' allows per minute ({charge.capacity})",
                "rate_limit_exceeded",
            )
        retry = max(1, math.ceil(wait))
        what = "requests" if charge.kind == "requests" else "tokens"
        return GatewayError(
            429,
            f"Rate limit '{charge.rule}' reached ({charge.capacity} {what} per minute); retry in {retry}s",
            "rate_limit_exceeded",
            {"Retry-After": str(retry)},
        )

    async def settle(
        self, reservation: Reservation, served_by: str | None, used_tokens: int | None, failed: bool
    ) -> None:
        """Correct a reservation once the response is known: which model served it, its real usage,
        and whether it failed (a failed request keeps its request count but gives its tokens back)."""
        reserved = reservation.charges
        corrections: list[Charge] = []
        if failed:
            corrections = [_negated(c) for c in reserved if c.kind == "tokens"]
        elif served_by is not None and served_by != reservation.model:
            # Failover: the budget goes to the model that actually answered.
            tokens = used_tokens if used_tokens is not None else reservation.estimate
            corrections = [_negated(c) for c in reserved]
            corrections += self._charges(reservation.key, served_by, 1, tokens if self.counts_tokens else 0)
        elif used_tokens is not None and used_tokens != reservation.estimate:
            delta = used_tokens - reservation.estimate
            corrections = [
                Charge(c.bucket, c.capacity, delta, c.rule, c.kind) for c in reserved if c.kind == "tokens"
            ]
        await self._adjust(corrections)

    async def refund(self, reservation: Reservation) -> None:
        """Give back everything a reservation took (the request never went upstream)."""
        await self._adjust([_negated(c) for c in reservation.charges])

    async def _adjust(self, corrections: list[Charge]) -> None:
        if not corrections:
            return
        try:
            await self.buckets.adjust(corrections)
        except StoreUnavailable:
            metrics.SHARED_STATE_ERRORS.labels(operation="rate_limit", outcome="allowed").inc()


def _negated(charge: Charge) -> Charge:
    return Charge(charge.bucket, charge.capacity, -charge.cost, charge.rule, charge.kind)

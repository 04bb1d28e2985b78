"""The governance sections of the YAML config: `auth`, `rate_limits`, `guardrails`, `limits`, `shared_state`.

Shapes and per-field rules only, like `config/models.py` (which puts these sections on the
document). Cross-section rules (a rate-limit rule naming a key that `auth` does not declare) are
in `cross_check`, which the document's validator calls. Every model forbids unknown keys.

```yaml
auth:
  keys:
    - {key: $TEAM_A_KEY, name: team-a, allowed_models: [openai/gpt-4o-mini, "anthropic/*"],
       rate_limits: {requests_per_minute: 60, tokens_per_minute: 100000}}
  open_paths: [/healthz, /readyz, /metrics]
rate_limits:
  on_store_error: allow            # allow (fail open) | deny
  rules:
    - {name: gpt4o, models: [openai/gpt-4o], per: [key], tokens_per_minute: 50000}
shared_state: {type: redis, url: redis://127.0.0.1:6379/0}
guardrails:
  request:
    - {type: pii, action: redact}
    - {type: blocklist, patterns: ["(?i)ignore (all )?previous instructions"]}
    - {type: http, url: http://filter.internal/check, timeout_ms: 300, on_error: allow}
limits: {max_body_bytes: 4MiB, max_concurrent_upstream: 512}
```
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llmroute.durations import parse_duration
from llmroute.governance.regex import compile_pattern


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    None: 1,
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}


def parse_size(value: Any) -> int:
    """Bytes from a number or a string such as "8MiB", "512KB", "1048576"."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 1048576 or '8MiB'")
    if isinstance(value, int):
        size = value
    elif isinstance(value, float) and value.is_integer():
        size = int(value)
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValueError(f"invalid size {value!r}: use a number of bytes or e.g. '512KiB', '8MiB'")
        unit = match.group(2).lower() if match.group(2) else None
        size = int(float(match.group(1)) * _SIZE_UNITS[unit])
    if size <= 0:
        raise ValueError("must be greater than 0")
    return size


def model_pattern_matches(pattern: str, model: str) -> bool:
    """`openai/gpt-4o` matches itself; `openai/*` matches every model of that provider; `*` every model."""
    if pattern == "*" or pattern == model:
        return True
    return pattern.endswith("/*") and model.startswith(pattern[:-1])


# --- auth ----------------------------------------------------------------------------------------


class KeyRateLimits(_Strict):
    """A key's own budget (one shared budget for everything the key does)."""

    requests_per_minute: int | None = Field(default=None, gt=0)
    tokens_per_minute: int | None = Field(default=None, gt=0)


class GatewayKey(_Strict):
    key: str = Field(min_length=1)
    name: str = Field(min_length=1)
    # Models this key may use (full names, `provider/*`, or `*`); unset: every model.
    allowed_models: list[str] | None = None
    rate_limits: KeyRateLimits | None = None
    # May use the routing console (/console): its API shows routes, decisions and provider state.
    admin: bool = False


DEFAULT_OPEN_PATHS = ("/healthz", "/readyz", "/metrics")


class Auth(_Strict):
    keys: list[GatewayKey] = Field(min_length=1)
    # Paths served without a key (probes and scrapes).
    open_paths: list[str] = Field(default_factory=lambda: list(DEFAULT_OPEN_PATHS))

    @model_validator(mode="after")
    def _unique(self) -> Auth:
        names = [k.name for k in self.keys]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise ValueError(f"keys[{i}].name: duplicate key name '{name}'")
        values = [k.key for k in self.keys]
        for i, value in enumerate(values):
            if value in values[:i]:
                raise ValueError(
                    f"keys[{i}].key: the same key is declared twice (keys[{values.index(value)}])"
                )
        return self


# --- rate limits ---------------------------------------------------------------------------------


class RateLimitRule(_Strict):
    # A label for logs and metrics; defaults to "rule<N>".
    name: str | None = Field(default=None, min_length=1)
    # Which requests the rule counts: the served model matches one of `models`, the caller's key is one
    # of `keys` (by name). Unset: any model / any caller.
    models: list[str] | None = None
    keys: list[str] | None = None
    # One budget per value of these: [] = a single budget shared by everything the rule matches;
    # [key] = one per caller key; [model] = one per model; [key, model] = one per pair.
    per: list[Literal["key", "model"]] = Field(default_factory=list)
    requests_per_minute: int | None = Field(default=None, gt=0)
    tokens_per_minute: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _has_a_limit(self) -> RateLimitRule:
        if self.requests_per_minute is None and self.tokens_per_minute is None:
            raise ValueError("give requests_per_minute and/or tokens_per_minute")
        return self


class RateLimits(_Strict):
    rules: list[RateLimitRule] = Field(default_factory=list)
    # When the shared store (Redis) cannot be reached: `allow` lets requests through unlimited (and
    # logs and counts it), `deny` answers 503.
    on_store_error: Literal["allow", "deny"] = "allow"
    # Output tokens reserved for a request that sets no max_tokens (corrected from the usage).
    default_output_tokens: int = Field(default=256, ge=0)

    @model_validator(mode="after")
    def _unique_names(self) -> RateLimits:
        names = [rule.name for rule in self.rules if rule.name]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"rules: duplicate rule name '{name}'")
        return self


# --- shared state --------------------------------------------------------------------------------


class SharedState(_Strict):
    """Where replicas share rate-limit budgets and failover cooldowns. `memory`: this process only."""

    type: Literal["memory", "redis"] = "memory"
    url: str | None = None
    # Every Redis call is bounded by this; past it the `on_store_error` policy applies.
    timeout_ms: int = Field(default=250, gt=0)
    key_prefix: str = "llmroute:"

    @model_validator(mode="after")
    def _redis_needs_url(self) -> SharedState:
        if self.type == "redis" and not self.url:
            raise ValueError("shared_state type redis needs a url, e.g. redis://localhost:6379/0")
        return self


# --- guardrails ----------------------------------------------------------------------------------

PiiEntity = Literal["email", "phone", "card", "iban", "secret"]
PII_ENTITIES: tuple[PiiEntity, ...] = ("email", "phone", "card", "iban", "secret")


class PiiGuardrail(_Strict):
    type: Literal["pii"]
    name: str | None = Field(default=None, min_length=1)
    action: Literal["redact", "block"] = "redact"
    entities: list[PiiEntity] = Field(default_factory=lambda: list(PII_ENTITIES), min_length=1)


class BlocklistGuardrail(_Strict):
    type: Literal["blocklist"]
    name: str | None = Field(default=None, min_length=1)
    # Regular expressions (RE2 syntax, run in linear time: governance/regex.py); a match anywhere
    # in the text triggers the action.
    patterns: list[str] = Field(min_length=1)
    action: Literal["block", "redact"] = "block"

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for i, pattern in enumerate(patterns):
            try:
                compile_pattern(pattern)
            except ValueError as exc:
                raise ValueError(f"patterns[{i}]: invalid regular expression {pattern!r}: {exc}") from None
        return patterns


class HttpGuardrail(_Strict):
    type: Literal["http"]
    name: str | None = Field(default=None, min_length=1)
    url: str
    timeout_ms: int = Field(default=500, gt=0)
    # The filter cannot be reached, times out or answers nonsense: `allow` passes the text on
    # unchanged (fail open), `deny` refuses the request (fail closed).
    on_error: Literal["allow", "deny"] = "allow"
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


Guardrail = Annotated[PiiGuardrail | BlocklistGuardrail | HttpGuardrail, Field(discriminator="type")]


class Guardrails(_Strict):
    # Run in order on the request before routing; the first `block` ends the chain.
    request: list[Guardrail] = Field(default_factory=list)
    # Run on complete responses; `pii` and `blocklist` also on streams (governance/stream_guard.py):
    # `screen` holds back `stream_window_chars` of text and cuts the stream at a finding; `pass`
    # lets streams through unscreened.
    response: list[Guardrail] = Field(default_factory=list)
    # streamed answers: `screen` (cut at a finding) or `pass` (unscreened)
    streams: Literal["screen", "pass"] = "screen"
    # text held back while screening a stream, so a finding can be cut before it is sent
    stream_window_chars: int = Field(default=128, gt=0)


# --- limits --------------------------------------------------------------------------------------


class InlineRouteLimits(_Strict):
    """Bounds on the `routing_preferences` / `routing_policy` a client sends with a request: each
    new route set is embedded (CPU, memory) before the request is answered, so its size is the
    client's to choose only within these. Beyond one, the answer is a 400 naming the limit."""

    # Worst case held by the embedded router: 256 cached route sets of this size (docs/governance.md).
    max_routes: int = Field(default=32, gt=0)
    # characters in one route name
    max_name_chars: int = Field(default=128, gt=0)
    # characters in one description
    max_description_chars: int = Field(default=2000, gt=0)
    max_examples: int = Field(default=16, ge=0)  # per route
    # characters in one example
    max_example_chars: int = Field(default=1000, gt=0)
    # names + descriptions + examples of all the request's routes together
    max_total_chars: int = Field(default=50_000, gt=0)
    # requests routed on inline routes classified at once in this process; more wait their turn,
    # so that config-routed requests always find the router free (the embedded router has 2 threads)
    max_concurrent: int = Field(default=1, gt=0)


class Limits(_Strict):
    # Larger request bodies get a 413 before they are read whole.
    max_body_bytes: int = 8 * 1024 * 1024
    # A request line plus headers larger than this gets a 431 and the connection is closed.
    max_header_bytes: int = 64 * 1024
    # A client must send its whole request line and headers within this, and its whole body within
    # `body_timeout` after them; slower clients (slowloris) get a 408 and are disconnected.
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    # Upstream calls in flight at once in this process; more wait up to `queue_timeout` for a slot,
    # then get a 503. Unset: no limit.
    max_concurrent_upstream: int | None = Field(default=None, gt=0)
    queue_timeout: float = 10.0
    inline_routes: InlineRouteLimits = Field(default_factory=InlineRouteLimits)

    @field_validator("max_body_bytes", "max_header_bytes", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int:
        return parse_size(value)

    @field_validator("header_timeout", "body_timeout", "queue_timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


# --- cross-section rules -------------------------------------------------------------------------


def cross_check(
    auth: Auth | None, rate_limits: RateLimits | None, shared_state: SharedState | None
) -> list[str]:
    """Problems that need more than one section, as "key.path: what is wrong" lines."""
    errors: list[str] = []
    names = {k.name for k in auth.keys} if auth is not None else set()
    if rate_limits is not None:
        for i, rule in enumerate(rate_limits.rules):
            for j, key in enumerate(rule.keys or ()):
                if key not in names:
                    known = ", ".join(sorted(names)) or "none: add an auth section"
                    errors.append(
                        f"rate_limits.rules[{i}].keys[{j}]: unknown key name '{key}' (declared: {known})"
                    )
            if "key" in rule.per and auth is None:
                errors.append(
                    f"rate_limits.rules[{i}].per: 'key' needs an auth section (callers have no key)"
                )
    return errors

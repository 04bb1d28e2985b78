"""What one request did, collected while it runs: the routing decision and each upstream attempt.

The observability middleware opens a `RequestRecord` per HTTP request and makes it current (a
context variable, so it follows the request into the streaming task). The decision pipeline and
the proxy add to it with the two functions below; at the end the middleware turns it into the
request metrics, the spans (when tracing is on) and the one log line. Recording is a few
attribute writes: the hot path does no OpenTelemetry work here.
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmroute.observability.trace_context import format_traceparent, new_span_id

if TYPE_CHECKING:
    from llmroute.wire import Usage


@dataclass(slots=True)
class UpstreamAttempt:
    """One call to a provider: which model, when, and how it ended."""

    model: str
    # The id sent upstream as the parent in `traceparent`; with tracing on, the attempt span gets it.
    span_id: str
    traceparent: str
    started: float  # time.perf_counter()
    ended: float | None = None
    status: int | None = None  # the provider's HTTP status, when it answered
    error: str | None = None  # failure class (status_429, status_5xx, timeout, connect...), None on success
    stream: bool = False

    def finish(self, error: str | None = None, status: int | None = None, stream: bool = False) -> None:
        """The outcome is known: the body was read, the first stream chunk arrived, or the call failed."""
        if self.ended is None:
            self.ended = time.perf_counter()
        self.error = error
        self.status = status
        self.stream = stream


@dataclass(slots=True)
class RequestRecord:
    method: str
    path: str
    endpoint: str  # the metrics label: a path we serve, or "other"
    started: float = field(default_factory=time.perf_counter)
    started_ns: int = field(default_factory=time.time_ns)  # wall clock, for span timestamps
    trace_id: str = ""
    span_id: str = ""
    sampled: bool = True
    # the routing decision
    routing_started: float | None = None
    routing_ended: float | None = None
    route: str | None = None
    candidates: tuple[str, ...] = ()
    source: str | None = None
    pinned: bool = False
    router_backend: str | None = None
    router_seconds: float = 0.0
    router_error: str | None = None
    # forwarding
    attempts: list[UpstreamAttempt] = field(default_factory=list)
    # the answer, noted once by the proxy: the model that served it (as in `x-llmroute-model`) and
    # its token usage (None when the upstream reported none); governance settles budgets from them
    served_model: str | None = None
    usage: Usage | None = None
    # the response
    status: int | None = None
    response_started: float | None = None
    ended: float | None = None
    error: str | None = None  # an exception that escaped the app
    # governance decisions (keys, rate limits, guardrails): (event, attributes, perf_counter moment),
    # written as events on the request span. None until the first one (most requests have none).
    governance: list[tuple[str, dict[str, str], float]] | None = None
    # The last user message, kept only when the routing console shows content (console.show_content).
    prompt: str | None = None

    @property
    def traceparent(self) -> str:
        return format_traceparent(self.trace_id, self.span_id, self.sampled)

    @property
    def model(self) -> str | None:
        """The model that answered (the last attempt, if it succeeded), else the first candidate."""
        if self.attempts and self.attempts[-1].error is None:
            return self.attempts[-1].model
        return self.candidates[0] if self.candidates else None

    def upstream_seconds(self, until: float) -> float:
        """Time spent waiting on providers up to `until` (an attempt still open counts up to it)."""
        total = 0.0
        for attempt in self.attempts:
            end = attempt.ended if attempt.ended is not None else until
            total += max(min(end, until) - attempt.started, 0.0)
        return total

    def clock_ns(self, moment: float) -> int:
        """A perf_counter() moment of this request as wall-clock nanoseconds (for span timestamps)."""
        return self.started_ns + int((moment - self.started) * 1e9)


_current: ContextVar[RequestRecord | None] = ContextVar("llmroute_request_record", default=None)


def current_record() -> RequestRecord | None:
    return _current.get()


def bind_record(record: RequestRecord) -> Token[RequestRecord | None]:
    """Make `record` the current request's (the middleware does, for the duration of the request)."""
    return _current.set(record)


def unbind_record(token: Token[RequestRecord | None]) -> None:
    _current.reset(token)


def note_decision(decision: Any, started: float) -> None:
    """Record a routing decision (a `routing.decision.Decision`) that took from `started` until now."""
    record = _current.get()
    if record is None:
        return
    record.routing_started = started
    record.routing_ended = time.perf_counter()
    record.route = decision.route
    record.candidates = tuple(decision.models)
    record.source = decision.source
    record.pinned = decision.pinned
    record.router_backend = decision.router_backend
    record.router_seconds = decision.router_seconds
    record.router_error = decision.router_error


def start_attempt(model: str, trace_id: str) -> UpstreamAttempt:
    """An upstream call to `model` starts now; its `traceparent` is the header to send with it.

    Outside a request (no current record) the attempt is still returned, just not kept.
    """
    record = _current.get()
    span_id = new_span_id()
    if record is None:
        return UpstreamAttempt(model, span_id, format_traceparent(trace_id, span_id), time.perf_counter())
    attempt = UpstreamAttempt(
        model, span_id, format_traceparent(record.trace_id, span_id, record.sampled), time.perf_counter()
    )
    record.attempts.append(attempt)
    return attempt


# Set by observability/recent.py when the console shows request content (console.show_content).
KEEP_PROMPTS = False
MAX_PROMPT_CHARS = 500


def note_prompt(conversation: Any) -> None:
    """Keep the request's last user message for the console's live view (only when it shows content)."""
    if not KEEP_PROMPTS:
        return
    record = _current.get()
    if record is not None:
        record.prompt = prompt_text(conversation)


def note_governance(event: str, **attributes: str) -> None:
    """Record a governance decision (e.g. "guardrail.redact", guardrail="pii") for the request's span."""
    record = _current.get()
    if record is None:
        return
    if record.governance is None:
        record.governance = []
    record.governance.append((event, attributes, time.perf_counter()))


def prompt_text(conversation: Any) -> str | None:
    """The last user message of a conversation, cut to a readable length."""
    for message in reversed(conversation):
        if getattr(message, "role", None) == "user":
            text = str(getattr(message, "text", ""))
            return text if len(text) <= MAX_PROMPT_CHARS else text[:MAX_PROMPT_CHARS] + "…"
    return None

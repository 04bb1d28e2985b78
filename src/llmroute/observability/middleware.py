"""Per request: the metrics, the trace ids, the span and the log line.

The dispatcher (server/app.py) calls the three steps around every request: `open` when it
begins (its record, made current, and its trace ids: the incoming `traceparent` is parsed once,
here, for every request), `failed` if an exception escapes, `close` once the response is sent,
which for a stream is after its last byte. The response's own `traceparent` header is the
record's (`RequestRecord.traceparent`), set by the dispatcher.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from contextvars import Token

from opentelemetry.trace import Span
from starlette.types import Scope

from llmroute.observability import metrics, recent
from llmroute.observability.hot_metrics import HotCounter, HotHistogram
from llmroute.observability.logs import log_request
from llmroute.observability.record import RequestRecord, bind_record, unbind_record
from llmroute.observability.trace_context import new_span_id, new_trace_id, parse_traceparent
from llmroute.observability.tracing import Tracing

log = logging.getLogger("llmroute.observability")

# Probes and scrapes: counted, but neither traced nor logged above debug (they come every few seconds).
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# The status recorded when the client went away before any response was started (as nginx does).
CLIENT_CLOSED = 499


class RequestObservability:
    def __init__(self, endpoints: Collection[str], tracing: Tracing | None = None) -> None:
        # Metric labels are the paths we serve; anything else is "other" (bounded cardinality).
        self.endpoints = frozenset(endpoints)
        self.tracing = tracing
        # Labelled metric children, looked up once per (endpoint, status): `.labels()` takes a lock
        # and sorts its arguments, which is most of the accounting's cost on a hot path.
        self._counters: dict[tuple[str, int], HotCounter] = {}
        self._histograms: dict[str, tuple[HotHistogram, HotHistogram]] = {}

    def open(self, scope: Scope) -> tuple[RequestRecord, Span | None, Token[RequestRecord | None]]:
        """A request begins: its record (made current), trace ids and, when tracing, its span."""
        path: str = scope["path"]
        record = RequestRecord(scope["method"], path, path if path in self.endpoints else "other")
        traceparent, tracestate = _trace_headers(scope)
        span = None
        if self.tracing is not None and path not in QUIET_PATHS:
            span = self.tracing.start_request(record, traceparent, tracestate)
        else:
            parent = parse_traceparent(traceparent)
            record.trace_id = parent[0] if parent else new_trace_id()
            record.span_id = new_span_id()
        return record, span, bind_record(record)

    @staticmethod
    def failed(record: RequestRecord, exc: BaseException) -> None:
        """An exception escaped the app (a cancelled request is the client having gone)."""
        if record.status is None:
            record.status = 500 if isinstance(exc, Exception) else CLIENT_CLOSED
        record.error = type(exc).__name__

    def close(self, record: RequestRecord, span: Span | None, token: Token[RequestRecord | None]) -> None:
        """The request is over: metrics, span and log line."""
        unbind_record(token)
        try:
            self._finish(record, span)
        except Exception:  # accounting must never turn a served request into an error
            log.exception("observability failed for %s %s", record.method, record.path)

    def _finish(self, record: RequestRecord, span: Span | None) -> None:
        record.ended = ended = time.perf_counter()
        if record.status is None:
            record.status = CLIENT_CLOSED
        total = ended - record.started
        # Gateway overhead: until the response started, minus the time spent waiting on providers.
        answered = record.response_started if record.response_started is not None else ended
        upstream = record.upstream_seconds(ended)
        overhead = max(answered - record.started - record.upstream_seconds(answered), 0.0)
        endpoint = record.endpoint
        counter = self._counters.get((endpoint, record.status))
        if counter is None:
            counter = HotCounter(metrics.REQUESTS.labels(endpoint=endpoint, status=str(record.status)))
            self._counters[(endpoint, record.status)] = counter
        histograms = self._histograms.get(endpoint)
        if histograms is None:
            histograms = (
                HotHistogram(metrics.REQUEST_DURATION.labels(endpoint=endpoint)),
                HotHistogram(metrics.GATEWAY_OVERHEAD.labels(endpoint=endpoint)),
            )
            self._histograms[endpoint] = histograms
        counter.inc(1)
        histograms[0].observe(total)
        histograms[1].observe(overhead)
        if span is not None and self.tracing is not None:
            self.tracing.finish_request(span, record, overhead)
        log_request(record, total, upstream, overhead, quiet=record.path in QUIET_PATHS)
        if recent.RECENT is not None:  # the routing console's live view (off unless console.enabled)
            recent.RECENT.observe(record, total)


def _trace_headers(scope: Scope) -> tuple[str | None, str | None]:
    traceparent = tracestate = None
    for name, value in scope["headers"]:
        if name == b"traceparent":
            traceparent = value.decode("latin-1")
        elif name == b"tracestate":
            tracestate = value.decode("latin-1")
    return traceparent, tracestate

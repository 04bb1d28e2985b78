"""Response guardrails on streamed answers (`pii` and `blocklist`).

A stream cannot be redacted after the fact: what reached the client is gone. So the screen holds
back a window of text. Each event is released only once at least `window` characters of the
answer's text have arrived after it (or the stream ended), and just before its release the text
from that event's start to the newest held character is scanned. Any match no longer than the
window that starts in the event is therefore seen before a byte of it is sent. When a check finds
something, whatever its action (`redact` or `block`), the held events are dropped and the stream
ends with an error event in the client's format (`content_blocked`): the client gets the answer
up to the finding, never the finding. Matches longer than the window may be cut only after part of
them was sent. The `http` guardrail needs a whole body and does not run on streams.

The cost: the client sees text `window` characters later than without the screen (the very end of
an answer arrives at once), and each event's release scans at most its own text plus the window.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any

import orjson

from llmroute.governance.guardrails import BlocklistCheck, Check, PiiCheck, find_pii
from llmroute.observability import metrics
from llmroute.observability.record import note_governance
from llmroute.wire import ClientFormat
from llmroute.wire.errors import stream_error_event
from llmroute.wire.sse import DONE

log = logging.getLogger("llmroute.governance")

STAGE = "response_stream"
_BOUNDARY = re.compile(rb"\r\n\r\n|\n\n|\r\r")

Finder = Callable[[str], str | None]  # the finding's kind ("1 email"), or None


def finders(checks: list[Check]) -> list[tuple[str, Finder]]:
    """(guardrail name, finder) for the checks that can screen text as it streams."""
    out: list[tuple[str, Finder]] = []
    for check in checks:
        if isinstance(check, PiiCheck):
            kinds = check.kinds

            def pii(text: str, kinds: frozenset[str] = kinds) -> str | None:
                spans = find_pii(text, kinds)
                return f"personal data ({spans[0][2]})" if spans else None

            out.append((check.name, pii))
        elif isinstance(check, BlocklistCheck):
            patterns = check.patterns

            def blocklist(text: str, patterns: list[Any] = patterns) -> str | None:
                return "a blocked pattern" if any(p.search(text) for p in patterns) else None

            out.append((check.name, blocklist))
    return out


def event_text(fmt: ClientFormat, raw: bytes) -> str:
    """The answer text an event carries (content deltas, tool-call argument deltas), else ""."""
    data = b"\n".join(
        line[5:].lstrip(b" ")
        for line in raw.replace(b"\r\n", b"\n").split(b"\n")
        if line.startswith(b"data:")
    )
    if not data or data == b"[DONE]" or not data.startswith(b"{"):
        return ""
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(event, dict):
        return ""
    if fmt == "openai_chat":
        parts: list[str] = []
        for choice in event.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if not isinstance(delta, dict):
                continue
            if isinstance(delta.get("content"), str):
                parts.append(delta["content"])
            for call in delta.get("tool_calls") or ():
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                    parts.append(function["arguments"])
        return "".join(parts)
    if fmt == "anthropic":
        delta = event.get("delta") if event.get("type") == "content_block_delta" else None
        if isinstance(delta, dict):
            text = delta.get("text", delta.get("partial_json"))
            return text if isinstance(text, str) else ""
        return ""
    if event.get("type") in ("response.output_text.delta", "response.function_call_arguments.delta"):
        delta = event.get("delta")
        return delta if isinstance(delta, str) else ""
    return ""


def blocked_event(fmt: ClientFormat, message: str) -> bytes:
    """The event that ends a stream a guardrail stopped, in the client's format (a Chat stream then
    gets its `[DONE]`)."""
    event = stream_error_event(fmt, message, 400, code="content_blocked")
    return event + DONE if fmt == "openai_chat" else event


async def screen_stream(
    chunks: AsyncIterable[Any], fmt: ClientFormat, checks: list[tuple[str, Finder]], window: int
) -> AsyncIterator[bytes]:
    held: deque[tuple[bytes, str]] = deque()  # events not yet sent, with the text each carries
    held_chars = 0
    buffer = b""

    def scan_front() -> tuple[str, str] | None:
        text = "".join(t for _, t in held)
        if not text:
            return None
        for name, find in checks:
            kind = find(text)
            if kind is not None:
                return name, kind
        return None

    def cut(found: tuple[str, str]) -> bytes:
        name, kind = found
        metrics.GUARDRAIL_DECISIONS.labels(guardrail=name, stage=STAGE, action="block").inc()
        note_governance("guardrail.block", guardrail=name, stage=STAGE)
        log.info("guardrail '%s': a streamed answer contains %s; the stream was cut", name, kind)
        return blocked_event(fmt, f"Guardrail '{name}' stopped the answer: it contains {kind}")

    async for chunk in chunks:
        buffer += chunk if isinstance(chunk, bytes) else str(chunk).encode()
        out: list[bytes] = []
        start = 0
        for match in _BOUNDARY.finditer(buffer):
            raw = buffer[start : match.end()]
            start = match.end()
            text = event_text(fmt, raw)
            held.append((raw, text))
            held_chars += len(text)
        buffer = buffer[start:]
        # Release from the front: an event without text at once (no match can start in it),
        # one with text once enough text follows it.
        while held and (not held[0][1] or held_chars - len(held[0][1]) >= window):
            if not held[0][1]:
                out.append(held.popleft()[0])
                continue
            found = scan_front()
            if found is not None:
                if out:
                    yield b"".join(out)
                yield cut(found)
                return
            raw, text = held.popleft()
            held_chars -= len(text)
            out.append(raw)
        if out:
            yield b"".join(out)
    # The end: whatever is held is scanned as a whole.
    found = scan_front()
    if found is not None:
        yield cut(found)
        return
    rest = b"".join(raw for raw, _ in held) + buffer
    if rest:
        yield rest

"""Guardrails: an ordered chain of checks on the request (before routing) and on the response.

Three kinds (`guardrails.request` / `guardrails.response` in the config):

- `pii`: emails, phone numbers, card numbers (Luhn-checked), IBANs (mod-97-checked) and
  API-key-looking secrets; `redact` replaces each with `[REDACTED_<KIND>]`, `block` refuses.
- `blocklist`: regular expressions; `block` refuses, `redact` replaces the match with `[REDACTED]`.
- `http`: an external filter. The gateway POSTs `{"stage", "format", "body"}` and expects
  `{"action": "allow"}`, `{"action": "modify", "body": {...}}` or `{"action": "block", "reason"}`;
  a filter that is down, slow or answers nonsense is skipped (`on_error: allow`) or refuses the
  request (`on_error: deny`).

Only the text a model reads is inspected: message contents, system prompts / instructions, tool
results and tool-call arguments (`text_slots`), never the model name, roles or ids. A block is a
400 in the client's format naming the guardrail, never the matched text. Each decision is
logged (kinds and counts, never values) and counted in `llmroute_guardrail_decisions_total`.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
import orjson

from llmroute.errors import GatewayError
from llmroute.governance.regex import compile_pattern
from llmroute.governance.schema import BlocklistGuardrail, Guardrail, HttpGuardrail, PiiGuardrail
from llmroute.observability import metrics
from llmroute.observability.record import note_governance
from llmroute.wire import ClientFormat

log = logging.getLogger("llmroute.governance")

Stage = Literal["request", "response"]
# Bodies with more text than this are scanned for PII in a worker thread, off the event loop.
OFF_LOOP_CHARS = 100_000
# A place in the body that holds text: (container, key), so a redaction can write it back.
Slot = tuple[dict[str, Any] | list[Any], str | int]


# --- where the text is ---------------------------------------------------------------------------


def _string_slots(
    container: dict[str, Any] | list[Any], key: str | int, nested: bool = False
) -> Iterator[Slot]:
    """`container[key]` if it is a string, or the `text` of each block if it is a list of blocks
    (one level down into tool results, whose content is text or text blocks)."""
    value = container[key]  # type: ignore[index]
    if isinstance(value, str):
        yield container, key
    elif isinstance(value, list):
        for part in value:
            if isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    yield part, "text"
                if not nested and part.get("type") == "tool_result" and "content" in part:
                    yield from _string_slots(part, "content", nested=True)


def _messages(items: Any, content_key: str) -> Iterator[Slot]:
    if not isinstance(items, list):
        return
    for item in items:
        if not isinstance(item, dict):
            continue
        if content_key in item:
            yield from _string_slots(item, content_key)
        for name in ("output", "arguments"):  # Responses function_call(_output) items
            if isinstance(item.get(name), str):
                yield item, name
        calls = item.get("tool_calls")  # Chat assistant tool calls
        for call in calls if isinstance(calls, list) else ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                yield function, "arguments"


def text_slots(stage: Stage, fmt: ClientFormat, body: dict[str, Any]) -> list[Slot]:
    """Every place in a request or (non-streaming) response body in `fmt` that holds model-read text."""
    slots: list[Slot] = []
    if stage == "request":
        if fmt == "openai_chat":
            slots += _messages(body.get("messages"), "content")
        elif fmt == "anthropic":
            if "system" in body:
                slots += _string_slots(body, "system")
            slots += _messages(body.get("messages"), "content")
        else:
            if isinstance(body.get("instructions"), str):
                slots.append((body, "instructions"))
            if isinstance(body.get("input"), str):
                slots.append((body, "input"))
            else:
                slots += _messages(body.get("input"), "content")
        return slots
    if fmt == "openai_chat":
        choices = body.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
                slots += _messages([choice["message"]], "content")
    elif fmt == "anthropic":
        if isinstance(body.get("content"), list):
            slots += _string_slots(body, "content")
    else:
        slots += _messages(body.get("output"), "content")
    return slots


# --- PII -----------------------------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = ord(char) - 48
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _whole(valid: Callable[[str], bool]) -> Callable[[str], int]:
    return lambda text: len(text) if valid(text) else 0


def iban_fit(text: str) -> int:
    """Length of the longest valid IBAN at the start of `text` (the pattern may run into the next word)."""
    for end in range(len(text), 14, -1):
        if text[end - 1] != " " and iban_valid(text[:end]):
            return end
    return 0


@dataclass(frozen=True)
class Detector:
    kind: str
    pattern: re.Pattern[str]
    # Length of the part of a match that really is this kind (0: none of it).
    fit: Callable[[str], int] = len


DETECTORS: dict[str, Detector] = {
    "email": Detector(
        "email", re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
    ),
    "card": Detector(
        "card",
        re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"),
        _whole(lambda text: luhn_valid(_digits(text))),
    ),
    "iban": Detector("iban", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"), iban_fit),
    "phone": Detector(
        "phone",
        # +44 20 7946 0958, (555) 123-4567, 555-123-4567, +1.555.123.4567: 9 to 15 digits with
        # separators or a leading +, so plain long numbers (ids, amounts) are not taken for phones.
        re.compile(
            r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]\d{2,4}){1,5}(?![\w])"
            r"|(?<![\w+])\+\d{9,15}(?!\w)"
        ),
        _whole(lambda text: 9 <= len(_digits(text)) <= 15),
    ),
    "secret": Detector(
        "secret",
        re.compile(
            r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"  # OpenAI / Anthropic
            r"|AKIA[0-9A-Z]{16}"  # AWS access key id
            r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub
            r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
            r"|AIza[0-9A-Za-z_-]{35}"  # Google
            r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWT
            r")"
        ),
    ),
}
# Earlier kinds win where matches overlap (a card number also looks like a phone number).
DETECTION_ORDER = ("secret", "email", "iban", "card", "phone")


def find_pii(text: str, kinds: frozenset[str]) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, kind) spans of PII in `text`, in order."""
    # The spans taken so far, as parallel sorted lists (they never overlap, so ends sort like starts):
    # checking a new match is two bisections, whatever the number of matches.
    starts: list[int] = []
    ends: list[int] = []
    kinds_at: list[str] = []
    for kind in DETECTION_ORDER:
        if kind not in kinds:
            continue
        detector = DETECTORS[kind]
        for match in detector.pattern.finditer(text):
            start = match.start()
            end = start + detector.fit(match.group())
            if end == start:
                continue
            i = bisect.bisect_right(starts, start)
            if (i > 0 and ends[i - 1] > start) or (i < len(starts) and starts[i] < end):
                continue
            starts.insert(i, start)
            ends.insert(i, end)
            kinds_at.insert(i, kind)
    return list(zip(starts, ends, kinds_at, strict=True))


# --- the chain -----------------------------------------------------------------------------------


@dataclass
class Screening:
    """One pass of the chain over one body: the body (possibly replaced) and what was done."""

    stage: Stage
    fmt: ClientFormat
    body: dict[str, Any]
    actions: list[str] = field(default_factory=list)


class Blocked(Exception):
    def __init__(self, guardrail: str, reason: str) -> None:
        super().__init__(reason)
        self.guardrail = guardrail
        self.reason = reason


class PiiCheck:
    def __init__(self, config: PiiGuardrail, name: str) -> None:
        self.name = name
        self.action = config.action
        self.kinds = frozenset(config.entities)

    def _scan(self, texts: list[str]) -> list[list[tuple[int, int, str]]]:
        return [find_pii(text, self.kinds) for text in texts]

    async def run(self, screening: Screening) -> str:
        counts: dict[str, int] = {}
        slots = text_slots(screening.stage, screening.fmt, screening.body)
        texts: list[str] = [container[key] for container, key in slots]  # type: ignore[index]
        if sum(map(len, texts)) > OFF_LOOP_CHARS:
            found = await asyncio.to_thread(self._scan, texts)  # a big body must not stall other requests
        else:
            found = self._scan(texts)
        for (container, key), text, spans in zip(slots, texts, found, strict=True):
            if not spans:
                continue
            for _, _, kind in spans:
                counts[kind] = counts.get(kind, 0) + 1
            if self.action == "block":
                continue
            out: list[str] = []
            last = 0
            for start, end, kind in spans:
                out.append(text[last:start])
                out.append(f"[REDACTED_{kind.upper()}]")
                last = end
            out.append(text[last:])
            container[key] = "".join(out)  # type: ignore[index]
        if not counts:
            return "pass"
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        if self.action == "block":
            raise Blocked(self.name, f"it contains personal data ({summary})")
        log.info("guardrail '%s': redacted %s in the %s", self.name, summary, screening.stage)
        return "redact"


class BlocklistCheck:
    def __init__(self, config: BlocklistGuardrail, name: str) -> None:
        self.name = name
        self.action = config.action
        # Compiled one by one: each may carry its own inline flags, e.g. "(?i)...". RE2: linear
        # time whatever the pattern, so matching stays on the event loop (governance/regex.py).
        self.patterns = [compile_pattern(p) for p in config.patterns]

    async def run(self, screening: Screening) -> str:
        hits = 0
        for container, key in text_slots(screening.stage, screening.fmt, screening.body):
            text = container[key]  # type: ignore[index]
            if self.action == "block":
                if any(pattern.search(text) for pattern in self.patterns):
                    raise Blocked(self.name, "it matches a blocked pattern")
                continue
            for pattern in self.patterns:
                text, n = pattern.subn("[REDACTED]", text)
                hits += n
            container[key] = text  # type: ignore[index]
        if hits:
            log.info(
                "guardrail '%s': redacted %d blocked pattern match(es) in the %s",
                self.name,
                hits,
                screening.stage,
            )
            return "redact"
        return "pass"


class HttpCheck:
    def __init__(
        self, config: HttpGuardrail, name: str, session: Callable[[], aiohttp.ClientSession]
    ) -> None:
        self.name = name
        self.url = config.url
        self.on_error = config.on_error
        self.headers = {"Content-Type": "application/json", **config.headers}
        self.timeout = aiohttp.ClientTimeout(total=config.timeout_ms / 1000)
        self._session = session

    async def run(self, screening: Screening) -> str:
        payload = {"stage": screening.stage, "format": screening.fmt, "body": screening.body}
        try:
            async with self._session().post(
                self.url, data=orjson.dumps(payload), headers=self.headers, timeout=self.timeout
            ) as response:
                raw = await response.read()
                if response.status != 200:
                    raise ValueError(f"HTTP {response.status}")
            verdict = orjson.loads(raw)
            if not isinstance(verdict, dict):
                raise ValueError("the answer is not a JSON object")
            action = verdict.get("action")
            if action == "allow":
                return "pass"
            if action == "block":
                reason = verdict.get("reason")
                raise Blocked(
                    self.name, reason if isinstance(reason, str) and reason else "the filter refused it"
                )
            if action == "modify" and isinstance(verdict.get("body"), dict):
                screening.body = verdict["body"]
                return "modify"
            raise ValueError(f"unknown action {action!r}")
        except Blocked:
            raise
        except Exception as exc:  # down, slow, nonsense: the configured policy decides
            detail = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"[:200]
            if self.on_error == "deny":
                log.warning("guardrail '%s' failed (%s); refusing (on_error: deny)", self.name, detail)
                metrics.GUARDRAIL_DECISIONS.labels(
                    guardrail=self.name, stage=screening.stage, action="error_deny"
                ).inc()
                note_governance("guardrail.error_deny", guardrail=self.name, stage=screening.stage)
                raise GatewayError(
                    503,
                    f"Guardrail '{self.name}' is unavailable; the request was not sent",
                    "guardrail_unavailable",
                    {"Retry-After": "1"},
                ) from None
            log.warning(
                "guardrail '%s' failed (%s); passing the %s on (on_error: allow)",
                self.name,
                detail,
                screening.stage,
            )
            return "error_allow"


Check = PiiCheck | BlocklistCheck | HttpCheck


def build_checks(
    configs: list[Guardrail], stage: Stage, session: Callable[[], aiohttp.ClientSession]
) -> list[Check]:
    checks: list[Check] = []
    for i, config in enumerate(configs):
        name = config.name or f"{stage}{i}-{config.type}"
        if isinstance(config, PiiGuardrail):
            checks.append(PiiCheck(config, name))
        elif isinstance(config, BlocklistGuardrail):
            checks.append(BlocklistCheck(config, name))
        else:
            checks.append(HttpCheck(config, name, session))
    return checks


class GuardrailChain:
    """The checks of one stage, run in order; the first block ends the chain."""

    def __init__(self, checks: list[Check], stage: Stage) -> None:
        self.checks = checks
        self.stage = stage

    async def run(self, fmt: ClientFormat, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The body after every check (redacted or replaced) and whether any check changed it;
        GatewayError 400 when one blocks."""
        screening = Screening(self.stage, fmt, body)
        for check in self.checks:
            try:
                action = await check.run(screening)
            except Blocked as blocked:
                metrics.GUARDRAIL_DECISIONS.labels(
                    guardrail=check.name, stage=self.stage, action="block"
                ).inc()
                note_governance("guardrail.block", guardrail=check.name, stage=self.stage)
                log.info("guardrail '%s': blocked the %s (%s)", check.name, self.stage, blocked.reason)
                what = "request" if self.stage == "request" else "response"
                raise GatewayError(
                    400,
                    f"The {what} was blocked by guardrail '{check.name}': {blocked.reason}",
                    "content_blocked",
                ) from None
            metrics.GUARDRAIL_DECISIONS.labels(guardrail=check.name, stage=self.stage, action=action).inc()
            if action != "pass":
                note_governance(f"guardrail.{action}", guardrail=check.name, stage=self.stage)
            screening.actions.append(action)
        return screening.body, any(action in ("redact", "modify") for action in screening.actions)

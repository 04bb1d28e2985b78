"""Hostile input against a real `llmroute up` process (issue 14, "Done means").

Every endpoint and format gets the inputs the hostile testing used: names outside latin-1 and with
CR/LF, oversized inline route sets, absurd session ids, malformed and deeply nested JSON, huge
texts, bad keys, upstreams that echo their keys, streams cut short. Throughout, a second thread
asks `/healthz`. The assertions: no 5xx from the gateway itself, no traceback and no key in any
response or log line, `/healthz` answering within 100 ms throughout, and RSS bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from fakes.providers import Answer, FakeProvider, Raw
from gateway_process import GatewayProcess

OPENAI_KEY = "sk-hostile-openai-key-000111222"
ANTHROPIC_KEY = "sk-ant-hostile-key-333444555"
GATEWAY_KEY = "gw-hostile-team-key-666777888"
KEYS = (OPENAI_KEY, ANTHROPIC_KEY, GATEWAY_KEY)
AUTH = {"authorization": f"Bearer {GATEWAY_KEY}"}

PROXY = {"openai_chat": "/v1/chat/completions", "anthropic": "/v1/messages", "responses": "/v1/responses"}
DECISION = {fmt: "/routing" + path for fmt, path in PROXY.items()}


def body_for(fmt: str, text: str = "Write a sort function", **extra: Any) -> dict[str, Any]:
    if fmt == "responses":
        return {"input": text, **extra}
    return {"messages": [{"role": "user", "content": text}], "max_tokens": 64, **extra}


def inline(name: str, count: int = 1, description: str = "writing code") -> list[dict[str, Any]]:
    names = [name] if count == 1 else [f"{name}{i}" for i in range(count)]
    return [{"name": n, "description": description, "models": ["openai/gpt-4o"]} for n in names]


def hostile_bodies(fmt: str) -> Iterator[tuple[str, bytes]]:
    """(what, raw body) for one format."""

    def js(value: Any) -> bytes:
        return orjson.dumps(value)

    for stream in (False, True):
        yield "model outside latin-1", js(body_for(fmt, model="openai/gpt-☃", stream=stream))
        yield "model with CR/LF", js(body_for(fmt, model="openai/x\r\nSet-Cookie: a=b", stream=stream))
        yield (
            "route outside latin-1",
            js(body_for(fmt, routing_preferences=inline("代码生成"), stream=stream)),
        )
        yield (
            "route with CR/LF",
            js(body_for(fmt, routing_preferences=inline("a\r\nX-Forged: 1"), stream=stream)),
        )
        yield "anthropic model", js(body_for(fmt, model="anthropic/claude", stream=stream))
    yield "1,500 inline routes", js(body_for(fmt, routing_preferences=inline("r", 1500)))
    yield "20,000 inline routes", js(body_for(fmt, routing_preferences=inline("r", 20_000, "x" * 40)))
    yield "a 2,001-char description", js(body_for(fmt, routing_preferences=inline("r", 1, "d" * 2001)))
    yield "not JSON", b"{not json"
    yield "a JSON array", b"[1, 2, 3]"
    yield "nested 100k deep", b"[" * 100_000 + b"]" * 100_000
    yield "nested objects", b'{"a":' * 5000 + b"1" + b"}" * 5000
    yield "huge text", js(body_for(fmt, "word " * 150_000))
    yield "over the body limit", js(body_for(fmt, "x" * (2 * 1024 * 1024)))
    yield "wrong types", js({"messages": "hi", "input": 7, "model": ["x"], "stream": "yes"})
    yield "null bytes", js(body_for(fmt, "a\x00b\x00" * 100, model="openai/\x00"))
    yield "blocklist bomb", js(body_for(fmt, "a" * 31 + "!"))


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeProvider, FakeProvider]]:
    with FakeProvider() as openai, FakeProvider() as anthropic:
        yield openai, anthropic


def config_text(openai: str, anthropic: str) -> str:
    return f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 5s}}]
model_providers:
  - {{model: openai/gpt-4o, access_key: {OPENAI_KEY}, base_url: {openai}, default: true}}
  - {{model: openai/*, access_key: {OPENAI_KEY}, base_url: {openai}}}
  - {{model: anthropic/claude, access_key: {ANTHROPIC_KEY}, base_url: {anthropic}}}
  - {{model: echo/fast}}
routing: {{router: {{type: arch_router, base_url: "http://127.0.0.1:9", timeout_ms: 200}}}}
auth:
  keys: [{{key: {GATEWAY_KEY}, name: hostile}}]
guardrails:
  request:
    - {{type: blocklist, action: redact, patterns: ["(a+)+$", "(?i)forbidden"]}}
limits: {{max_body_bytes: 1MiB}}
"""


class HealthWatch:
    """Asks /healthz every 20 ms from its own thread; records the slowest answer and any failure."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.slowest = 0.0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as http:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    status = http.get(self.url + "/healthz").status_code
                    if status != 200:
                        self.failures.append(f"status {status}")
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                self.slowest = max(self.slowest, time.perf_counter() - started)
                time.sleep(0.02)


def check(response: httpx.Response, what: str) -> None:
    text = response.text
    assert response.status_code < 500, f"{what}: {response.status_code} {text[:300]}"
    assert "Traceback" not in text, what
    for key in KEYS:
        assert key not in text, f"{what}: a key in the response"
    for value in response.headers.values():
        assert all(key not in value for key in KEYS), what


def test_hostile_inputs_against_a_real_gateway(
    tmp_path: Path, fakes: tuple[FakeProvider, FakeProvider]
) -> None:
    openai, anthropic = fakes
    with GatewayProcess(config_text(openai.url, anthropic.url), tmp_path, log_format="human") as gw:
        http = httpx.Client(base_url=gw.url, timeout=30)
        # Warm: the first requests load what stays loaded (pools, caches); RSS is measured after.
        for fmt, path in PROXY.items():
            http.post(path, json=body_for(fmt, model="openai/gpt-4o"), headers=AUTH)
        baseline = gw.rss_bytes()
        with HealthWatch(gw.url) as health:
            for fmt in PROXY:
                for path in (PROXY[fmt], DECISION[fmt]):
                    for what, raw in hostile_bodies(fmt):
                        response = http.post(
                            path, content=raw, headers={**AUTH, "content-type": "application/json"}
                        )
                        check(response, f"{path} {what}")
                    # Session ids: absurd, non-ASCII (latin-1 bytes), control characters.
                    for session in (b"s" * 10_000, "sess-\u00e9\u00e8".encode("latin-1"), b"a\tb"):
                        headers = [
                            (b"authorization", f"Bearer {GATEWAY_KEY}".encode()),
                            (b"x-session-id", session),
                        ]
                        response = http.post(path, json=body_for(fmt), headers=headers)
                        check(response, f"{path} session {session[:20]!r}")
                    # Keys: none, wrong, not latin-1-decodable, absurdly long.
                    for key in (None, b"wrong", b"\xff\xfe\xfd", b"k" * 20_000):
                        headers = [] if key is None else [(b"authorization", b"Bearer " + key)]
                        response = http.post(path, json=body_for(fmt), headers=headers)
                        assert response.status_code in (401, 431), (
                            path,
                            key and key[:20],
                            response.status_code,
                        )
                        check(response, f"{path} key {key and key[:20]!r}")
            # An upstream that echoes its key, in every format, streamed and not; then streams cut short.
            for fmt, path in PROXY.items():
                for model, fake, key in (
                    ("openai/gpt-4o", openai, OPENAI_KEY),
                    ("anthropic/claude", anthropic, ANTHROPIC_KEY),
                ):
                    for stream in (False, True):
                        fake.script(Answer(text=f"I was sent Authorization: Bearer {key}"))
                        response = http.post(
                            path, json=body_for(fmt, model=model, stream=stream), headers=AUTH
                        )
                        check(response, f"{path} echo {model} stream={stream}")
                cut = [b'data: {"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}\n\n']
                openai.script(Raw(cut))
                response = http.post(
                    path, json=body_for(fmt, model="openai/gpt-4o", stream=True), headers=AUTH
                )
                check(response, f"{path} cut short")
                assert "error" in response.text
            # Other endpoints and paths.
            for method, path, raw in (
                (
                    "POST",
                    "/v1/messages/count_tokens",
                    orjson.dumps(body_for("anthropic", model="anthropic/claude")),
                ),
                ("POST", "/v1/embeddings", orjson.dumps({"model": "openai/gpt-☃", "input": "hi"})),
                ("POST", "/v1/embeddings", b"[[[["),
                ("GET", "/v1/models", b""),
                ("GET", "/v1/x%0A2099-01-01 FORGED%0D%0A", b""),
                ("DELETE", "/v1/chat/completions", b""),
            ):
                response = http.request(
                    method, path, content=raw, headers={**AUTH, "content-type": "application/json"}
                )
                check(response, f"{method} {path}")
            rss_after = gw.rss_bytes()
        http.close()
        time.sleep(0.3)
        log = gw.log()
    print(
        f"slowest /healthz: {health.slowest * 1000:.1f} ms; RSS growth {(rss_after - baseline) / 2**20:.1f} MiB"
    )
    assert not health.failures, health.failures[:5]
    assert health.slowest < 0.1, f"/healthz took {health.slowest * 1000:.0f} ms"
    assert "Traceback" not in log
    for key in KEYS:
        assert key not in log
    assert not any(line.startswith("2099-") for line in log.splitlines())
    assert rss_after - baseline < 200 * 1024 * 1024, (baseline, rss_after)

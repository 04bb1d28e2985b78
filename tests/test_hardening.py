"""Defects found by hostile testing (issue 14), each reproduced against a real gateway on loopback.

One gateway in front of a fake OpenAI provider (a wildcard, so the client picks any model id), a
fake Anthropic provider and a fake Arch-Router whose answer each test sets (`ROUTER_ANSWER`), so
an inline route of any name can be chosen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
import orjson
import pytest

from conftest import RunningGateway
from fakes.providers import Answer, Behaviour, FakeProvider, Hang, Raw
from fakes.sse import json_events

OPENAI_KEY = "sk-openai-hardening-secret-1234"
ANTHROPIC_KEY = "sk-ant-hardening-secret-5678"
ROUTER_ANSWER = ["other"]  # the route name the fake Arch-Router answers with


def router_answer(kind: str, body: dict[str, Any]) -> Behaviour:
    return Answer(text=orjson.dumps({"route": ROUTER_ANSWER[0]}).decode())


@dataclass
class Setup:
    http: httpx.Client
    gateway: RunningGateway
    openai: FakeProvider
    anthropic: FakeProvider
    router: FakeProvider

    def upstream_calls(self) -> int:
        return len(self.openai.requests) + len(self.anthropic.requests)


def config_text(router: str, openai: str, anthropic: str) -> str:
    return f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 5s}}]
model_providers:
  - model: openai/gpt-4o
    access_key: {OPENAI_KEY}
    base_url: {openai}
    default: true
  - model: openai/*
    access_key: {OPENAI_KEY}
    base_url: {openai}
  - model: anthropic/claude
    access_key: {ANTHROPIC_KEY}
    base_url: {anthropic}
  - model: vllm/chat  # Chat Completions only: a Responses client is translated
    access_key: {OPENAI_KEY}
    base_url: {openai}/v1
routing:
  router: {{type: arch_router, base_url: {router}, timeout_ms: 2000}}
"""


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    with (
        FakeProvider(router_answer) as router,
        FakeProvider() as openai,
        FakeProvider() as anthropic,
    ):
        gateway = RunningGateway(config_text(router.url, openai.url, anthropic.url))
        with gateway, httpx.Client(base_url=gateway.url, timeout=10) as http:
            yield Setup(http, gateway, openai, anthropic, router)


def chat(content: str = "Write a sort function", **extra: Any) -> dict[str, Any]:
    return {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": content}], **extra}


def inline(name: str, model: str = "openai/gpt-4o") -> list[dict[str, Any]]:
    return [{"name": name, "description": "writing code", "models": [model]}]


# --- defect 1: route and model names in the decision headers -----------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_model_name_outside_latin1_is_served_and_encoded(setup: Setup, stream: bool) -> None:
    response = setup.http.post("/v1/chat/completions", json=chat(model="openai/gpt-☃", stream=stream))
    assert response.status_code == 200, response.text
    assert response.headers["x-llmroute-model"] == "openai/gpt-%E2%98%83"
    assert unquote(response.headers["x-llmroute-model"]) == "openai/gpt-☃"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages", "/v1/responses"])
def test_inline_route_name_outside_latin1_is_served_and_encoded(setup: Setup, path: str) -> None:
    ROUTER_ANSWER[0] = "代码生成"
    body: dict[str, Any] = {"model": "openai/gpt-4o", "routing_preferences": inline("代码生成")}
    if path == "/v1/responses":
        body["input"] = "Write a sort function"
    else:
        body["messages"] = [{"role": "user", "content": "Write a sort function"}]
        body["max_tokens"] = 50
    response = setup.http.post(path, json=body)
    assert response.status_code == 200, response.text
    assert unquote(response.headers["x-llmroute-route"]) == "代码生成"
    assert response.headers["x-llmroute-model"] == "openai/gpt-4o"


def test_percent_in_a_name_is_encoded_so_decoding_is_exact(setup: Setup) -> None:
    ROUTER_ANSWER[0] = "100%E2 sure"
    response = setup.http.post("/v1/chat/completions", json=chat(routing_preferences=inline("100%E2 sure")))
    assert response.status_code == 200, response.text
    assert response.headers["x-llmroute-route"] == "100%25E2 sure"
    assert unquote(response.headers["x-llmroute-route"]) == "100%E2 sure"


@pytest.mark.parametrize(
    "name", ["code\r\nX-Forged: 1", "tab\there", "bell\x07", "x" * 129, " padded", "nul\x00"]
)
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/routing/v1/chat/completions"])
def test_bad_inline_route_name_is_a_400_before_any_upstream_call(setup: Setup, name: str, path: str) -> None:
    ROUTER_ANSWER[0] = name
    before = setup.upstream_calls()
    response = setup.http.post(path, json=chat(routing_preferences=inline(name)))
    assert response.status_code == 400, response.text
    assert "routing_preferences[0].name" in response.json()["error"]["message"]
    assert setup.upstream_calls() == before


def test_bad_legacy_routing_policy_name_is_a_400(setup: Setup) -> None:
    policy = [{"model": "openai/gpt-4o", "routing_preferences": [{"name": "a\nb", "description": "d"}]}]
    response = setup.http.post("/v1/chat/completions", json=chat(routing_policy=policy))
    assert response.status_code == 400, response.text
    assert "routing_policy[0].routing_preferences[0].name" in response.json()["error"]["message"]


# --- defect 4: metric cardinality ----------------------------------------------------------------


def test_client_chosen_names_create_no_metric_series(setup: Setup) -> None:
    for i in range(3):  # warm: the bounded series exist after the first requests
        ROUTER_ANSWER[0] = f"warm-{i}"
        setup.http.post("/v1/chat/completions", json=chat(routing_preferences=inline(f"warm-{i}")))
        setup.http.post("/v1/chat/completions", json=chat(model=f"openai/warm-{i}"))
    setup.http.get("/metrics")
    before = setup.http.get("/metrics").text
    for i in range(40):
        ROUTER_ANSWER[0] = f"client-route-{i}"
        response = setup.http.post(
            "/v1/chat/completions", json=chat(routing_preferences=inline(f"client-route-{i}"))
        )
        assert response.status_code == 200, response.text
        response = setup.http.post("/v1/chat/completions", json=chat(model=f"openai/client-model-{i}"))
        assert response.status_code == 200, response.text
    after = setup.http.get("/metrics").text
    assert "client-route-" not in after and "client-model-" not in after
    assert 'route="inline"' in after and 'model="openai/*"' in after
    assert series(after) == series(before)


def series(metrics_text: str) -> set[str]:
    """The llmroute series a /metrics page holds (names and labels, values aside)."""
    return {line.rpartition(" ")[0] for line in metrics_text.splitlines() if line.startswith("llmroute_")}


# --- defect 8: a provider key echoed in a 200 answer --------------------------------------------


def echoed(key: str) -> str:
    return f"You sent Authorization: Bearer {key} and x-api-key: {key}"


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/v1/chat/completions", "openai/gpt-4o"),  # same API: the provider's bytes
        ("/v1/messages", "openai/gpt-4o"),  # translated
        ("/v1/chat/completions", "anthropic/claude"),
        ("/v1/responses", "anthropic/claude"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_provider_key_echoed_in_an_answer_is_redacted(
    setup: Setup, path: str, model: str, stream: bool
) -> None:
    fake, key = (
        (setup.anthropic, ANTHROPIC_KEY) if model.startswith("anthropic/") else (setup.openai, OPENAI_KEY)
    )
    fake.script(Answer(text=echoed(key)))
    body: dict[str, Any] = {"model": model, "stream": stream, "max_tokens": 50}
    if path == "/v1/responses":
        body["input"] = "what headers did you get?"
    else:
        body["messages"] = [{"role": "user", "content": "what headers did you get?"}]
    response = setup.http.post(path, json=body)
    assert response.status_code == 200, response.text
    assert key not in response.text
    assert "[REDACTED]" in response.text


def split_key_stream(kind: str, key: str) -> list[bytes]:
    """One content event whose key arrives in two reads."""
    if kind == "chat":
        start = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"key '
        end = b'"},"finish_reason":null}]}\n\n'
        done = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
        half = len(key) // 2
        return [start + key[:half].encode(), key[half:].encode() + end, done]
    raise AssertionError(kind)


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages", "/v1/responses"])
def test_provider_key_split_across_reads_is_redacted(setup: Setup, path: str) -> None:
    setup.openai.script(Raw(split_key_stream("chat", OPENAI_KEY)))
    body: dict[str, Any] = {"model": "openai/gpt-4o", "stream": True, "max_tokens": 50}
    if path == "/v1/responses":
        body["input"] = "hi"
    else:
        body["messages"] = [{"role": "user", "content": "hi"}]
    response = setup.http.post(path, json=body)
    assert response.status_code == 200, response.text
    assert OPENAI_KEY not in response.text
    assert OPENAI_KEY[: len(OPENAI_KEY) // 2] not in response.text
    assert "[REDACTED]" in response.text


# --- defect 2: a stream cut short upstream (clean end, no finish) on translated paths -------------

CHAT_CHUNK = '{{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{{"index":0,"delta":{delta},"finish_reason":{finish}}}]}}'


def chat_piece(delta: str, finish: str = "null") -> bytes:
    return b"data: " + CHAT_CHUNK.format(delta=delta, finish=finish).encode() + b"\n\n"


CUT_CHAT = [chat_piece('{"role":"assistant","content":""}'), chat_piece('{"content":"Hello"}')]
CUT_ANTHROPIC = [
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",'
    b'"role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,'
    b'"usage":{"input_tokens":5,"output_tokens":1}}}\n\n',
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n',
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"Hello"}}\n\n',
]


def stream_errors(model: str) -> float:
    from prometheus_client import REGISTRY

    labels = {"model": model, "error": "stream_reset"}
    return REGISTRY.get_sample_value("llmroute_upstream_errors_total", labels) or 0.0


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/v1/messages", "openai/gpt-4o"),
        ("/v1/chat/completions", "anthropic/claude"),
        ("/v1/responses", "vllm/chat"),
        ("/v1/responses", "anthropic/claude"),
        ("/v1/chat/completions", "openai/gpt-4o"),  # the piped path, which was right already
    ],
)
def test_stream_cut_short_upstream_ends_with_an_error_event(setup: Setup, path: str, model: str) -> None:
    if model.startswith("anthropic/"):
        setup.anthropic.script(Raw(CUT_ANTHROPIC))
    else:
        setup.openai.script(Raw(CUT_CHAT))
    body: dict[str, Any] = {"model": model, "stream": True, "max_tokens": 50}
    if path == "/v1/responses":
        body["input"] = "hi"
    else:
        body["messages"] = [{"role": "user", "content": "hi"}]
    before = stream_errors(model)
    response = setup.http.post(path, json=body)
    assert response.status_code == 200, response.text
    events = json_events(response.text)
    assert events, response.text
    text = response.text
    # Never reported as complete ...
    assert "message_stop" not in text and "end_turn" not in text
    assert '"finish_reason":"stop"' not in text and "response.completed" not in text
    # ... but ended with the client format's error event.
    name, last = events[-1] if events[-1][1] != "[DONE]" else events[-2]
    if path == "/v1/messages":
        assert name == "error" and last["type"] == "error"
    elif path == "/v1/responses":  # `error`, or `response.failed` once the response has started
        assert name in ("error", "response.failed") and last["type"] == name
    else:
        assert "error" in last
    assert "before it finished" in text
    assert stream_errors(model) == before + 1


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/responses"])
def test_chat_stream_with_finish_reason_but_no_done_is_complete(setup: Setup, path: str) -> None:
    setup.openai.script(Raw([*CUT_CHAT, chat_piece("{}", '"stop"')]))
    body: dict[str, Any] = {"model": "vllm/chat", "stream": True, "max_tokens": 50}
    if path == "/v1/responses":
        body["input"] = "hi"
    else:
        body["messages"] = [{"role": "user", "content": "hi"}]
    response = setup.http.post(path, json=body)
    assert response.status_code == 200
    assert ("message_stop" if path == "/v1/messages" else "response.completed") in response.text
    assert "before it finished" not in response.text


# --- defect 3: bounds on inline routing_preferences ---------------------------------------------


def routes(count: int, description: str = "writing code", **extra: Any) -> list[dict[str, Any]]:
    return [
        {"name": f"r{i}", "description": description, "models": ["openai/gpt-4o"], **extra}
        for i in range(count)
    ]


@pytest.mark.parametrize(
    ("preferences", "limit"),
    [
        (routes(33), "limits.inline_routes.max_routes (32)"),
        (routes(20_000, "x" * 100), "limits.inline_routes.max_routes (32)"),
        (routes(1, "d" * 2001), "limits.inline_routes.max_description_chars (2000)"),
        (routes(1, examples=["e"] * 17), "limits.inline_routes.max_examples (16)"),
        (routes(1, examples=["e" * 1001]), "limits.inline_routes.max_example_chars (1000)"),
        (routes(30, "d" * 1800), "limits.inline_routes.max_total_chars (50000)"),
    ],
)
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/routing/v1/chat/completions"])
def test_inline_preferences_beyond_a_limit_are_a_400_naming_it(
    setup: Setup, preferences: list[dict[str, Any]], limit: str, path: str
) -> None:
    before = setup.upstream_calls()
    started = time.perf_counter()
    response = setup.http.post(path, json=chat(routing_preferences=preferences))
    assert response.status_code == 400, response.text
    assert limit in response.json()["error"]["message"]
    assert setup.upstream_calls() == before
    assert time.perf_counter() - started < 2.0


def test_legacy_routing_policy_counts_towards_the_route_limit(setup: Setup) -> None:
    prefs = [{"name": f"p{i}", "description": "d"} for i in range(20)]
    policy = [{"model": "openai/gpt-4o", "routing_preferences": prefs}] * 2
    response = setup.http.post("/v1/chat/completions", json=chat(routing_policy=policy))
    assert response.status_code == 400, response.text
    assert "max_routes (32)" in response.json()["error"]["message"]


def test_inline_limits_are_configurable(tmp_path: Any) -> None:
    config = (
        "version: v0.4.0\nmodel_providers:\n  - model: echo/a\n    default: true\n"
        "routing: {router: {type: arch_router, base_url: 'http://127.0.0.1:9', timeout_ms: 200}}\n"
        "limits: {inline_routes: {max_routes: 2, max_description_chars: 10}}\n"
    )
    with RunningGateway(config) as gw, httpx.Client(base_url=gw.url, timeout=10) as http:
        three = [{"name": f"r{i}", "description": "d", "models": ["echo/a"]} for i in range(3)]
        response = http.post(
            "/routing/v1/chat/completions", json=chat(model="echo/a", routing_preferences=three)
        )
        assert response.status_code == 400
        assert "limits.inline_routes.max_routes (2)" in response.json()["error"]["message"]
        long = [{"name": "r", "description": "d" * 11, "models": ["echo/a"]}]
        response = http.post(
            "/routing/v1/chat/completions", json=chat(model="echo/a", routing_preferences=long)
        )
        assert "limits.inline_routes.max_description_chars (10)" in response.json()["error"]["message"]


def test_inline_route_sets_take_turns_and_config_routes_do_not_wait_for_them() -> None:
    """Each router call takes 0.4 s. Inline-routed requests are classified one at a time
    (`max_concurrent: 1`), while a request on the config's routes is classified at once."""

    def slow_router(kind: str, body: dict[str, Any]) -> Behaviour:
        return Hang(0.4)

    with FakeProvider(slow_router) as router:
        config = (
            "version: v0.4.0\nmodel_providers:\n  - model: echo/a\n    default: true\n"
            "routing_preferences:\n  - {name: config_route, description: anything, models: [echo/a]}\n"
            f"routing: {{router: {{type: arch_router, base_url: '{router.url}', timeout_ms: 3000}}}}\n"
        )
        with RunningGateway(config) as gw:

            async def run() -> tuple[list[float], float]:
                async with httpx.AsyncClient(base_url=gw.url, timeout=20) as http:

                    async def timed(body: dict[str, Any]) -> float:
                        start = time.perf_counter()
                        response = await http.post("/routing/v1/chat/completions", json=body)
                        assert response.status_code == 200, response.text
                        return time.perf_counter() - start

                    inline_bodies = [
                        chat(
                            model="echo/a",
                            routing_preferences=[{"name": f"i{i}", "description": "x", "models": ["echo/a"]}],
                        )
                        for i in range(3)
                    ]
                    tasks = [asyncio.create_task(timed(b)) for b in inline_bodies]
                    await asyncio.sleep(0.1)
                    normal = await timed(chat(model="echo/a"))
                    return list(await asyncio.gather(*tasks)), normal

            inline_times, normal = asyncio.run(run())
    assert max(inline_times) >= 1.1, inline_times  # three at 0.4 s, one after another
    assert normal < 0.9, normal  # did not queue behind them


# --- defect 6: SSE parsing in linear time, one event's size capped ------------------------------


def test_sse_decoder_is_linear_in_an_event_without_a_blank_line() -> None:
    from llmroute.wire.sse import SSEDecoder

    piece = b"x" * 4096
    decoder = SSEDecoder(max_event_bytes=64 * 1024 * 1024)
    started = time.process_time()
    assert decoder.feed(b"data: ") == []
    for _ in range(26 * 256):  # 26 MiB in 4 KiB reads (quadratic: seconds of CPU)
        assert decoder.feed(piece) == []
    events = decoder.feed(b"\n\n")
    assert time.process_time() - started < 1.5
    assert len(events) == 1 and len(events[0].data) == 26 * 1024 * 1024


def test_sse_decoder_caps_one_event() -> None:
    from llmroute.wire.sse import SSEDecoder, SSEEventTooLarge

    decoder = SSEDecoder(max_event_bytes=1000)
    assert decoder.feed(b"data: " + b"x" * 900 + b"\n\n")  # under the cap: an event
    with pytest.raises(SSEEventTooLarge):
        for _ in range(10):
            decoder.feed(b"data: " + b"y" * 200 + b"\n")  # many lines, no blank line


@pytest.mark.parametrize(
    ("path", "model"), [("/v1/chat/completions", "openai/gpt-4o"), ("/v1/messages", "openai/gpt-4o")]
)
def test_an_endless_upstream_event_ends_the_stream_with_an_error(setup: Setup, path: str, model: str) -> None:
    from llmroute.wire.sse import MAX_EVENT_BYTES

    pieces = [chat_piece('{"role":"assistant","content":""}'), b'data: {"choices":[{"delta":{"content":"']
    pieces += [b"z" * 65536] * (MAX_EVENT_BYTES // 65536 + 8)
    setup.openai.script(Raw(pieces, pause=0))
    body = {"model": model, "stream": True, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    slowest_health = 0.0
    with setup.http.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        received = b""
        for data in response.iter_bytes():
            received += data
            started = time.perf_counter()
            assert setup.http.get("/healthz").status_code == 200
            slowest_health = max(slowest_health, time.perf_counter() - started)
    text = received.decode()
    assert f"larger than {MAX_EVENT_BYTES} bytes" in text
    assert "zzzz" not in text  # the oversized event itself never reached the client
    assert slowest_health < 0.5


# --- blocklist regexes: linear time, or refused at load -----------------------------------------


@pytest.mark.parametrize("action", ["block", "redact"])
def test_a_catastrophic_blocklist_pattern_costs_no_time(action: str) -> None:
    config = (
        "version: v0.4.0\nmodel_providers:\n  - model: echo/a\n    default: true\n"
        "routing: {router: {type: arch_router, base_url: 'http://127.0.0.1:9'}}\n"
        "guardrails:\n  request:\n"
        f"    - {{type: blocklist, action: {action}, patterns: ['(a+)+$', '(x+x+)+y', '(?i)secret plan']}}\n"
    )
    with RunningGateway(config) as gw, httpx.Client(base_url=gw.url, timeout=30) as http:
        started = time.perf_counter()
        for text in ["a" * 31 + "!", "x" * 50_000, "a" * 100_000 + "!"]:
            response = http.post("/v1/chat/completions", json=chat(text, model="echo/a"))
            assert response.status_code == 200, response.text
        assert time.perf_counter() - started < 2.0
        blocked = http.post("/v1/chat/completions", json=chat("the SECRET PLAN is", model="echo/a"))
        if action == "block":
            assert blocked.status_code == 400 and blocked.json()["error"]["code"] == "content_blocked"
        else:
            assert blocked.status_code == 200 and "[REDACTED]" in blocked.text


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?<=x)y", "foo(?!bar)"])
def test_a_blocklist_pattern_the_linear_engine_cannot_run_is_refused_at_load(pattern: str) -> None:
    from llmroute.config import ConfigError, load_config_text

    config = (
        "model_providers: [{model: echo/a}]\n"
        f"guardrails: {{request: [{{type: blocklist, patterns: ['ok', '{pattern}']}}]}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config_text(config, env={})
    message = str(caught.value)
    assert "patterns[1]" in message and "RE2" in message
    assert "\n" not in message.strip()


# --- open since the first release: Arch-Router calls carry the trace ----------------------------


def test_arch_router_call_carries_the_requests_traceparent(setup: Setup) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    ROUTER_ANSWER[0] = "code"
    headers = {"traceparent": f"00-{trace}-00f067aa0ba902b7-01"}
    response = setup.http.post(
        "/v1/chat/completions", json=chat(routing_preferences=inline("code")), headers=headers
    )
    assert response.status_code == 200, response.text
    sent = setup.router.last.headers["traceparent"]
    version, trace_id, parent, flags = sent.split("-")
    assert (version, trace_id, flags) == ("00", trace, "01")
    assert len(parent) == 16 and parent != "00f067aa0ba902b7"  # the gateway's request span

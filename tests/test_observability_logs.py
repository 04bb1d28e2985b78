"""The request log: one line per request, human or JSON, with the decision and timings, never contents or keys."""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from conftest import RunningGateway
from fakes.providers import Answer, Fail, FakeProvider
from llmroute.observability.logs import HumanFormatter, JsonFormatter

GPT = "openai/gpt-4o"
CLAUDE = "anthropic/claude-sonnet-4"
PROVIDER_KEY = "sk-openai-log-test-0001"
CLIENT_KEY = "client-log-secret-9999"
PROMPT = "please refactor my confidential function quux_frobnicate"


class Logs:
    """Everything the gateway logs (any logger, INFO and up), formatted by one of our formatters."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)
        self.handler.setLevel(logging.INFO)

    def __enter__(self) -> Logs:
        root = logging.getLogger()
        self.level = root.level
        root.setLevel(logging.INFO)
        root.addHandler(self.handler)
        return self

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self.level)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def wait_for_access(self, count: int, timeout: float = 10.0) -> None:
        """Until `count` access lines are in: the gateway logs a request after sending its response."""
        deadline = time.monotonic() + timeout
        while self.text.count("llmroute.access") < count and time.monotonic() < deadline:
            time.sleep(0.02)

    def access_json(self) -> list[dict[str, object]]:
        entries = [orjson.loads(line) for line in self.text.splitlines() if line.startswith("{")]
        return [e for e in entries if e["logger"] == "llmroute.access"]


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[RunningGateway, FakeProvider, FakeProvider, FakeProvider]]:
    with FakeProvider() as openai, FakeProvider() as anthropic, FakeProvider() as router:
        config = f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 30s}}]
model_providers:
  - model: {GPT}
    access_key: {PROVIDER_KEY}
    base_url: {openai.url}
    default: true
  - model: {CLAUDE}
    access_key: sk-ant-log-test
    base_url: {anthropic.url}
routing_preferences:
  - name: coding
    description: writing and debugging code
    models: [{GPT}, {CLAUDE}]
routing:
  router: {{type: arch_router, base_url: {router.url}, timeout_ms: 30000}}
"""
        with RunningGateway(config) as gateway:
            yield gateway, openai, anthropic, router


def post_chat(
    gateway: RunningGateway, router: FakeProvider, traceparent: str | None = None
) -> httpx.Response:
    router.script(Answer(text='{"route": "coding"}'))
    headers = {"authorization": f"Bearer {CLIENT_KEY}"}
    if traceparent:
        headers["traceparent"] = traceparent
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": PROMPT}]},
        headers=headers,
    )


def test_json_line_per_request_with_decision_attempts_and_timings(env) -> None:  # type: ignore[no-untyped-def]
    gateway, openai, _anthropic, router = env
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    with Logs(JsonFormatter()) as logs:
        openai.script(Fail(500))
        response = post_chat(gateway, router, f"00-{trace}-00f067aa0ba902b7-01")
        assert response.status_code == 200, response.text
        logs.wait_for_access(1)
    (entry,) = logs.access_json()
    assert entry["level"] == "info"
    assert entry["msg"] == "POST /v1/chat/completions 200"
    assert entry["method"] == "POST"
    assert entry["path"] == "/v1/chat/completions"
    assert entry["status"] == 200
    assert entry["route"] == "coding"
    assert entry["model"] == CLAUDE
    assert entry["attempts"] == 2
    assert entry["tried"] == f"{GPT}:status_5xx,{CLAUDE}:200"
    assert entry["router"] == "arch_router"
    assert entry["trace_id"] == trace
    for field in ("duration_ms", "upstream_ms", "overhead_ms", "router_ms"):
        assert isinstance(entry[field], float) and entry[field] >= 0, field
    assert entry["duration_ms"] >= entry["upstream_ms"]


def test_logs_never_hold_message_contents_or_keys(env) -> None:  # type: ignore[no-untyped-def]
    gateway, openai, anthropic, router = env
    with Logs(JsonFormatter()) as logs:
        openai.script(Fail(429, headers={"retry-after-ms": "10"}))
        anthropic.script(Fail(500))
        assert post_chat(gateway, router).status_code == 502  # failures are logged as warnings too
        assert post_chat(gateway, router).status_code == 200
        logs.wait_for_access(2)
    assert len(logs.access_json()) == 2
    for secret in (PROMPT, "quux_frobnicate", PROVIDER_KEY, CLIENT_KEY):
        assert secret not in logs.text


def test_human_line_reads_as_method_path_status_then_fields(env) -> None:  # type: ignore[no-untyped-def]
    gateway, _openai, _anthropic, router = env
    with Logs(HumanFormatter()) as logs:
        assert post_chat(gateway, router).status_code == 200
        logs.wait_for_access(1)
    (line,) = [line for line in logs.text.splitlines() if "llmroute.access" in line]
    assert "llmroute.access: POST /v1/chat/completions 200 route=coding" in line
    assert f"model={GPT}" in line
    assert " attempts=1 " in line
    assert "trace_id=" in line
    assert "method=" not in line  # already in the message
    assert PROMPT not in logs.text


def test_probes_log_only_at_debug(env) -> None:  # type: ignore[no-untyped-def]
    gateway, *_ = env
    with Logs(JsonFormatter()) as logs:
        assert httpx.get(gateway.url + "/healthz").status_code == 200
        assert httpx.get(gateway.url + "/metrics").status_code == 200
    assert logs.access_json() == []


# --- `llmroute up`: the request line written straight to the configured stream -------------------


@pytest.mark.parametrize("log_format", ["human", "json"])
def test_llmroute_up_writes_the_request_line_like_any_other_line(tmp_path, log_format: str) -> None:  # type: ignore[no-untyped-def]
    from gateway_process import NO_ROUTER, GatewayProcess

    config = (
        "version: v0.4.0\nlisteners: [{name: m, type: model, address: 127.0.0.1, port: 0}]\n"
        "model_providers:\n  - model: echo/fast\n    default: true\n" + NO_ROUTER
    )
    with GatewayProcess(config, tmp_path, log_format=log_format) as gw:
        trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        answer = httpx.post(
            gw.url + "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": PROMPT}]},
            headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"},
        )
        assert answer.status_code == 200
        text = gw.wait_for_log("POST /v1/chat/completions")
    assert PROMPT not in text
    if log_format == "json":
        entries = [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]
        (entry,) = [e for e in entries if e["logger"] == "llmroute.access"]
        assert entry["msg"] == "POST /v1/chat/completions 200"
        assert entry["level"] == "info" and entry["model"] == "echo/fast" and entry["trace_id"] == trace
        assert entry["attempts"] == 1 and isinstance(entry["duration_ms"], float)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["ts"])
    else:
        (line,) = [line for line in text.splitlines() if "llmroute.access" in line]
        # The same shape as every other human line: `date time,ms LEVEL logger: message key=value...`
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO    llmroute\.access: POST /v1/chat/completions 200 "
            rf"route=- model=echo/fast attempts=1 duration_ms=[\d.]+ upstream_ms=[\d.]+ overhead_ms=[\d.]+ "
            rf"trace_id={trace}",
            line,
        ), line


def test_uvicorns_colour_copy_of_its_message_is_not_a_field() -> None:
    record = logging.makeLogRecord(
        {
            "name": "uvicorn.error",
            "levelname": "INFO",
            "msg": "Started server process [%d]",
            "args": (42,),
            "color_message": "Started server process [\x1b[36m%d\x1b[0m]",
        }
    )
    assert HumanFormatter().format(record).endswith("uvicorn.error: Started server process [42]")
    assert "color_message" not in orjson.loads(JsonFormatter().format(record))

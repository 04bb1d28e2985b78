"""Response guardrails on streamed answers (governance/stream_guard.py): a finding ends the stream
with an error event before any byte of it is sent, in every client format, even when the finding
arrives split over several upstream events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import RunningGateway
from fakes.providers import Answer, FakeProvider, Raw
from fakes.sse import json_events, stream_text

EMAIL = "john.doe@example.com"


def config(url: str, streams: str = "screen") -> str:
    return f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 5s}}]
model_providers:
  - {{model: openai/gpt-4o, access_key: sk-stream-guard-0001, base_url: {url}, default: true}}
  - {{model: vllm/chat, access_key: sk-stream-guard-0001, base_url: {url}/v1}}
routing: {{router: {{type: arch_router, base_url: "http://127.0.0.1:9"}}}}
guardrails:
  response:
    - {{type: pii, action: redact, entities: [email]}}
    - {{type: blocklist, patterns: ["(?i)project nightingale"]}}
  streams: {streams}
  stream_window_chars: 64
"""


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[httpx.Client, FakeProvider]]:
    with (
        FakeProvider() as fake,
        RunningGateway(config(fake.url)) as gw,
        httpx.Client(base_url=gw.url, timeout=10) as http,
    ):
        yield http, fake


CASES = [
    ("/v1/chat/completions", "openai/gpt-4o", "openai_chat"),
    ("/v1/messages", "openai/gpt-4o", "anthropic"),
    ("/v1/responses", "vllm/chat", "responses"),
]


def ask(http: httpx.Client, path: str, model: str) -> httpx.Response:
    body: dict[str, Any] = {"model": model, "stream": True, "max_tokens": 100}
    if path == "/v1/responses":
        body["input"] = "hi"
    else:
        body["messages"] = [{"role": "user", "content": "hi"}]
    return http.post(path, json=body)


def chunk(text: str, finish: str = "null") -> bytes:
    import orjson

    delta = orjson.dumps({"content": text}).decode()
    return (
        b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
        + f'"delta":{delta},"finish_reason":{finish}}}]}}\n\n'.encode()
    )


def is_blocked(fmt: str, text: str) -> bool:
    events = json_events(text)
    last = events[-1][1] if events[-1][1] != "[DONE]" else events[-2][1]
    if fmt == "openai_chat":
        return last["error"]["code"] == "content_blocked"
    if fmt == "anthropic":
        return last["type"] == "error"
    return last["type"] == "error" and last["code"] == "content_blocked"


@pytest.mark.parametrize(("path", "model", "fmt"), CASES)
def test_a_finding_cuts_the_stream_before_it_is_sent(
    env: tuple[httpx.Client, FakeProvider], path: str, model: str, fmt: str
) -> None:
    http, fake = env
    words = "Sure, here is a long enough preamble for the window to start releasing text. Write to"
    fake.script(Answer(text=f"{words} {EMAIL} any time, and more text follows the address here."))
    response = ask(http, path, model)
    assert response.status_code == 200
    assert EMAIL not in response.text and "john.doe" not in response.text
    assert is_blocked(fmt, response.text), response.text[-400:]
    assert stream_text(fmt, response.text).startswith("Sure, here is")


@pytest.mark.parametrize(("path", "model", "fmt"), CASES)
def test_a_finding_split_over_events_is_still_caught(
    env: tuple[httpx.Client, FakeProvider], path: str, model: str, fmt: str
) -> None:
    http, fake = env
    pieces = [
        chunk("The codename is Project Night"),
        chunk("ingale, keep it quiet."),
        chunk("", '"stop"'),
        b"data: [DONE]\n\n",
    ]
    fake.script(Raw(pieces))
    response = ask(http, path, model)
    assert "Night" not in response.text
    assert is_blocked(fmt, response.text)


@pytest.mark.parametrize(("path", "model", "fmt"), CASES)
def test_a_clean_stream_is_complete(
    env: tuple[httpx.Client, FakeProvider], path: str, model: str, fmt: str
) -> None:
    http, fake = env
    text = "A perfectly ordinary answer " * 20
    fake.script(Answer(text=text.strip()))
    response = ask(http, path, model)
    assert stream_text(fmt, response.text) == text.strip()
    assert "content_blocked" not in response.text
    ending = {
        "openai_chat": "data: [DONE]",
        "anthropic": "event: message_stop",
        "responses": "event: response.completed",
    }
    assert ending[fmt] in response.text


def test_streams_pass_unscreened_when_configured() -> None:
    with FakeProvider() as fake:
        fake.script(Answer(text=f"mail {EMAIL} now"))
        with (
            RunningGateway(config(fake.url, "pass")) as gw,
            httpx.Client(base_url=gw.url, timeout=10) as http,
        ):
            response = ask(http, "/v1/chat/completions", "openai/gpt-4o")
    assert EMAIL in response.text

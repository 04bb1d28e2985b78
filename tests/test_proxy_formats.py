"""Every client format × provider format, streaming and not, through the real gateway.

Fake providers are real HTTP servers on loopback; each test checks what the provider received
(path, headers, body) and what the client got back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from conftest import RunningGateway
from fakes.providers import Answer, FakeProvider
from fakes.sse import json_events, response_text, stream_text

OPENAI_KEY = "sk-openai-secret-0001"
ANTHROPIC_KEY = "sk-ant-secret-0002"
GROQ_KEY = "gsk-groq-secret-0003"
CLIENT_KEY = "client-own-secret-9999"
TEXT = "Hello from the fake provider"

PATHS = {"openai_chat": "/v1/chat/completions", "anthropic": "/v1/messages", "responses": "/v1/responses"}


class Env:
    def __init__(self, gateway: RunningGateway, openai: FakeProvider, anthropic: FakeProvider) -> None:
        self.gateway = gateway
        self.openai = openai
        self.anthropic = anthropic
        self.http = httpx.Client(base_url=gateway.url, timeout=10)


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with FakeProvider() as openai, FakeProvider() as anthropic:
        config = f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 5s}}]
model_providers:
  - model: openai/gpt-4o
    access_key: {OPENAI_KEY}
    base_url: {openai.url}
    default: true
  - model: anthropic/claude-sonnet-4
    access_key: {ANTHROPIC_KEY}
    base_url: {anthropic.url}
  - model: groq/llama-3.3-70b
    access_key: {GROQ_KEY}
    base_url: {openai.url}
"""
        with RunningGateway(config) as gateway:
            yield Env(gateway, openai, anthropic)


def client_body(fmt: str, model: str, stream: bool) -> dict[str, Any]:
    if fmt == "openai_chat":
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": 50,
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "Say hi"}],
        }
    elif fmt == "anthropic":
        body = {
            "model": model,
            "max_tokens": 50,
            "system": "be brief",
            "messages": [{"role": "user", "content": "Say hi"}],
        }
    else:
        body = {"model": model, "instructions": "be brief", "input": "Say hi", "max_output_tokens": 50}
    if stream:
        body["stream"] = True
    return body


# (model, provider kind, expected upstream path for chat-style requests)
UPSTREAMS = [
    ("openai/gpt-4o", "openai", "/v1/chat/completions"),
    ("anthropic/claude-sonnet-4", "anthropic", "/v1/messages"),
    ("groq/llama-3.3-70b", "groq", "/openai/v1/chat/completions"),
]


def check_upstream_request(env: Env, fmt: str, kind: str, chat_path: str, stream: bool) -> None:
    fake = env.anthropic if kind == "anthropic" else env.openai
    received = fake.last
    body = received.body
    headers = received.headers
    # The client's own key never reaches a provider.
    assert CLIENT_KEY not in orjson.dumps(headers).decode()
    assert "routing_preferences" not in body
    if kind == "anthropic":
        assert received.path == "/v1/messages"
        assert headers["x-api-key"] == ANTHROPIC_KEY
        assert headers["anthropic-version"] == "2023-06-01"
        assert "authorization" not in headers
        assert body["model"] == "claude-sonnet-4"
        assert body["system"] == "be brief"
        assert body["max_tokens"] == 50
        assert body["messages"][0]["role"] == "user"
        assert "Say hi" in orjson.dumps(body["messages"][0]["content"]).decode()
    elif kind == "openai" and fmt == "responses":
        # OpenAI serves the Responses API itself: native pass-through, no translation.
        assert received.path == "/v1/responses"
        assert headers["authorization"] == f"Bearer {OPENAI_KEY}"
        assert body == {**client_body(fmt, "gpt-4o", stream)}
    else:
        assert received.path == chat_path
        key = OPENAI_KEY if kind == "openai" else GROQ_KEY
        assert headers["authorization"] == f"Bearer {key}"
        assert "x-api-key" not in headers
        assert body["model"] == ("gpt-4o" if kind == "openai" else "llama-3.3-70b")
        assert body["messages"] == [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "Say hi"},
        ]
        limit_field = "max_completion_tokens" if (kind == "openai" and fmt != "openai_chat") else "max_tokens"
        assert body[limit_field] == 50
    if stream:
        assert body["stream"] is True
    assert headers["traceparent"].startswith("00-")


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("model,kind,chat_path", UPSTREAMS, ids=[u[1] for u in UPSTREAMS])
@pytest.mark.parametrize("fmt", ["openai_chat", "anthropic", "responses"])
def test_client_format_against_provider_format(
    env: Env, fmt: str, model: str, kind: str, chat_path: str, stream: bool
) -> None:
    response = env.http.post(
        PATHS[fmt],
        json=client_body(fmt, model, stream),
        headers={"Authorization": f"Bearer {CLIENT_KEY}", "x-api-key": CLIENT_KEY},
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-llmroute-model"] == model
    assert "x-llmroute-route" not in response.headers  # no route matched: no header, not "none"
    assert response.headers["x-llmroute-pinned"] == "false"
    assert response.headers["traceparent"].startswith("00-")
    check_upstream_request(env, fmt, kind, chat_path, stream)
    if not stream:
        assert response.headers["content-type"].startswith("application/json")
        assert response_text(fmt, response.json()) == TEXT
        return
    assert response.headers["content-type"].startswith("text/event-stream")
    assert stream_text(fmt, response.text) == TEXT
    events = json_events(response.text)
    if fmt == "openai_chat":
        assert events[-1][1] == "[DONE]"
    elif fmt == "anthropic":
        names = [name for name, _ in events if name != "ping"]
        assert names[0] == "message_start"
        assert names[1] == "content_block_start"
        assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
        assert set(names[2:-3]) == {"content_block_delta"}
        assert all(name == data["type"] for name, data in events)
    else:
        assert events[0][0] == "response.created"
        assert events[-1][0] == "response.completed"
        assert events[-1][1]["response"]["status"] == "completed"


@pytest.mark.parametrize(
    "model,kind", [("openai/gpt-4o", "openai"), ("anthropic/claude-sonnet-4", "anthropic")]
)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_tool_call_translates_across_formats(env: Env, model: str, kind: str, stream: bool) -> None:
    """An OpenAI client's tool call answered by either provider comes back as OpenAI tool_calls."""
    fake = env.anthropic if kind == "anthropic" else env.openai
    fake.script(Answer(tool_call=("get_weather", {"city": "Paris"})))
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": tools,
        "stream": stream,
    }
    response = env.http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    if kind == "anthropic":
        assert fake.last.body["tools"] == [
            {
                "name": "get_weather",
                "description": "Weather for a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ]
    else:
        assert fake.last.body["tools"] == tools
    if not stream:
        message = response.json()["choices"][0]["message"]
        assert response.json()["choices"][0]["finish_reason"] == "tool_calls"
        call = message["tool_calls"][0]
        assert call["function"]["name"] == "get_weather"
        assert orjson.loads(call["function"]["arguments"]) == {"city": "Paris"}
        return
    arguments = ""
    name = None
    finish = None
    for _, data in json_events(response.text):
        if data == "[DONE]":
            continue
        for choice in data["choices"]:
            for call in choice["delta"].get("tool_calls") or ():
                name = call.get("function", {}).get("name") or name
                arguments += call.get("function", {}).get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    assert name == "get_weather"
    assert orjson.loads(arguments) == {"city": "Paris"}
    assert finish == "tool_calls"


def test_anthropic_client_tool_use_from_openai_provider(env: Env) -> None:
    env.openai.script(Answer(tool_call=("lookup", {"q": "llmroute"})))
    body = {
        "model": "openai/gpt-4o",
        "max_tokens": 100,
        "tools": [{"name": "lookup", "description": "search", "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": "find it"}],
    }
    response = env.http.post("/v1/messages", json=body)
    assert response.status_code == 200, response.text
    assert env.openai.last.body["tools"][0]["function"]["name"] == "lookup"
    message = response.json()
    assert message["stop_reason"] == "tool_use"
    assert message["content"] == [
        {"type": "tool_use", "id": "call_fake1", "name": "lookup", "input": {"q": "llmroute"}}
    ]


def test_models_endpoint_lists_configured_models(env: Env) -> None:
    response = env.http.get("/v1/models")
    assert response.status_code == 200
    payload = response.json()
    assert payload["object"] == "list"
    ids = [m["id"] for m in payload["data"]]
    assert ids == ["openai/gpt-4o", "anthropic/claude-sonnet-4", "groq/llama-3.3-70b"]
    for item in payload["data"]:
        assert set(item) == {"id", "object", "created", "owned_by"}
        assert item["object"] == "model"
        assert item["owned_by"] == item["id"].partition("/")[0]

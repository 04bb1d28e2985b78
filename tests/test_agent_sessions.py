"""Coding agents' own session ids pin their route; only user turns re-route (SPEC §11, issue 16).

The router is Arch-Router behind a fake OpenAI-compatible server (a real loopback HTTP server) whose
answers are scripted, so every router call is counted and a pinned request is seen not to call it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from conftest import RunningGateway
from fakes.providers import Answer, FakeProvider
from llmroute.routing.agent_sessions import agent_session_id, is_user_turn

CODER = "anthropic/claude-sonnet-4-6"
WRITER = "openai/gpt-4o"


def config(router_url: str, route_on_user_only: bool = True) -> str:
    return f"""
version: v0.4.0
model_providers:
  - model: {WRITER}
    default: true
  - model: {CODER}
routing_preferences:
  - name: coding
    description: writing and fixing code
    models: [{CODER}]
  - name: writing
    description: writing prose, poems and stories
    models: [{WRITER}]
routing:
  router: {{type: arch_router, base_url: "{router_url}", model: Arch-Router}}
  agent_sessions: {{route_on_user_only: {str(route_on_user_only).lower()}}}
"""


@pytest.fixture
def router() -> Iterator[FakeProvider]:
    with FakeProvider() as fake:
        yield fake


def route(name: str) -> Answer:
    return Answer(text=orjson.dumps({"route": name}).decode())


USER_TURN = [{"role": "user", "content": "fix the failing test"}]
TOOL_TURN = [
    {"role": "user", "content": "fix the failing test"},
    {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {"path": "a"}}],
    },
    {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "def test(): ..."},
            {"type": "text", "text": "<system-reminder>be brief</system-reminder>"},
        ],
    },
]


def decide(gateway: RunningGateway, messages: list[Any], headers: dict[str, str], **body: Any) -> dict:
    payload = {"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": messages, **body}
    response = httpx.post(gateway.url + "/routing/v1/messages", json=payload, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_claude_code_session_header_pins_tool_turns_and_user_turns_reroute(router: FakeProvider) -> None:
    claude = {"X-Claude-Code-Session-Id": "cc-1"}
    with RunningGateway(config(router.url)) as gateway:
        router.script(route("coding"))
        first = decide(gateway, USER_TURN, claude)
        assert (first["model"], first["session_id"], first["pinned"]) == (CODER, "cc-1", False)
        calls = len(router.requests)

        router.script(route("writing"))  # what the router would say now: never asked
        tool = decide(gateway, TOOL_TURN, claude)
        assert (tool["model"], tool["pinned"]) == (CODER, True)
        assert len(router.requests) == calls

        new_turn = [
            *TOOL_TURN,
            {"role": "assistant", "content": "done"},
            {"role": "user", "content": "now a poem"},
        ]
        second = decide(gateway, new_turn, claude)  # a user turn: routed afresh, re-pinned
        assert (second["model"], second["pinned"]) == (WRITER, False)
        assert len(router.requests) == calls + 1

        again = decide(gateway, [*new_turn, {"role": "assistant", "content": "ok"}], claude)  # a continuation
        assert (again["model"], again["pinned"]) == (WRITER, True)


def test_session_id_inside_claude_codes_metadata_user_id(router: FakeProvider) -> None:
    user_id = orjson.dumps({"device_id": "d1", "account_uuid": "", "session_id": "cc-meta"}).decode()
    with RunningGateway(config(router.url)) as gateway:
        router.script(route("coding"), route("writing"))
        first = decide(gateway, USER_TURN, {}, metadata={"user_id": user_id})
        tool = decide(gateway, TOOL_TURN, {}, metadata={"user_id": user_id})
    assert first["session_id"] == tool["session_id"] == "cc-meta"
    assert (tool["model"], tool["pinned"]) == (CODER, True)


def test_codex_session_header_pins_function_call_outputs(router: FakeProvider) -> None:
    codex = {"session-id": "codex-1"}
    base = {"model": "gpt-4o", "input": [{"role": "user", "content": "fix the failing test"}]}
    later = {
        "model": "gpt-4o",
        "input": [
            *base["input"],
            {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        ],
    }
    with RunningGateway(config(router.url)) as gateway:
        router.script(route("coding"), route("writing"))
        first = httpx.post(gateway.url + "/routing/v1/responses", json=base, headers=codex).json()
        tool = httpx.post(gateway.url + "/routing/v1/responses", json=later, headers=codex).json()
    assert first["model"] == tool["model"] == CODER
    assert tool["pinned"] is True and tool["session_id"] == "codex-1"


def test_clients_own_session_header_wins_and_pins_every_turn(router: FakeProvider) -> None:
    headers = {"X-Claude-Code-Session-Id": "cc-2", "X-Session-Id": "mine"}
    with RunningGateway(config(router.url)) as gateway:
        router.script(route("coding"), route("writing"))
        first = decide(gateway, USER_TURN, headers)
        second = decide(gateway, [{"role": "user", "content": "now a poem"}], headers)
    assert first["session_id"] == second["session_id"] == "mine"
    assert (second["model"], second["pinned"]) == (CODER, True)  # X-Session-Id pins the whole session


def test_route_on_user_only_off_pins_user_turns_too(router: FakeProvider) -> None:
    claude = {"X-Claude-Code-Session-Id": "cc-3"}
    with RunningGateway(config(router.url, route_on_user_only=False)) as gateway:
        router.script(route("coding"), route("writing"))
        decide(gateway, USER_TURN, claude)
        second = decide(gateway, [{"role": "user", "content": "now a poem"}], claude)
    assert (second["model"], second["pinned"]) == (CODER, True)


def test_side_requests_for_another_model_keep_their_own_pin(router: FakeProvider) -> None:
    claude = {"X-Claude-Code-Session-Id": "cc-4"}
    with RunningGateway(config(router.url)) as gateway:
        router.script(route("coding"), route("writing"))
        decide(gateway, USER_TURN, claude)
        side = decide(gateway, USER_TURN, claude, model="claude-haiku-4-5")  # another model: its own pin
        tool = decide(gateway, TOOL_TURN, claude)
    assert side["model"] == WRITER
    assert (tool["model"], tool["pinned"]) == (CODER, True)


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"x-claude-code-session-id": "a"}, {}, "a"),
        ({"session-id": "b"}, {}, "b"),
        ({"session_id": "c"}, {}, "c"),
        ({}, {"metadata": {"user_id": '{"session_id": "d"}'}}, "d"),
        ({}, {"metadata": {"user_id": "user-123"}}, None),  # a plain user id is no session
        ({}, {"metadata": {"user_id": "{not json"}}, None),
        ({"session-id": "x" * 300}, {}, None),
    ],
)
def test_agent_session_id(headers: dict[str, str], body: dict[str, Any], expected: str | None) -> None:
    assert agent_session_id(headers, body) == expected


@pytest.mark.parametrize(
    ("fmt", "body", "expected"),
    [
        ("anthropic", {"messages": USER_TURN}, True),
        ("anthropic", {"messages": TOOL_TURN}, False),
        ("anthropic", {"messages": [*USER_TURN, {"role": "assistant", "content": "Sure,"}]}, False),
        ("openai_chat", {"messages": [{"role": "tool", "tool_call_id": "x", "content": "ok"}]}, False),
        ("openai_chat", {"messages": [{"role": "user", "content": "hi"}]}, True),
        ("responses", {"input": "hi"}, True),
        ("responses", {"input": [{"type": "custom_tool_call_output", "call_id": "c", "output": "x"}]}, False),
    ],
)
def test_is_user_turn(fmt: Any, body: dict[str, Any], expected: bool) -> None:
    assert is_user_turn(fmt, body) is expected

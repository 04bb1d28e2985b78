"""Claude Code, the real unmodified npm client, through the gateway (issue 16, SPEC §11).

`claude -p` (print mode) runs against a gateway in front of two fake providers: one speaking
Anthropic Messages (pass-through) and one speaking OpenAI Chat Completions (translated). The fakes
play the model (tests/fakes/agent_model.py): asked about a file, they call Claude Code's `Read`
tool; given the tool's result, they answer with it. The tests check what Claude Code printed and
what the provider received.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from agent_clients import agent_bin, agent_env
from conftest import RunningGateway
from fakes.agent_model import PLAIN_ANSWER, file_reader
from fakes.providers import Answer, FakeProvider, Received

pytestmark = pytest.mark.timeout(300)

ANTHROPIC_ALIAS = (
    "coder-anthropic"  # a non-Claude name: Claude Code then sends mid-conversation system messages
)
OPENAI_ALIAS = "coder-openai"


@dataclass
class Setup:
    gateway: RunningGateway
    anthropic: FakeProvider
    openai: FakeProvider
    home: Path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    agent_bin("claude")  # install (or skip) before starting anything
    read = file_reader("Read", lambda path: {"file_path": path})
    with FakeProvider(read) as anthropic, FakeProvider(read) as openai:
        config = f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 60s}}]
model_providers:
  - model: anthropic/claude-sonnet-4-6
    access_key: sk-ant-platform-key
    base_url: {anthropic.url}
  - model: openai/gpt-4o
    access_key: sk-openai-platform-key
    base_url: {openai.url}
model_aliases:
  {ANTHROPIC_ALIAS}: {{target: anthropic/claude-sonnet-4-6}}
  {OPENAI_ALIAS}: {{target: openai/gpt-4o}}
"""
        with RunningGateway(config) as gateway:
            yield Setup(gateway, anthropic, openai, tmp_path_factory.mktemp("claude-home"))


def claude(setup: Setup, prompt: str, model: str, cwd: Path) -> str:
    env = agent_env(setup.home, ANTHROPIC_BASE_URL=setup.gateway.url, ANTHROPIC_API_KEY="client-key")
    run = subprocess.run(
        [str(agent_bin("claude")), "-p", prompt, "--model", model, "--allowedTools", "Read"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, f"claude exited {run.returncode}\nstdout: {run.stdout}\nstderr: {run.stderr}"
    return run.stdout


def new_requests(fake: FakeProvider, before: int) -> list[Received]:
    return [r for r in fake.requests[before:] if r.path.endswith(("/messages", "/chat/completions"))]


def test_plain_answer_through_anthropic_passes_everything_through(setup: Setup, tmp_path: Path) -> None:
    before = len(setup.anthropic.requests)
    out = claude(setup, "Say hello.", ANTHROPIC_ALIAS, tmp_path)
    assert PLAIN_ANSWER in out
    sent = new_requests(setup.anthropic, before)
    assert sent, "the Anthropic provider got no request"
    first = sent[0]
    assert first.body["model"] == "claude-sonnet-4-6"
    assert first.headers["x-api-key"] == "sk-ant-platform-key"  # the platform's key, not the client's
    # Pass-through: the betas, the mid-conversation system message and the fields we do not read.
    betas = first.headers["anthropic-beta"].split(",")
    assert "claude-code-20250219" in betas
    assert first.headers["anthropic-version"] == "2023-06-01"
    assert "system" in [m["role"] for m in first.body["messages"]]
    for field in ("thinking", "context_management", "metadata", "tools", "system"):
        assert field in first.body, field


def test_reads_a_file_through_anthropic(setup: Setup, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("the secret word is pineapple-7261\n")
    before = len(setup.anthropic.requests)
    out = claude(setup, f"Read the file {notes} and tell me what it says.", ANTHROPIC_ALIAS, tmp_path)
    assert "pineapple-7261" in out
    sent = new_requests(setup.anthropic, before)
    assert len(sent) >= 2  # the tool call, then the turn carrying its result
    results = [
        block
        for message in sent[-1].body["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]
    assert results and "pineapple-7261" in orjson.dumps(results).decode()


def test_plain_answer_through_openai_is_translated(setup: Setup, tmp_path: Path) -> None:
    before = len(setup.openai.requests)
    out = claude(setup, "Say hello.", OPENAI_ALIAS, tmp_path)
    assert PLAIN_ANSWER in out
    first = new_requests(setup.openai, before)[0]
    assert first.path == "/v1/chat/completions"
    assert first.body["model"] == "gpt-4o"
    assert first.headers["authorization"] == "Bearer sk-openai-platform-key"
    roles = [m["role"] for m in first.body["messages"]]
    assert roles[0] == "system" and "user" in roles
    for field in ("thinking", "context_management", "output_config"):  # no Chat counterpart
        assert field not in first.body


def test_reads_a_file_through_openai(setup: Setup, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("the secret word is mango-5180\n")
    before = len(setup.openai.requests)
    out = claude(setup, f"Read the file {notes} and tell me what it says.", OPENAI_ALIAS, tmp_path)
    assert "mango-5180" in out
    sent = new_requests(setup.openai, before)
    assert len(sent) >= 2
    last = sent[-1].body["messages"]
    calls = [c for m in last if m["role"] == "assistant" for c in m.get("tool_calls") or []]
    assert any(c["function"]["name"] == "Read" for c in calls)
    tool_messages = [m for m in last if m["role"] == "tool"]
    assert tool_messages and "mango-5180" in tool_messages[-1]["content"]


def test_a_claude_code_task_stays_on_its_routed_model(tmp_path: Path) -> None:
    """Agent sessions end to end: Claude Code's own session id pins the route its task got, so the
    tool-result turn goes back to the same model without asking the router again."""
    agent_bin("claude")
    read = file_reader("Read", lambda path: {"file_path": path})
    with FakeProvider() as router, FakeProvider(read) as anthropic, FakeProvider(read) as openai:
        # The router would send every later turn elsewhere: only an unpinned turn would ask it.
        router.script(Answer(text='{"route": "coding"}'), *[Answer(text='{"route": "chat"}')] * 5)
        config = f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 60s}}]
model_providers:
  - model: anthropic/claude-sonnet-4-6
    access_key: sk-ant-platform-key
    base_url: {anthropic.url}
  - model: openai/gpt-4o
    access_key: sk-openai-platform-key
    base_url: {openai.url}
    default: true
routing_preferences:
  - {{name: coding, description: reading and writing code and files, models: [anthropic/claude-sonnet-4-6]}}
  - {{name: chat, description: small talk, models: [openai/gpt-4o]}}
routing:
  router: {{type: arch_router, base_url: "{router.url}", model: Arch-Router}}
"""
        with RunningGateway(config) as gateway:
            notes = tmp_path / "notes.txt"
            notes.write_text("the secret word is cherry-4410\n")
            setup = Setup(gateway, anthropic, openai, tmp_path / "home")
            out = claude(setup, f"Read the file {notes} and tell me what it says.", "gpt-4o", tmp_path)
    assert "cherry-4410" in out
    assert len(router.requests) == 1  # the user's turn was routed; the tool-result turn was pinned
    sent = new_requests(anthropic, 0)
    assert len(sent) >= 2 and not new_requests(openai, 0)

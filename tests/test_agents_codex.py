"""The OpenAI Codex CLI, the real unmodified npm client, through the gateway (issue 16, SPEC §11).

`codex exec` speaks the Responses API to the gateway, configured as its model provider. Behind the
gateway: a fake OpenAI provider that serves /v1/responses (pass-through) and, for other models, an
OpenAI-compatible server with Chat Completions only and an Anthropic provider (the gateway translates). The fake model asks
Codex to run `cat` on the file named in the task (Codex's `exec_command` tool), then answers with
the command's output (tests/fakes/agent_model.py).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from agent_clients import agent_bin, agent_env
from conftest import RunningGateway
from fakes.agent_model import file_reader
from fakes.providers import FakeProvider

pytestmark = pytest.mark.timeout(300)


@dataclass
class Setup:
    gateway: RunningGateway
    fake: FakeProvider
    home: Path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    agent_bin("codex")
    run_cat = file_reader("exec_command", lambda path: {"cmd": f"cat {path}"})
    with FakeProvider(run_cat) as fake:
        config = f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 60s}}]
model_providers:
  - model: openai/gpt-4o
    access_key: sk-openai-platform-key
    base_url: {fake.url}
  - model: local/qwen3-coder
    provider_interface: openai
    base_url: {fake.url}/v1
  - model: anthropic/claude-sonnet-4-6
    access_key: sk-ant-platform-key
    base_url: {fake.url}
"""
        with RunningGateway(config) as gateway:
            yield Setup(gateway, fake, tmp_path_factory.mktemp("codex-home"))


def codex(setup: Setup, prompt: str, model: str, cwd: Path) -> str:
    codex_home = setup.home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    provider = f'{{name="llmroute", base_url="{setup.gateway.url}/v1", env_key="LLMROUTE_API_KEY", wire_api="responses"}}'
    env = agent_env(setup.home, CODEX_HOME=str(codex_home), LLMROUTE_API_KEY="client-key")
    command = [
        str(agent_bin("codex")),
        "exec",
        "--skip-git-repo-check",
        "--sandbox",
        "read-only",
        "-c",
        "model_provider=llmroute",
        "-c",
        f"model_providers.llmroute={provider}",
        "-m",
        model,
        prompt,
    ]
    run = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL
    )
    assert run.returncode == 0, f"codex exited {run.returncode}\nstdout: {run.stdout}\nstderr: {run.stderr}"
    return run.stdout


def test_codex_runs_a_tool_through_a_responses_provider(setup: Setup, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("the secret word is kiwi-3344\n")
    before = len(setup.fake.requests)
    out = codex(setup, f"Read the file {notes} and tell me what it says.", "gpt-4o", tmp_path)
    assert "kiwi-3344" in out
    sent = setup.fake.requests[before:]
    assert [r.path for r in sent] == ["/v1/responses", "/v1/responses"]
    assert sent[0].headers["authorization"] == "Bearer sk-openai-platform-key"
    outputs = [i for i in sent[-1].body["input"] if i.get("type") == "function_call_output"]
    assert outputs and "kiwi-3344" in orjson.dumps(outputs).decode()


def test_codex_runs_a_tool_through_a_chat_completions_provider(setup: Setup, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("the secret word is fig-9021\n")
    before = len(setup.fake.requests)
    out = codex(setup, f"Read the file {notes} and tell me what it says.", "qwen3-coder", tmp_path)
    assert "fig-9021" in out
    sent = setup.fake.requests[before:]
    assert [r.path for r in sent] == ["/v1/chat/completions", "/v1/chat/completions"]
    assert sent[0].body["model"] == "qwen3-coder"
    last = sent[-1].body["messages"]
    calls = [c for m in last if m["role"] == "assistant" for c in m.get("tool_calls") or []]
    assert calls and calls[0]["function"]["name"] == "exec_command"
    tool = [m for m in last if m["role"] == "tool"]
    assert tool and "fig-9021" in tool[-1]["content"]
    # What Chat Completions has no room for was dropped deliberately, and counted.
    metrics = httpx.get(setup.gateway.url + "/metrics").text
    for field in ("client_metadata", "builtin_tool", "include"):
        line = (
            f'llmroute_translation_dropped_total{{client="responses",field="{field}",upstream="openai_chat"}}'
        )
        assert line in metrics, field


def test_codex_runs_a_tool_through_an_anthropic_provider(setup: Setup, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("the secret word is plum-6612\n")
    before = len(setup.fake.requests)
    out = codex(setup, f"Read the file {notes} and tell me what it says.", "claude-sonnet-4-6", tmp_path)
    assert "plum-6612" in out
    sent = setup.fake.requests[before:]
    assert [r.path for r in sent] == ["/v1/messages", "/v1/messages"]
    assert sent[0].headers["x-api-key"] == "sk-ant-platform-key"
    last = sent[-1].body["messages"]
    uses = [
        b for m in last if isinstance(m["content"], list) for b in m["content"] if b["type"] == "tool_use"
    ]
    assert uses and uses[0]["name"] == "exec_command"
    results = [
        b for m in last if isinstance(m["content"], list) for b in m["content"] if b["type"] == "tool_result"
    ]
    assert results and "plum-6612" in orjson.dumps(results).decode()

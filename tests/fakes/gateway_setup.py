"""A gateway in front of one fake OpenAI and one fake Anthropic provider (for the SDK tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from conftest import RunningGateway
from fakes.providers import FakeProvider

OPENAI_MODEL = "openai/gpt-4o"
ANTHROPIC_MODEL = "anthropic/claude-sonnet-4"
ECHO_MODEL = "echo/demo"


@dataclass
class TwoProviders:
    gateway: RunningGateway
    openai: FakeProvider
    anthropic: FakeProvider

    def fake_for(self, model: str) -> FakeProvider:
        return self.anthropic if model.startswith("anthropic/") else self.openai


@contextmanager
def two_providers() -> Iterator[TwoProviders]:
    with FakeProvider() as openai, FakeProvider() as anthropic:
        config = f"""
version: v0.4.0
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 5s}}]
model_providers:
  - model: {OPENAI_MODEL}
    access_key: sk-openai-test
    base_url: {openai.url}
    default: true
  - model: {ANTHROPIC_MODEL}
    access_key: sk-ant-test
    base_url: {anthropic.url}
  - model: {ECHO_MODEL}
"""
        with RunningGateway(config) as gateway:
            yield TwoProviders(gateway, openai, anthropic)

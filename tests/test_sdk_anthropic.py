"""The official `anthropic` SDK pointed at the gateway: plain, streaming, tool use, errors.

The same Anthropic client talks to an Anthropic provider (pass-through), an OpenAI provider and
the echo provider (both translated), so the SDK's parsing checks the translated wire format too.
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest

from fakes.gateway_setup import ANTHROPIC_MODEL, ECHO_MODEL, OPENAI_MODEL, TwoProviders, two_providers
from fakes.providers import Answer

TEXT = "Hello from the fake provider"
MODELS = [ANTHROPIC_MODEL, OPENAI_MODEL]
TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def env() -> Iterator[TwoProviders]:
    with two_providers() as setup:
        yield setup


@pytest.fixture(scope="module")
def client(env: TwoProviders) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=env.gateway.url, api_key="client-key", max_retries=0)


@pytest.mark.parametrize("model", [*MODELS, ECHO_MODEL])
def test_message(client: anthropic.Anthropic, model: str) -> None:
    message = client.messages.create(
        model=model, max_tokens=100, system="be brief", messages=[{"role": "user", "content": "Say hi"}]
    )
    expected = "echo: Say hi" if model == ECHO_MODEL else TEXT
    assert message.content[0].type == "text"
    assert message.content[0].text == expected
    assert message.stop_reason == "end_turn"
    if model != ECHO_MODEL:
        assert message.usage.input_tokens == 11 and message.usage.output_tokens == 7


@pytest.mark.parametrize("model", [*MODELS, ECHO_MODEL])
def test_streaming(client: anthropic.Anthropic, model: str) -> None:
    kinds = []
    with client.messages.stream(
        model=model, max_tokens=100, messages=[{"role": "user", "content": "Say hi"}]
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    for event in client.messages.create(
        model=model, max_tokens=100, messages=[{"role": "user", "content": "Say hi"}], stream=True
    ):
        kinds.append(event.type)
    expected = "echo: Say hi" if model == ECHO_MODEL else TEXT
    assert text == expected
    assert final.content[0].text == expected
    assert final.stop_reason == "end_turn"
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]


@pytest.mark.parametrize("model", MODELS)
def test_tool_use_round_trip(env: TwoProviders, client: anthropic.Anthropic, model: str) -> None:
    env.fake_for(model).script(Answer(tool_call=("get_weather", {"city": "Oslo"})))
    question = {"role": "user", "content": "Weather in Oslo?"}
    message = client.messages.create(model=model, max_tokens=100, tools=[TOOL], messages=[question])
    assert message.stop_reason == "tool_use"
    use = next(b for b in message.content if b.type == "tool_use")
    assert use.name == "get_weather" and use.input == {"city": "Oslo"}
    follow_up = [
        question,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "12°C"}]},
    ]
    final = client.messages.create(model=model, max_tokens=100, tools=[TOOL], messages=follow_up)
    assert final.content[0].text == TEXT
    received = env.fake_for(model).last.body
    if model == OPENAI_MODEL:
        assert received["messages"][-1] == {"role": "tool", "tool_call_id": use.id, "content": "12°C"}
        assert received["messages"][-2]["tool_calls"][0]["function"]["name"] == "get_weather"
    else:
        assert received["messages"][-1]["content"][0]["tool_use_id"] == use.id


@pytest.mark.parametrize("model", MODELS)
def test_streaming_tool_use(env: TwoProviders, client: anthropic.Anthropic, model: str) -> None:
    env.fake_for(model).script(Answer(tool_call=("get_weather", {"city": "Lima"})))
    with client.messages.stream(
        model=model, max_tokens=100, tools=[TOOL], messages=[{"role": "user", "content": "Weather?"}]
    ) as stream:
        final = stream.get_final_message()
    use = next(b for b in final.content if b.type == "tool_use")
    assert use.name == "get_weather" and use.input == {"city": "Lima"}
    assert final.stop_reason == "tool_use"


def test_errors_raise_the_sdks_exceptions(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="not found in configured providers"):
        client.messages.create(model="nope/x", max_tokens=10, messages=[{"role": "user", "content": "hi"}])

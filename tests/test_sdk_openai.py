"""The official `openai` SDK pointed at the gateway: plain, streaming, tool calls, Responses, errors.

Each model is served by a different provider kind (OpenAI, Anthropic via translation, the
built-in echo), so the SDK's own parsing checks the gateway's wire output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest

from fakes.gateway_setup import ANTHROPIC_MODEL, ECHO_MODEL, OPENAI_MODEL, TwoProviders, two_providers
from fakes.providers import Answer, Fail

TEXT = "Hello from the fake provider"
MODELS = [OPENAI_MODEL, ANTHROPIC_MODEL]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="module")
def env() -> Iterator[TwoProviders]:
    with two_providers() as setup:
        yield setup


@pytest.fixture(scope="module")
def client(env: TwoProviders) -> openai.OpenAI:
    return openai.OpenAI(base_url=env.gateway.url + "/v1", api_key="client-key", max_retries=0)


@pytest.mark.parametrize("model", MODELS)
def test_chat_completion(client: openai.OpenAI, model: str) -> None:
    completion = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content == TEXT
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.prompt_tokens == 11
    assert completion.usage.completion_tokens == 7


@pytest.mark.parametrize("model", MODELS)
def test_chat_streaming(client: openai.OpenAI, model: str) -> None:
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text = ""
    usage = None
    for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
        usage = chunk.usage or usage
    assert text == TEXT
    assert usage is not None and usage.completion_tokens == 7


@pytest.mark.parametrize("model", MODELS)
def test_chat_tool_calls(env: TwoProviders, client: openai.OpenAI, model: str) -> None:
    env.fake_for(model).script(Answer(tool_call=("get_weather", {"city": "Oslo"})))
    completion = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Weather in Oslo?"}], tools=[WEATHER_TOOL]
    )
    call = completion.choices[0].message.tool_calls[0]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Oslo"}
    # The tool result goes back and reaches the provider in its own format.
    messages = [
        {"role": "user", "content": "Weather in Oslo?"},
        completion.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "12°C and rain"},
    ]
    final = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    assert final.choices[0].message.content == TEXT
    received = env.fake_for(model).last.body
    if model == ANTHROPIC_MODEL:
        tool_result = received["messages"][-1]["content"][0]
        assert tool_result["type"] == "tool_result" and tool_result["tool_use_id"] == call.id
    else:
        assert received["messages"][-1] == {
            "role": "tool",
            "tool_call_id": call.id,
            "content": "12°C and rain",
        }


@pytest.mark.parametrize("model", MODELS)
def test_chat_streaming_tool_calls(env: TwoProviders, client: openai.OpenAI, model: str) -> None:
    env.fake_for(model).script(Answer(tool_call=("get_weather", {"city": "Lima"})))
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER_TOOL], stream=True
    )
    name, arguments, finish = None, "", None
    for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or ():
                name = (call.function.name if call.function else None) or name
                arguments += (call.function.arguments if call.function else None) or ""
            finish = choice.finish_reason or finish
    assert name == "get_weather"
    assert json.loads(arguments) == {"city": "Lima"}
    assert finish == "tool_calls"


@pytest.mark.parametrize("model", [*MODELS, ECHO_MODEL])
def test_responses_api(client: openai.OpenAI, model: str) -> None:
    response = client.responses.create(model=model, input="Say hi", instructions="be brief")
    expected = "echo: Say hi" if model == ECHO_MODEL else TEXT
    assert response.output_text == expected
    assert response.status == "completed"


@pytest.mark.parametrize("model", [*MODELS, ECHO_MODEL])
def test_responses_streaming(client: openai.OpenAI, model: str) -> None:
    text = ""
    kinds = []
    with client.responses.stream(model=model, input="Say hi") as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                text += event.delta
        final = stream.get_final_response()
    expected = "echo: Say hi" if model == ECHO_MODEL else TEXT
    assert text == expected
    assert final.output_text == expected
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"


def test_echo_provider(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=ECHO_MODEL, messages=[{"role": "user", "content": "ping pong"}]
    )
    assert completion.choices[0].message.content == "echo: ping pong"
    chunks = client.chat.completions.create(
        model=ECHO_MODEL, messages=[{"role": "user", "content": "ping pong"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: ping pong"


def test_errors_raise_the_sdks_exceptions(env: TwoProviders, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="not found in configured providers"):
        client.chat.completions.create(model="nope/x", messages=[{"role": "user", "content": "hi"}])
    env.openai.script(Fail(429, headers={"Retry-After": "1"}))
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=OPENAI_MODEL, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 503
    assert "openai/gpt-4o" in caught.value.message


def test_responses_tool_call_from_an_anthropic_provider(env: TwoProviders, client: openai.OpenAI) -> None:
    env.anthropic.script(Answer(tool_call=("get_weather", {"city": "Rome"})))
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    response = client.responses.create(model=ANTHROPIC_MODEL, input="Weather in Rome?", tools=[tool])
    call = next(item for item in response.output if item.type == "function_call")
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Rome"}
    assert env.anthropic.last.body["tools"][0]["name"] == "get_weather"
    # The function result goes back as a Responses input item and reaches Anthropic as a tool_result.
    follow_up = client.responses.create(
        model=ANTHROPIC_MODEL,
        tools=[tool],
        input=[
            {"role": "user", "content": "Weather in Rome?"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "25°C"},
        ],
    )
    assert follow_up.output_text == TEXT
    blocks = [b for m in env.anthropic.last.body["messages"] for b in m["content"] if isinstance(b, dict)]
    assert {"type": "tool_result", "tool_use_id": call.call_id, "content": "25°C"} in blocks

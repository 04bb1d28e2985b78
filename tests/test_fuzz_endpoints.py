"""Property-based tests: random and malformed bodies at every endpoint, in all three client formats.

Both endpoint families (the proxy `/v1/*` and the decision-only `/routing/v1/*`) × the three wire
formats (OpenAI Chat, Anthropic Messages, OpenAI Responses) get raw bytes, arbitrary JSON, and
well-shaped requests whose fields are swapped for random JSON values. The gateway serves them from
real fake providers (OpenAI and Anthropic on loopback, so every translation path runs) and the
in-process echo provider. Whatever arrives:

- never a 500 and never a broken connection: a 4xx/5xx always carries a JSON error in the
  client's format, a stream always ends well-formed;
- never a traceback, in the response or in the gateway's log;
- never a provider key (or the gateway's own API key) in the response.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import RunningGateway
from fakes.providers import FakeProvider

OPENAI_KEY = "sk-fuzz-openai-7f3a9c"
ANTHROPIC_KEY = "sk-ant-fuzz-41d2e8"
GATEWAY_KEY = "gw-fuzz-key-5e7b21c9a4"
SECRETS = (OPENAI_KEY, ANTHROPIC_KEY, GATEWAY_KEY)

FORMATS = ("openai_chat", "anthropic", "responses")
PROXY_PATHS = {
    "openai_chat": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "responses": "/v1/responses",
}
ROUTING_PATHS = {fmt: "/routing" + path for fmt, path in PROXY_PATHS.items()}
MODELS = ["openai/gpt-4o", "anthropic/claude-sonnet-4", "echo/echo-1", "gpt-4o", "fast", "nope/none", ""]

FUZZ = settings(
    max_examples=int(os.environ.get("LLMROUTE_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class ErrorLog(logging.Handler):
    """Collects every log record that carries an exception (a traceback) or is ERROR and above."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record)


class Env:
    def __init__(self, gateway: RunningGateway, errors: ErrorLog, auth: dict[str, str] | None = None) -> None:
        self.gateway = gateway
        self.errors = errors
        self.auth = auth or {}
        self.http = httpx.Client(base_url=gateway.url, timeout=20)


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    errors = ErrorLog()
    root = logging.getLogger()
    root.addHandler(errors)
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
  - model: echo/echo-1
model_aliases:
  fast: {{target: echo/echo-1}}
routing_preferences:
  - name: code_generation
    description: writing new code, functions and classes
    models: [anthropic/claude-sonnet-4, openai/gpt-4o]
"""
        with RunningGateway(config) as gateway:
            try:
                yield Env(gateway, errors)
            finally:
                root.removeHandler(errors)


@pytest.fixture(scope="module")
def governed() -> Iterator[Env]:
    """Every governance feature on: keys, rate limits, request and response guardrails, a concurrency cap."""
    errors = ErrorLog()
    root = logging.getLogger()
    root.addHandler(errors)
    with FakeProvider() as openai, FakeProvider() as anthropic:
        config = f"""
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 5s}}]
model_providers:
  - {{model: openai/gpt-4o, access_key: {OPENAI_KEY}, base_url: {openai.url}, default: true}}
  - {{model: anthropic/claude-sonnet-4, access_key: {ANTHROPIC_KEY}, base_url: {anthropic.url}}}
  - {{model: echo/echo-1}}
model_aliases:
  fast: {{target: echo/echo-1}}
routing: {{router: {{type: arch_router, base_url: "http://127.0.0.1:9", timeout_ms: 200}}}}
auth:
  keys: [{{key: {GATEWAY_KEY}, name: fuzzer, rate_limits: {{requests_per_minute: 1000000}}}}]
rate_limits:
  rules: [{{per: [key, model], tokens_per_minute: 100000000, requests_per_minute: 1000000}}]
guardrails:
  request:
    - {{type: pii, action: redact}}
    - {{type: blocklist, action: redact, patterns: ["(?i)forbidden"]}}
  response:
    - {{type: pii, action: redact}}
limits: {{max_concurrent_upstream: 8, max_body_bytes: 1MiB}}
"""
        with RunningGateway(config) as gateway:
            try:
                yield Env(gateway, errors, {"authorization": f"Bearer {GATEWAY_KEY}"})
            finally:
                root.removeHandler(errors)


# --- strategies ----------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["user", "assistant", "system", "tool", "developer", "text", "image", "tool_use"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


Wrap = Callable[[st.SearchStrategy[Any]], st.SearchStrategy[Any]]


def wild(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the valid value, sometimes anything at all."""
    return st.one_of(valid, valid, json_values)


def tame(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return valid


texts = st.text(max_size=40)


def chat_body(m: Wrap) -> st.SearchStrategy[dict[str, Any]]:
    parts = st.lists(
        st.fixed_dictionaries(
            {"type": m(st.sampled_from(["text", "image_url", "input_audio", "file"]))},
            optional={"text": m(texts), "image_url": m(st.fixed_dictionaries({"url": m(texts)}))},
        ),
        max_size=3,
    )
    calls = st.lists(
        st.fixed_dictionaries(
            {
                "id": m(texts),
                "type": m(st.just("function")),
                "function": m(
                    st.fixed_dictionaries({"name": m(texts), "arguments": m(st.just('{"a": 1}') | texts)})
                ),
            }
        ),
        max_size=2,
    )
    messages = st.lists(
        m(
            st.fixed_dictionaries(
                {"role": m(st.sampled_from(["system", "developer", "user", "assistant", "tool"]))},
                optional={
                    "content": m(texts | parts | st.none()),
                    "tool_calls": m(calls),
                    "tool_call_id": m(texts),
                    "name": m(texts),
                },
            )
        ),
        min_size=1,
        max_size=4,
    )
    tools = st.lists(
        m(
            st.fixed_dictionaries(
                {
                    "type": m(st.just("function")),
                    "function": m(
                        st.fixed_dictionaries(
                            {"name": m(texts)},
                            optional={"description": m(texts), "parameters": m(st.just({"type": "object"}))},
                        )
                    ),
                }
            )
        ),
        max_size=2,
    )
    return st.fixed_dictionaries(
        {"messages": m(messages)},
        optional={
            **common_fields(m),
            "max_tokens": m(st.integers(1, 100)),
            "max_completion_tokens": m(st.integers(1, 100)),
            "stop": m(texts | st.lists(texts, max_size=2)),
            "n": m(st.integers(1, 3)),
            "tools": m(tools),
            "tool_choice": m(st.sampled_from(["auto", "none", "required"])),
            "response_format": m(st.fixed_dictionaries({"type": st.sampled_from(["text", "json_object"])})),
            "stream_options": m(st.fixed_dictionaries({"include_usage": m(st.booleans())})),
            "user": m(texts),
        },
    )


def common_fields(m: Wrap) -> dict[str, st.SearchStrategy[Any]]:
    return {
        "model": m(st.sampled_from(MODELS)),
        "stream": m(st.booleans()),
        "temperature": m(st.floats(0, 2)),
        "top_p": m(st.floats(0, 1)),
        "metadata": m(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=2)),
        "routing_preferences": m(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "name": m(texts),
                        "description": m(texts),
                        "models": m(st.lists(st.sampled_from(MODELS), max_size=2)),
                    }
                ),
                max_size=2,
            )
        ),
    }


def anthropic_body(m: Wrap) -> st.SearchStrategy[dict[str, Any]]:
    text_block = st.fixed_dictionaries({"type": st.just("text"), "text": m(texts)})
    blocks = st.lists(
        m(
            st.one_of(
                text_block,
                st.fixed_dictionaries(
                    {"type": st.just("image"), "source": m(st.fixed_dictionaries({"type": m(texts)}))}
                ),
                st.fixed_dictionaries(
                    {"type": st.just("tool_use"), "id": m(texts), "name": m(texts), "input": json_values}
                ),
                st.fixed_dictionaries(
                    {
                        "type": st.just("tool_result"),
                        "tool_use_id": m(texts),
                        "content": m(texts | st.lists(text_block, max_size=2)),
                    },
                    optional={"is_error": m(st.booleans())},
                ),
                st.fixed_dictionaries(
                    {"type": m(st.sampled_from(["thinking", "document", "redacted_thinking"]))},
                    optional={"thinking": m(texts), "signature": m(texts)},
                ),
            )
        ),
        max_size=3,
    )
    messages = st.lists(
        m(
            st.fixed_dictionaries(
                {"role": m(st.sampled_from(["user", "assistant"])), "content": m(texts | blocks)}
            )
        ),
        min_size=1,
        max_size=4,
    )
    tools = st.lists(
        st.fixed_dictionaries(
            {"name": m(texts), "input_schema": m(st.just({"type": "object"}))},
            optional={"description": m(texts)},
        ),
        max_size=2,
    )
    return st.fixed_dictionaries(
        {"messages": m(messages), "max_tokens": m(st.integers(1, 100))},
        optional={
            **common_fields(m),
            "system": m(texts | st.lists(text_block, max_size=2)),
            "stop_sequences": m(st.lists(texts, max_size=2)),
            "tools": m(tools),
            "tool_choice": m(
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["auto", "any", "tool", "none"])}, optional={"name": m(texts)}
                )
            ),
            "thinking": m(
                st.fixed_dictionaries({"type": st.just("enabled"), "budget_tokens": st.integers(0, 99)})
            ),
            "top_k": m(st.integers(0, 50)),
        },
    )


def responses_body(m: Wrap) -> st.SearchStrategy[dict[str, Any]]:
    content = texts | st.lists(
        st.fixed_dictionaries(
            {"type": m(st.sampled_from(["input_text", "output_text", "input_image"]))},
            optional={"text": m(texts)},
        ),
        max_size=2,
    )
    items = st.lists(
        m(
            st.one_of(
                st.fixed_dictionaries(
                    {
                        "role": m(st.sampled_from(["user", "assistant", "system", "developer"])),
                        "content": m(content),
                    },
                    optional={"type": m(st.just("message"))},
                ),
                st.fixed_dictionaries(
                    {
                        "type": st.just("function_call"),
                        "call_id": m(texts),
                        "name": m(texts),
                        "arguments": m(texts),
                    }
                ),
                st.fixed_dictionaries(
                    {"type": st.just("function_call_output"), "call_id": m(texts), "output": m(texts)}
                ),
                st.fixed_dictionaries(
                    {"type": m(st.sampled_from(["reasoning", "web_search_call", "item_reference"]))},
                    optional={"id": m(texts), "summary": m(st.lists(texts, max_size=1))},
                ),
            )
        ),
        min_size=1,
        max_size=4,
    )
    tools = st.lists(
        st.fixed_dictionaries(
            {"type": m(st.sampled_from(["function", "web_search"])), "name": m(texts)},
            optional={"parameters": m(st.just({"type": "object"}))},
        ),
        max_size=2,
    )
    return st.fixed_dictionaries(
        {"input": m(texts | items)},
        optional={
            **common_fields(m),
            "instructions": m(texts),
            "max_output_tokens": m(st.integers(1, 100)),
            "tools": m(tools),
            "tool_choice": m(st.sampled_from(["auto", "none", "required"])),
            "text": m(st.fixed_dictionaries({"format": st.fixed_dictionaries({"type": st.just("text")})})),
            "previous_response_id": m(texts),
            "store": m(st.booleans()),
            "reasoning": m(st.fixed_dictionaries({"effort": st.sampled_from(["low", "high"])})),
        },
    )


BUILDERS = {"openai_chat": chat_body, "anthropic": anthropic_body, "responses": responses_body}
# Any field may be garbage: exercises the parsers' checks.
SHAPED = {fmt: build(wild) for fmt, build in BUILDERS.items()}
# Well-formed requests to a served model with one or two optional fields replaced by random JSON:
# these get past parsing, so the translators and the upstream path see the odd values.
OPTIONAL_FIELDS = {
    "openai_chat": [
        "tools",
        "tool_choice",
        "stop",
        "n",
        "max_tokens",
        "response_format",
        "stream_options",
        "user",
        "temperature",
        "metadata",
        "parallel_tool_calls",
        "logprobs",
        "seed",
        "functions",
    ],
    "anthropic": [
        "tools",
        "tool_choice",
        "stop_sequences",
        "system",
        "thinking",
        "top_k",
        "metadata",
        "temperature",
        "max_tokens",
        "service_tier",
    ],
    "responses": [
        "tools",
        "tool_choice",
        "instructions",
        "max_output_tokens",
        "text",
        "reasoning",
        "metadata",
        "previous_response_id",
        "store",
        "include",
        "truncation",
    ],
}


def served(fmt: str) -> st.SearchStrategy[dict[str, Any]]:
    def merge(pair: tuple[dict[str, Any], str, dict[str, Any]]) -> dict[str, Any]:
        body, model, extra = pair
        # Inline preferences get their own checks (and mostly 400s) in the wild bodies.
        body.pop("routing_preferences", None)
        body.pop("previous_response_id", None)
        return {**body, "model": model, **extra}

    odd = st.dictionaries(st.sampled_from(OPTIONAL_FIELDS[fmt]), json_values, max_size=2)
    return st.tuples(BUILDERS[fmt](tame), st.sampled_from(MODELS[:5]), odd).map(merge)


def encode(value: Any) -> bytes:
    # The stdlib writes what orjson refuses (NaN, Infinity, integers past 64 bits): bodies the
    # gateway must reject cleanly rather than choke on.
    return json.dumps(value, allow_nan=True).encode()


def bodies(fmt: str) -> st.SearchStrategy[bytes]:
    raw = st.binary(max_size=200)
    text = st.text(max_size=200).map(str.encode)
    any_json = json_values.map(encode)
    shaped = SHAPED[fmt].map(encode)
    good = served(fmt).map(encode)
    truncated = st.tuples(good, st.integers(0, 400)).map(lambda pair: pair[0][: pair[1]])
    return st.one_of(raw, text, any_json, truncated, shaped, shaped, good, good, good)


headers = st.fixed_dictionaries(
    {},
    optional={
        "content-type": st.sampled_from(
            ["application/json", "text/plain", "application/x-www-form-urlencoded", ""]
        ),
        "x-session-id": st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=300),
        "traceparent": st.sampled_from(
            ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "garbage", "00-0-0-0", ""]
        ),
        "anthropic-version": st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=20),
    },
)


# --- the checks ----------------------------------------------------------------------------------


def check_error_shape(fmt: str, response: httpx.Response) -> None:
    assert response.headers.get("content-type", "").startswith("application/json"), response.text
    body = response.json()
    if fmt == "anthropic":
        assert body["type"] == "error", body
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    else:
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def check_stream(fmt: str, text: str) -> None:
    """A 200 stream ends the way its format ends: [DONE], message_stop, a terminal response event, or an error event."""
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    assert blocks, "empty stream"
    last = blocks[-1]
    if fmt == "openai_chat":
        assert last.strip() == "data: [DONE]", last
    elif fmt == "anthropic":
        assert last.startswith(("event: message_stop", "event: error")), last
    else:
        assert last.startswith(
            (
                "event: response.completed",
                "event: response.incomplete",
                "event: response.failed",
                "event: error",
            )
        ), last


def exchange(env: Env, fmt: str, path: str, body: bytes, extra: dict[str, str]) -> None:
    before = len(env.errors.records)
    with env.http.stream("POST", path, content=body, headers={**extra, **env.auth}) as response:
        data = response.read()
    text = data.decode("utf-8", "replace")
    event(f"HTTP {response.status_code}")
    assert response.status_code != 500, text
    assert response.status_code < 500 or response.status_code in (502, 503, 504), text
    assert "Traceback" not in text
    for secret in SECRETS:
        assert secret not in text
        assert secret not in str(response.headers)
    if response.status_code >= 400:
        check_error_shape(fmt, response)
    elif response.headers.get("content-type", "").startswith("text/event-stream"):
        check_stream(fmt, text)
    else:
        assert isinstance(orjson.loads(data), dict)
    new = env.errors.records[before:]
    assert not new, [r.getMessage() for r in new]


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(data=st.data())
def test_proxy_endpoints_survive_anything(env: Env, fmt: str, data: st.DataObject) -> None:
    exchange(env, fmt, PROXY_PATHS[fmt], data.draw(bodies(fmt)), data.draw(headers))


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(data=st.data())
def test_routing_endpoints_survive_anything(env: Env, fmt: str, data: st.DataObject) -> None:
    exchange(env, fmt, ROUTING_PATHS[fmt], data.draw(bodies(fmt)), data.draw(headers))


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(data=st.data())
def test_cross_format_bodies_are_refused_cleanly(env: Env, fmt: str, data: st.DataObject) -> None:
    """Another format's body on this format's path: a clear 4xx or a normal answer, never a crash."""
    other = data.draw(st.sampled_from([f for f in FORMATS if f != fmt]))
    body = encode(data.draw(SHAPED[other]))
    exchange(env, fmt, data.draw(st.sampled_from([PROXY_PATHS[fmt], ROUTING_PATHS[fmt]])), body, {})


@pytest.mark.parametrize("path", [*PROXY_PATHS.items(), *ROUTING_PATHS.items()], ids=lambda p: p[1])
@FUZZ
@given(data=st.data())
def test_governed_gateway_survives_anything(
    governed: Env, path: tuple[str, str], data: st.DataObject
) -> None:
    """The same bodies with keys, rate limits, guardrails and the concurrency cap all in the path."""
    fmt, url = path
    exchange(governed, fmt, url, data.draw(bodies(fmt)), data.draw(headers))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("stream", [[None], "yes", 1, {}])
def test_a_non_boolean_stream_is_refused(env: Env, fmt: str, stream: object) -> None:
    """Found by the fuzzer: `"stream": [null]` reached the provider as sent (a lenient one streamed
    back, and the gateway returned SSE labelled as JSON)."""
    body = {"input": "hi", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "stream": stream}
    response = env.http.post(PROXY_PATHS[fmt], json=body)
    assert response.status_code == 400, response.text
    assert "'stream' must be true or false" in response.text


# The coding-agent endpoints (issue 16): the same bodies, and embeddings-shaped ones.
EMBEDDING_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "model": st.one_of(st.sampled_from(MODELS), json_values),
        "input": st.one_of(
            st.text(max_size=20),
            st.lists(st.text(max_size=10), max_size=3),
            st.lists(st.lists(st.integers(), max_size=3), max_size=3),
            json_values,
        ),
        "dimensions": json_values,
    },
).map(encode)


@pytest.mark.parametrize(
    ("path", "fmt"), [("/v1/embeddings", "openai_chat"), ("/v1/messages/count_tokens", "anthropic")]
)
@FUZZ
@given(data=st.data())
def test_agent_endpoints_survive_anything(env: Env, path: str, fmt: str, data: st.DataObject) -> None:
    shaped = EMBEDDING_BODIES if path == "/v1/embeddings" else bodies(fmt)
    exchange(env, fmt, path, data.draw(st.one_of(shaped, bodies(fmt))), data.draw(headers))

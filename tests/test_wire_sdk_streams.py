"""Our translated SSE bytes, served over real loopback HTTP, read by the official SDKs' stream helpers.

This checks the framing independently of our own SSE decoder: the Anthropic SDK drops events
without an `event:` line, the OpenAI SDK stops at `[DONE]` and raises on `{"error": ...}`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anthropic
import openai
import orjson
import pytest

from conftest import free_port
from llmroute.wire import SSEDecoder, StreamTranslator, translator_for
from test_wire_streams import anthropic_stream, chat_stream


def translate_all(translator: StreamTranslator | None, upstream: bytes) -> bytes:
    assert translator is not None
    decoder = SSEDecoder()
    out: list[bytes] = []
    for chunk in (upstream[i : i + 9] for i in range(0, len(upstream), 9)):
        for event in decoder.feed(chunk):
            out.extend(translator.feed(event))
    out.extend(translator.finish())
    return b"".join(out)


class _SSEHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body: bytes = self.server.body  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        # Written in small pieces so the client sees the stream arrive in parts.
        for i in range(0, len(body), 50):
            self.wfile.write(body[i : i + 50])
            self.wfile.flush()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def sse_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _SSEHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def base_url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_anthropic_sdk_reads_translated_chat_stream(sse_server: ThreadingHTTPServer) -> None:
    sse_server.body = translate_all(
        translator_for("anthropic", "openai_chat", "openai/gpt-4o"), chat_stream()
    )  # type: ignore[attr-defined]
    client = anthropic.Anthropic(api_key="k", base_url=base_url(sse_server), max_retries=0)
    with client.messages.stream(
        model="openai/gpt-4o", max_tokens=100, messages=[{"role": "user", "content": "weather?"}]
    ) as stream:
        text = "".join(stream.text_stream)
        message = stream.get_final_message()
    assert text == "Checking the weather in Zürich ☀️ and Oslo."
    assert [b.type for b in message.content] == ["text", "tool_use", "tool_use"]
    assert message.content[1].input == {"city": "Zürich"}
    assert message.stop_reason == "tool_use"
    assert message.usage.output_tokens == 41


def test_openai_sdk_reads_translated_anthropic_stream(sse_server: ThreadingHTTPServer) -> None:
    request = {"stream_options": {"include_usage": True}}
    translator = translator_for("openai_chat", "anthropic", "anthropic/claude", request=request)
    sse_server.body = translate_all(translator, anthropic_stream())  # type: ignore[attr-defined]
    client = openai.OpenAI(api_key="k", base_url=base_url(sse_server) + "/v1", max_retries=0)
    with client.chat.completions.stream(
        model="anthropic/claude", messages=[{"role": "user", "content": "weather?"}]
    ) as stream:
        for _ in stream:
            pass
        completion = stream.get_final_completion()
    message = completion.choices[0].message
    assert message.content == "Checking Zürich weather ☀️."
    assert message.tool_calls is not None
    assert orjson.loads(message.tool_calls[0].function.arguments) == {"city": "Zürich"}
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.usage is not None and completion.usage.completion_tokens == 89


def test_openai_sdk_raises_on_translated_error(sse_server: ThreadingHTTPServer) -> None:
    translator = translator_for("openai_chat", "anthropic", "m")
    assert translator is not None
    decoder = SSEDecoder()
    out = [b for e in decoder.feed(anthropic_stream()[:600]) for b in translator.feed(e)]
    out.extend(translator.error("upstream connection reset"))
    sse_server.body = b"".join(out)  # type: ignore[attr-defined]
    client = openai.OpenAI(api_key="k", base_url=base_url(sse_server) + "/v1", max_retries=0)
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], stream=True
    )
    with pytest.raises(openai.APIError, match="upstream connection reset"):
        for _ in stream:
            pass


@pytest.mark.parametrize(
    ("upstream", "body"), [("openai_chat", chat_stream), ("anthropic", anthropic_stream)]
)
def test_openai_sdk_reads_translated_responses_stream(
    sse_server: ThreadingHTTPServer, upstream: str, body: object
) -> None:
    translator = translator_for("responses", upstream, "routed-model", request={"input": "weather?"})  # type: ignore[arg-type]
    sse_server.body = translate_all(translator, body())  # type: ignore[attr-defined, operator]
    client = openai.OpenAI(api_key="k", base_url=base_url(sse_server) + "/v1", max_retries=0)
    deltas: list[str] = []
    with client.responses.stream(model="routed-model", input="weather?") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        response = stream.get_final_response()
    assert "".join(deltas) == response.output_text
    assert "Zürich" in response.output_text
    assert response.status == "completed"
    calls = [item for item in response.output if item.type == "function_call"]
    assert orjson.loads(calls[0].arguments) == {"city": "Zürich"}
    assert response.usage is not None and response.usage.output_tokens in (41, 89)

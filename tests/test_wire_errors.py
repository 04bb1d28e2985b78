"""Error bodies in each client's format: shapes the official SDKs parse, types by status."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anthropic
import openai
import orjson
import pytest

from conftest import free_port
from llmroute.wire import WireError, error_body, error_message_from, translate_error_body


@pytest.mark.parametrize(
    ("status", "anthropic_type", "openai_type"),
    [
        (400, "invalid_request_error", "invalid_request_error"),
        (401, "authentication_error", "authentication_error"),
        (403, "permission_error", "permission_error"),
        (404, "not_found_error", "not_found_error"),
        (413, "request_too_large", "invalid_request_error"),
        (429, "rate_limit_error", "rate_limit_error"),
        (500, "api_error", "server_error"),
        (502, "api_error", "server_error"),
        (503, "overloaded_error", "server_error"),
        (504, "timeout_error", "server_error"),
        (529, "overloaded_error", "server_error"),
        (418, "invalid_request_error", "invalid_request_error"),
        (599, "api_error", "server_error"),
    ],
)
def test_error_types_by_status(status: int, anthropic_type: str, openai_type: str) -> None:
    assert error_body("anthropic", status, "boom") == {
        "type": "error",
        "error": {"type": anthropic_type, "message": "boom"},
    }
    for fmt in ("openai_chat", "responses"):
        assert error_body(fmt, status, "boom", "some_code") == {
            "error": {"message": "boom", "type": openai_type, "param": None, "code": "some_code"}
        }


def test_wire_error_defaults() -> None:
    err = WireError("'messages' must be a non-empty array")
    assert (err.message, err.status, str(err)) == (
        "'messages' must be a non-empty array",
        400,
        "'messages' must be a non-empty array",
    )
    assert WireError("too big", 413).status == 413


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"error": {"message": "Incorrect API key", "type": "invalid_request_error"}}',
            "Incorrect API key",
        ),
        (b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}', "Overloaded"),
        ({"error": "plain string error"}, "plain string error"),
        ({"message": "top-level message"}, "top-level message"),
        ({"detail": "fastapi style"}, "fastapi style"),
        (b"<html>Bad   Gateway</html>\n", "<html>Bad Gateway</html>"),
        (b"", "upstream returned HTTP 502"),
        ({"weird": 1}, "upstream returned HTTP 502"),
        (None, "upstream returned HTTP 502"),
    ],
)
def test_error_message_from(body: object, expected: str) -> None:
    assert error_message_from(body, 502) == expected  # type: ignore[arg-type]


def test_translate_error_body_keeps_message_and_code() -> None:
    upstream = b'{"error": {"message": "model not found", "type": "invalid_request_error", "code": "model_not_found"}}'
    assert translate_error_body("anthropic", 404, upstream) == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "model not found"},
    }
    assert translate_error_body("openai_chat", 404, upstream)["error"]["code"] == "model_not_found"
    anthropic_upstream = b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}'
    assert translate_error_body("responses", 429, anthropic_upstream) == {
        "error": {"message": "slow down", "type": "rate_limit_error", "param": None, "code": None}
    }


class _FixedResponse(BaseHTTPRequestHandler):
    """Answers every POST with the status and JSON body set on the server."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        payload = orjson.dumps(self.server.body)  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def error_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _FixedResponse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_official_sdks_read_our_error_bodies(error_server: ThreadingHTTPServer) -> None:
    """The SDKs raise their status-specific exception carrying our message."""
    base = f"http://127.0.0.1:{error_server.server_address[1]}"
    error_server.status, error_server.body = 404, error_body("openai_chat", 404, "Model 'x' not found")  # type: ignore[attr-defined]
    client = openai.OpenAI(api_key="k", base_url=base + "/v1", max_retries=0)
    with pytest.raises(openai.NotFoundError) as oai:
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
    assert oai.value.message.endswith("Model 'x' not found")
    assert oai.value.type == "not_found_error"

    error_server.status, error_server.body = 400, error_body("anthropic", 400, "bad input")  # type: ignore[attr-defined]
    anthropic_client = anthropic.Anthropic(api_key="k", base_url=base, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as anth:
        anthropic_client.messages.create(
            model="x", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
    assert anth.value.body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "bad input"},
    }

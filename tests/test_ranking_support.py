"""Helpers for the ranking tests: a real HTTP server on loopback that serves metric documents.

It runs in its own thread so it answers both in-process stores and a gateway subprocess. Each path's
reply can be changed while it runs (new prices, an outage, a hang), and every request is recorded so
tests can check what the gateway sent (bearer token, PromQL query).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from conftest import free_port


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    hang: bool = False  # hold the request open until the server stops or `release()` is called


@dataclass
class RecordedRequest:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class MetricsHTTPServer:
    port: int = field(default_factory=free_port)
    replies: dict[str, Reply | Callable[[], Reply]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    # POST path -> function of the request body (e.g. a fake OpenAI-compatible router model)
    post_handlers: dict[str, Callable[[bytes], Reply]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._released = threading.Event()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_json(self, path: str, document: Any, status: int = 200) -> None:
        with self._lock:
            self.replies[path] = Reply(status=status, body=json.dumps(document).encode())

    def set_reply(self, path: str, reply: Reply | Callable[[], Reply]) -> None:
        """A fixed reply, or a function called per request (e.g. an exporter whose counters grow)."""
        with self._lock:
            self.replies[path] = reply

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def release(self) -> None:
        self._released.set()

    def start(self) -> MetricsHTTPServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                with server._lock:
                    server.requests.append(
                        RecordedRequest(parts.path, parse_qs(parts.query), dict(self.headers.items()))
                    )
                    reply = server.replies.get(parts.path, Reply(status=404, body=b'{"error": "not found"}'))
                    if callable(reply):
                        reply = reply()
                if reply.hang:
                    server._released.wait(30)
                    return
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server._lock:
                    server.requests.append(
                        RecordedRequest(parts.path, parse_qs(parts.query), dict(self.headers.items()))
                    )
                    handler = server.post_handlers.get(parts.path)
                reply = handler(body) if handler else Reply(status=404, body=b'{"error": "not found"}')
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._released.clear()
        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def cost_document(prices: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """The `cost_metrics` format: model -> input/output price per million tokens."""
    return {
        model: {"input_per_million": inp, "output_per_million": out} for model, (inp, out) in prices.items()
    }


def catalog_document(prices: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """The DigitalOcean gen-ai catalog format."""
    return {
        "data": [
            {
                "model_id": model_id,
                "name": model_id,
                "pricing": {"input_price_per_million": inp, "output_price_per_million": out},
            }
            for model_id, (inp, out) in prices.items()
        ]
    }


def prometheus_vector(latencies: dict[str, float | str]) -> dict[str, Any]:
    """A Prometheus instant-query answer with one sample per `model_name`."""
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"model_name": model}, "value": [1732240000.123, str(value)]}
                for model, value in latencies.items()
            ],
        },
    }


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until `predicate()` holds; fail with a clear message if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not reached within {timeout}s")
        await asyncio.sleep(0.02)

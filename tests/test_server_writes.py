"""Responses leave `llmroute up` in one write (server/protocol.py), and nothing else changes:
streams still flow chunk by chunk, `Expect: 100-continue` still gets its interim answer first."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from gateway_process import NO_ROUTER, GatewayProcess
from llmroute.server.protocol import ResponseWrites

CONFIG = (
    "version: v0.4.0\n"
    "listeners: [{name: m, type: model, address: 127.0.0.1, port: 0}]\n"
    "model_providers:\n"
    "  - model: echo/fast\n"
    "    default: true\n" + NO_ROUTER
)
BODY = orjson.dumps({"messages": [{"role": "user", "content": "hello there"}]})


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    with GatewayProcess(CONFIG, Path(tmp_path_factory.mktemp("writes"))) as gw:
        yield gw


def request_head(body: bytes, extra: str = "") -> bytes:
    return (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode()


def read_response(sock: socket.socket, first: bytes = b"") -> bytes:
    data = first
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_a_json_answer_arrives_in_one_segment(gateway: GatewayProcess) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        for _ in range(20):  # keep-alive: every response on the connection, not just the first
            sock.sendall(request_head(BODY) + BODY)
            first = sock.recv(65536)  # a single write on loopback is received whole
            assert first.startswith(b"HTTP/1.1 200 ")
            head, _, body = first.partition(b"\r\n\r\n")
            assert b"x-llmroute-model: echo/fast" in head.lower()
            assert orjson.loads(body)["choices"][0]["message"]["content"] == "echo: hello there"


def test_expect_100_continue_gets_the_interim_answer_before_the_body_is_sent(gateway: GatewayProcess) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(request_head(BODY, "Expect: 100-continue\r\n"))
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(BODY)
        rest = interim[len(b"HTTP/1.1 100 Continue\r\n\r\n") :]
        response = read_response(sock, rest)
        assert response.startswith(b"HTTP/1.1 200 ")
        assert b"echo: hello there" in response


def test_a_stream_still_flows_event_by_event(gateway: GatewayProcess) -> None:
    body = orjson.dumps({"messages": [{"role": "user", "content": "one two three"}], "stream": True})
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(request_head(body) + body)
        data = b""
        while not data.endswith(b"0\r\n\r\n"):  # the chunked body's end
            chunk = sock.recv(65536)
            assert chunk, "connection closed before the stream ended"
            data += chunk
    head, _, stream = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"text/event-stream" in head
    assert b"data: [DONE]" in stream
    assert stream.count(b"chat.completion.chunk") >= 3


# --- ResponseWrites on its own, over a real socket pair --------------------------------------------


class Peer:
    """The far end of a real connection: what arrived, recv call by recv call."""

    def __init__(self) -> None:
        self.a, self.b = socket.socketpair()
        self.b.setblocking(False)

    def received(self) -> bytes:
        try:
            return self.b.recv(65536)
        except BlockingIOError:
            return b""


async def open_writes() -> tuple[ResponseWrites, asyncio.Transport, Peer]:
    peer = Peer()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, peer.a)
    return ResponseWrites(transport, loop), transport, peer


def test_headers_are_held_until_the_body_and_sent_with_it() -> None:
    async def run() -> None:
        writes, transport, peer = await open_writes()
        writes.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        assert peer.received() == b""  # held
        writes.write(b"ok")
        await asyncio.sleep(0)
        assert peer.received() == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
        transport.close()

    asyncio.run(run())


def test_held_headers_go_out_by_the_end_of_the_loop_iteration_without_a_body() -> None:
    async def run() -> None:
        writes, transport, peer = await open_writes()
        writes.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert peer.received() == b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        transport.close()

    asyncio.run(run())


def test_100_continue_is_not_held_and_close_flushes() -> None:
    async def run() -> None:
        writes, _transport, peer = await open_writes()
        writes.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await asyncio.sleep(0)
        assert peer.received() == b"HTTP/1.1 100 Continue\r\n\r\n"
        writes.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        writes.close()
        await asyncio.sleep(0.01)
        assert peer.received() == b"HTTP/1.1 204 No Content\r\n\r\n"
        assert writes.is_closing()

    asyncio.run(run())

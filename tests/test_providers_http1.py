"""The lean upstream HTTP/1.1 client against real loopback servers speaking raw HTTP.

Each test server is a plain asyncio server whose handler reads one request head + body and writes
whatever bytes the test wants, so keep-alive, chunking, read-until-close, gzip, stalls and broken
connections are all real socket behaviour.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from llmroute.errors import UpstreamError
from llmroute.providers.http1 import Http1Pool, Origin

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Server"], Awaitable[None]]


class Server:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self.disconnected = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1/chat/completions?x=1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer, self)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.disconnected.set()
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes | None:
        """One request (head + Content-Length body), or None when the client closed the connection."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await reader.readexactly(length)
        self.requests.append(head + body)
        return body


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[tuple[Server, str]]]]:
    servers: list[Server] = []

    async def start(handler: Handler) -> tuple[Server, str]:
        server = Server(handler)
        servers.append(server)
        return server, await server.start()

    yield start
    for server in servers:
        assert server.server is not None
        server.server.close()


def reply(body: bytes, *headers: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 200 OK\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


async def keep_alive_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
    while (body := await server.read_request(reader)) is not None:
        writer.write(reply(b"echo:" + body, "Content-Type: application/json", "X-Multi: a", "x-multi: b"))
        await writer.drain()


async def test_keep_alive_connections_are_reused(serve) -> None:  # type: ignore[no-untyped-def]
    server, url = await serve(keep_alive_echo)
    pool = Http1Pool(connect_timeout=5, read_timeout=5)
    for i in range(3):
        response = await pool.post(url, {"Content-Type": "application/json"}, b'{"n": %d}' % i)
        assert response.status == 200
        assert await response.read() == b'echo:{"n": %d}' % i
    assert server.connections == 1
    await pool.close()


async def test_request_line_host_and_headers(serve) -> None:  # type: ignore[no-untyped-def]
    server, url = await serve(keep_alive_echo)
    pool = Http1Pool(connect_timeout=5, read_timeout=5)
    response = await pool.post(url, {"Authorization": "Bearer k", "Host": "evil"}, b"{}")
    await response.read()
    request = server.requests[0]
    port = url.split(":")[2].split("/")[0]
    assert request.startswith(b"POST /v1/chat/completions?x=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{port}\r\n".encode() in request
    assert b"evil" not in request
    assert b"Authorization: Bearer k\r\n" in request
    assert b"Content-Length: 2\r\n" in request
    await pool.close()


async def test_headers_are_case_insensitive_and_repeated_ones_joined(serve) -> None:  # type: ignore[no-untyped-def]
    _, url = await serve(keep_alive_echo)
    pool = Http1Pool(connect_timeout=5, read_timeout=5)
    response = await pool.post(url, {}, b"{}")
    assert response.headers["content-type"] == "application/json"
    assert response.headers.get("CONTENT-TYPE") == "application/json"
    assert response.headers["x-multi"] == "a, b"
    await response.read()
    await pool.close()


async def test_chunked_body_arrives_as_it_is_sent(serve) -> None:  # type: ignore[no-untyped-def]
    release = asyncio.Event()

    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        writer.write(b"7\r\ndata: 1\r\n")
        await writer.drain()
        await release.wait()
        writer.write(b"7\r\ndata: 2\r\n0\r\n\r\n")
        await writer.drain()
        await keep_alive_echo(reader, writer, server)

    server, url = await serve(chunked)
    pool = Http1Pool(connect_timeout=5, read_timeout=5)
    response = await pool.post(url, {}, b"{}")
    assert await response.read_chunk() == b"data: 1"  # before the server sent the rest
    release.set()
    assert await response.read_chunk() == b"data: 2"
    assert await response.read_chunk() == b""
    response.close()
    # Finished cleanly, so the connection went back to the pool.
    response = await pool.post(url, {}, b"{}")
    assert await response.read() == b"echo:{}"
    assert server.connections == 1
    await pool.close()


async def test_body_delimited_by_connection_close(serve) -> None:  # type: ignore[no-untyped-def]
    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npart one, ")
        await writer.drain()
        writer.write(b"part two")
        await writer.drain()

    server, url = await serve(until_close)
    pool = Http1Pool(connect_timeout=5, read_timeout=5)
    response = await pool.post(url, {}, b"{}")
    assert await response.read() == b"part one, part two"
    second = await pool.post(url, {}, b"{}")
    assert await second.read() == b"part one, part two"
    assert server.connections == 2  # never reused
    await pool.close()


async def test_a_pooled_connection_the_server_closed_is_replaced(serve) -> None:  # type: ignore[no-untyped-def]
    async def one_per_connection(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server
    ) -> None:
        # Answers as if keep-alive, then closes the idle connection (a server's idle timeout).
        await server.read_request(reader)
        writer.write(reply(b"ok"))
        await writer.drain()

    server, url = await serve(one_per_connection)
    pool = Http1Pool(connect_timeout=5, read_timeout=5)
    first = await pool.post(url, {}, b"{}")
    assert await first.read() == b"ok"
    await server.disconnected.wait()
    second = await pool.post(url, {}, b"{}")
    assert second.status == 200
    assert await second.read() == b"ok"
    assert server.connections == 2
    await pool.close()


async def test_no_answer_is_a_timeout(serve) -> None:  # type: ignore[no-untyped-def]
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        await reader.read()  # until the client gives up

    server, url = await serve(silent)
    pool = Http1Pool(connect_timeout=5, read_timeout=0.2)
    with pytest.raises(UpstreamError) as caught:
        await pool.post(url, {}, b"{}")
    assert caught.value.kind == "timeout"
    await asyncio.wait_for(server.disconnected.wait(), 5)  # the connection was dropped, not pooled
    await pool.close()


async def test_a_stalled_body_is_a_timeout(serve) -> None:  # type: ignore[no-untyped-def]
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
        await writer.drain()
        await reader.read()

    _, url = await serve(stall)
    pool = Http1Pool(connect_timeout=5, read_timeout=0.2)
    response = await pool.post(url, {}, b"{}")
    assert await response.read_chunk() == b"only this"
    with pytest.raises(UpstreamError) as caught:
        await response.read_chunk()
    assert caught.value.kind == "timeout"
    response.close()
    await pool.close()


async def test_connection_refused() -> None:
    pool = Http1Pool(connect_timeout=5, read_timeout=5)
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(UpstreamError) as caught:
        await pool.post(f"http://127.0.0.1:{port}/v1/chat/completions", {}, b"{}")
    assert caught.value.kind == "connect"
    assert f"127.0.0.1:{port}" in caught.value.message
    await pool.close()


async def test_closed_before_any_answer_is_a_connect_error(serve) -> None:  # type: ignore[no-untyped-def]
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)

    _, url = await serve(hang_up)
    pool = Http1Pool(connect_timeout=5, read_timeout=5)
    with pytest.raises(UpstreamError) as caught:
        await pool.post(url, {}, b"{}")
    assert caught.value.kind == "connect"
    await pool.close()


async def test_a_body_cut_short_is_a_broken_response(serve) -> None:  # type: ignore[no-untyped-def]
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()

    _, url = await serve(cut)
    pool = Http1Pool(connect_timeout=5, read_timeout=5)
    response = await pool.post(url, {}, b"{}")
    with pytest.raises(UpstreamError) as caught:
        await response.read()
    assert caught.value.kind == "stream_reset"
    await pool.close()


async def test_gzip_answers_are_decoded(serve) -> None:  # type: ignore[no-untyped-def]
    payload = b'{"choices": []}' * 100

    async def gzipped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        writer.write(reply(gzip.compress(payload), "Content-Encoding: gzip"))
        await writer.drain()

    _, url = await serve(gzipped)
    pool = Http1Pool(connect_timeout=5, read_timeout=5)
    response = await pool.post(url, {}, b"{}")
    assert await response.read() == payload
    await pool.close()


async def test_large_bodies_survive_backpressure(serve) -> None:  # type: ignore[no-untyped-def]
    big = bytes(range(256)) * 16 * 1024  # 4 MiB: well past the pause threshold

    async def large(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        while await server.read_request(reader) is not None:
            writer.write(reply(big))
            await writer.drain()

    server, url = await serve(large)
    pool = Http1Pool(connect_timeout=5, read_timeout=5)
    response = await pool.post(url, {}, b"{}")
    received = bytearray()
    while chunk := await response.read_chunk():
        received += chunk
        await asyncio.sleep(0)  # a slow reader
    assert bytes(received) == big
    again = await pool.post(url, {}, b"{}")
    assert await again.read() == big
    # Read whole after it all arrived (paused or not on the way): the connection still serves.
    for _ in range(3):
        late = await pool.post(url, {}, b"{}")
        await asyncio.sleep(0.2)
        assert await late.read() == big
    assert server.connections == 1
    await pool.close()


async def test_closing_an_unfinished_response_drops_its_connection(serve) -> None:  # type: ignore[no-untyped-def]
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()
        await reader.read()  # returns when the client closes

    server, url = await serve(endless)
    pool = Http1Pool(connect_timeout=5, read_timeout=5)
    response = await pool.post(url, {}, b"{}")
    assert await response.read_chunk() == b"hello"
    response.close()
    await asyncio.wait_for(server.disconnected.wait(), 5)
    await pool.close()


async def test_cancelling_a_waiting_request_drops_its_connection(serve) -> None:  # type: ignore[no-untyped-def]
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server) -> None:
        await server.read_request(reader)
        await reader.read()

    server, url = await serve(silent)
    pool = Http1Pool(connect_timeout=5, read_timeout=30)
    task = asyncio.create_task(pool.post(url, {}, b"{}"))
    while not server.requests:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(server.disconnected.wait(), 5)
    await pool.close()


def test_origin_parsing() -> None:
    plain = Origin("http://10.0.0.1:8000/v1/chat/completions")
    assert (plain.host, plain.port, plain.tls, plain.host_header) == (
        "10.0.0.1",
        8000,
        False,
        "10.0.0.1:8000",
    )
    assert plain.target == "/v1/chat/completions"
    tls = Origin("https://api.openai.com/v1/chat/completions")
    assert (tls.port, tls.tls, tls.host_header) == (443, True, "api.openai.com")
    azure = Origin("https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21")
    assert azure.target == "/openai/deployments/d/chat/completions?api-version=2024-10-21"
    v6 = Origin("http://[::1]:9000/")
    assert v6.host_header == "[::1]:9000"
    with pytest.raises(UpstreamError):
        Origin("ftp://example.com/")

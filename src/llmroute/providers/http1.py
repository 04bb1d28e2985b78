"""A lean pooled HTTP/1.1 client for the proxy's upstream calls (asyncio protocol + httptools).

The gateway's hot path is one POST per request to a provider it already talks to. A general
client (aiohttp, httpx) spends most of its time on things that path never uses: URL objects,
multi-dicts, cookie jars, tracing hooks, redirect and proxy logic. Measured with `make bench` this
client costs a fraction of aiohttp's CPU per call (docs/performance.md).

What it does: keep-alive connections pooled per origin (idle ones expire after `keepalive`
seconds); TLS with the system trust store for https; one write per request; the response's status
and headers as soon as they arrive, then its body whole (`read`) or as it arrives (`read_chunk`),
with the socket paused while the reader is behind (backpressure); Content-Length, chunked and
read-until-close bodies; gzip/deflate answers decoded. A reused connection that the server had
closed in the meantime (nothing received yet) is retried once on a fresh one. Timeouts: `connect`
bounds opening a connection, `read` bounds each wait for bytes.

Errors are `UpstreamError`s (llmroute/errors.py) with a kind: `TIMEOUT`, `CONNECT` (no response
started) or `STREAM_RESET` (the response started, then the connection failed). Messages never
contain request headers.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections import deque
from collections.abc import Iterator, Mapping
from functools import lru_cache
from urllib.parse import urlsplit

import httptools

from llmroute.errors import Failure, UpstreamError
from llmroute.providers.egress import EgressProxies, ProxyError, open_tunnel

# Pause reading from the socket when this much body is buffered and not yet read by the proxy.
HIGH_WATER = 256 * 1024
MAX_IDLE_PER_ORIGIN = 512


class Origin:
    """Where a URL points: scheme/host/port for the pool, and the request-line target."""

    __slots__ = ("host", "host_header", "key", "port", "target", "tls")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamError(Failure.CONNECT, f"unsupported URL {url!r} (expected http:// or https://)")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        default_port = self.port == (443 if self.tls else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = host if default_port else f"{host}:{self.port}"
        self.key = (parts.scheme, self.host, self.port)
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


@lru_cache(maxsize=1024)
def origin_of(url: str) -> Origin:
    return Origin(url)


class ResponseHeaders(Mapping[str, str]):
    """Response headers, looked up case-insensitively (repeated headers joined with ", ")."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[str, str] = {}

    def add(self, name: str, value: str) -> None:
        name = name.lower()
        seen = self._items.get(name)
        self._items[name] = value if seen is None else f"{seen}, {value}"

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


class Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self, pool: Http1Pool, key: tuple[str, str, int]) -> None:
        self.pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self.response: Http1Response | None = None
        self._head: asyncio.Future[None] | None = None
        self._header_name = b""
        self._received = False  # any byte of the current response

    # --- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.response is None:  # bytes nobody asked for (on an idle connection): drop the connection
            self.close()
            return
        self._received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(Failure.STREAM_RESET, "the upstream switched protocols")
        except httptools.HttpParserError as exc:
            self._fail(Failure.STREAM_RESET, f"malformed HTTP response: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        response = self.response
        if response is not None and response.status and not response.complete and response.until_close:
            response.finish()  # a body delimited by the end of the connection
            return
        reason = f"{type(exc).__name__}: {exc}" if exc else "the upstream closed the connection"
        if response is not None and response.status:
            self._fail(Failure.STREAM_RESET, f"the connection broke mid-response ({reason})")
        else:
            self._fail(Failure.CONNECT, f"the connection closed before a response ({reason})")

    def pause_writing(self) -> None:  # large request bodies: the kernel buffers them, nothing to do
        pass

    def resume_writing(self) -> None:
        pass

    # --- httptools callbacks -----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.response is not None
        self.response.headers.add(name.decode("latin-1"), value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        response = self.response
        assert response is not None
        response.status = self.parser.get_status_code()
        headers = response.headers
        response.until_close = "content-length" not in headers and "chunked" not in headers.get(
            "transfer-encoding", ""
        )
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding in ("gzip", "deflate"):
            response.decoder = zlib.decompressobj(47)  # 32 + 15: gzip or zlib header, auto-detected
        if self._head is not None and not self._head.done():
            self._head.set_result(None)

    def on_body(self, body: bytes) -> None:
        assert self.response is not None
        self.response.feed(body)

    def on_message_complete(self) -> None:
        response = self.response
        assert response is not None
        response.reusable = self.parser.should_keep_alive()
        response.finish()

    # --- used by the pool and the response ---------------------------------------------------

    def send(self, request: bytes, read_timeout: float) -> Http1Response:
        assert self.transport is not None
        self.response = Http1Response(self, read_timeout)
        self._received = False
        self._head = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.response

    def _fail(self, kind: Failure, message: str) -> None:
        error = UpstreamError(kind, message)
        if self._head is not None and not self._head.done():
            self._head.set_exception(error)
        if self.response is not None:
            self.response.fail(error)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def pause(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()


class Http1Response:
    """An upstream answer: `status` and `headers` first, then the body (read it whole or in chunks)."""

    __slots__ = (
        "_buffer",
        "_buffered",
        "_conn",
        "_error",
        "_paused",
        "_waiter",
        "complete",
        "decoder",
        "headers",
        "read_timeout",
        "reusable",
        "status",
        "until_close",
    )

    def __init__(self, conn: Connection, read_timeout: float) -> None:
        self._conn: Connection | None = conn
        self.read_timeout = read_timeout
        self.status = 0
        self.headers = ResponseHeaders()
        self.complete = False
        self.reusable = False
        self.until_close = False
        self.decoder: zlib._Decompress | None = None
        self._buffer: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None

    # --- fed by the connection ---------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self.decoder is not None:
            data = self.decoder.decompress(data)
            if not data:
                return
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered > HIGH_WATER and not self._paused and self._conn is not None:
            self._paused = True
            self._conn.pause()
        self._wake()

    def finish(self) -> None:
        if self.decoder is not None:
            tail = self.decoder.flush()
            if tail:
                self._buffer.append(tail)
        self.complete = True
        self._wake()

    def fail(self, error: UpstreamError) -> None:
        if not self.complete:
            self._error = error
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- read by the proxy -------------------------------------------------------------------

    async def read_chunk(self) -> bytes:
        """The next body bytes as they arrived; b"" at the end. Each wait is bounded by the read timeout."""
        while not self._buffer:
            if self._error is not None:
                raise self._error
            if self.complete:
                self.release()
                return b""
            await self._wait(self.read_timeout)
        data = self._buffer.popleft()
        self._buffered -= len(data)
        if self._paused and self._buffered <= HIGH_WATER // 4 and self._conn is not None:
            self._paused = False
            self._conn.resume()
        return data

    async def read(self) -> bytes:
        """The whole body."""
        if self.complete and self._error is None:  # usually: the body came in with the headers
            body = b"".join(self._buffer)
            self._buffer.clear()
            self._buffered = 0
            if self._paused and self._conn is not None:  # a large body: reading was paused for it
                self._paused = False
                self._conn.resume()
            self.release()
            return body
        chunks = []
        while chunk := await self.read_chunk():
            chunks.append(chunk)
        return b"".join(chunks)

    async def _wait(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout, _expire, waiter, timeout)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def release(self) -> None:
        """Done with the response: its connection goes back to the pool if it can serve another request."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        conn.response = None
        if self.complete and self.reusable and self._error is None and not conn.closed:
            conn.pool.put_back(conn)
        else:
            conn.close()

    def close(self) -> None:
        """Let go of the response; an unfinished one closes its connection (never reused half-read)."""
        if not self.complete and self._conn is not None:
            self._conn.close()
            self._conn = None
        self.release()


def _expire(waiter: asyncio.Future[None], timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamError(Failure.TIMEOUT, f"no data from the upstream for {timeout:g}s"))


class Http1Pool:
    def __init__(self, connect_timeout: float, read_timeout: float, keepalive: float = 60.0) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.keepalive = keepalive
        self._idle: dict[tuple[str, str, int], list[Connection]] = {}
        self._open: set[Connection] = set()
        self._ssl: ssl.SSLContext | None = None
        # HTTPS_PROXY / HTTP_PROXY / NO_PROXY, read once when the pool starts (providers/egress.py).
        self.proxies = EgressProxies()

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Http1Response:
        """Send the request; return once the status line and headers arrived (the body is not read yet)."""
        origin = origin_of(url)
        target = origin.target
        proxy = self.proxies.for_origin(*origin.key) if self.proxies.active else None
        if proxy is not None and not origin.tls:
            # Plain HTTP through a proxy: the absolute URL as the target (RFC 9112 §3.2.2).
            target = f"http://{origin.host_header}{origin.target}"
        lines = [f"POST {target} HTTP/1.1\r\nHost: {origin.host_header}\r\n"]
        if proxy is not None and not origin.tls and proxy.authorization:
            lines.append(f"Proxy-Authorization: {proxy.authorization}\r\n")
        lines += [f"{name}: {value}\r\n" for name, value in headers.items() if name.lower() != "host"]
        lines.append(f"Content-Length: {len(body)}\r\n\r\n")
        request = "".join(lines).encode("latin-1") + body
        conn = self._take(origin.key)
        if conn is not None:
            try:
                return await self._exchange(conn, request)
            except UpstreamError as exc:
                # The server may have closed this idle connection just as we reused it: try a new one,
                # but only when nothing at all came back (the request cannot have been answered).
                if exc.kind is Failure.TIMEOUT or conn._received:
                    raise
        conn = await self._connect(origin)
        return await self._exchange(conn, request)

    async def _exchange(self, conn: Connection, request: bytes) -> Http1Response:
        response = conn.send(request, self.read_timeout)
        head = conn._head
        assert head is not None
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.read_timeout, _expire, head, self.read_timeout)
        try:
            await head
        except BaseException:
            conn.close()  # failed or cancelled (the client went away): never reuse a half-used connection
            raise
        finally:
            timer.cancel()
        return response

    def _take(self, key: tuple[str, str, int]) -> Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < self.keepalive:
                return conn
            conn.close()
        return None

    def put_back(self, conn: Connection) -> None:
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) >= MAX_IDLE_PER_ORIGIN:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    def forget(self, conn: Connection) -> None:
        self._open.discard(conn)
        idle = self._idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)

    async def _connect(self, origin: Origin) -> Connection:
        loop = asyncio.get_running_loop()
        tls = None
        if origin.tls:
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            tls = self._ssl
        where = f"{origin.host}:{origin.port}"
        proxy = self.proxies.for_origin(*origin.key) if self.proxies.active else None
        if proxy is not None:
            where += f" (through the proxy {proxy.where})"
        try:
            async with asyncio.timeout(self.connect_timeout):
                if proxy is None:
                    _, conn = await loop.create_connection(
                        lambda: Connection(self, origin.key),
                        origin.host,
                        origin.port,
                        ssl=tls,
                        server_hostname=origin.host if tls else None,
                    )
                elif tls:  # a CONNECT tunnel, then TLS with the upstream itself
                    sock = await open_tunnel(proxy, origin.host, origin.port)
                    _, conn = await loop.create_connection(
                        lambda: Connection(self, origin.key), sock=sock, ssl=tls, server_hostname=origin.host
                    )
                else:
                    _, conn = await loop.create_connection(
                        lambda: Connection(self, origin.key), proxy.host, proxy.port
                    )
        except TimeoutError:
            raise UpstreamError(
                Failure.TIMEOUT, f"cannot connect to {where} within {self.connect_timeout:g}s"
            ) from None
        except ProxyError as exc:
            raise UpstreamError(Failure.CONNECT, f"cannot connect to {where}: {exc}") from None
        except (OSError, ssl.SSLError) as exc:
            raise UpstreamError(Failure.CONNECT, f"cannot connect to {where}: {exc}") from None
        self._open.add(conn)
        return conn

    async def close(self) -> None:
        for conn in list(self._open):
            conn.close()
        self._open.clear()
        self._idle.clear()

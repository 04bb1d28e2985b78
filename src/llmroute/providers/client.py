"""The pooled upstream HTTP client: one connection pool per gateway process.

Keep-alive connections to each provider are reused across requests (no TLS handshake per call).
Timeouts come from the listener: `connect` bounds opening a connection, `read` bounds each wait for
bytes (so a long stream that keeps talking is fine, a stalled one is not). Transport failures are
raised as `UpstreamError` (llmroute/errors.py) with a `Failure` kind the failover logic switches on, and a message that never
contains request headers (where the keys are).

The transport is `llmroute.providers.http1`, a lean HTTP/1.1 client made for this one hot path: it
replaced aiohttp (which in turn had been chosen over httpx, docs/providers.md) because per proxied
request aiohttp's generality cost more CPU than the rest of the gateway; see docs/performance.md.
"""

from __future__ import annotations

from llmroute.errors import UpstreamError
from llmroute.providers.http1 import Http1Pool, Http1Response

KEEPALIVE_SECONDS = 60.0
MAX_CONNECT_SECONDS = 10.0


class UpstreamClient:
    def __init__(self, timeout_seconds: float) -> None:
        self.read_timeout = timeout_seconds
        self.connect_timeout = min(timeout_seconds, MAX_CONNECT_SECONDS)
        self._pool: Http1Pool | None = None

    async def start(self) -> None:
        """Open the pool. Must run inside the serving event loop."""
        if self._pool is None:
            self._pool = Http1Pool(self.connect_timeout, self.read_timeout, KEEPALIVE_SECONDS)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> Http1Pool:
        if self._pool is None:
            raise RuntimeError("UpstreamClient.start() was not awaited")
        return self._pool

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Http1Response:
        """Send the request and return once the status line and headers arrived (body not read yet)."""
        return await self.pool.post(url, headers, body)


async def read_body(response: Http1Response) -> bytes:
    """The whole response body; transport trouble while reading becomes an UpstreamError."""
    try:
        return await response.read()
    except UpstreamError:
        response.close()
        raise

"""The pooled upstream HTTP client: one aiohttp session per gateway process.

One `ClientSession` over one `TCPConnector` keeps connections to each provider alive across
requests (no TLS handshake per call). Timeouts come from the listener: `connect` bounds opening a
connection, `read` bounds each wait for bytes (so a long stream that keeps talking is fine, a
stalled one is not). Transport failures are raised as `UpstreamError` with a `kind` the failover
logic switches on, and a message that never contains request headers (where the keys are).

Why aiohttp and not httpx: see docs/providers.md ("Upstream client") for the measurement.
"""

from __future__ import annotations

from typing import Literal

import aiohttp

ErrorKind = Literal["timeout", "connect", "stream_reset"]

# Plenty of parallel requests to one provider; the OS and the provider are the real limits.
CONNECTIONS_PER_HOST = 512
KEEPALIVE_SECONDS = 60.0
MAX_CONNECT_SECONDS = 10.0


class UpstreamError(Exception):
    """The provider could not be reached or stopped answering. Safe to show: no headers, no keys."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class UpstreamClient:
    def __init__(self, timeout_seconds: float) -> None:
        self.timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None,
            sock_connect=min(timeout_seconds, MAX_CONNECT_SECONDS),
            sock_read=timeout_seconds,
        )
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the pool. Must run inside the serving event loop."""
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=0,
                limit_per_host=CONNECTIONS_PER_HOST,
                keepalive_timeout=KEEPALIVE_SECONDS,
                ttl_dns_cache=300,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                auto_decompress=True,
                # We send our own headers only; no cookies shared between clients through the jar.
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent",),
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("UpstreamClient.start() was not awaited")
        return self._session

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> aiohttp.ClientResponse:
        """Send the request and return once the status line and headers arrived (body not read yet)."""
        try:
            return await self.session.post(url, data=body, headers=headers, allow_redirects=False)
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise UpstreamError("timeout", f"no response within {self.timeout.sock_read:g}s") from None
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamError("connect", f"cannot connect to {exc.host}:{exc.port}: {exc.os_error}") from None
        except aiohttp.ClientError as exc:
            raise UpstreamError("connect", f"request failed: {describe(exc)}") from None


async def read_body(response: aiohttp.ClientResponse) -> bytes:
    """The whole response body; transport trouble while reading becomes an UpstreamError."""
    try:
        return await response.read()
    except (TimeoutError, aiohttp.ServerTimeoutError):
        response.close()
        raise UpstreamError("timeout", "the response stopped arriving (read timeout)") from None
    except aiohttp.ClientError as exc:
        response.close()
        raise UpstreamError("stream_reset", f"the connection broke while reading: {describe(exc)}") from None


def describe(exc: BaseException) -> str:
    """A short, header-free description of a transport exception."""
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]

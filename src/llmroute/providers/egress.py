"""Egress through an HTTP proxy: `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY` (upper or lower case).

Read from the environment when the upstream pool starts, the way curl and Python's own clients
read them. `https://` upstreams go through a `CONNECT host:port` tunnel (TLS stays end to end,
the proxy sees only the host); `http://` upstreams are sent to the proxy with the absolute URL as
the request target. A proxy URL may carry credentials (`http://user:pass@proxy:3128`), sent as
`Proxy-Authorization: Basic`. `NO_PROXY` lists hosts (and `.domain` suffixes, `*` for all) that
are reached directly. Only `http://` proxy URLs are supported (the usual corporate proxy).
"""

from __future__ import annotations

import asyncio
import base64
import socket
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

MAX_CONNECT_RESPONSE = 64 * 1024


class ProxyError(Exception):
    """The proxy could not be used (bad URL, refused tunnel): a connect failure to the caller."""


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    authorization: str | None  # the Proxy-Authorization value, when the URL had credentials

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def parse_proxy(url: str) -> Proxy:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or not parts.hostname:
        raise ProxyError(f"unsupported proxy URL scheme {parts.scheme!r} (use http://host:port)")
    authorization = None
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(credentials).decode()
    return Proxy(parts.hostname, parts.port or 80, authorization)


class EgressProxies:
    """Which proxy, if any, serves an upstream origin."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        if environ is None:
            settings = urllib.request.getproxies_environment()
        else:  # tests: the same rules as the process environment (lower case wins)
            settings = {}
            for name, value in sorted(environ.items(), key=lambda kv: kv[0].islower()):
                if value and name.lower().endswith("_proxy"):
                    settings[name.lower()[: -len("_proxy")]] = value
        self._settings = settings
        self.http = parse_proxy(settings["http"]) if settings.get("http") else None
        self.https = parse_proxy(settings["https"]) if settings.get("https") else None
        self._decided: dict[tuple[str, str, int], Proxy | None] = {}

    @property
    def active(self) -> bool:
        return self.http is not None or self.https is not None

    def for_origin(self, scheme: str, host: str, port: int) -> Proxy | None:
        key = (scheme, host, port)
        if key not in self._decided:
            proxy = self.https if scheme == "https" else self.http
            # proxy_bypass_environment is public in CPython but missing from typeshed's stubs.
            if proxy is not None and urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]
                f"{host}:{port}", self._settings
            ):
                proxy = None
            self._decided[key] = proxy
        return self._decided[key]


async def open_tunnel(proxy: Proxy, host: str, port: int) -> socket.socket:
    """A socket to `host:port` through the proxy's CONNECT (the caller starts TLS on it)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(proxy.host, proxy.port, type=socket.SOCK_STREAM)
    if not infos:
        raise ProxyError(f"cannot resolve the proxy {proxy.where}")
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, address)
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        request = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
        if proxy.authorization:
            request += f"Proxy-Authorization: {proxy.authorization}\r\n"
        await loop.sock_sendall(sock, (request + "\r\n").encode("latin-1"))
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = await loop.sock_recv(sock, 4096)
            if not data:
                raise ProxyError(f"the proxy {proxy.where} closed the connection during CONNECT")
            answer += data
            if len(answer) > MAX_CONNECT_RESPONSE:
                raise ProxyError(f"the proxy {proxy.where} sent an oversized CONNECT answer")
        status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
        fields = status_line.split(" ", 2)
        if len(fields) < 2 or fields[1] != "200":
            raise ProxyError(f"the proxy {proxy.where} refused the tunnel to {target}: {status_line[:100]}")
        if not answer.endswith(b"\r\n\r\n"):
            raise ProxyError(f"the proxy {proxy.where} sent data before the tunnel was open")
    except BaseException:
        sock.close()
        raise
    return sock

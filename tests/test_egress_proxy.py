"""Egress through a real local HTTP proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY): a CONNECT tunnel
for an https:// provider (TLS end to end, a self-signed certificate trusted through
SSL_CERT_FILE), the absolute-URL form for an http:// one, and NO_PROXY going direct."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import free_port
from fakes.providers import FakeProvider
from gateway_process import NO_ROUTER, GatewayProcess


class LocalProxy:
    """A small forward proxy on loopback: CONNECT tunnels and absolute-form HTTP requests, each
    relayed to its target. Records the request line and Proxy-Authorization of each request."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.seen: list[tuple[str, str | None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self._stop: asyncio.Event | None = None

    def __enter__(self) -> LocalProxy:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self._ready.set()
        async with server:
            await self._stop.wait()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            auth = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in lines
                    if line.lower().startswith("proxy-authorization:")
                ),
                None,
            )
            self.seen.append((f"{method} {target}", auth))
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
            else:
                url = httpx.URL(target)
                up_reader, up_writer = await asyncio.open_connection(url.host, url.port)
                path = url.raw_path.decode()
                kept = [
                    line for line in lines[1:] if line and not line.lower().startswith("proxy-authorization:")
                ]
                up_writer.write(
                    f"{method} {path} HTTP/1.1\r\n".encode() + "\r\n".join(kept).encode() + b"\r\n\r\n"
                )
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (.ci/apt-packages.txt lists it)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def upstreams(certificate: tuple[Path, Path]) -> Iterator[tuple[FakeProvider, FakeProvider]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    with FakeProvider(tls=context) as secure, FakeProvider() as plain:
        yield secure, plain


def config(secure: str, plain: str) -> str:
    return (
        "version: v0.4.0\nlisteners: [{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 5s}]\n"
        "model_providers:\n"
        f"  - {{model: openai/secure, access_key: sk-egress-secure-1234, base_url: {secure}, default: true}}\n"
        f"  - {{model: vllm/plain, access_key: sk-egress-plain-5678, base_url: {plain}/v1}}\n" + NO_ROUTER
    )


def proxy_env(proxy: str, no_proxy: str, cert: Path) -> dict[str, str]:
    env = {"SSL_CERT_FILE": str(cert)}
    for name, value in (("https_proxy", proxy), ("http_proxy", proxy), ("no_proxy", no_proxy)):
        env[name] = env[name.upper()] = value
    return env


def ask(url: str, model: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(url + "/v1/chat/completions", json=body, timeout=20)


def test_https_provider_through_a_connect_tunnel_and_http_through_the_proxy(
    tmp_path: Path, certificate: tuple[Path, Path], upstreams: tuple[FakeProvider, FakeProvider]
) -> None:
    secure, plain = upstreams
    with LocalProxy() as proxy:
        authed = proxy.url.replace("http://", "http://egress:s%40cret@")
        env = proxy_env(authed, "", certificate[0])
        with GatewayProcess(config(secure.url, plain.url), tmp_path, env=env) as gw:
            answer = ask(gw.url, "openai/secure")
            assert answer.status_code == 200, answer.text
            assert secure.last.headers["authorization"] == "Bearer sk-egress-secure-1234"
            answer = ask(gw.url, "vllm/plain")
            assert answer.status_code == 200, answer.text
    expected_auth = "Basic ZWdyZXNzOnNAY3JldA=="  # egress:s@cret
    assert (f"CONNECT localhost:{secure.port}", expected_auth) in proxy.seen
    assert (f"POST http://127.0.0.1:{plain.port}/v1/chat/completions", expected_auth) in proxy.seen
    assert "proxy-authorization" not in plain.last.headers


def test_no_proxy_hosts_are_reached_directly(
    tmp_path: Path, certificate: tuple[Path, Path], upstreams: tuple[FakeProvider, FakeProvider]
) -> None:
    secure, plain = upstreams
    with LocalProxy() as proxy:
        env = proxy_env(proxy.url, "localhost,127.0.0.1", certificate[0])
        with GatewayProcess(config(secure.url, plain.url), tmp_path, env=env) as gw:
            assert ask(gw.url, "openai/secure").status_code == 200
            assert ask(gw.url, "vllm/plain").status_code == 200
    assert proxy.seen == []


def test_a_refused_tunnel_is_a_clear_upstream_error(
    tmp_path: Path, certificate: tuple[Path, Path], upstreams: tuple[FakeProvider, FakeProvider]
) -> None:
    secure, plain = upstreams
    env = proxy_env(f"http://127.0.0.1:{free_port()}", "", certificate[0])  # nothing listens there
    with GatewayProcess(config(secure.url, plain.url), tmp_path, env=env) as gw:
        answer = ask(gw.url, "openai/secure")
    assert answer.status_code == 502, answer.text
    assert "through the proxy" in answer.text and "sk-egress" not in answer.text

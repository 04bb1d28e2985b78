"""Client-side faults against a real `llmroute up` process: slow clients (slowloris, on headers and
on bodies) are cut off and cannot exhaust it, and 1000 concurrent streams come and go leaving its
memory (RSS) and open file descriptors where they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import aiohttp
import httpx
import pytest

from fakes.providers import Answer, FakeProvider
from fakes.sse import stream_text
from gateway_process import NO_ROUTER, GatewayProcess
from llmroute.providers.http1 import MAX_IDLE_PER_ORIGIN

STREAMS = 1000
WORDS = "one two three four five six"


@pytest.fixture(scope="module", autouse=True)
def enough_file_descriptors() -> None:
    """1000 streams need ~2000 sockets on each side; raise the soft limit (the gateway inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8192 if hard == resource.RLIM_INFINITY else min(8192, hard)
    if wanted < 4096:
        pytest.skip(f"the open-file limit is too low for {STREAMS} streams (hard limit {hard})")
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@dataclass
class Setup:
    gw: GatewayProcess
    providers: tuple[FakeProvider, FakeProvider]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    # Two providers, so the upstream pool's per-host cap (512) is not what limits concurrency.
    with FakeProvider() as one, FakeProvider() as two:
        text = f"""
listeners: [{{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 30s}}]
model_providers:
  - {{model: openai/one, access_key: sk-clients-1, base_url: {one.url}, default: true}}
  - {{model: openai/two, access_key: sk-clients-2, base_url: {two.url}}}
{NO_ROUTER}limits: {{header_timeout: 2s, body_timeout: 2s, max_header_bytes: 16KiB}}
"""
        with GatewayProcess(text, tmp_path_factory.mktemp("fault-clients")) as gw:
            yield Setup(gw, (one, two))


def settle(gw: GatewayProcess, target: int | None = None, timeout: float = 15.0) -> int:
    """Open fds once the gateway is idle again: at or below `target`, or unchanged for a second
    (connections take a moment to be torn down)."""
    deadline = time.monotonic() + timeout
    count, stable = gw.open_fds(), 0
    while time.monotonic() < deadline:
        if target is not None and count <= target:
            return count
        time.sleep(0.2)
        now = gw.open_fds()
        stable = stable + 1 if now == count else 0
        count = now
        if stable >= 5:
            return count
    return count


# --- slowloris -----------------------------------------------------------------------------------


def slow_sockets(port: int, count: int, first: bytes) -> list[socket.socket]:
    out = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(first)
        out.append(sock)
    return out


def dribble_until_closed(sockets: list[socket.socket], byte: bytes, seconds: float) -> dict[str, int]:
    """Send one byte per socket every 0.25 s; note how each connection ended.

    Each socket is read before it is written to: a byte sent after the gateway closed the
    connection draws a reset, which can discard the 408 that was already on its way."""
    outcome = {"408": 0, "closed": 0, "open": 0}
    alive = list(sockets)
    deadline = time.monotonic() + seconds
    while alive and time.monotonic() < deadline:
        for sock in list(alive):
            data = read_now(sock)
            if data is None:  # nothing yet: still open, keep dribbling
                try:
                    sock.sendall(byte)
                    continue
                except OSError:
                    data = read_now(sock) or b""
            outcome["408" if data.startswith(b"HTTP/1.1 408") else "closed"] += 1
            alive.remove(sock)
        time.sleep(0.25)
    outcome["open"] = len(alive)
    for sock in sockets:
        sock.close()
    return outcome


def read_now(sock: socket.socket) -> bytes | None:
    """What has arrived on `sock` (b"" once it is closed or reset), or None when nothing has yet."""
    sock.setblocking(False)
    try:
        return sock.recv(4096)
    except BlockingIOError:
        return None
    except OSError:
        return b""
    finally:
        sock.setblocking(True)


@pytest.mark.parametrize(
    ("first", "label"),
    [
        (b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nX-Slow: ", "headers"),
        (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n{",
            "body",
        ),
    ],
)
def test_slowloris_is_cut_off_and_does_not_starve_real_clients(
    setup: Setup, first: bytes, label: str
) -> None:
    gw = setup.gw
    baseline = settle(gw)
    sockets = slow_sockets(gw.port, 200, first)
    try:
        # Real clients are served normally while 200 slow ones hold connections.
        for _ in range(5):
            response = httpx.post(
                gw.url + "/v1/chat/completions",
                json={"messages": [{"role": "user", "content": "hi"}]},
                timeout=10,
            )
            assert response.status_code == 200
    finally:
        outcome = dribble_until_closed(sockets, b"a", 20.0)
    # Every slow connection was ended by the gateway (2 s deadline), most with a 408 first.
    assert outcome["open"] == 0, outcome
    assert outcome["408"] >= 150, outcome
    assert settle(gw, baseline) <= baseline + 5
    assert gw.alive
    metrics = httpx.get(gw.url + "/metrics").text
    assert (
        f'llmroute_client_cutoffs_total{{reason="{label[:-1] if label == "headers" else label}_timeout"}}'
        in metrics
    )


def test_a_kept_alive_connection_that_stalls_on_its_next_request_is_cut_off(setup: Setup) -> None:
    # The deadline of the second request starts when its first bytes arrive, not with the connection.
    with socket.create_connection(("127.0.0.1", setup.gw.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(1.5)  # idle, kept alive: no deadline runs between requests
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gw\r\n")  # headers never finished
        started = time.monotonic()
        data = sock.recv(4096)
        waited = time.monotonic() - started
    assert data.startswith(b"HTTP/1.1 408"), data
    assert 1.5 <= waited <= 4.0, waited  # the 2 s header_timeout, from the second request's start


def test_oversized_headers_get_431(setup: Setup) -> None:
    with socket.create_connection(("127.0.0.1", setup.gw.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n")
        data = sock.recv(4096)
    assert data.startswith(b"HTTP/1.1 431")


# --- 1000 concurrent streams ---------------------------------------------------------------------


async def streams(url: str, count: int) -> tuple[list[str], int]:
    """`count` streaming requests at once (alternating models); their texts and the most open at once."""
    open_now = 0
    most = 0
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def one(i: int) -> str:
            nonlocal open_now, most
            body = {
                "model": "openai/one" if i % 2 else "openai/two",
                "stream": True,
                "messages": [{"role": "user", "content": "count"}],
            }
            async with http.post(url + "/v1/chat/completions", json=body) as response:
                assert response.status == 200, await response.text()
                open_now += 1
                most = max(most, open_now)
                try:
                    return (await response.read()).decode()
                finally:
                    open_now -= 1

        texts = await asyncio.gather(*(one(i) for i in range(count)))
    return list(texts), most


def burst(setup: Setup) -> int:
    for provider in setup.providers:
        provider.requests.clear()
        provider.script(*[Answer(text=WORDS, delay=0.3)] * (STREAMS // 2 + 10))
    texts, most = asyncio.run(streams(setup.gw.url, STREAMS))
    assert all(stream_text("openai_chat", text) == WORDS for text in texts)
    assert all(text.rstrip().endswith("data: [DONE]") for text in texts)
    return most


def test_1000_concurrent_streams_leave_rss_and_fds_at_baseline(setup: Setup) -> None:
    gw = setup.gw
    fds_before = settle(gw)
    # The first burst grows the allocator's arenas and the pools to their working size...
    burst(setup)
    fds_warm = settle(gw, fds_before)
    rss_warm = gw.rss_bytes()
    # ...a second identical burst must not grow anything further.
    started = time.monotonic()
    most = burst(setup)
    elapsed = time.monotonic() - started
    fds_after = settle(gw, fds_warm)
    rss_after = gw.rss_bytes()
    print(
        f"\n{STREAMS} streams in {elapsed:.1f}s, {most} open at once; fds {fds_before}→{fds_warm}→{fds_after}; "
        f"RSS {rss_warm / 2**20:.0f}→{rss_after / 2**20:.0f} MiB"
    )
    assert most >= STREAMS // 4  # they really overlapped
    # What stays open after the first burst is the upstream keep-alive pool (idle connections to the
    # two providers, reused by the next burst, closed after their keep-alive time): bounded by the
    # pool's cap per origin, whatever the number of requests.
    assert fds_warm <= fds_before + 2 * MAX_IDLE_PER_ORIGIN + 5
    # A second identical burst reuses all of it: nothing grows.
    assert fds_after <= fds_warm + 5
    assert rss_after <= rss_warm * 1.10 + 8 * 2**20
    with contextlib.suppress(httpx.HTTPError):
        assert httpx.get(gw.url + "/healthz").status_code == 200
    assert gw.alive
    assert "Traceback" not in gw.log()

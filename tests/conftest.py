"""Shared fixtures: free ports, a real redis-server, the shared dev-eval data."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
# The user's shared folder sits beside the checkout; tests that need it skip without it.
SHARED = Path(os.environ.get("LLMROUTE_SHARED", REPO.parent / "shared"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class RedisServer:
    """A real redis-server on a free loopback port; `stop()`/`start()` simulate an outage."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.tmp = tmp
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does it)")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def shared_dir() -> Path:
    """The user's shared folder (dev eval cases). In CI its absence is a failure, not a silent skip:
    the routing-quality floors must run there. Elsewhere the skip says where it was looked for."""
    if not SHARED.is_dir():
        message = f"shared folder not found at {SHARED} (set LLMROUTE_SHARED to its path)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run the routing-quality tests")
        pytest.skip(message)
    return SHARED


class RunningGateway:
    """The real gateway app served by uvicorn on a free loopback port, in a background thread."""

    def __init__(self, config_text: str, env: dict[str, str] | None = None, http: str = "llmroute") -> None:
        """`http`: "llmroute" serves with `llmroute up`'s own HTTP protocol (server/protocol.py),
        "uvicorn" with uvicorn's stock one (as under a plain `uvicorn` command)."""
        from llmroute.config import load_config_text

        self.http = http

        self.config = load_config_text(config_text, env={**os.environ, **(env or {})})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = None
        self._server = None
        self._thread = None

    def __enter__(self) -> RunningGateway:
        import threading

        import uvicorn

        from llmroute.server.app import create_app

        self.app = create_app(self.config)
        from llmroute.server.protocol import GuardedHttpToolsProtocol

        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            log_config=None,
            http=GuardedHttpToolsProtocol if self.http == "llmroute" else "httptools",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("gateway failed to start (see log output)")
            time.sleep(0.01)
        return self

    @property
    def gateway(self):  # type: ignore[no-untyped-def]
        return self.app.state.gateway

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


@pytest.fixture
def run_gateway():  # type: ignore[no-untyped-def]
    """`with run_gateway(yaml_text, env) as gw:` → gw.url is the base URL of a live gateway."""
    return RunningGateway

"""A real `llmroute up` process on a free loopback port, for tests that need separate replicas,
signals (SIGHUP) or the process's own resource use (RSS, open file descriptors).

    with GatewayProcess(yaml_text, tmp_path) as gw:   # started, /healthz answering
        httpx.get(gw.url + "/healthz"); gw.rss_bytes(); gw.open_fds(); gw.signal(signal.SIGHUP)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from conftest import REPO, free_port

# Routing is not what these tests are about: a router that is never asked (no routes) loads in no time.
NO_ROUTER = "routing: {router: {type: arch_router, base_url: 'http://127.0.0.1:9'}}\n"


class GatewayProcess:
    def __init__(
        self,
        config_text: str,
        tmp: Path,
        name: str = "gw",
        env: dict[str, str] | None = None,
        log_format: str = "json",
        workers: int = 1,
    ) -> None:
        self.log_format = log_format
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = tmp / f"{name}.yaml"
        self.config_path.write_text(config_text)
        self.log_path = tmp / f"{name}.log"
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> GatewayProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llmroute",
                "up",
                str(self.config_path),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-format",
                self.log_format,
                "--workers",
                str(self.workers),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=REPO,
        )
        log.close()
        return self

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"gateway not ready after {timeout}s:\n{self.log()}")

    def __enter__(self) -> GatewayProcess:
        self.start().wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, needle: str, count: int = 1, timeout: float = 10.0) -> str:
        """The log once `count` whole lines hold `needle`. A line is logged after its response is sent
        and may be half-written when first seen, so only lines that end with a newline count."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()
            whole = text[: text.rfind("\n") + 1]
            if whole.count(needle) >= count or time.monotonic() > deadline:
                return text
            time.sleep(0.05)

    def rss_bytes(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def open_fds(self) -> int:
        assert self.proc is not None
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))


def start_all(*gateways: GatewayProcess) -> None:
    """Start several gateways at once (their startups overlap) and wait until each answers."""
    for gateway in gateways:
        gateway.start()
    for gateway in gateways:
        gateway.wait_ready()

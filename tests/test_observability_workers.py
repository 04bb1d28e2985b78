"""`llmroute up --workers 2 --log-format json` as a real process: JSON request lines, metrics summed over workers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import free_port, wait_for_port

CONFIG = """
version: v0.4.0
listeners: [{name: m, type: model, address: 127.0.0.1, port: 0, timeout: 30s}]
model_providers:
  - model: echo/fast
    default: true
"""
REQUESTS = 24


def requests_total(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "llmroute_requests_total" and sample.labels == {
                "endpoint": "/v1/chat/completions",
                "status": "200",
            }:
                return sample.value
    return 0.0


class Server:
    """`llmroute up` in a subprocess; its JSON log lines are collected as they come."""

    def __init__(self, config: Path, *args: str) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        command = [sys.executable, "-m", "llmroute", "up", str(config), "--port", str(self.port), *args]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        self.raw: list[bytes] = []
        self.lines: list[dict[str, object]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.raw.append(line)
            if line.startswith(b"{"):
                self.lines.append(orjson.loads(line))

    def logged(self, prefix: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if str(line["msg"]).startswith(prefix):
                    return str(line["msg"])
            time.sleep(0.02)
        raise AssertionError(f"no log line starting {prefix!r}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=10)


@pytest.mark.timeout(300)  # two worker processes start slowly on a loaded machine
def test_two_workers_share_metrics_and_log_json_lines(tmp_path: Path) -> None:
    config = tmp_path / "llmroute.yaml"
    config.write_text(CONFIG)
    server = Server(config, "--workers", "2", "--log-format", "json")
    base = f"http://127.0.0.1:{server.port}"
    try:
        note = server.logged("metrics: 2 workers share ")
        metrics_dir = Path(note.removeprefix("metrics: 2 workers share ").split(" ")[0])
        wait_for_port(server.port, timeout=120)
        # Each request on a new connection, so both workers take some.
        for i in range(REQUESTS):
            response = httpx.post(
                base + "/v1/chat/completions",
                json={"messages": [{"role": "user", "content": f"secret prompt {i}"}]},
            )
            assert response.status_code == 200, response.text
        # Whichever worker answers the scrape reports the total over both.
        for _ in range(6):
            scrape = httpx.get(base + "/metrics")
            assert scrape.status_code == 200
            assert requests_total(scrape.text) == REQUESTS
        # prometheus_client keeps each worker's samples in files named after its pid.
        assert list(metrics_dir.glob("*.db")), "the workers kept no multiprocess files"
    finally:
        server.stop()
    access = [entry for entry in server.lines if entry["logger"] == "llmroute.access"]
    served = [entry for entry in access if entry["path"] == "/v1/chat/completions"]
    assert len(served) == REQUESTS
    assert {entry["model"] for entry in served} == {"echo/fast"}
    assert all(entry["status"] == 200 and len(str(entry["trace_id"])) == 32 for entry in served)
    assert not any(b"secret prompt" in line for line in server.raw)
    # The directory the server made for the workers is removed when it stops.
    assert not metrics_dir.exists()

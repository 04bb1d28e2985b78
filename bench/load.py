"""Closed-loop load for the benches: wrk (through bench/wrk_post.lua) or, without it, bench/loadgen.py."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import orjson

import loadgen
from processes import CHAT_PATH, WORK_DIR, Layout

BENCH_DIR = Path(__file__).resolve().parent


def ensure_wrk() -> str | None:
    """wrk's path; installed with apt-get when missing and possible (root); None: use bench/loadgen.py."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found; trying apt-get install -y wrk ...", flush=True)
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(
                ["apt-get", "install", "-y", "-q", "wrk"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=300,
                check=False,
            )
    return shutil.which("wrk")


class Load:
    """Runs closed-loop load against a port with wrk (preferred) or the Python load generator."""

    def __init__(self, wrk: str | None, layout: Layout) -> None:
        self.wrk = wrk
        self.layout = layout
        self.tool = wrk_version(wrk) if wrk else "Python load generator (bench/loadgen.py)"

    def run(self, port: int, bodies: list[bytes], connections: int, seconds: float) -> dict[str, float]:
        if self.wrk:
            return self._wrk(port, bodies, connections, seconds)
        result = loadgen.run(loadgen.closed_loop("127.0.0.1", port, CHAT_PATH, bodies, connections, seconds))
        return result.summary()

    def _wrk(self, port: int, bodies: list[bytes], connections: int, seconds: float) -> dict[str, float]:
        with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", dir=WORK_DIR, delete=False) as f:
            f.write(b"\n".join(bodies) + b"\n")
        try:
            command = [
                *self.layout.prefix(self.layout.load),
                str(self.wrk),
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                str(BENCH_DIR / "wrk_post.lua"),
                f"http://127.0.0.1:{port}{CHAT_PATH}",
            ]
            done = subprocess.run(
                command, capture_output=True, text=True, env={**os.environ, "WRK_BODIES": f.name}, check=False
            )
        finally:
            os.unlink(f.name)
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk gave no result: {done.stdout[-500:]} {done.stderr[-500:]}")
        raw = orjson.loads(line[len("WRKJSON ") :])
        errors = raw["errors_connect"] + raw["errors_read"] + raw["errors_write"] + raw["errors_timeout"]
        return {
            "requests": raw["requests"],
            "rps": raw["requests"] / (raw["duration_us"] / 1e6),
            "p50_ms": raw["p50_us"] / 1000,
            "p99_ms": raw["p99_us"] / 1000,
            "mean_ms": raw["mean_us"] / 1000,
            "non_2xx": raw["non_2xx"],
            "errors": errors,
        }


def wrk_version(wrk: str) -> str:
    done = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr).splitlines()
    return first[0].split(" Copyright")[0] if first else "wrk"

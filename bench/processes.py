"""Child processes for the benches: CPU layout, start/stop in their own process group, readiness, RSS, CPU time."""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

WORK_DIR = Path(__file__).resolve().parent.parent / ".bench"
CHAT_PATH = "/v1/chat/completions"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Layout:
    """Where the bench's processes run, and at which priority.

    The server under test and the fake upstream share one CPU, the load generator (wrk, or this
    process for time to first byte) gets the others. Then a request through a gateway crosses
    between CPUs exactly as often as a direct one does (client -> server side -> client), and the
    difference is the gateway's own work: on a virtual machine a cross-CPU wake-up can cost more
    than the whole gateway, which would otherwise be charged to it. The upstream's share of its CPU
    is small (tens of microseconds per request, see the direct column). When root, every bench
    process runs at a raised priority, the same for every target, so that other work on a shared
    machine disturbs the measurement less."""

    PRIORITY = -10

    def __init__(self, pin: bool, boost: bool) -> None:
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.pinned = pin and len(cpus) >= 2 and shutil.which("taskset") is not None
        self.server = {cpus[0]} if self.pinned else None
        self.load = set(cpus[1:]) if self.pinned else None
        self.boost = boost and hasattr(os, "geteuid") and os.geteuid() == 0

    def apply_to_self(self) -> None:
        """This process is the time-to-first-byte client: load-side CPUs, the bench's priority."""
        if self.load:
            os.sched_setaffinity(0, self.load)
        if self.boost:
            os.setpriority(os.PRIO_PROCESS, 0, self.PRIORITY)

    def describe(self) -> str:
        where = (
            f"server + fake upstream on CPU {sorted(self.server or ())}, load generator on CPUs {sorted(self.load or ())}"
            if self.pinned
            else "no CPU pinning (fewer than 2 CPUs, no taskset, or --no-pin)"
        )
        return where + (f", all at nice {self.PRIORITY}" if self.boost else "")

    def prefix(self, cpus: set[int] | None) -> list[str]:
        """Command prefix that runs a program on `cpus` (None: anywhere) at the bench's priority."""
        out: list[str] = []
        if cpus is not None and shutil.which("taskset"):
            out += ["taskset", "-c", ",".join(str(c) for c in sorted(cpus))]
        if self.boost:
            out += ["nice", "-n", str(self.PRIORITY)]
        return out


class Process:
    """A child process in its own process group (so its workers stop with it), output to a log file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        WORK_DIR.mkdir(exist_ok=True)
        self.log_path = WORK_DIR / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()

    def log_tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def rss_mib(self) -> float:
        """Resident memory of the process and its children (uvicorn workers), MiB."""
        total = 0
        for pid in [self.proc.pid, *child_pids(self.proc.pid)]:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total / 1024

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the process and its children (uvicorn workers)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in [self.proc.pid, *child_pids(self.proc.pid)]:
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks


def child_pids(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            for child in children:
                out.append(int(child))
                out.extend(child_pids(int(child)))
    return out


def post_once(port: int, body: bytes, timeout: float = 5.0) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST", CHAT_PATH, body, {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
        )
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def wait_ready(process: Process, port: int, body: bytes, seconds: float) -> None:
    """Until a real request through it answers 200 (not just an open port: routers warm up first)."""
    deadline = time.monotonic() + seconds
    last = "no answer"
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited during start-up:\n{process.log_tail()}")
        try:
            status = post_once(port, body)
            if status == 200:
                return
            last = f"HTTP {status}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.25)
    raise RuntimeError(f"{process.name} not ready after {seconds:.0f}s ({last}):\n{process.log_tail()}")


@contextlib.contextmanager
def running(
    name: str,
    command: list[str],
    port: int,
    probe: bytes,
    ready_seconds: float,
    env: dict[str, str] | None = None,
) -> Iterator[Process]:
    process = Process(name, command, env)
    try:
        wait_ready(process, port, probe, ready_seconds)
        yield process
    finally:
        process.stop()

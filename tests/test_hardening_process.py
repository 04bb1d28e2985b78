"""Hostile input against a real `llmroute up` process (issue 14): what only a real process shows."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from gateway_process import NO_ROUTER, GatewayProcess

ECHO_CONFIG = (
    "version: v0.4.0\nlisteners: [{name: m, type: model, address: 127.0.0.1, port: 0}]\n"
    "model_providers:\n  - model: echo/fast\n    default: true\n  - model: echo/*\n" + NO_ROUTER
)
FORGED = "2099-01-01 00:00:00,000 INFO    llmroute.access: FORGED"


def test_control_characters_cannot_forge_text_log_lines(tmp_path: Path) -> None:
    with GatewayProcess(ECHO_CONFIG, tmp_path, log_format="human") as gw:
        # A path with an encoded newline (uvicorn decodes it) and a wildcard model id with one.
        assert httpx.post(f"{gw.url}/v1/x%0A{FORGED}%0D%0A{FORGED}", json={}).status_code == 404
        body = {
            "model": f"echo/a\n{FORGED}\r\n{FORGED}\x1b[2J",
            "messages": [{"role": "user", "content": "hi"}],
        }
        assert httpx.post(gw.url + "/v1/chat/completions", json=body).status_code == 200
        text = gw.wait_for_log("llmroute.access", 2)
    lines = text.splitlines()
    assert not any(line.startswith("2099-") for line in lines), text
    assert "\x1b" not in text
    access = [line for line in lines if "llmroute.access" in line]
    assert len(access) == 2, text
    assert all("\\n2099-01-01" in line for line in access), access


def test_a_busy_port_fails_with_one_clear_line(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    from conftest import REPO

    config = tmp_path / "c.yaml"
    config.write_text(ECHO_CONFIG)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "llmroute", "up", str(config), "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
        )
    assert done.returncode != 0
    output = (done.stdout + done.stderr).strip()
    assert "listening" not in output and "try: curl" not in output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines == [f"llmroute: cannot listen on 127.0.0.1:{port}: address already in use"], output


def test_workers_with_the_memory_session_store_warn_that_pins_are_per_process(tmp_path: Path) -> None:
    with GatewayProcess(ECHO_CONFIG, tmp_path, log_format="human") as gw:
        assert "memory session store" not in gw.log()  # one worker: nothing to warn about
    proc = GatewayProcess(ECHO_CONFIG, tmp_path, name="workers", workers=2).start()
    try:
        text = proc.wait_for_log("memory session store")
        assert "--workers 2 with the memory session store" in text and "redis" in text
    finally:
        proc.stop()


def test_sighup_to_the_supervisor_reloads_every_worker(tmp_path: Path) -> None:
    """`--workers N`: SIGHUP to the `llmroute up` process (uvicorn's supervisor) replaces the
    workers one at a time with the new config; a config that does not load keeps them running."""
    import signal

    gw = GatewayProcess(ECHO_CONFIG, tmp_path, name="hup", workers=2).start()
    child = gw.proc
    assert child is not None

    def aliases() -> set[str]:
        seen: set[str] = set()
        for _ in range(8):  # several connections: both workers answer
            with httpx.Client(timeout=5) as http:
                data = http.get(gw.url + "/v1/models").json()["data"]
            seen |= {m["id"] for m in data if m["owned_by"] == "alias"}
        return seen

    def wait_for(predicate, timeout: float = 60) -> bool:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        return False

    try:
        assert wait_for(lambda: aliases() == set()), gw.log()
        gw.config_path.write_text(ECHO_CONFIG + "model_aliases:\n  quick: {target: echo/fast}\n")
        child.send_signal(signal.SIGHUP)
        assert wait_for(lambda: aliases() == {"quick"}), gw.log()
        gw.config_path.write_text(ECHO_CONFIG + "model_aliases: [not, a, mapping]\n")
        child.send_signal(signal.SIGHUP)
        time.sleep(3)
        assert child.poll() is None
        assert aliases() == {"quick"}  # the broken config was not taken; the workers kept serving
    finally:
        gw.stop()

"""The real coding-agent clients (Claude Code, Codex CLI), installed by scripts/agent-clients.sh."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".cache" / "agent-clients" / "node_modules" / ".bin"
_installed: bool | None = None


def agent_bin(name: str) -> Path:
    """The client's executable; installs the clients on first use, skips (with why) without npm."""
    global _installed
    if _installed is None:
        run = subprocess.run(
            ["bash", str(ROOT / "scripts" / "agent-clients.sh")], capture_output=True, text=True, timeout=600
        )
        if run.returncode == 3:
            pytest.skip(run.stderr.strip())
        assert run.returncode == 0, f"installing the agent clients failed:\n{run.stderr[-3000:]}"
        _installed = True
    path = BIN / name
    assert path.exists(), f"{path} is missing after scripts/agent-clients.sh"
    return path


def agent_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment: a fresh HOME (no user config, no login), no telemetry or update checks."""
    home.mkdir(parents=True, exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR")}
    return {
        **keep,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "NO_COLOR": "1",
        **extra,
    }

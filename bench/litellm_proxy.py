"""LiteLLM's proxy for the side-by-side bench: a pinned version in its own throwaway virtualenv under .bench/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from processes import WORK_DIR

PASSTHROUGH_MODEL = "openai/bench"

LITELLM_VERSION = "1.100.5"
LITELLM_VENV = WORK_DIR / "litellm-venv"


def litellm_config(upstream_port: int) -> str:
    # As LiteLLM's production docs recommend: verbose logging off, JSON logs, no DB (nothing to write).
    return (
        "model_list:\n"
        f"  - model_name: {PASSTHROUGH_MODEL}\n"
        "    litellm_params:\n"
        f"      model: {PASSTHROUGH_MODEL}\n"
        f"      api_base: http://127.0.0.1:{upstream_port}/v1\n"
        "      api_key: sk-bench\n"
        "litellm_settings:\n"
        "  set_verbose: false\n"
        "  json_logs: true\n"
        "  request_timeout: 600\n"
    )


LITELLM_ENV = {
    "LITELLM_LOG": "ERROR",
    "LITELLM_MODE": "PRODUCTION",
    # No network here: use the bundled model cost map instead of fetching it at start-up.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
}


def ensure_litellm(install: bool) -> tuple[Path | None, str]:
    """The litellm executable from its own virtualenv, installing it if needed; or None and why not."""
    exe = LITELLM_VENV / "bin" / "litellm"
    marker = LITELLM_VENV / f".installed-{LITELLM_VERSION}"
    if not install:
        return None, "skipped (--no-litellm)"
    if exe.exists() and marker.exists():
        return exe, ""
    WORK_DIR.mkdir(exist_ok=True)
    log = WORK_DIR / "litellm-install.log"
    print(
        f"installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV} (first run only) ...", flush=True
    )
    python = shutil.which("python3") or sys.executable
    steps = [
        [python, "-m", "venv", str(LITELLM_VENV)],
        [str(LITELLM_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"litellm[proxy]=={LITELLM_VERSION}"],
    ]  # fmt: skip
    with log.open("wb") as out:
        for step in steps:
            try:
                done = subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, timeout=1200, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return None, f"install failed: {exc}"
            if done.returncode != 0:
                tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
                return None, f"install failed (exit {done.returncode}, see {log}): {tail[-400:]}"
    if not exe.exists():
        return None, f"install finished but {exe} is missing (see {log})"
    marker.touch()
    return exe, ""

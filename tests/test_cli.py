"""The `llmroute` command: exit codes and output of validate, init, up (config errors), --version, --help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import free_port, wait_for_port
from llmroute import __version__
from llmroute.cli import main
from llmroute.config import load_config

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0
    assert out.strip() == f"llmroute, version {__version__}"


@pytest.mark.parametrize("command", [[], ["validate"], ["init"], ["up"]])
def test_help_on_every_command(command: list[str]) -> None:
    code, out, _ = run(*command, "--help")
    assert code == 0
    assert out.startswith("Usage: ")


def test_validate_ok_prints_summary() -> None:
    code, out, err = run("validate", str(EXAMPLES / "demo.yaml"))
    assert code == 0
    assert (
        out == f"ok: {EXAMPLES / 'demo.yaml'}: 3 models, 1 provider, 3 routes, 2 aliases, default echo/fast\n"
    )
    assert err == ""


def test_validate_prints_warnings_to_stderr() -> None:
    env = {"OPENAI_API_KEY": "sk-a", "ANTHROPIC_API_KEY": "sk-b"}
    code, out, err = run("validate", str(EXAMPLES / "004_hybrid.yaml"), env=env)
    assert code == 0
    assert out.startswith("ok: ") and "2 routes, 3 aliases, default openai/gpt-5.2" in out
    assert "warning: llm_providers is deprecated; rename it to model_providers" in err
    # the keys themselves are never echoed
    assert "sk-a" not in out + err and "sk-b" not in out + err


def test_validate_error_is_one_line_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("model_providers:\n  - model: gpt-4o\n")
    code, out, err = run("validate", str(path))
    assert code == 1
    assert out == ""
    assert err == (
        "error: model_providers[0].model: model 'gpt-4o' must be written as <provider>/<model_id>, e.g. openai/gpt-4o\n"
    )


def test_validate_missing_env_var(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("model_providers:\n  - model: openai/gpt-4o\n    access_key: $LLMROUTE_TEST_UNSET_KEY\n")
    code, _, err = run("validate", str(path), env={"LLMROUTE_TEST_UNSET_KEY": None})  # type: ignore[dict-item]
    assert code == 1
    assert (
        err
        == "error: model_providers[0].access_key: environment variable LLMROUTE_TEST_UNSET_KEY is not set\n"
    )


def test_validate_allow_missing_env_warns_instead(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("model_providers:\n  - model: openai/gpt-4o\n    access_key: $LLMROUTE_TEST_UNSET_KEY\n")
    unset = {"LLMROUTE_TEST_UNSET_KEY": None}
    code, out, err = run("validate", "--allow-missing-env", str(path), env=unset)  # type: ignore[arg-type]
    assert code == 0 and out.startswith("ok: ")
    assert err == "warning: environment variable LLMROUTE_TEST_UNSET_KEY is not set (needed to serve)\n"


def test_validate_missing_file() -> None:
    code, _, err = run("validate", "/nonexistent/llmroute.yaml")
    assert code == 1
    assert err == "error: /nonexistent/llmroute.yaml: config file not found\n"


def test_init_writes_a_config_that_validates(tmp_path: Path) -> None:
    path = tmp_path / "llmroute.yaml"
    code, out, _ = run("init", str(path))
    assert code == 0 and str(path) in out
    loaded = load_config(path, env={})
    assert loaded.default_model == "echo/fast"
    assert loaded.routes and loaded.aliases
    assert "# - model: openai/gpt-4o-mini" in path.read_text()
    assert run("validate", str(path))[0] == 0


@pytest.mark.parametrize(
    ("prompt", "route"),
    [
        ("Write a haiku about autumn", "creative_writing"),
        ("Write a Python function to sort a list", "code_generation"),
        ("Prove that the square root of 2 is irrational", "complex_reasoning"),
        ("Give me three tips for sleeping better", "general"),
    ],
)
def test_init_starter_routes_route_its_own_examples(tmp_path: Path, prompt: str, route: str) -> None:
    # The starter's comment promises these decisions; `llmroute route` is how a new user checks them.
    path = tmp_path / "llmroute.yaml"
    assert run("init", str(path))[0] == 0
    code, out, _ = run("route", str(path), prompt)
    assert code == 0
    assert json.loads(out)["route"] == route


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "llmroute.yaml"
    path.write_text("mine\n")
    code, _, err = run("init", str(path))
    assert code == 1
    assert "already exists (use --force to overwrite)" in err
    assert path.read_text() == "mine\n"
    assert run("init", str(path), "--force")[0] == 0
    assert path.read_text() != "mine\n"


def test_init_default_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("init")[0] == 0
    assert (tmp_path / "llmroute.yaml").is_file()


def test_up_with_a_bad_config_exits_1_without_serving(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("model_providers:\n  - model: openai/gpt-4o\n    acess_key: x\n")
    code, out, err = run("up", str(path))
    assert code == 1
    assert err == "error: model_providers[0].acess_key: unknown key (did you mean 'access_key'?)\n"
    assert "Traceback" not in out + err


def test_up_rejects_bad_options() -> None:
    code, _, err = run("up", str(EXAMPLES / "demo.yaml"), "--workers", "0")
    assert code == 2
    assert "--workers" in err


def test_python_dash_m_and_yaml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("model_providers:\n  - model: openai/gpt-4o\n   default: true\n")
    proc = subprocess.run(
        [sys.executable, "-m", "llmroute", "validate", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: line 3, column ")
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_up_serves_the_demo_config() -> None:
    """`make run`'s command: the demo config serves with no keys and no network."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llmroute",
            "up",
            str(EXAMPLES / "demo.yaml"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        # Startup embeds the route descriptions first; on a busy CI machine that can take a while.
        deadline = time.monotonic() + 100
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                wait_for_port(port, timeout=1)
                break
            except TimeoutError:
                continue
        else:
            raise TimeoutError
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=10) as response:
            listed = json.load(response)
        assert {"echo/creative", "echo/fast", "echo/smart"} <= {m["id"] for m in listed["data"]}
    except (TimeoutError, OSError):
        proc.kill()
        raise AssertionError("llmroute up did not serve:\n" + proc.communicate(timeout=30)[0]) from None
    finally:
        if proc.poll() is None:
            proc.terminate()
    out, _ = proc.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}" in out
    assert "Traceback" not in out


def test_route_explain_prints_scores_evidence_and_the_verdict(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text((REPO / "examples" / "demo.yaml").read_text())
    code, out, err = run(
        "route", str(config), "Write a Python function that implements binary search", "--explain"
    )
    assert code == 0
    assert json.loads(out)["route"] == "code_generation"  # stdout stays the JSON decision
    assert "threshold: 1.25" in err and "best match (" in err and "route: code_generation" in err
    code, _, err = run("route", str(config), "thanks, that worked!", "--explain")
    assert code == 0 and "no route (acknowledgement" in err


def test_route_and_eval_accept_allow_missing_env(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "model_providers: [{model: openai/gpt-4o, access_key: $UNSET_KEY_FOR_TEST, default: true}]\n"
        "routing_preferences: [{name: code, description: writing code and functions, models: [openai/gpt-4o]}]\n"
    )
    env = {"UNSET_KEY_FOR_TEST": None}
    code, _, err = run("route", str(config), "hello", env=env)  # type: ignore[arg-type]
    assert code == 1 and "UNSET_KEY_FOR_TEST is not set" in err
    code, out, err = run("route", str(config), "write a function", "--allow-missing-env", env=env)  # type: ignore[arg-type]
    assert (
        code == 0 and "warning: environment variable UNSET_KEY_FOR_TEST" in err and json.loads(out)["model"]
    )
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        json.dumps({"messages": [{"role": "user", "content": "write a sort function"}], "expected": "code"})
        + "\n"
    )
    code, out, _ = run("eval", str(config), str(cases), "--allow-missing-env", env=env)  # type: ignore[arg-type]
    assert code == 0 and "accuracy:" in out
    # Leave-one-suite-out needs cases from several suites; these name none.
    code, _, err = run(
        "eval", str(config), str(cases), "--allow-missing-env", "--leave-one-suite-out", env=env
    )  # type: ignore[arg-type]
    assert code == 1 and "at least two suites" in err

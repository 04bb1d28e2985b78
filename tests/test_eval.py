"""`llmroute eval`: case loading and its errors, the report's numbers, and the CLI end to end."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from llmroute.cli.eval import eval_command
from llmroute.routing.eval import EvalInputError, load_cases, load_suites, run_cases
from llmroute.routing.types import Classification, Route
from llmroute.wire.conversation import Message

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "evals" / "eval-config.yaml"
ROUTES = [
    {"name": "code_generation", "description": "generating new code, writing functions"},
    {"name": "complex_reasoning", "description": "complex reasoning tasks, multi-step analysis"},
]


def write_lines(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def case(
    i: int, text: str, expected: str | None, scenario: str = "action", **extra: object
) -> dict[str, object]:
    return {
        "id": f"c{i}",
        "messages": [{"role": "user", "content": text}],
        "expected": expected,
        "scenario": scenario,
        **extra,
    }


def test_cases_take_inline_routes_a_suite_or_the_config_routes(tmp_path: Path) -> None:
    suites = tmp_path / "suites.json"
    suites.write_text(json.dumps({"seed": ROUTES}))
    path = write_lines(
        tmp_path / "cases.jsonl",
        [
            case(1, "write a sort function", "code_generation", routes=ROUTES),
            case(2, "write a sort function", "code_generation", suite="seed"),
            case(3, "hello", None),
        ],
    )
    default = (Route("code_generation", "writing code"),)
    cases = load_cases(path, load_suites(suites), default_routes=default)
    assert [len(c.routes) for c in cases] == [2, 2, 1]
    assert cases[0].messages == (Message("user", "write a sort function"),)
    assert cases[2].expected is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("{not json", "not valid JSON"),
        (case(1, "x", "code_generation", suite="nope"), "no --suites file"),
        (case(1, "x", "missing_route", routes=ROUTES), "not one of the case's routes"),
        (
            {"id": "x", "messages": [], "expected": None, "routes": ROUTES},
            "'messages' must be a non-empty list",
        ),
        (case(1, "x", None), "no routes"),
        (case(1, "x", None, routes=[{"name": "a"}]), "needs a non-empty 'description'"),
    ],
)
def test_bad_cases_are_clear_errors_with_the_line(tmp_path: Path, row: object, message: str) -> None:
    path = write_lines(tmp_path / "cases.jsonl", [case(0, "ok", None, routes=ROUTES), row])
    with pytest.raises(EvalInputError, match=message) as info:
        load_cases(path)
    assert "cases.jsonl:2" in str(info.value)


def test_report_counts_accuracy_scenarios_confusions_and_backends(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "cases.jsonl",
        [
            case(1, "a", "code_generation", routes=ROUTES),
            case(2, "b", "code_generation", routes=ROUTES),
            case(3, "c", None, "irrelevant", routes=ROUTES),
            case(4, "d", "complex_reasoning", routes=ROUTES),
        ],
    )
    answers = {
        "a": ("code_generation", "embedded"),
        "b": ("complex_reasoning", "arch_router"),
        "c": (None, "embedded"),
        "d": (None, "embedded"),
    }

    def classify(conversation: Sequence[Message], routes: Sequence[Route]) -> Classification:
        route, backend = answers[conversation[-1].text]
        return Classification(route=route, backend=backend)

    report = run_cases(classify, load_cases(path))
    assert report.accuracy == 0.5
    assert report.per_scenario() == {"action": (1, 3), "irrelevant": (1, 1)}
    assert report.confusions() == [
        ("code_generation", "complex_reasoning", 1),
        ("complex_reasoning", None, 1),
    ]
    assert report.backend_split() == {"embedded": 3, "arch_router": 1}
    text = report.to_text()
    assert "accuracy: 50.0% (2/4)" in text and "decided by: arch_router 1, embedded 3" in text
    data = report.to_json()
    assert data["accuracy"] == 0.5 and len(data["results"]) == 4


def test_router_errors_are_reported_not_raised(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "cases.jsonl", [case(1, "a", "code_generation", routes=ROUTES)])

    def broken(conversation: Sequence[Message], routes: Sequence[Route]) -> Classification:
        raise TimeoutError("router timed out")

    report = run_cases(broken, load_cases(path))
    assert report.accuracy == 0.0
    assert report.to_json()["errors"] == [{"id": "c1", "error": "router timed out"}]


def test_cli_eval_with_the_embedded_router(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "cases.jsonl",
        [
            case(
                1, "Write a Python function that implements binary search", "code_generation", routes=ROUTES
            ),
            case(2, "What is the capital of France?", None, "irrelevant", routes=ROUTES),
        ],
    )
    result = CliRunner().invoke(eval_command, [str(CONFIG), str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["cases"] == 2 and data["accuracy"] == 1.0
    assert data["per_scenario"]["irrelevant"]["accuracy"] == 1.0
    assert data["backends"] == {"embedded": 2}
    assert data["latency_ms"]["p50"] > 0

    text = CliRunner().invoke(eval_command, [str(CONFIG), str(path)])
    assert text.exit_code == 0 and "accuracy: 100.0% (2/2)" in text.output and "p50" in text.output


def test_cli_eval_bad_input_is_an_error_message_not_a_traceback(tmp_path: Path) -> None:
    missing = CliRunner().invoke(eval_command, [str(CONFIG), str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 1 and "cannot read cases file" in missing.output
    bad = write_lines(tmp_path / "cases.jsonl", ["[1, 2]"])
    result = CliRunner().invoke(eval_command, [str(CONFIG), str(bad)])
    assert result.exit_code == 1 and "must be a JSON object" in result.output
    assert "Traceback" not in result.output
    bad_config = tmp_path / "config.yaml"
    bad_config.write_text("model_providers: nope\n")
    result = CliRunner().invoke(eval_command, [str(bad_config), str(bad)])
    assert result.exit_code == 1 and "error:" in result.output

"""Routing quality floors on the shared dev cases and CLINC150 val, so accuracy cannot silently drop.

Measured (see docs/routing.md): dev cases 91.9%, CLINC150 val 86.1% (every 4th line: 86.6%). The
floors sit a few points below. Skipped when the shared folder (LLMROUTE_SHARED or ../shared) is absent.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from llmroute.routing.embedded import EmbeddedRouter
from llmroute.routing.eval import load_cases, load_suites, run_cases

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from clinc_to_eval import convert  # noqa: E402

DEV_FLOOR = 0.88
CLINC_FLOOR = 0.84


@pytest.fixture(scope="module")
def router() -> EmbeddedRouter:
    return EmbeddedRouter()


def test_dev_cases_accuracy_floor(router: EmbeddedRouter, shared_dir: Path) -> None:
    dev = shared_dir / "dev-evals"
    report = run_cases(
        router.classify_sync, load_cases(dev / "cases.jsonl", load_suites(dev / "suites.json"))
    )
    print(report.to_text())
    assert report.accuracy >= DEV_FLOOR
    scenarios = {s: c / n for s, (c, n) in report.per_scenario().items()}
    # Every scenario keeps working, not just the average.
    assert min(scenarios.values()) >= 0.6, scenarios


def test_clinc150_val_accuracy_floor(router: EmbeddedRouter, shared_dir: Path, tmp_path: Path) -> None:
    lines = (shared_dir / "dev-evals" / "clinc150-val.jsonl").read_text("utf-8").splitlines()
    routes = json.loads((REPO / "evals" / "clinc150-routes.json").read_text("utf-8"))
    # Every 4th utterance keeps the test quick; in- and out-of-scope stay in proportion.
    rows = convert(lines, routes)[::4]
    path = tmp_path / "clinc.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = run_cases(router.classify_sync, load_cases(path))
    print(report.to_text())
    assert report.accuracy >= CLINC_FLOOR

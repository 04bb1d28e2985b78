"""Convert CLINC150 (`{"text", "domain", "intent"}` lines) into `llmroute eval` cases.

The 10 domains become routes (evals/clinc150-routes.json: descriptions and examples written for
llmroute, not taken from CLINC); out-of-scope utterances (`domain: null`) expect no route.

    .venv/bin/python scripts/clinc_to_eval.py ../shared/dev-evals/clinc150-val.jsonl > /tmp/clinc-eval.jsonl
    .venv/bin/llmroute eval evals/eval-config.yaml /tmp/clinc-eval.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROUTES = Path(__file__).resolve().parent.parent / "evals" / "clinc150-routes.json"


def convert(lines: list[str], routes: list[dict]) -> list[dict]:
    names = {r["name"] for r in routes}
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        item = json.loads(line)
        domain = item.get("domain")
        if domain is not None and domain not in names:
            raise SystemExit(f"line {number}: domain {domain!r} has no route in {ROUTES.name}")
        rows.append(
            {
                "id": f"clinc-{number}",
                "messages": [{"role": "user", "content": item["text"]}],
                "expected": domain,
                "scenario": "in_scope" if domain is not None else "out_of_scope",
                "routes": routes,
            }
        )
    return rows


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: clinc_to_eval.py CLINC.jsonl > cases.jsonl")
    routes = json.loads(ROUTES.read_text("utf-8"))
    lines = Path(sys.argv[1]).read_text("utf-8").splitlines()
    for row in convert(lines, routes):
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

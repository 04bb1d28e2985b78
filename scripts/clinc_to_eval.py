"""Convert CLINC150 (`{"text", "domain", "intent"}` lines) into `llmroute eval` cases.

The 10 domains become routes; out-of-scope utterances (`domain: null`) expect no route. Three route
files: evals/clinc150-descriptions.json (descriptions only), evals/generated/clinc150-routes.json (the
same descriptions with examples written blind by the generator prompt, evals/generated/README.md) and
evals/clinc150-routes.json (the same descriptions with examples hand-written for llmroute earlier).

    .venv/bin/python scripts/clinc_to_eval.py ../shared/dev-evals/clinc150-val.jsonl [ROUTES.json] > /tmp/clinc.jsonl
    .venv/bin/llmroute eval evals/eval-config.yaml /tmp/clinc.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROUTES = Path(__file__).resolve().parent.parent / "evals" / "clinc150-descriptions.json"


def convert(lines: list[str], routes: list[dict]) -> list[dict]:
    names = {r["name"] for r in routes}
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        item = json.loads(line)
        domain = item.get("domain")
        if domain is not None and domain not in names:
            raise SystemExit(f"line {number}: domain {domain!r} has no route")
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
    if len(sys.argv) not in (2, 3):
        raise SystemExit("usage: clinc_to_eval.py CLINC.jsonl [ROUTES.json] > cases.jsonl")
    routes = json.loads(Path(sys.argv[2] if len(sys.argv) == 3 else ROUTES).read_text("utf-8"))
    lines = Path(sys.argv[1]).read_text("utf-8").splitlines()
    for row in convert(lines, routes):
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

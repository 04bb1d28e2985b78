"""Turn evals/train/cases.txt (hand-written, compact) into evals/train/cases.jsonl for `llmroute eval`."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROLES = {"u": "user", "a": "assistant", "s": "system"}


def main() -> None:
    source = ROOT / "evals" / "train" / "cases.txt"
    out = []
    for number, line in enumerate(source.read_text("utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        suite, scenario, expected, turns = (part.strip() for part in line.split(" | ", 3))
        messages = []
        for turn in turns.split(" || "):
            role, _, text = turn.partition(":")
            messages.append({"role": ROLES[role.strip()], "content": text.strip().replace("\\n", "\n")})
        out.append(
            {
                "id": f"t{len(out) + 1:03d}",
                "suite": suite,
                "scenario": scenario,
                "expected": None if expected == "-" else expected,
                "messages": messages,
                "line": number,
            }
        )
    target = ROOT / "evals" / "train" / "cases.jsonl"
    target.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in out), "utf-8")
    print(f"wrote {len(out)} cases to {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Route examples written blind, for measuring the generated-examples mode without network.

The gateway asks one of its models to write example requests for routes that have none
(`routing.router.examples`). Here no model can be called, so a person or a separate model session plays
the generator: it gets exactly the prompts the product would send, one file per route, and nothing else
(never a test case), and writes each answer to a file. This script renders those prompts and then reads
the answers back with the product's own parser (evals/generated/README.md says how each file was made).

    python scripts/blind_examples.py render ROUTES.json PROMPTS_DIR [--count 12]
    python scripts/blind_examples.py collect ROUTES.json ANSWERS_DIR [--count 12] > OUT.json

ROUTES.json is either a suites file (`{"suite": [{"name", "description"}, ...]}`) or one route list
(`[{"name", "description"}, ...]`, written to and read from the folder "routes"). Prompts go to
PROMPTS_DIR/<suite>/<route>.txt; answers are read from ANSWERS_DIR/<suite>/<route>.txt. `collect` writes the
same shape as ROUTES.json, each route with its "examples".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from llmroute.routing.examples.prompt import parse_answer, render
from llmroute.routing.types import Route

SINGLE = "routes"  # the folder name for a file that holds one route list


def route_sets(path: Path) -> tuple[dict[str, list[dict[str, Any]]], bool]:
    """The route sets in `path`, and whether it held a single route list."""
    data = json.loads(path.read_text("utf-8"))
    if isinstance(data, list):
        return {SINGLE: data}, True
    return data, False


def as_routes(items: list[dict[str, Any]]) -> list[Route]:
    # Only names and descriptions: the generator must not see examples someone wrote before.
    return [Route(name=item["name"], description=item["description"]) for item in items]


def render_prompts(sets: dict[str, list[dict[str, Any]]], out: Path, count: int) -> int:
    written = 0
    for suite, items in sets.items():
        routes = as_routes(items)
        folder = out / suite
        folder.mkdir(parents=True, exist_ok=True)
        for route in routes:
            (folder / f"{route.name}.txt").write_text(render(routes, route, count), "utf-8")
            written += 1
    return written


def collect(
    sets: dict[str, list[dict[str, Any]]], answers: Path, count: int
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for suite, items in sets.items():
        out[suite] = []
        for item in items:
            answer = answers / suite / f"{item['name']}.txt"
            examples = parse_answer(answer.read_text("utf-8"), count)
            if not examples:
                raise SystemExit(f"{answer}: the product's parser found no examples in this answer")
            out[suite].append(
                {"name": item["name"], "description": item["description"], "examples": examples}
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["render", "collect"])
    parser.add_argument("routes", type=Path)
    parser.add_argument("folder", type=Path, help="where prompts go (render) or answers are (collect)")
    parser.add_argument("--count", type=int, default=12, help="examples per route ({count} in the prompt)")
    args = parser.parse_args()
    sets, single = route_sets(args.routes)
    if args.command == "render":
        print(f"{render_prompts(sets, args.folder, args.count)} prompts in {args.folder}", file=sys.stderr)
        return
    result = collect(sets, args.folder, args.count)
    json.dump(result[SINGLE] if single else result, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

"""The generator prompt (data/examples_prompt.txt) and a forgiving reader for the answer."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources

from llmroute.routing.types import Route

# An example longer than this is a pasted document, not a request; cut it like the router cuts turns.
MAX_EXAMPLE_CHARS = 600
# Fewer usable examples than this and the answer is treated as garbage (retried later).
MIN_EXAMPLES = 3


@cache
def template() -> str:
    return (resources.files("llmroute.routing") / "data" / "examples_prompt.txt").read_text("utf-8")


def render(routes: Sequence[Route], route: Route, count: int) -> str:
    """The one user message sent to the generator for `route`, showing the whole route set."""
    listing = "\n".join(f"- {r.name}: {r.description.strip()}" for r in routes)
    # Plain substitution, one placeholder at a time, so braces in descriptions stay as written.
    text = template()
    for name, value in (
        ("{routes}", listing),
        ("{count}", str(count)),
        ("{name}", route.name),
        ("{description}", route.description.strip()),
    ):
        text = text.replace(name, value)
    return text


def route_set_key(routes: Sequence[Route]) -> str:
    """Identifies a route set by its names and descriptions (examples, models and order aside)."""
    pairs = sorted((r.name, r.description.strip()) for r in routes)
    return hashlib.sha256(json.dumps(pairs, ensure_ascii=False).encode()).hexdigest()[:32]


_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def parse_answer(text: str, count: int) -> list[str]:
    """The examples in a generator's answer: `{"examples": [...]}` as asked, or a bare JSON list, or
    (a model that ignored the format) one per bulleted or numbered line. Empty when nothing usable."""
    text = _FENCE.sub("", text.strip()).strip()
    items = _json_items(text)
    if items is None:
        items = [_LIST_MARK.sub("", line) for line in text.splitlines() if _LIST_MARK.match(line)]
    examples: list[str] = []
    for item in items:
        if not isinstance(item, str):
            continue
        item = item.strip().strip('"').strip()
        if len(item) > MAX_EXAMPLE_CHARS:
            item = item[:MAX_EXAMPLE_CHARS].rsplit(" ", 1)[0]
        if item and item not in examples:
            examples.append(item)
    return examples[:count]


def _json_items(text: str) -> list[object] | None:
    for start, end in (("{", "}"), ("[", "]")):
        i, j = text.find(start), text.rfind(end)
        if i < 0 or j <= i:
            continue
        try:
            value = json.loads(text[i : j + 1])
        except ValueError:
            continue
        if isinstance(value, dict):
            value = value.get("examples")
        if isinstance(value, list):
            return value
    return None

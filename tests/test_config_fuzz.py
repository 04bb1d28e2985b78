"""Damaged configs never escape as anything but ConfigError lines (no traceback, no pydantic dump)."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmroute.config import ConfigError, load_config_text

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ENV = {"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k", "PRICING_TOKEN": "t"}
VALUES: list[Any] = [
    None,
    0,
    -1,
    1.5,
    True,
    "",
    "x",
    "$",
    "${",
    "$$",
    "a/b",
    "openai/*",
    [],
    {},
    [1],
    {"a": 1},
    {1: 2},
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _damage(doc: Any, rng: random.Random) -> Any:
    path = rng.choice(list(_paths(doc)))
    value = copy.deepcopy(rng.choice(VALUES))
    if not path:
        return value
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if isinstance(parent, dict) and rng.random() < 0.3:
        parent[rng.choice(["zz", 5, "name", "type", "models"])] = value  # an extra (maybe non-string) key
    else:
        parent[path[-1]] = value
    return doc


@pytest.mark.parametrize("seed", range(4))
def test_damaged_examples_fail_cleanly(seed: int) -> None:
    rng = random.Random(seed)
    docs = [yaml.safe_load(path.read_text()) for path in sorted(EXAMPLES.glob("*.yaml"))]
    rejected = 0
    for _ in range(150):
        doc = copy.deepcopy(rng.choice(docs))
        for _ in range(rng.randint(1, 3)):
            doc = _damage(doc, rng)
        text = yaml.safe_dump(doc)
        if rng.random() < 0.1:
            text = text[: rng.randint(0, len(text))]  # truncated mid-document
        try:
            load_config_text(text, env=ENV)
        except ConfigError as exc:
            rejected += 1
            for line in exc.errors:
                assert line and "\n" not in line, line
                assert "[key]" not in line and "pydantic" not in line and "Traceback" not in line, line
    assert rejected > 60  # the damage does make most configs invalid

"""`routing.router.examples` at load time: the generator must be a model we can call, and the
reviewed examples file (`include`, written by `llmroute routes expand`) is read into the routes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml

from llmroute.config.errors import at
from llmroute.config.models import Config
from llmroute.routing.types import Route

PATH: list[str | int] = ["routing", "router", "examples"]


def check_generator(config: Config, resolve: dict[str, str], errors: list[str]) -> str | None:
    """The generator's full model name, or None (no generator, or an error was recorded)."""
    cfg = config.routing.router.examples
    if cfg is None or cfg.generator is None:
        return None
    full = resolve.get(cfg.generator)
    if full is None:
        errors.append(at([*PATH, "generator"], f"model '{cfg.generator}' is not declared in model_providers"))
        return None
    if full.partition("/")[0] == "echo":
        errors.append(at([*PATH, "generator"], "the echo provider cannot write examples; name a real model"))
        return None
    return full


def include_examples(
    config: Config, routes: tuple[Route, ...], source: str | None, errors: list[str], warnings: list[str]
) -> tuple[Route, ...]:
    """Routes without hand-written examples take those of the include file (hand-written still win)."""
    cfg = config.routing.router.examples
    if cfg is None or cfg.include is None:
        return routes
    path = Path(cfg.include)
    if not path.is_absolute() and source is not None:
        path = Path(source).parent / path
    where = [*PATH, "include"]
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        errors.append(at(where, f"cannot read {path}: {exc.strerror or exc}"))
        return routes
    except yaml.YAMLError as exc:
        errors.append(at(where, f"{path} is not valid YAML: {exc}"))
        return routes
    table = doc.get("examples") if isinstance(doc, dict) else None
    if not isinstance(table, dict) or not all(
        isinstance(v, list) and all(isinstance(e, str) for e in v) for v in table.values()
    ):
        errors.append(at(where, f"{path} must hold `examples: {{route name: [example, ...]}}`"))
        return routes
    names = {r.name for r in routes}
    for name in table:
        if name not in names:
            warnings.append(f"{path}: examples for route '{name}', which the config does not declare")
    return tuple(
        r if r.examples or not table.get(r.name) else replace(r, examples=tuple(table[r.name]))
        for r in routes
    )

"""`$VAR` / `${VAR}` substitution from the environment in config string values.

Substituted: every string value (keys never), so `access_key: $OPENAI_API_KEY`, `base_url: ${OLLAMA_URL}/v1`
or a header value all work. `$$` is a literal `$`. A `$` not followed by a name (`$5`, `$ `) stays as written.

Not substituted: the text of routing preferences (`name`, `description`, `examples`, top-level and legacy
per-provider). That is prose the router reads, and "costs under $LIMIT" in a description must not become a
startup error or silently change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from llmroute.config.errors import at

_VAR = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)|(\{[^}]*\}?))")
_PROSE_KEYS = frozenset({"name", "description", "examples"})


def substitute_env(doc: Any, env: Mapping[str, str], errors: list[str]) -> Any:
    """A copy of doc with variables replaced; each missing variable appends an error naming it and its path."""
    return _walk(doc, env, errors, [], in_preference=False)


def _walk(
    node: Any, env: Mapping[str, str], errors: list[str], path: list[str | int], in_preference: bool
) -> Any:
    if isinstance(node, dict):
        out: dict[Any, Any] = {}
        for key, value in node.items():
            child_in_pref = in_preference or key == "routing_preferences"
            if in_preference and key in _PROSE_KEYS:
                out[key] = value
            else:
                out[key] = _walk(value, env, errors, [*path, str(key)], child_in_pref)
        return out
    if isinstance(node, list):
        return [_walk(item, env, errors, [*path, i], in_preference) for i, item in enumerate(node)]
    if isinstance(node, str) and "$" in node:
        return _substitute(node, env, errors, path)
    return node


def _substitute(text: str, env: Mapping[str, str], errors: list[str], path: list[str | int]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group(3) is not None:
            errors.append(
                at(path, f"invalid variable reference '${match.group(3)}' (use $NAME or ${{NAME}})")
            )
            return match.group(0)
        name = match.group(1) or match.group(2)
        value = env.get(name)
        if value is None:
            errors.append(at(path, f"environment variable {name} is not set"))
            return match.group(0)
        return value

    return _VAR.sub(replace, text)

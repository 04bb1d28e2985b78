"""Rewrite the older config shapes (seeds 001 and 004) into the current one, before pydantic sees them.

- `listeners: {egress_traffic: {...}}` -> `listeners: [{name: egress_traffic, type: model, ...}]`
- `llm_providers` -> `model_providers` (deprecated alias; both at once is an error)

The legacy per-provider `routing_preferences` need the validated providers, so `migrate_inline_preferences`
runs after pydantic, on the model objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmroute.config.errors import at, did_you_mean
from llmroute.config.models import Config, ModelProvider, RoutingPreference, SelectionPolicy

LEGACY_LISTENER_KEYS = ("egress_traffic",)


def drop_extension_keys(doc: dict[str, Any]) -> dict[str, Any]:
    """Top-level `x-` keys hold YAML anchors for reuse (`x-openai: &openai {access_key: ...}`); not settings."""
    return {key: value for key, value in doc.items() if not key.startswith("x-")}


def normalise_document(doc: dict[str, Any], errors: list[str], warnings: list[str]) -> dict[str, Any]:
    doc = dict(doc)
    if "llm_providers" in doc:
        if "model_providers" in doc:
            errors.append(
                at(["llm_providers"], "use model_providers or its deprecated alias llm_providers, not both")
            )
        else:
            doc["model_providers"] = doc.pop("llm_providers")
            warnings.append("llm_providers is deprecated; rename it to model_providers")
    listeners = doc.get("listeners")
    if isinstance(listeners, dict):
        doc["listeners"] = _listeners_from_object(listeners, errors)
        warnings.append(
            "listeners: the {egress_traffic: {...}} form is deprecated; write a list: "
            "listeners: [{name: model_listener, type: model, address: 0.0.0.0, port: 12000}]"
        )
    # An empty top-level section (`model_aliases:` with nothing under it) means "none", not an error.
    for key in ("listeners", "model_aliases", "routing_preferences", "model_metrics_sources", "routing"):
        if key in doc and doc[key] is None:
            del doc[key]
    if isinstance(doc.get("version"), int | float) and not isinstance(doc.get("version"), bool):
        doc["version"] = str(doc["version"])
    return doc


def written_paths(doc: dict[str, Any]) -> Callable[[list[str]], list[str]]:
    """A function that maps error paths of the normalised document back to the keys the file uses."""
    renames: list[tuple[str, str]] = []
    if "llm_providers" in doc and "model_providers" not in doc:
        renames.append(("model_providers", "llm_providers"))
    listeners = doc.get("listeners")
    if isinstance(listeners, dict):
        names = [key for key in listeners if key in LEGACY_LISTENER_KEYS]
        renames += [(f"listeners[{i}]", f"listeners.{name}") for i, name in enumerate(names)]

    def rename(lines: list[str]) -> list[str]:
        out = []
        for line in lines:
            for new, old in renames:
                if line.startswith(new) and line[len(new) : len(new) + 1] in (".", "[", ":"):
                    line = old + line[len(new) :]
                    break
            out.append(line)
        return out

    return rename


def _listeners_from_object(listeners: dict[str, Any], errors: list[str]) -> list[Any]:
    converted: list[Any] = []
    for key, body in listeners.items():
        if key not in LEGACY_LISTENER_KEYS:
            errors.append(
                at(
                    ["listeners", str(key)],
                    "unknown listener; only egress_traffic (the model listener) is supported"
                    + did_you_mean(str(key), LEGACY_LISTENER_KEYS),
                )
            )
            continue
        if body is None:
            body = {}
        if not isinstance(body, dict):
            errors.append(at(["listeners", str(key)], "expected a mapping (address, port, timeout)"))
            continue
        converted.append({"name": key, "type": "model", **body})
    return converted


def migrate_inline_preferences(config: Config, errors: list[str], warnings: list[str]) -> Config:
    """Fold per-provider `routing_preferences` into the top-level list (SPEC §2).

    The same route name on several providers becomes one route whose models keep declaration order.
    A top-level route of the same name wins over the legacy one.
    """
    migrated: dict[str, RoutingPreference] = {}
    carriers: list[str] = []
    for index, provider in enumerate(config.model_providers):
        if not provider.routing_preferences:
            continue
        if provider.is_wildcard:
            errors.append(
                at(
                    ["model_providers", index, "routing_preferences"],
                    f"a wildcard model ({provider.model}) cannot carry routing preferences; "
                    "list concrete models in a top-level routing_preferences entry instead",
                )
            )
            continue
        carriers.append(provider.model)
        for pref in provider.routing_preferences:
            existing = migrated.get(pref.name)
            if existing is None:
                migrated[pref.name] = RoutingPreference(
                    name=pref.name,
                    description=pref.description,
                    models=[provider.model],
                    selection_policy=SelectionPolicy(),
                    examples=list(pref.examples),
                )
                continue
            if pref.description != existing.description:
                warnings.append(
                    f"model_providers[{index}].routing_preferences: route '{pref.name}' is declared with "
                    f"different descriptions; using the first one ({existing.description!r})"
                )
            models = (
                existing.models if provider.model in existing.models else [*existing.models, provider.model]
            )
            examples = [*existing.examples, *(e for e in pref.examples if e not in existing.examples)]
            migrated[pref.name] = existing.model_copy(update={"models": models, "examples": examples})
    if not migrated and not carriers:
        return config
    top_names = {pref.name for pref in config.routing_preferences}
    for name in migrated:
        if name in top_names:
            warnings.append(
                f"routing preference '{name}' is declared both at the top level and under a provider; "
                "the top-level entry wins"
            )
    warnings.append(
        "routing_preferences under model_providers ("
        + ", ".join(carriers)
        + ") are deprecated; move them to the top-level routing_preferences list with `models: [...]`"
    )
    merged = [*config.routing_preferences, *(p for n, p in migrated.items() if n not in top_names)]
    return config.model_copy(update={"routing_preferences": merged})


def strip_inline_preferences(providers: list[ModelProvider]) -> list[ModelProvider]:
    """Providers without their legacy preferences (they live in the top-level list after migration)."""
    return [
        p.model_copy(update={"routing_preferences": None}) if p.routing_preferences else p for p in providers
    ]

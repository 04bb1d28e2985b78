"""Cross-field rules that need the whole document (SPEC §2, seed 003), and the model lookup tables.

Each check appends "key.path: what is wrong" lines to `errors` so one run reports every problem.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from llmroute.config.errors import at
from llmroute.config.models import Config, ModelProvider, RoutingPreference
from llmroute.config.resolved import Deployment
from llmroute.providers.registry import NEEDS_BASE_URL, PROVIDERS
from llmroute.routing.types import Route

MIN_TOP_LEVEL_PREFERENCES_VERSION = (0, 4, 0)
_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+][0-9A-Za-z.-]+)?$")

# Seed 003's startup errors, word for word.
CHEAPEST_NEEDS_COST = (
    "prefer: cheapest requires a cost data source — add cost_metrics or digitalocean_pricing"
)
FASTEST_NEEDS_PROMETHEUS = "prefer: fastest requires a prometheus_metrics source"
ONLY_ONE_SOURCE = "only one {type} source is allowed"
COST_SOURCES_EXCLUSIVE = (
    "cost_metrics and digitalocean_pricing cannot both be configured — use one or the other"
)
VERSION_GATE = "top-level routing_preferences requires version v0.4.0 or above"


def parse_version(text: str) -> tuple[int, int, int] | None:
    """A version as a comparable tuple, or None: v0.4.0 and 0.4 -> (0, 4, 0); v0.5.0-rc1 -> (0, 5, 0)."""
    match = _VERSION.match(text.strip())
    if not match:
        return None
    major, minor, patch = (int(g) if g else 0 for g in match.groups())
    return major, minor, patch


@dataclass
class ModelTables:
    models: dict[str, ModelProvider] = field(default_factory=dict)
    wildcards: dict[str, ModelProvider] = field(default_factory=dict)
    model_refs: dict[str, str] = field(default_factory=dict)
    # bare model ids declared by more than one provider -> their full names (not usable as a reference)
    ambiguous: dict[str, list[str]] = field(default_factory=dict)
    # full name -> its deployments (one per entry; several when entries share a `name`)
    deployments: dict[str, list[Deployment]] = field(default_factory=dict)

    def resolve(self, ref: str) -> str | None:
        full = self.model_refs.get(ref)
        if full is not None:
            return full
        provider, sep, model_id = ref.partition("/")
        if sep and model_id and model_id != "*" and provider in self.wildcards:
            return ref
        return None

    def declared(self) -> str:
        names = [*self.models, *(entry.model for entry in self.wildcards.values())]
        return ", ".join(names) if names else "none"


def check_version(config: Config, has_top_level_preferences: bool, errors: list[str]) -> None:
    if config.version is None:
        # No version: the current format, so top-level preferences are allowed (seed 001 omits it).
        return
    version = parse_version(config.version)
    if version is None:
        errors.append(at(["version"], f"invalid version {config.version!r}; write it like v0.4.0"))
        return
    if has_top_level_preferences and version < MIN_TOP_LEVEL_PREFERENCES_VERSION:
        errors.append(at(["routing_preferences"], VERSION_GATE))


def check_listeners(config: Config, errors: list[str]) -> None:
    if not config.listeners:
        errors.append(at(["listeners"], "declare a model listener, or leave the key out for 0.0.0.0:12000"))
    names = Counter(listener.name for listener in config.listeners)
    for index, listener in enumerate(config.listeners):
        if names[listener.name] > 1:
            errors.append(at(["listeners", index, "name"], f"duplicate listener name '{listener.name}'"))
            names[listener.name] = 0  # report each duplicate once


def build_model_tables(config: Config, errors: list[str]) -> ModelTables:
    """Check each provider entry and index every way of naming a declared model.

    Entries that share an explicit `name` are deployments of one model (keys, regions, base URLs):
    the model is known by the first entry's full name, and every entry is one of its deployments.
    """
    tables = ModelTables()
    by_name: dict[str, int] = {}
    defaults: list[int] = []
    bare: dict[str, list[str]] = {}
    # a deployment's full name -> the model it serves (differs when a deployment is another provider's)
    member_of: dict[str, str] = {}
    for index, entry in enumerate(config.model_providers):
        path: list[str | int] = ["model_providers", index]
        _check_provider(entry, path, errors)
        if entry.default:
            defaults.append(index)
            if entry.is_wildcard:
                errors.append(
                    at([*path, "default"], f"a wildcard model ({entry.model}) cannot be the default")
                )
        first = by_name.get(entry.name) if entry.name is not None else None
        if first is not None:
            _add_deployment(config, tables, member_of, first, index, errors)
            bare.setdefault(entry.model_id, [])
            canonical = config.model_providers[first].model
            if canonical not in bare[entry.model_id]:
                bare[entry.model_id].append(canonical)
            continue
        if entry.is_wildcard:
            if entry.provider in tables.wildcards:
                errors.append(at([*path, "model"], f"duplicate wildcard model '{entry.model}'"))
            tables.wildcards.setdefault(entry.provider, entry)
        elif entry.model in tables.models or entry.model in member_of:
            errors.append(
                at(
                    [*path, "model"],
                    f"duplicate model '{entry.model}' (declared twice; to spread load over several "
                    "deployments of one model, give the entries the same `name`)",
                )
            )
        else:
            tables.models[entry.model] = entry
            tables.deployments[entry.model] = [Deployment(entry.deployment_id or entry.model, entry)]
            member_of[entry.model] = entry.model
            bare.setdefault(entry.model_id, []).append(entry.model)
        if entry.name is not None:
            if entry.name != entry.model and _is_declared_full(config, entry.name):
                errors.append(
                    at([*path, "name"], f"name '{entry.name}' is already another model's full name")
                )
            by_name[entry.name] = index
    _check_deployment_ids(tables, errors)
    if len(defaults) > 1:
        first = defaults[0]
        for index in defaults[1:]:
            errors.append(
                at(
                    ["model_providers", index, "default"],
                    f"only one model can be the default (model_providers[{first}] "
                    f"{config.model_providers[first].model} already is)",
                )
            )
    # Full names first, then names, then bare ids only where they are unambiguous.
    for full in tables.models:
        tables.model_refs[full] = full
    for full, model in member_of.items():
        tables.model_refs.setdefault(full, model)
    for entry in config.model_providers:
        if entry.name and not entry.is_wildcard and entry.model in member_of:
            tables.model_refs.setdefault(entry.name, member_of[entry.model])
    for model_id, fulls in bare.items():
        if len(fulls) == 1:
            tables.model_refs.setdefault(model_id, fulls[0])
        else:
            tables.ambiguous[model_id] = fulls
    return tables


def _add_deployment(
    config: Config,
    tables: ModelTables,
    member_of: dict[str, str],
    first: int,
    index: int,
    errors: list[str],
) -> None:
    """model_providers[index] shares model_providers[first]'s name: one more deployment of that model."""
    entry, lead = config.model_providers[index], config.model_providers[first]
    path: list[str | int] = ["model_providers", index]
    if entry.is_wildcard or lead.is_wildcard:
        errors.append(
            at(
                [*path, "name"],
                f"name '{entry.name}' is shared with model_providers[{first}], but a wildcard model "
                "cannot be a deployment; deployments need concrete models",
            )
        )
        return
    model = lead.model
    owner = member_of.get(entry.model)
    if owner is not None and owner != model:
        errors.append(at([*path, "model"], f"duplicate model '{entry.model}' (declared twice)"))
        return
    member_of[entry.model] = model
    group = tables.deployments.setdefault(model, [])
    if len(group) == 1 and group[0].entry.deployment_id is None:
        # The first entry was a plain model until now: number it like the others.
        group[0] = Deployment(f"{lead.model}#1", lead)
    group.append(Deployment(entry.deployment_id or f"{entry.model}#{len(group) + 1}", entry))


def _check_deployment_ids(tables: ModelTables, errors: list[str]) -> None:
    seen: set[str] = set()
    for model, group in tables.deployments.items():
        for deployment in group:
            if deployment.id in seen:
                errors.append(
                    at(["model_providers"], f"deployment_id '{deployment.id}' of {model} is used twice")
                )
            seen.add(deployment.id)


def _is_declared_full(config: Config, name: str) -> bool:
    return any(entry.model == name for entry in config.model_providers)


def _check_provider(entry: ModelProvider, path: list[str | int], errors: list[str]) -> None:
    provider = entry.provider
    if provider in PROVIDERS:
        if provider in NEEDS_BASE_URL and not entry.base_url:
            errors.append(
                at([*path, "base_url"], f"provider '{provider}' needs base_url (where the server runs)")
            )
        return
    missing = [key for key in ("base_url", "provider_interface") if not getattr(entry, key)]
    if missing:
        known = ", ".join(sorted(PROVIDERS))
        errors.append(
            at(
                [*path, "model"],
                f"unknown provider '{provider}': set base_url and provider_interface (openai or anthropic) "
                f"for a compatible server, or use a known provider ({known})",
            )
        )


def default_model(config: Config, tables: ModelTables) -> str | None:
    for entry in config.model_providers:
        if entry.default and not entry.is_wildcard:
            return tables.model_refs.get(entry.model, entry.model)  # a deployment's model
    return None


def resolve_aliases(
    config: Config, tables: ModelTables, errors: list[str], warnings: list[str]
) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for alias, body in config.model_aliases.items():
        path: list[str | int] = ["model_aliases", alias, "target"]
        full = _resolve_ref(body.target, tables, path, errors)
        if full is None:
            continue
        if alias in tables.model_refs and tables.model_refs[alias] != full:
            warnings.append(
                f"model_aliases.{alias}: the alias shadows the declared model {tables.model_refs[alias]}; "
                f"requests for '{alias}' go to {full}"
            )
        aliases[alias] = full
    return aliases


def _resolve_ref(ref: str, tables: ModelTables, path: list[str | int], errors: list[str]) -> str | None:
    full = tables.resolve(ref)
    if full is not None:
        return full
    if ref in tables.ambiguous:
        errors.append(
            at(
                path,
                f"'{ref}' is ambiguous ({', '.join(tables.ambiguous[ref])}); use the full provider/model name",
            )
        )
    else:
        errors.append(
            at(path, f"model '{ref}' is not declared in model_providers (declared: {tables.declared()})")
        )
    return None


def build_routes(prefs: list[RoutingPreference], tables: ModelTables, errors: list[str]) -> tuple[Route, ...]:
    """Routes in declaration order with every model as its full provider/model name."""
    routes: list[Route] = []
    seen: dict[str, int] = {}
    for index, pref in enumerate(prefs):
        path: list[str | int] = ["routing_preferences", index]
        if pref.name in seen:
            errors.append(
                at(
                    [*path, "name"],
                    f"duplicate route name '{pref.name}' (also routing_preferences[{seen[pref.name]}])",
                )
            )
            continue
        seen[pref.name] = index
        models: list[str] = []
        for model_index, ref in enumerate(pref.models):
            full = _resolve_ref(ref, tables, [*path, "models", model_index], errors)
            if full is None:
                continue
            if full in models:
                errors.append(at([*path, "models", model_index], f"model '{ref}' is listed twice"))
                continue
            models.append(full)
        routes.append(
            Route(
                name=pref.name,
                description=pref.description.strip(),
                models=tuple(models),
                prefer=pref.selection_policy.prefer,
                examples=tuple(pref.examples),
            )
        )
    return tuple(routes)


def check_metric_sources(config: Config, errors: list[str]) -> None:
    """Seed 003's six rules; the messages are the seed's exact text after the key path."""
    counts = Counter(source.type for source in config.model_metrics_sources)
    for kind in ("cost_metrics", "prometheus_metrics", "digitalocean_pricing"):
        if counts[kind] > 1:
            errors.append(at(["model_metrics_sources"], ONLY_ONE_SOURCE.format(type=kind)))
    if counts["cost_metrics"] and counts["digitalocean_pricing"]:
        errors.append(at(["model_metrics_sources"], COST_SOURCES_EXCLUSIVE))
    has_cost = bool(counts["cost_metrics"] or counts["digitalocean_pricing"])
    has_latency = bool(counts["prometheus_metrics"])
    for index, pref in enumerate(config.routing_preferences):
        path: list[str | int] = ["routing_preferences", index, "selection_policy", "prefer"]
        if pref.selection_policy.prefer == "cheapest" and not has_cost:
            errors.append(at(path, CHEAPEST_NEEDS_COST))
        elif pref.selection_policy.prefer == "fastest" and not has_latency:
            errors.append(at(path, FASTEST_NEEDS_PROMETHEUS))


def warn_old_thresholds(config: Config, warnings: list[str]) -> None:
    """A threshold below 1 was written for the earlier calibrated router (a 0..1 confidence); it now reads
    as a z-score, so it would route almost every request. Say so at start-up instead of silently."""
    router = config.routing.router
    for key in ("threshold", "threshold_descriptions"):
        value = getattr(router, key)
        if router.type != "arch_router" and value is not None and value < 1.0:
            warnings.append(
                f"routing.router.{key}: {value:g} is a z-score now (defaults 2.25 with examples, 1.25 with "
                "descriptions only); a value below 1 routes nearly every request (docs/routing.md)"
            )

"""The validated configuration in the shape the request path needs: lookups, not documents.

Built once at load (and at each reload); the request path only reads it, so it never does
per-request config work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llmroute.config.models import Config, ModelProvider
from llmroute.routing.types import Route


@dataclass(frozen=True, slots=True)
class Deployment:
    """One provider entry serving a model. `id` labels it in metrics, logs and cooldowns: the
    entry's `deployment_id`, else its model name (numbered `#1`, `#2` when a model has several);
    never a key."""

    id: str
    entry: ModelProvider


@dataclass(frozen=True)
class LoadedConfig:
    raw: Config
    # full "provider/model_id" -> its provider entry (wildcard entries excluded)
    models: dict[str, ModelProvider]
    # provider name -> the `provider/*` entry that serves any model of that provider
    wildcards: dict[str, ModelProvider]
    # every accepted way to name a declared model (full name, `name`, bare model id) -> full name
    model_refs: dict[str, str]
    routes: tuple[Route, ...]
    aliases: dict[str, str]  # alias -> full model name
    default_model: str | None
    # non-fatal findings (deprecations, migrations) to log at startup
    warnings: tuple[str, ...] = field(default_factory=tuple)
    source_path: str | None = None
    # full name -> its deployments in declaration order (several when entries share a `name`)
    deployments: dict[str, tuple[Deployment, ...]] = field(default_factory=dict)

    def resolve_model(self, ref: str | None) -> str | None:
        """The full model name a client's `model` refers to, or None if it names nothing we serve."""
        if not ref:
            return None
        full = self.model_refs.get(ref)
        if full is not None:
            return full
        provider, sep, model_id = ref.partition("/")
        if sep and model_id and provider in self.wildcards:
            return ref
        return None

    def model_label(self, model: str) -> str:
        """The metric label for a served model: its declared name, or `provider/*` for a model id a
        wildcard serves (the client picks those, and every new label value would be a new series)."""
        if model in self.models:
            return model
        provider = model.partition("/")[0]
        return f"{provider}/*" if provider in self.wildcards else "other"

    def route_label(self, route: str | None, inline: bool) -> str:
        """The metric label for a decision's route: config route names as they are, any route a
        request brought along (inline `routing_preferences`) as `inline`."""
        if route is None:
            return "none"
        return "inline" if inline or self.route(route) is None else route

    def provider_for(self, model: str) -> ModelProvider | None:
        """The provider entry that serves a full model name (exact entry first, then a wildcard)."""
        entry = self.models.get(model)
        if entry is not None:
            return entry
        return self.wildcards.get(model.partition("/")[0])

    def deployments_of(self, model: str) -> tuple[Deployment, ...]:
        """Where a full model name can be served: its deployments, or the wildcard entry of its provider."""
        found = self.deployments.get(model)
        if found:
            return found
        entry = self.provider_for(model)
        return (Deployment(model, entry),) if entry is not None else ()

    def route(self, name: str) -> Route | None:
        for route in self.routes:
            if route.name == name:
                return route
        return None

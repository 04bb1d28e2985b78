"""The configuration reference (docs/configuration.md), generated from the pydantic schema.

Every key, its type and its default come from the models in config/models.py and
governance/schema.py; the text comes from the comment written above (or beside) each field and
from each model's docstring, so the page is as current as the code. A test regenerates the page
and compares it with the committed file; `python -m llmroute.config.reference > docs/configuration.md`
(or `make docs`) rewrites it.
"""

from __future__ import annotations

import inspect
import re
import textwrap
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Union

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from llmroute.config.models import Config

_FIELD = re.compile(r"^    ([A-Za-z_][A-Za-z0-9_]*)\s*:")
_INLINE_COMMENT = re.compile(r"\s{2,}#\s(.*)$")

# Fields whose source has no comment: their one line here (a test fails if a new field has neither).
NOTES: dict[str, str] = {
    "version": "e.g. `v0.4.0`; compared as a version (`v0.10.0 > v0.4.0`). Top-level `routing_preferences` "
    "need v0.4.0 or above; no version reads as the current format.",
    "listeners": "The model listener; `llmroute up --host/--port` override it. The legacy form "
    "`{egress_traffic: {...}}` is accepted and logged as deprecated.",
    "listeners[].name": "A label.",
    "listeners[].type": "Only `model` listeners exist.",
    "listeners[].address": "Interface to bind.",
    "listeners[].port": "TCP port.",
    "listeners[].timeout": "Upper bound on one upstream call (seconds or `30s`, `5m`).",
    "model_providers": "Every model the gateway may use. `llm_providers` is the deprecated name. "
    "Entries sharing a `name` are deployments of one model (docs/deploy.md).",
    "model_providers[].model": "`<provider>/<model_id>`; `<provider>/*` accepts any model of that provider.",
    "model_providers[].access_key": "The provider key, usually `$OPENAI_API_KEY`.",
    "model_providers[].base_url": "Where the provider lives; required for ollama, azure_openai, vllm "
    "and unknown providers.",
    "model_providers[].default": "The fallback model when no route matches and the request names none. "
    "At most one.",
    "model_providers[].name": "Another name clients may use; entries sharing it are deployments of one model.",
    "model_providers[].headers": "Extra headers sent upstream.",
    "model_providers[].passthrough_auth": "Forward the client's own key instead of `access_key`.",
    "model_providers[].provider_interface": "The API an unknown provider speaks.",
    "model_providers[].routing_preferences": "Legacy: routes owned by this model (seeds 001, 004); "
    "migrated to the top-level list.",
    "model_providers[].routing_preferences[].name": "Route name.",
    "model_providers[].routing_preferences[].description": "What requests of this route are about.",
    "model_providers[].routing_preferences[].examples": "Sample requests of this route.",
    "model_aliases": "Stable names for clients: `{alias: {target: <model>}}`.",
    "model_aliases.<name>.target": "A declared model: full name, `name` or bare model id.",
    "routing_preferences": "Routes, in declaration order.",
    "routing_preferences[].name": "Unique route name.",
    "routing_preferences[].description": "What requests of this route are about (noun-centric, one job).",
    "routing_preferences[].models": "Declared models, in the order to try them.",
    "routing_preferences[].selection_policy": "How the models are ranked.",
    "routing_preferences[].selection_policy.prefer": "`cheapest` needs a cost source, `fastest` a "
    "prometheus_metrics source; `none` keeps declared order.",
    "model_metrics_sources": "Live cost and latency for `prefer` (docs/ranking.md).",
    "model_metrics_sources[type=cost_metrics].url": "GET returns `{model: {input_per_million, output_per_million}}`.",
    "model_metrics_sources[type=cost_metrics].auth": "Optional bearer token.",
    "model_metrics_sources[type=cost_metrics].auth.token": "The token.",
    "model_metrics_sources[type=prometheus_metrics].url": "Prometheus base URL.",
    "model_metrics_sources[type=prometheus_metrics].query": "PromQL; samples carry a `model_name` label.",
    "model_metrics_sources[type=digitalocean_pricing].url": "The catalog URL.",
    "model_metrics_sources[type=digitalocean_pricing].model_aliases": "`{do_model_id: model}`.",
    "routing": "Sessions, router, load balancing.",
    "routing.session_ttl_seconds": "A session pin expires after this long idle.",
    "routing.session_max_entries": "Most pinned sessions kept (least recently used evicted).",
    "routing.session_store": "Where pins live; redis shares them between replicas.",
    "routing.session_store.url": "`redis://host:6379/0`.",
    "routing.session_store.key_prefix": "Prefix of the Redis keys.",
    "tracing.service_name": "`service.name` of the spans (default `llmroute`).",
    "rate_limits.rules[].keys": "Caller key names (from `auth.keys`) the rule counts; unset: any caller.",
    "limits.body_timeout": "Seconds a client has to send its whole body after its headers.",
    "limits.queue_timeout": "Seconds a request waits for an upstream slot before a 503.",
    "routing.router": "The router (docs/routing.md).",
    "routing.router.type": "`embedded` (CPU, no network), `arch_router` (an OpenAI-compatible server), "
    "`cascade` (both).",
    "routing.router.model_path": "Another ONNX model for the embedded router.",
    "routing.router.tokenizer_path": "Its tokenizer.",
    "routing.router.threshold": "The z-score the best route needs when it has examples; unset: 2.25.",
    "routing.router.base_url": "The Arch-Router server (`http://localhost:11434/v1`).",
    "routing.router.model": "The model name the server knows Arch-Router by.",
    "routing.router.api_key": "Its key, if any.",
    "routing.router.timeout_ms": "Past this the request uses the fallback model.",
    "routing.router.max_context_tokens": "Conversation budget of the Arch-Router prompt.",
    "routing.router.max_concurrency": "Router calls in flight at once.",
    "routing.load_balancing": "Deployments of one model (entries sharing a `name`).",
    # (a key of the agents work: explained here so the page stays complete when both are merged)
    "routing.agent_sessions.enabled": "Pin a coding agent's session by the id its client sends "
    "(Claude Code, Codex); off: only X-Model-Affinity / X-Session-Id pin.",
    "tracing": "OpenTelemetry tracing over OTLP/HTTP (docs/observability.md).",
    "auth": "Gateway API keys (docs/governance.md).",
    "auth.keys": "The keys clients send (`Authorization: Bearer` or `x-api-key`).",
    "auth.keys[].key": "The key (usually `$TEAM_KEY`).",
    "auth.keys[].name": "Its name in logs, metrics and rate-limit rules.",
    "auth.keys[].rate_limits": "This key's own budget.",
    "rate_limits": "Request and token budgets per minute (docs/governance.md).",
    "rate_limits.rules": "Budgets; a request counts against every rule it matches.",
    "guardrails": "Request and response screening (docs/governance.md).",
    "limits": "Body sizes, slow clients, upstream concurrency.",
    "shared_state": "Shared rate-limit budgets and cooldowns across replicas.",
    "shared_state.url": "`redis://host:6379/0`.",
    "shared_state.key_prefix": "Prefix of the Redis keys.",
}


@dataclass(frozen=True)
class Row:
    path: str
    type: str
    default: str
    text: str


def rows(model: type[BaseModel] = Config) -> list[Row]:
    out: list[Row] = []
    _walk(model, "", out)
    return out


def _walk(model: type[BaseModel], prefix: str, out: list[Row]) -> None:
    comments = _field_comments(model)
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        text = (
            comments.get(name)
            or NOTES.get(path, "")
            or _model_doc(field.annotation)
            or _generic_note(name, field)
        )
        out.append(Row(path, _type_text(field.annotation), _default_text(field), text))
        for suffix, child in _children(field.annotation):
            _walk(child, path + suffix, out)


# Fields that mean the same wherever they appear.
_GENERIC = {
    "name": "A label for logs and metrics.",
    "requests_per_minute": "Requests allowed per minute.",
    "tokens_per_minute": "Tokens (input + output) allowed per minute.",
    "refresh_interval": "Seconds between refreshes (or `5m`).",
    "action": "What a match does: `block` refuses the request, `redact` masks the match.",
    "entities": "Kinds of personal data to find.",
    "url": "Where to send it.",
    "headers": "Extra headers sent with each call.",
    "timeout_ms": "Bound on each call, in milliseconds.",
}


def _model_doc(annotation: Any) -> str:
    """The first line of a nested model's own docstring."""
    found = _children(annotation)
    if len(found) == 1 and found[0][1].__doc__:
        return found[0][1].__doc__.strip().splitlines()[0]
    return ""


def _generic_note(name: str, field: FieldInfo) -> str:
    if name == "type" and typing.get_origin(_unwrap(field.annotation)) is Literal:
        values = typing.get_args(_unwrap(field.annotation))
        return "Which kind of entry this is." if len(values) == 1 else "Which implementation to use."
    return _GENERIC.get(name, "")


def _children(annotation: Any) -> list[tuple[str, type[BaseModel]]]:
    """Models nested in a field's type, with the path suffix that reaches each."""
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [("", annotation)]
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (Union, types.UnionType):
        models = [a for a in map(_unwrap, args) if isinstance(a, type) and issubclass(a, BaseModel)]
        if len(models) > 1:
            return [(f"[type={_discriminator(m)}]", m) for m in models]
        return [child for a in args for child in _children(a)]
    if origin is list:
        found = _children(args[0])
        if len(found) > 1:
            return [(suffix, m) for suffix, m in found]  # a list of tagged variants: [type=...]
        return [("[]" + suffix, m) for suffix, m in found]
    if origin is dict:
        return [(".<name>" + suffix, m) for suffix, m in _children(args[1])]
    return []


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _discriminator(model: type[BaseModel]) -> str:
    field = model.model_fields.get("type")
    if field is not None and typing.get_origin(field.annotation) is Literal:
        return str(typing.get_args(field.annotation)[0])
    return model.__name__


def _type_text(annotation: Any) -> str:
    annotation = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation in (str, int, float, bool):
        return {str: "string", int: "integer", float: "number", bool: "boolean"}[annotation]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    if origin is Literal:
        return " / ".join(f"`{a}`" for a in args)
    if origin in (Union, types.UnionType):
        parts = [a for a in args if a is not type(None)]
        if len(parts) > 1 and all(
            isinstance(_unwrap(a), type) and issubclass(_unwrap(a), BaseModel) for a in parts
        ):
            return "mapping (by `type`)"
        return " or ".join(_type_text(a) for a in parts)
    if origin is list:
        return f"list of {_type_text(args[0])}"
    if origin is dict:
        return f"map of {_type_text(args[1])}"
    return getattr(annotation, "__name__", str(annotation))


def _default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "see below"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        if all(isinstance(v, BaseModel) for v in value):
            return "one (see below)"
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{}" if not value else str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _field_comments(model: type[BaseModel]) -> dict[str, str]:
    """The comment above (or beside) each field in the source of the model and its bases."""
    found: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if isinstance(cls, type) and issubclass(cls, BaseModel) and cls is not BaseModel:
            found.update(_own_comments(cls))
    return found


def _own_comments(model: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(model))
    except (OSError, TypeError):
        return {}
    found: dict[str, str] = {}
    pending: list[str] = []
    for line in source.splitlines()[1:]:
        stripped = line.strip()
        if line.startswith("    #"):
            pending.append(stripped.lstrip("#").strip())
            continue
        match = _FIELD.match(line)
        if match and not stripped.startswith(("def ", "@", "return")):
            inline = _INLINE_COMMENT.search(line)
            parts = [*pending, inline.group(1)] if inline else pending
            if parts:
                found[match.group(1)] = " ".join(parts)
        pending = []
    return found


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated from the pydantic schema by `python -m llmroute.config.reference`"
        " (`make docs`); do not edit by hand: tests/test_config_reference.py fails when it drifts. -->",
        "",
        'One YAML file; unknown keys are errors (with a "did you mean"). `$NAME` / `${NAME}` in a value come '
        "from the environment. Durations take seconds or `500ms`, `30s`, `5m`, `1h`; sizes take bytes or "
        "`512KiB`, `8MiB`. `[]` in a path is any item of a list, `<name>` any key of a mapping, "
        "`[type=x]` the items of that `type`. Guides: [README](../README.md#configuration-reference), "
        "[routing](routing.md), [ranking](ranking.md), [governance](governance.md), "
        "[observability](observability.md), [deploy](deploy.md).",
        "",
    ]
    section = None
    for row in rows():
        top = re.split(r"[.\[]", row.path, maxsplit=1)[0]
        if top != section:
            section = top
            lines += ["", f"## `{top}`", "", "| Key | Type | Default | What |", "|---|---|---|---|"]
        lines.append(f"| `{row.path}` | {_escape(row.type)} | {_escape(row.default)} | {_escape(row.text)} |")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")

"""Where a model's request goes: URL, headers and wire format, worked out once per model.

`Targets.get(model)` turns a full model name ("openai/gpt-4o") into a `Target` using the provider
table and the model's config entry, and caches it, so the request path does no config work.
`base_url` in the config replaces the row's host, and its path (when it has one) replaces the
row's path prefix: `http://vllm:8000` → `http://vllm:8000/v1/chat/completions`,
`https://gw.example.com/openai` → `https://gw.example.com/openai/v1/chat/completions`. A base URL
that already ends in `/v1` (the OpenAI SDKs' convention) does not get a second `/v1`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from llmroute.config.models import ModelProvider
from llmroute.config.resolved import LoadedConfig
from llmroute.errors import GatewayError
from llmroute.providers.registry import AZURE_API_VERSION, Interface, ProviderSpec, spec_for


@dataclass(frozen=True, slots=True)
class Target:
    model: str  # full name, "provider/model_id"
    model_id: str  # what the provider calls it (the `model` field we send)
    interface: Interface  # "openai" | "anthropic" | "echo"
    spec: ProviderSpec
    url: str  # chat completions (or Anthropic messages) URL; "" for the in-process echo provider
    responses_url: str | None  # native /v1/responses, when the provider serves it
    headers: dict[str, str]  # static headers, auth included (unless passthrough_auth)
    passthrough_auth: bool
    # Strings that must never appear in a response or a log line (the configured key).
    secrets: tuple[str, ...] = field(default_factory=tuple)
    # Which deployment of the model this is (docs/deploy.md): the model name when it has just one.
    deployment: str = ""

    def auth_headers(self, client_key: str | None) -> dict[str, str]:
        """This provider's auth header(s) carrying `client_key` (passthrough_auth)."""
        return auth_headers(self.spec, client_key)


def auth_headers(spec: ProviderSpec, key: str | None) -> dict[str, str]:
    if not key or spec.auth == "none":
        return {}
    if spec.auth == "bearer":
        return {"Authorization": f"Bearer {key}"}
    if spec.auth == "x-api-key":
        return {"x-api-key": key}
    return {"api-key": key}


class TargetError(GatewayError):
    """A model whose provider cannot be called (should have been caught by config validation): a 502."""

    def __init__(self, message: str) -> None:
        super().__init__(502, message)


def join_url(spec_base: str, override: str | None, path: str) -> str:
    base = spec_base
    if override:
        row, new = urlsplit(spec_base), urlsplit(override.rstrip("/"))
        prefix = new.path if new.path else row.path
        base = f"{new.scheme}://{new.netloc}{prefix}"
    base = base.rstrip("/")
    if base.endswith("/v1") and path.startswith("/v1/"):
        path = path[3:]
    return base + path


def build_target(model: str, entry: ModelProvider) -> Target:
    provider, _, model_id = model.partition("/")
    spec = spec_for(provider, entry.provider_interface)
    if spec is None:
        raise TargetError(f"provider '{provider}' is unknown: give provider_interface and base_url")
    headers = {"Content-Type": "application/json"}
    headers.update(spec.extra_headers)
    if not entry.passthrough_auth:
        headers.update(auth_headers(spec, entry.access_key))
    headers.update(entry.headers)
    secrets = (entry.access_key,) if entry.access_key else ()
    if spec.interface == "echo":
        return Target(
            model, model_id, "echo", spec, "", None, headers, entry.passthrough_auth, secrets, model
        )
    base = entry.base_url or spec.base_url
    if base is None:
        raise TargetError(f"model '{model}' needs base_url")
    if spec.azure:
        version = entry.api_version or AZURE_API_VERSION
        path = f"/openai/deployments/{quote(model_id, safe='')}/chat/completions?api-version={quote(version)}"
        url = join_url(base, None, path)
    else:
        url = join_url(spec.base_url or base, entry.base_url, spec.chat_path)
    responses_url = None
    if spec.native_responses:
        responses_url = join_url(spec.base_url or base, entry.base_url, spec.responses_path)
    return Target(
        model,
        model_id,
        spec.interface,
        spec,
        url,
        responses_url,
        headers,
        entry.passthrough_auth,
        secrets,
        model,
    )


class Targets:
    """Targets by full model name, built on first use (wildcard providers serve open-ended names)."""

    def __init__(self, config: LoadedConfig) -> None:
        self.config = config
        self._cache: dict[str, Target] = {}
        # Every configured key, to scrub from anything we echo (errors, logs).
        self.passthrough = any(p.passthrough_auth for p in config.raw.model_providers)
        self.secrets: tuple[str, ...] = tuple(
            sorted({p.access_key for p in config.raw.model_providers if p.access_key}, key=len, reverse=True)
        )

    def get(self, model: str) -> Target:
        target = self._cache.get(model)
        if target is None:
            entry = self.config.provider_for(model)
            if entry is None:
                raise TargetError(f"model '{model}' is not configured")
            target = build_target(model, entry)
            if len(self._cache) < 10_000:  # wildcards: bound the cache against arbitrary names
                self._cache[model] = target
        return target

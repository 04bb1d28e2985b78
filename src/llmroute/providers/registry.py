"""The provider table: where each provider lives, which API it speaks and how it authenticates.

One row per provider instead of a class per provider: adding an OpenAI-compatible provider is a
line here. `base_url` in the config overrides the row's host (and may carry a path prefix).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Interface = Literal["openai", "anthropic", "echo"]
AuthStyle = Literal["bearer", "x-api-key", "api-key", "none"]


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    name: str
    interface: Interface
    base_url: str | None  # None: the config must give base_url
    chat_path: str = "/v1/chat/completions"
    auth: AuthStyle = "bearer"
    extra_headers: dict[str, str] = field(default_factory=dict)
    # Providers that also serve OpenAI's /v1/responses natively (pass-through instead of translation).
    native_responses: bool = False
    responses_path: str = "/v1/responses"
    # Azure OpenAI: /openai/deployments/{model}/chat/completions?api-version=...
    azure: bool = False
    # What a translated request calls its output limit: OpenAI (and Azure) reasoning models only
    # accept max_completion_tokens; most other OpenAI-compatible servers only know max_tokens.
    max_tokens_field: str = "max_tokens"


ANTHROPIC_VERSION = "2023-06-01"
# Azure OpenAI's api-version query parameter when the config gives none (a GA version).
AZURE_API_VERSION = "2024-10-21"

PROVIDERS: dict[str, ProviderSpec] = {
    spec.name: spec
    for spec in (
        ProviderSpec(
            "openai",
            "openai",
            "https://api.openai.com",
            native_responses=True,
            max_tokens_field="max_completion_tokens",
        ),
        ProviderSpec(
            "anthropic",
            "anthropic",
            "https://api.anthropic.com",
            chat_path="/v1/messages",
            auth="x-api-key",
            extra_headers={"anthropic-version": ANTHROPIC_VERSION},
        ),
        ProviderSpec(
            "azure_openai",
            "openai",
            None,
            chat_path="/chat/completions",
            auth="api-key",
            azure=True,
            max_tokens_field="max_completion_tokens",
        ),
        ProviderSpec(
            "gemini",
            "openai",
            "https://generativelanguage.googleapis.com/v1beta/openai",
            chat_path="/chat/completions",
        ),
        ProviderSpec("groq", "openai", "https://api.groq.com/openai", chat_path="/v1/chat/completions"),
        ProviderSpec("deepseek", "openai", "https://api.deepseek.com", chat_path="/chat/completions"),
        ProviderSpec("mistral", "openai", "https://api.mistral.ai"),
        ProviderSpec("together", "openai", "https://api.together.xyz"),
        ProviderSpec("xai", "openai", "https://api.x.ai"),
        ProviderSpec("openrouter", "openai", "https://openrouter.ai/api"),
        ProviderSpec("ollama", "openai", None, auth="none"),
        ProviderSpec("vllm", "openai", None),
        # Built in, no network: answers with the last user message. For demos and tests (`make run`).
        ProviderSpec("echo", "echo", "builtin://echo", chat_path="", auth="none"),
    )
}

# Providers whose config entry must carry base_url (SPEC §2).
NEEDS_BASE_URL = frozenset(name for name, spec in PROVIDERS.items() if spec.base_url is None)


def spec_for(provider: str, provider_interface: str | None = None) -> ProviderSpec | None:
    """The row for a provider; an unknown provider is usable with base_url + provider_interface."""
    spec = PROVIDERS.get(provider)
    if spec is not None:
        return spec
    if provider_interface == "anthropic":
        return ProviderSpec(
            provider,
            "anthropic",
            None,
            chat_path="/v1/messages",
            auth="x-api-key",
            extra_headers={"anthropic-version": ANTHROPIC_VERSION},
        )
    if provider_interface == "openai":
        return ProviderSpec(provider, "openai", None)
    return None

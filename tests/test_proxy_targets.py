"""Where each provider's requests go: URL, path and auth header, from the provider table."""

from __future__ import annotations

import pytest

from llmroute.config.models import ModelProvider
from llmroute.providers.registry import AZURE_API_VERSION, PROVIDERS
from llmroute.proxy.targets import build_target, join_url


@pytest.mark.parametrize(
    "model,url,auth",
    [
        ("openai/gpt-4o", "https://api.openai.com/v1/chat/completions", ("authorization", "Bearer k")),
        ("anthropic/claude-sonnet-4", "https://api.anthropic.com/v1/messages", ("x-api-key", "k")),
        (
            "gemini/gemini-2.5-flash",
            "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
            ("authorization", "Bearer k"),
        ),
        (
            "groq/llama-3.3-70b",
            "https://api.groq.com/openai/v1/chat/completions",
            ("authorization", "Bearer k"),
        ),
        (
            "deepseek/deepseek-chat",
            "https://api.deepseek.com/chat/completions",
            ("authorization", "Bearer k"),
        ),
        (
            "mistral/mistral-large",
            "https://api.mistral.ai/v1/chat/completions",
            ("authorization", "Bearer k"),
        ),
        (
            "together/meta-llama",
            "https://api.together.xyz/v1/chat/completions",
            ("authorization", "Bearer k"),
        ),
        ("xai/grok-4", "https://api.x.ai/v1/chat/completions", ("authorization", "Bearer k")),
        ("openrouter/auto", "https://openrouter.ai/api/v1/chat/completions", ("authorization", "Bearer k")),
    ],
)
def test_hosted_providers(model: str, url: str, auth: tuple[str, str]) -> None:
    target = build_target(model, ModelProvider(model=model, access_key="k"))
    assert target.url == url
    headers = {k.lower(): v for k, v in target.headers.items()}
    assert headers[auth[0]] == auth[1]
    assert target.model_id == model.partition("/")[2]


def test_anthropic_sends_its_version_header() -> None:
    target = build_target("anthropic/claude", ModelProvider(model="anthropic/claude", access_key="k"))
    assert target.headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in target.headers


def test_only_openai_serves_responses_natively() -> None:
    assert build_target("openai/gpt-4o", ModelProvider(model="openai/gpt-4o")).responses_url == (
        "https://api.openai.com/v1/responses"
    )
    assert build_target("groq/x", ModelProvider(model="groq/x")).responses_url is None


def test_azure_uses_the_deployment_path_api_version_and_api_key() -> None:
    entry = ModelProvider(
        model="azure_openai/my-gpt4o", access_key="az", base_url="https://res.openai.azure.com/"
    )
    target = build_target(entry.model, entry)
    assert target.url == (
        f"https://res.openai.azure.com/openai/deployments/my-gpt4o/chat/completions?api-version={AZURE_API_VERSION}"
    )
    assert target.headers["api-key"] == "az"
    assert "Authorization" not in target.headers
    pinned = ModelProvider(
        model="azure_openai/d", base_url="https://r.example", api_version="2025-01-01-preview"
    )
    assert build_target(pinned.model, pinned).url.endswith(
        "/openai/deployments/d/chat/completions?api-version=2025-01-01-preview"
    )


def test_ollama_and_vllm_take_their_base_url() -> None:
    ollama = build_target(
        "ollama/llama3", ModelProvider(model="ollama/llama3", base_url="http://localhost:11434")
    )
    assert ollama.url == "http://localhost:11434/v1/chat/completions"
    assert "Authorization" not in ollama.headers  # Ollama needs no key
    vllm = build_target(
        "vllm/m", ModelProvider(model="vllm/m", base_url="http://gpu:8000/v1", access_key="t")
    )
    assert vllm.url == "http://gpu:8000/v1/chat/completions"
    assert vllm.headers["Authorization"] == "Bearer t"


def test_unknown_provider_with_an_interface() -> None:
    entry = ModelProvider(
        model="acme/m1", base_url="https://llm.acme.internal/api", provider_interface="openai"
    )
    assert build_target(entry.model, entry).url == "https://llm.acme.internal/api/v1/chat/completions"
    entry = ModelProvider(
        model="acme/c1", base_url="https://claude.acme", provider_interface="anthropic", access_key="a"
    )
    target = build_target(entry.model, entry)
    assert target.interface == "anthropic"
    assert target.url == "https://claude.acme/v1/messages"
    assert target.headers["x-api-key"] == "a"


def test_base_url_replaces_host_and_optional_prefix() -> None:
    # No path: the provider's own prefix stays (a proxy in front of Gemini).
    assert (
        join_url(
            "https://generativelanguage.googleapis.com/v1beta/openai",
            "http://127.0.0.1:9000",
            "/chat/completions",
        )
        == "http://127.0.0.1:9000/v1beta/openai/chat/completions"
    )
    # A path replaces it.
    assert join_url("https://api.openai.com", "https://gw.example.com/openai", "/v1/chat/completions") == (
        "https://gw.example.com/openai/v1/chat/completions"
    )
    assert join_url("https://api.openai.com", "https://gw.example.com/v1/", "/v1/chat/completions") == (
        "https://gw.example.com/v1/chat/completions"
    )


def test_passthrough_auth_sends_no_configured_key() -> None:
    entry = ModelProvider(model="openai/gpt-4o", access_key="k", passthrough_auth=True)
    target = build_target(entry.model, entry)
    assert "Authorization" not in target.headers
    assert target.auth_headers("client") == {"Authorization": "Bearer client"}


def test_every_provider_in_the_table_builds() -> None:
    for name, spec in PROVIDERS.items():
        entry = ModelProvider(
            model=f"{name}/m", access_key="k", base_url=None if spec.base_url else "http://h:1"
        )
        target = build_target(entry.model, entry)
        assert target.interface == spec.interface

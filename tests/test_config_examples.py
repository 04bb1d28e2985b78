"""Every config under examples/ (the seeds' configs verbatim, the demo) loads, with the routes the seeds describe."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmroute.config import load_config
from llmroute.routing.types import Route

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
KEYS = {
    "OPENAI_API_KEY": "sk-test-openai",
    "ANTHROPIC_API_KEY": "sk-test-anthropic",
    "PRICING_TOKEN": "t0ken",
}


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_validates(path: Path) -> None:
    loaded = load_config(path, env=KEYS)
    assert loaded.models
    assert loaded.source_path == str(path)


def test_seed_000_top_level_preferences() -> None:
    loaded = load_config(EXAMPLES / "000_routing_api.yaml", env=KEYS)
    assert loaded.routes == (
        Route(
            "code generation",
            "generating new code snippets or boilerplate",
            ("anthropic/claude-sonnet-4-20250514", "openai/gpt-4o"),
        ),
        Route(
            "general questions",
            "casual conversation and simple queries",
            ("openai/gpt-4o-mini", "openai/gpt-4o"),
        ),
    )
    assert loaded.default_model == "openai/gpt-4o-mini"
    assert loaded.models["openai/gpt-4o"].access_key == "sk-test-openai"
    assert loaded.warnings == ()


def test_seed_001_ten_lines_migrates_legacy_preferences() -> None:
    loaded = load_config(EXAMPLES / "001_demo_ten_lines.yaml", env={})
    assert [(r.name, r.models) for r in loaded.routes] == [
        ("complex_reasoning", ("openai/gpt-4o",)),
        ("code_generation", ("anthropic/claude-sonnet-4-20250514",)),
    ]
    assert loaded.default_model == "openai/gpt-4o-mini"
    # The seed's clients send "gpt-4o-mini": a bare model id resolves to the declared model.
    assert loaded.resolve_model("gpt-4o-mini") == "openai/gpt-4o-mini"
    assert any("deprecated" in w for w in loaded.warnings)


def test_seed_004_alias_based() -> None:
    loaded = load_config(EXAMPLES / "004_alias_based.yaml", env=KEYS)
    assert loaded.aliases == {
        "fast-model": "openai/gpt-5.2",
        "reasoning-model": "openai/gpt-5",
        "creative-model": "anthropic/claude-sonnet-4-5",
    }
    listener = loaded.raw.listener
    assert (listener.address, listener.port, listener.timeout, listener.message_format) == (
        "0.0.0.0",
        12000,
        30.0,
        "openai",
    )
    assert "llm_providers is deprecated; rename it to model_providers" in loaded.warnings


def test_seed_004_hybrid_routes_and_aliases() -> None:
    loaded = load_config(EXAMPLES / "004_hybrid.yaml", env=KEYS)
    assert [(r.name, r.models) for r in loaded.routes] == [
        ("complex_reasoning", ("openai/gpt-5",)),
        ("creative_tasks", ("anthropic/claude-sonnet-4-5",)),
    ]
    assert loaded.aliases["creative-model"] == "anthropic/claude-sonnet-4-5"
    assert loaded.default_model == "openai/gpt-5.2"


def test_seed_004_preference_aligned_keeps_route_order() -> None:
    loaded = load_config(EXAMPLES / "004_preference_aligned.yaml", env=KEYS)
    assert [r.name for r in loaded.routes] == [
        "code understanding",
        "complex reasoning",
        "creative writing",
        "code generation",
    ]


def test_demo_runs_without_keys() -> None:
    loaded = load_config(EXAMPLES / "demo.yaml", env={})
    assert loaded.default_model == "echo/fast"
    assert all(model.startswith("echo/") for model in loaded.models)
    assert loaded.routes and loaded.aliases
    assert loaded.warnings == ()


def test_metrics_sources_example() -> None:
    loaded = load_config(EXAMPLES / "003_metrics_sources.yaml", env=KEYS)
    assert [s.type for s in loaded.raw.model_metrics_sources] == ["cost_metrics", "prometheus_metrics"]
    assert loaded.raw.model_metrics_sources[0].auth.token == "t0ken"
    assert {r.name: r.prefer for r in loaded.routes} == {
        "code_generation": "fastest",
        "general_questions": "cheapest",
    }

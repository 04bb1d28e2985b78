"""Config loading: every SPEC §2 error as one clear line, env substitution, legacy forms and their migration."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from llmroute.config import ConfigError, LoadedConfig, load_config, load_config_text

BASE = """
version: v0.4.0
model_providers:
  - model: openai/gpt-4o-mini
    default: true
  - model: openai/gpt-4o
  - model: anthropic/claude-sonnet-4-20250514
"""


def load(text: str, env: dict[str, str] | None = None) -> LoadedConfig:
    return load_config_text(textwrap.dedent(text), env=env or {})


def errors(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(text, env)
    # str() is exactly the lines, one per error: no pydantic dump, no traceback
    assert str(info.value) == "\n".join(info.value.errors)
    assert "pydantic" not in str(info.value) and "Traceback" not in str(info.value)
    return info.value.errors


def with_prefs(prefs: str, sources: str = "") -> str:
    return BASE + textwrap.dedent(prefs) + textwrap.dedent(sources)


# --- the basics ------------------------------------------------------------------------------------


def test_defaults() -> None:
    loaded = load(BASE)
    listener = loaded.raw.listener
    assert (listener.address, listener.port, listener.timeout) == ("0.0.0.0", 12000, 300.0)
    assert loaded.raw.routing.session_ttl_seconds == 600
    assert loaded.raw.routing.session_max_entries == 10000
    assert loaded.raw.routing.session_store.type == "memory"
    assert loaded.raw.routing.router.type == "embedded"
    assert loaded.routes == () and loaded.aliases == {}
    assert loaded.source_path is None


def test_model_refs_full_name_name_and_bare_id() -> None:
    loaded = load(
        """
        model_providers:
          - model: openai/gpt-4o
            name: main
          - model: azure_openai/gpt-4o
            base_url: https://example.openai.azure.com
          - model: anthropic/claude-sonnet-4-5
          - model: groq/*
        """
    )
    assert loaded.model_refs["main"] == "openai/gpt-4o"
    assert loaded.model_refs["claude-sonnet-4-5"] == "anthropic/claude-sonnet-4-5"
    assert "gpt-4o" not in loaded.model_refs  # ambiguous between openai and azure_openai
    assert loaded.resolve_model("azure_openai/gpt-4o") == "azure_openai/gpt-4o"
    assert loaded.resolve_model("groq/llama-3.1-8b-instant") == "groq/llama-3.1-8b-instant"
    assert set(loaded.wildcards) == {"groq"}
    assert "groq/*" not in loaded.models
    assert loaded.default_model is None


def test_top_level_route_models_are_full_names_with_policy_and_examples() -> None:
    loaded = load(
        with_prefs(
            """
            routing_preferences:
              - name: code
                description: writing code
                models: [claude-sonnet-4-20250514, openai/gpt-4o]
                examples: ["write a binary search in Go"]
                selection_policy: {prefer: cheapest}
            model_metrics_sources:
              - type: cost_metrics
                url: http://127.0.0.1:9/prices
            """
        )
    )
    (route,) = loaded.routes
    assert route.models == ("anthropic/claude-sonnet-4-20250514", "openai/gpt-4o")
    assert route.prefer == "cheapest"
    assert route.examples == ("write a binary search in Go",)


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BASE)
    assert load_config(path, env={}).source_path == str(path)
    assert load_config(str(path), env={}).default_model == "openai/gpt-4o-mini"


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config("/nonexistent/llmroute.yaml", env={})


# --- environment substitution ----------------------------------------------------------------------


def test_env_substitution_both_forms_and_escape() -> None:
    loaded = load(
        """
        model_providers:
          - model: openai/gpt-4o
            access_key: $OPENAI_KEY
            headers: {X-Team: "team-${TEAM}", X-Price: "$$5 and $5"}
          - model: ollama/llama3.1
            base_url: ${OLLAMA_URL}/v1
        """,
        env={"OPENAI_KEY": "sk-1", "TEAM": "blue", "OLLAMA_URL": "http://127.0.0.1:11434"},
    )
    entry = loaded.models["openai/gpt-4o"]
    assert entry.access_key == "sk-1"
    assert entry.headers == {"X-Team": "team-blue", "X-Price": "$5 and $5"}
    assert loaded.models["ollama/llama3.1"].base_url == "http://127.0.0.1:11434/v1"


def test_missing_variable_names_it_and_its_path() -> None:
    assert errors(
        """
        model_providers:
          - model: openai/gpt-4o
            access_key: ${OPENAI_API_KEY}
        """
    ) == ["model_providers[0].access_key: environment variable OPENAI_API_KEY is not set"]


def test_no_substitution_in_route_text() -> None:
    loaded = load(
        with_prefs(
            """
            routing_preferences:
              - name: budget
                description: questions about spending under $LIMIT dollars
                models: [openai/gpt-4o]
            """
        )
    )
    assert loaded.routes[0].description == "questions about spending under $LIMIT dollars"


def test_load_config_uses_os_environ_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLMROUTE_TEST_KEY", "sk-env")
    path = tmp_path / "c.yaml"
    path.write_text("model_providers:\n  - model: openai/gpt-4o\n    access_key: $LLMROUTE_TEST_KEY\n")
    assert load_config(path).models["openai/gpt-4o"].access_key == "sk-env"


# --- legacy forms ----------------------------------------------------------------------------------


def test_legacy_listener_object_form() -> None:
    loaded = load(
        """
        listeners:
          egress_traffic:
            address: 127.0.0.1
            port: 12001
            message_format: anthropic
            timeout: 500ms
        model_providers:
          - model: openai/gpt-4o
        """
    )
    assert len(loaded.raw.listeners) == 1
    listener = loaded.raw.listener
    assert (listener.address, listener.port, listener.timeout, listener.message_format) == (
        "127.0.0.1",
        12001,
        0.5,
        "anthropic",
    )


def test_legacy_listener_errors_use_the_written_path() -> None:
    assert errors(
        """
        listeners:
          egress_traffic:
            port: 70000
        model_providers:
          - model: openai/gpt-4o
        """
    ) == ["listeners.egress_traffic.port: must be less than or equal to 65535"]


def test_unknown_legacy_listener() -> None:
    (line,) = errors(
        """
        listeners:
          egres_traffic: {port: 1}
        model_providers:
          - model: openai/gpt-4o
        """
    )
    assert line.startswith("listeners.egres_traffic: unknown listener")
    assert "did you mean 'egress_traffic'" in line


def test_llm_providers_is_a_deprecated_alias() -> None:
    loaded = load("llm_providers:\n  - model: openai/gpt-4o\n")
    assert list(loaded.models) == ["openai/gpt-4o"]
    assert "llm_providers is deprecated; rename it to model_providers" in loaded.warnings


def test_llm_providers_errors_use_the_written_key() -> None:
    assert errors("llm_providers:\n  - model: gpt-4o\n") == [
        "llm_providers[0].model: model 'gpt-4o' must be written as <provider>/<model_id>, e.g. openai/gpt-4o"
    ]


def test_both_provider_keys_is_an_error() -> None:
    assert errors(
        """
        model_providers: [{model: openai/gpt-4o}]
        llm_providers: [{model: openai/gpt-4o-mini}]
        """
    ) == ["llm_providers: use model_providers or its deprecated alias llm_providers, not both"]


def test_inline_preferences_merge_by_name_in_declaration_order() -> None:
    loaded = load(
        """
        model_providers:
          - model: openai/gpt-4o-mini
            default: true
          - model: openai/gpt-4o
            routing_preferences:
              - {name: reasoning, description: deep analysis}
              - {name: code, description: writing code}
          - model: anthropic/claude-sonnet-4-5
            routing_preferences:
              - {name: code, description: writing code}
        """
    )
    assert [(r.name, r.models) for r in loaded.routes] == [
        ("reasoning", ("openai/gpt-4o",)),
        ("code", ("openai/gpt-4o", "anthropic/claude-sonnet-4-5")),
    ]
    assert any("deprecated" in w and "top-level" in w for w in loaded.warnings)
    # after migration the preferences live only in the top-level list
    assert all(p.routing_preferences is None for p in loaded.raw.model_providers)
    assert [p.name for p in loaded.raw.routing_preferences] == ["reasoning", "code"]


def test_top_level_preference_wins_over_legacy_of_same_name() -> None:
    loaded = load(
        """
        version: v0.4.0
        model_providers:
          - model: openai/gpt-4o
            routing_preferences:
              - {name: code, description: legacy code text}
          - model: anthropic/claude-sonnet-4-5
        routing_preferences:
          - name: code
            description: writing code
            models: [anthropic/claude-sonnet-4-5]
        """
    )
    assert loaded.routes[0].description == "writing code"
    assert loaded.routes[0].models == ("anthropic/claude-sonnet-4-5",)
    assert any("top-level entry wins" in w for w in loaded.warnings)


def test_wildcard_cannot_carry_preferences() -> None:
    (line,) = errors(
        """
        model_providers:
          - model: openai/*
            routing_preferences:
              - {name: code, description: writing code}
        """
    )
    assert line.startswith("model_providers[0].routing_preferences: a wildcard model (openai/*) cannot carry")


# --- SPEC §2 errors --------------------------------------------------------------------------------


def test_version_gate_for_top_level_preferences() -> None:
    text = BASE.replace("v0.4.0", "v0.3.9") + textwrap.dedent(
        """
        routing_preferences:
          - {name: code, description: writing code, models: [openai/gpt-4o]}
        """
    )
    assert errors(text) == [
        "routing_preferences: top-level routing_preferences requires version v0.4.0 or above"
    ]


def test_versions_compare_as_versions_not_strings() -> None:
    prefs = "routing_preferences:\n  - {name: code, description: writing code, models: [openai/gpt-4o]}\n"
    assert load(BASE.replace("v0.4.0", "v0.10.0") + prefs).routes[0].name == "code"
    assert load(BASE.replace("v0.4.0", "v1.0") + prefs).routes
    assert load(BASE.replace("v0.4.0", "v0.4.1-rc1") + prefs).routes
    assert errors(BASE.replace("v0.4.0", "0.3") + prefs) == [
        "routing_preferences: top-level routing_preferences requires version v0.4.0 or above"
    ]
    # no version: the current format (seed 001 has none)
    assert load(BASE.replace("version: v0.4.0", "") + prefs).routes


def test_legacy_preferences_need_no_version() -> None:
    loaded = load(
        """
        version: v0.3.0
        model_providers:
          - model: openai/gpt-4o
            routing_preferences: [{name: code, description: writing code}]
        """
    )
    assert loaded.routes[0].name == "code"


def test_invalid_version() -> None:
    assert errors(BASE.replace("v0.4.0", "latest")) == [
        "version: invalid version 'latest'; write it like v0.4.0"
    ]


def test_undeclared_model_in_preferences_lists_the_declared_ones() -> None:
    (line,) = errors(
        with_prefs("routing_preferences:\n  - {name: c, description: d, models: [openai/gpt-5]}\n")
    )
    assert line == (
        "routing_preferences[0].models[0]: model 'openai/gpt-5' is not declared in model_providers "
        "(declared: openai/gpt-4o-mini, openai/gpt-4o, anthropic/claude-sonnet-4-20250514)"
    )


def test_undeclared_alias_target() -> None:
    (line,) = errors(BASE + "model_aliases:\n  fast: {target: gpt-5}\n")
    assert line.startswith(
        "model_aliases.fast.target: model 'gpt-5' is not declared in model_providers (declared:"
    )


def test_ambiguous_bare_id() -> None:
    (line,) = errors(
        """
        model_providers:
          - model: openai/gpt-4o
          - model: azure_openai/gpt-4o
            base_url: https://x.openai.azure.com
        model_aliases:
          main: {target: gpt-4o}
        """
    )
    assert line == (
        "model_aliases.main.target: 'gpt-4o' is ambiguous (openai/gpt-4o, azure_openai/gpt-4o); "
        "use the full provider/model name"
    )


def test_at_most_one_default() -> None:
    assert errors(
        BASE.replace("  - model: openai/gpt-4o\n", "  - model: openai/gpt-4o\n    default: true\n")
    ) == [
        "model_providers[1].default: only one model can be the default "
        "(model_providers[0] openai/gpt-4o-mini already is)"
    ]


def test_model_without_provider_prefix() -> None:
    assert errors("model_providers:\n  - model: gpt-4o\n") == [
        "model_providers[0].model: model 'gpt-4o' must be written as <provider>/<model_id>, e.g. openai/gpt-4o"
    ]


def test_duplicate_model_and_name_and_route() -> None:
    lines = errors(
        """
        version: v0.4.0
        model_providers:
          - model: openai/gpt-4o
            name: main
          - model: openai/gpt-4o
          - model: anthropic/claude-sonnet-4-5
            name: main
        routing_preferences:
          - {name: code, description: a, models: [openai/gpt-4o]}
          - {name: code, description: b, models: [openai/gpt-4o]}
        """
    )
    # A shared `name` makes deployments of one model (tests/test_deployments.py): not an error any more.
    assert lines == [
        "model_providers[1].model: duplicate model 'openai/gpt-4o' (declared twice; to spread load over "
        "several deployments of one model, give the entries the same `name`)",
        "routing_preferences[1].name: duplicate route name 'code' (also routing_preferences[0])",
    ]


def test_unknown_keys_with_did_you_mean() -> None:
    lines = errors(
        """
        model_provider:
          - model: openai/gpt-4o
        """
    )
    assert "model_provider: unknown key (did you mean 'model_providers'?)" in lines
    assert "model_providers: missing required key" in lines


def test_nested_unknown_keys() -> None:
    lines = errors(
        """
        model_providers:
          - model: openai/gpt-4o
            acces_key: x
        routing:
          session_ttl: 5
          session_store: {type: redis, uri: redis://x}
        model_metrics_sources:
          - type: cost_metrics
            url: http://127.0.0.1:9
            refresh: 5
        """
    )
    assert "model_providers[0].acces_key: unknown key (did you mean 'access_key'?)" in lines
    assert "routing.session_ttl: unknown key (did you mean 'session_ttl_seconds'?)" in lines
    assert "routing.session_store.uri: unknown key (did you mean 'url'?)" in lines
    # the discriminator tag is not part of the path the user wrote
    assert "model_metrics_sources[0].refresh: unknown key (did you mean 'refresh_interval'?)" in lines


def test_unknown_metric_source_type() -> None:
    (line,) = errors(BASE + "model_metrics_sources:\n  - {type: datadog, url: http://x}\n")
    assert line.startswith("model_metrics_sources[0]: unknown type 'datadog'; expected one of")


def test_wrong_types_and_values() -> None:
    lines = errors(
        """
        model_providers:
          - model: openai/gpt-4o
            default: maybe
        routing:
          session_ttl_seconds: -1
          router: {type: arch_router}
        model_aliases: [a, b]
        """
    )
    assert "model_providers[0].default: must be a valid boolean, unable to interpret input" in lines
    assert "routing.session_ttl_seconds: must be greater than 0" in lines
    assert "routing.router: router type arch_router needs base_url (an OpenAI-compatible endpoint)" in lines
    assert "model_aliases: expected a mapping (key: value), got a list" in lines


def test_provider_base_url_rules() -> None:
    lines = errors(
        """
        model_providers:
          - model: ollama/llama3.1
          - model: mycorp/model-x
          - model: other/model-y
            base_url: http://127.0.0.1:9
            provider_interface: openai
        """
    )
    assert lines[0] == "model_providers[0].base_url: provider 'ollama' needs base_url (where the server runs)"
    assert lines[1].startswith(
        "model_providers[1].model: unknown provider 'mycorp': set base_url and provider_interface"
    )
    assert len(lines) == 2


def test_listener_timeout_duration() -> None:
    (line,) = errors("listeners: [{port: 1, timeout: soon}]\nmodel_providers: [{model: openai/gpt-4o}]\n")
    assert line.startswith("listeners[0].timeout: invalid duration 'soon'")


def test_empty_listener_list() -> None:
    assert errors("listeners: []\nmodel_providers: [{model: openai/gpt-4o}]\n") == [
        "listeners: declare a model listener, or leave the key out for 0.0.0.0:12000"
    ]


def test_empty_sections_mean_none() -> None:
    loaded = load(BASE + "model_aliases:\nrouting_preferences:\nmodel_metrics_sources:\n")
    assert loaded.aliases == {} and loaded.routes == ()


def test_every_error_is_reported_at_once() -> None:
    lines = errors(
        """
        version: v0.4.0
        model_providers:
          - model: openai/gpt-4o
            default: true
          - model: openai/gpt-4o-mini
            default: true
        model_aliases:
          fast: {target: nope}
        routing_preferences:
          - {name: code, description: d, models: [nope/x]}
        """
    )
    assert len(lines) == 3
    assert lines[0].startswith("model_providers[1].default:")
    assert lines[1].startswith("model_aliases.fast.target:")
    assert lines[2].startswith("routing_preferences[0].models[0]:")


# --- seed 003: the six metric-source errors, exact text ------------------------------------------

COST = "  - {type: cost_metrics, url: 'http://127.0.0.1:9/cost'}\n"
PROM = "  - {type: prometheus_metrics, url: 'http://127.0.0.1:9', query: 'latency'}\n"
DO = "  - {type: digitalocean_pricing, model_aliases: {openai-gpt-4o: openai/gpt-4o}}\n"


def route_preferring(prefer: str) -> str:
    return (
        "routing_preferences:\n"
        f"  - {{name: r, description: d, models: [openai/gpt-4o], selection_policy: {{prefer: {prefer}}}}}\n"
    )


@pytest.mark.parametrize(
    ("prefer", "sources", "message"),
    [
        (
            "cheapest",
            PROM,
            "prefer: cheapest requires a cost data source — add cost_metrics or digitalocean_pricing",
        ),
        ("fastest", COST, "prefer: fastest requires a prometheus_metrics source"),
        ("none", COST + COST, "only one cost_metrics source is allowed"),
        ("none", PROM + PROM, "only one prometheus_metrics source is allowed"),
        ("none", DO + DO, "only one digitalocean_pricing source is allowed"),
        (
            "none",
            COST + DO,
            "cost_metrics and digitalocean_pricing cannot both be configured — use one or the other",
        ),
    ],
)
def test_seed_003_metric_source_errors(prefer: str, sources: str, message: str) -> None:
    (line,) = errors(BASE + route_preferring(prefer) + "model_metrics_sources:\n" + sources)
    assert line.endswith(": " + message)


def test_metric_sources_satisfy_policies() -> None:
    loaded = load(BASE + route_preferring("cheapest") + "model_metrics_sources:\n" + DO)
    source = loaded.raw.model_metrics_sources[0]
    assert source.url == "https://api.digitalocean.com/v2/gen-ai/models/catalog"
    assert source.model_aliases == {"openai-gpt-4o": "openai/gpt-4o"}
    assert (
        load(BASE + route_preferring("fastest") + "model_metrics_sources:\n" + PROM).routes[0].prefer
        == "fastest"
    )


# --- YAML syntax -----------------------------------------------------------------------------------


def test_yaml_syntax_error_has_line_and_column() -> None:
    (line,) = errors("model_providers:\n  - model: openai/gpt-4o\n   default: true\n")
    assert line.startswith("line 3, column ")
    assert "YAML syntax error" in line


def test_yaml_duplicate_key() -> None:
    assert errors("model_providers:\n  - model: openai/gpt-4o\n    model: openai/gpt-4o-mini\n") == [
        "line 3, column 5: duplicate key 'model'"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the config is empty; it needs at least model_providers"),
        ("- a\n- b\n", "the config must be a mapping of keys (version, model_providers, ...), got a list"),
    ],
)
def test_not_a_mapping(text: str, message: str) -> None:
    assert errors(text) == [message]


def test_non_string_mapping_key() -> None:
    assert errors(BASE + "model_aliases:\n  5: {target: gpt-4o}\n") == [
        "model_aliases: key 5 must be a string (quote it)"
    ]


def test_yaml_anchors_merge_and_x_keys() -> None:
    loaded = load(
        """
        x-openai: &openai
          access_key: $KEY
          headers: {X-Team: blue}
        model_providers:
          - <<: *openai
            model: openai/gpt-4o
          - <<: *openai
            model: openai/gpt-4o-mini
            access_key: other      # overriding a merged key is not a duplicate
        """,
        env={"KEY": "sk-1"},
    )
    assert loaded.models["openai/gpt-4o"].access_key == "sk-1"
    assert loaded.models["openai/gpt-4o"].headers == {"X-Team": "blue"}
    assert loaded.models["openai/gpt-4o-mini"].access_key == "other"


def test_missing_variable_in_an_anchor_is_reported_where_used() -> None:
    assert errors(
        """
        x-openai: &openai {access_key: $UNSET_KEY}
        model_providers:
          - {<<: *openai, model: openai/gpt-4o}
        """
    ) == ["model_providers[0].access_key: environment variable UNSET_KEY is not set"]


def test_a_threshold_written_for_the_old_calibrated_router_is_a_warning() -> None:
    from llmroute.config import load_config_text

    loaded = load_config_text(
        "model_providers: [{model: echo/a, default: true}]\nrouting: {router: {threshold: 0.4}}\n"
    )
    assert any("routing.router.threshold: 0.4 is a z-score now" in w for w in loaded.warnings)
    assert not load_config_text("model_providers: [{model: echo/a, default: true}]\n").warnings

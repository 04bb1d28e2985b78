"""The optional `tracing:` config section: shape, defaults and the errors a typo gets."""

from __future__ import annotations

import pytest

from llmroute.config import load_config_text
from llmroute.config.errors import ConfigError

BASE = """
version: v0.4.0
model_providers: [{model: openai/gpt-4o, access_key: sk-x, default: true}]
"""


def test_tracing_is_optional() -> None:
    assert load_config_text(BASE).raw.tracing is None


def test_tracing_section_is_read() -> None:
    text = BASE + "tracing: {otlp_endpoint: 'http://tempo:4318', sampling_ratio: 0.25, service_name: gw}\n"
    tracing = load_config_text(text).raw.tracing
    assert tracing is not None
    assert (tracing.otlp_endpoint, tracing.sampling_ratio, tracing.service_name) == (
        "http://tempo:4318",
        0.25,
        "gw",
    )


def test_empty_tracing_section_leaves_everything_to_the_environment() -> None:
    tracing = load_config_text(BASE + "tracing: {}\n").raw.tracing
    assert tracing is not None
    assert (tracing.otlp_endpoint, tracing.sampling_ratio, tracing.service_name) == (None, None, None)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            "tracing: {otlp_endpoint: 'localhost:4318'}",
            "tracing.otlp_endpoint: must be an http:// or https:// URL",
        ),
        ("tracing: {sampling_ratio: 1.5}", "tracing.sampling_ratio"),
        ("tracing: {sampling_ratio: -0.1}", "tracing.sampling_ratio"),
        ("tracing: {sample_rate: 0.5}", "tracing.sample_rate: unknown key"),
        ("tracing: {service_name: ''}", "tracing.service_name"),
    ],
)
def test_bad_tracing_sections_name_the_key(section: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config_text(BASE + section + "\n")
    assert message in str(err.value)

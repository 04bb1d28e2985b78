"""docs/configuration.md is generated from the schema and cannot drift; the README's promises about
legacy forms hold (a deprecated form is logged at startup)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from llmroute.config import load_config_text
from llmroute.config.reference import render, rows
from llmroute.server.gateway import Gateway

PAGE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def test_the_reference_page_is_the_generated_one() -> None:
    assert PAGE.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is out of date: run `make docs` (python -m llmroute.config.reference)"
    )


def test_every_key_is_explained() -> None:
    missing = [row.path for row in rows() if not row.text]
    assert not missing, f"add a comment above these fields (or a note in config/reference.py): {missing}"


@pytest.mark.parametrize(
    "section", ["auth", "rate_limits", "guardrails", "limits", "shared_state", "routing"]
)
def test_the_page_covers_every_section(section: str) -> None:
    assert f"## `{section}`" in PAGE.read_text(encoding="utf-8")


def test_egress_traffic_listener_is_logged_as_deprecated(caplog: pytest.LogCaptureFixture) -> None:
    config = load_config_text(
        """
version: v0.3.0
listeners:
  egress_traffic: {address: 127.0.0.1, port: 12000, message_format: openai, timeout: 30s}
llm_providers:
  - model: echo/a
"""
    )
    assert config.raw.listener.port == 12000
    assert any("egress_traffic" in w and "deprecated" in w for w in config.warnings)
    # The gateway logs each warning at startup.
    gateway = Gateway(config)
    with caplog.at_level(logging.WARNING, logger="llmroute.gateway"):
        asyncio.run(_start_stop(gateway))
    assert any("egress_traffic" in r.getMessage() and "deprecated" in r.getMessage() for r in caplog.records)


async def _start_stop(gateway: Gateway) -> None:
    await gateway.start()
    await gateway.stop()

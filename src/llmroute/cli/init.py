"""`llmroute init [PATH]`: write a commented starter config that validates and runs with no keys."""

from __future__ import annotations

from pathlib import Path

import click

STARTER_CONFIG = """\
# llmroute configuration. Check it with `llmroute validate llmroute.yaml`, serve it with `llmroute up llmroute.yaml`.
# Reference: README.md ("Configuration reference"). Values written $NAME or ${NAME} come from the environment.
version: v0.4.0

listeners:
  - name: model_listener
    type: model
    address: 127.0.0.1        # 0.0.0.0 to accept connections from other machines
    port: 12000
    timeout: 300s             # upper bound on one upstream call

# Every model the gateway may use, written <provider>/<model_id>.
# `echo` is built in: it answers with the last user message (no keys, no network), so this file runs as is.
model_providers:
  - model: echo/fast
    default: true             # used when no route matches and the request names no model
  - model: echo/smart
  - model: echo/creative

  # Real providers: uncomment, export the key, and list them in the routes below.
  # - model: openai/gpt-4o-mini
  #   access_key: $OPENAI_API_KEY
  # - model: anthropic/claude-sonnet-4-20250514
  #   access_key: $ANTHROPIC_API_KEY
  # - model: ollama/llama3.1
  #   base_url: http://localhost:11434
  # - model: mycorp/any-model              # any OpenAI- or Anthropic-compatible server
  #   base_url: https://llm.mycorp.internal
  #   provider_interface: openai
  #   access_key: ${MYCORP_KEY}
  # Two entries with the same `name` are two deployments of one model (keys, regions); `weight` splits load:
  # - {model: openai/gpt-4o, name: gpt-4o, access_key: $OPENAI_KEY_EU, weight: 2}
  # - {model: openai/gpt-4o, name: gpt-4o, access_key: $OPENAI_KEY_US, weight: 1}

# Stable names for clients: `"model": "fast-model"` goes to the target.
model_aliases:
  fast-model:
    target: echo/fast

# Preference-aligned routing: the router matches each request to a description (plain English).
# A matched route uses its models in order (or ranked by selection_policy.prefer: cheapest | fastest,
# which need a model_metrics_sources entry). Describe what requests are about, one job per route.
# Try them without a server (prints the decision as JSON):
#   llmroute route llmroute.yaml "Write a haiku about autumn"          -> creative_writing
#   llmroute route llmroute.yaml "Write a Python function to sort a list" -> code_generation
#   llmroute route llmroute.yaml "thanks!"                             -> no route: the default model
# and measure a set of cases with `llmroute eval llmroute.yaml cases.jsonl` (docs/routing.md).
routing_preferences:
  - name: code_generation
    description: writing, fixing or explaining code, functions, scripts and SQL queries in a programming language
    models: [echo/smart, echo/fast]
  - name: complex_reasoning
    description: "math problems: algebra, calculus, proofs and equations; logic puzzles; step-by-step analysis of trade-offs"
    models: [echo/smart]
  - name: creative_writing
    description: poems, haiku, short stories, song lyrics and other creative writing
    models: [echo/creative, echo/smart]
  - name: general
    description: general questions, facts, everyday advice, summaries and casual conversation
    models: [echo/fast]

routing:
  session_ttl_seconds: 600    # X-Model-Affinity / X-Session-Id pins last this long when idle
  session_max_entries: 10000
  # session_store: {type: redis, url: "redis://localhost:6379/0"}   # share pins between replicas
  # router: {type: embedded}  # default; or {type: arch_router, base_url: http://localhost:11434/v1}
"""


@click.command()
@click.argument("path", default="llmroute.yaml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def init(path: Path, force: bool) -> None:
    """Write a commented starter config to PATH (default ./llmroute.yaml)."""
    if path.exists() and not force:
        click.echo(f"error: {path} already exists (use --force to overwrite)", err=True)
        raise SystemExit(1)
    try:
        path.write_text(STARTER_CONFIG, encoding="utf-8")
    except OSError as exc:
        click.echo(f"error: cannot write {path}: {exc.strerror or exc}", err=True)
        raise SystemExit(1) from None
    click.echo(f"wrote {path}; try: llmroute validate {path} && llmroute up {path}")

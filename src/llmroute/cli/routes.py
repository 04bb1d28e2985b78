"""`llmroute routes expand CONFIG`: have the generator write route examples, as YAML to review.

The output is what the gateway would generate in the background (same prompt, same parser, same
cache), written so that a platform team can read, edit and commit it, then include it from the
config (`routing.router.examples.include`), where it counts as hand-written.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

import click
import yaml

from llmroute.cli.validate import allow_missing_env_option, load_for_command
from llmroute.config import LoadedConfig
from llmroute.config.models import RouteExamples
from llmroute.providers.client import UpstreamClient
from llmroute.proxy.targets import Targets
from llmroute.routing.examples.generator import Generator, GeneratorError
from llmroute.routing.examples.prompt import route_set_key
from llmroute.routing.examples.service import generate, shared_redis_url
from llmroute.routing.examples.store import Examples, ExampleStore


@click.group("routes")
def routes_group() -> None:
    """Work with the config's routes."""


@routes_group.command("expand")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), help="Write the YAML here (default: stdout)."
)
@click.option(
    "--generator", help="The model that writes the examples (default: routing.router.examples.generator)."
)
@click.option(
    "--per-route",
    type=click.IntRange(3, 50),
    help="Examples per route (default: the config's routing.router.examples.per_route, or its default).",
)
@allow_missing_env_option
def expand(
    config_path: str,
    output: str | None,
    generator: str | None,
    per_route: int | None,
    allow_missing_env: bool,
) -> None:
    """Write example requests for every route of CONFIG that has no hand-written `examples`.

    One generator call per route; results already in the gateway's cache are reused.
    """
    config = load_for_command(config_path, allow_missing_env)
    cfg = config.raw.routing.router.examples
    model_ref = generator or (cfg.generator if cfg else None)
    if not model_ref:
        raise click.UsageError(
            "no generator: set routing.router.examples.generator or pass --generator MODEL"
        )
    model = config.resolve_model(model_ref)
    if model is None or model.startswith("echo/"):
        raise click.UsageError(f"--generator: '{model_ref}' is not a declared model that can write examples")
    wanted = [r for r in config.routes if not r.examples]
    if not wanted:
        click.echo("every route has examples already; nothing to write", err=True)
        return
    count = per_route or (cfg or RouteExamples()).per_route
    try:
        examples = asyncio.run(_expand(config, model, count))
    except GeneratorError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    text = render_yaml(examples, model, config_path)
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
        click.echo(f"wrote examples for {len(examples)} routes to {output}", err=True)
    else:
        click.echo(text, nl=False)


async def _expand(config: LoadedConfig, model: str, count: int) -> Examples:
    cfg = config.raw.routing.router.examples
    store = ExampleStore(cfg.cache_dir if cfg else None, shared_redis_url(config))
    key = route_set_key(config.routes)
    client = UpstreamClient(config.raw.listener.timeout)
    await client.start()
    try:
        cached = await store.get(key)
        wanted = [r.name for r in config.routes if not r.examples]
        if cached is not None and all(len(cached.get(name, ())) >= count for name in wanted):
            return {name: cached[name][:count] for name in wanted}
        timeout = (cfg.timeout_ms if cfg else 60_000) / 1000
        limit = asyncio.Semaphore(cfg.max_concurrency if cfg else 2)
        examples = await generate(
            config.routes, Generator(model, Targets(config), client, timeout), count, limit
        )
        await store.put(key, examples)
        return examples
    finally:
        await client.close()
        await store.aclose()


def render_yaml(examples: Examples, model: str, config_path: str) -> str:
    header = (
        f"# Route examples written by {model} for {config_path} ({datetime.now(UTC):%Y-%m-%d}),\n"
        "# by `llmroute routes expand`. Review and edit them, then include this file from the config:\n"
        "#   routing: {router: {examples: {include: <this file>}}}\n"
        "# Examples written on a route in the config itself take precedence over these.\n"
    )
    body = yaml.safe_dump({"examples": examples}, allow_unicode=True, sort_keys=False, width=100)
    return header + body

"""`llmroute route CONFIG "prompt"`: print the routing decision, no server and no LLM call."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click
import orjson

from llmroute.config import ConfigError, load_config
from llmroute.observability.trace_context import new_trace_id
from llmroute.routing.decision import DecisionError, DecisionService, decision_payload
from llmroute.routing.factory import build_router
from llmroute.wire import WireError, parse_conversation


@click.command("route")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.argument("prompt", required=False)
@click.option(
    "--messages",
    "messages_file",
    type=click.Path(exists=True, dir_okay=False),
    help="A JSON file: an array of chat messages, or a whole request body.",
)
@click.option("--model", default=None, help="The request's `model` (the fallback when no route matches).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["openai_chat", "anthropic", "responses"]),
    default="openai_chat",
    show_default=True,
    help="The API format of --messages.",
)
def route_command(
    config_path: str, prompt: str | None, messages_file: str | None, model: str | None, fmt: str
) -> None:
    """Print the decision the gateway would make for PROMPT (or --messages), as JSON."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if messages_file:
        try:
            loaded = orjson.loads(Path(messages_file).read_bytes())
        except orjson.JSONDecodeError as exc:
            raise click.UsageError(f"{messages_file} is not valid JSON: {exc}") from None
        body = loaded if isinstance(loaded, dict) else {"messages": loaded}
    elif prompt:
        body = {"messages": [{"role": "user", "content": prompt}]}
        if fmt == "responses":
            body = {"input": prompt}
    else:
        raise click.UsageError("give a PROMPT or --messages FILE")
    if model is not None:
        body["model"] = model
    payload = asyncio.run(_decide(config, fmt, body))
    click.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
    if "error" in payload and payload.get("model") == "none":
        sys.exit(1)


async def _decide(config, fmt: str, body: dict) -> dict:  # type: ignore[no-untyped-def]
    router = build_router(config.raw.routing.router)
    service = DecisionService(config, router)
    try:
        conversation = parse_conversation(fmt, body)  # type: ignore[arg-type]
        decision = await service.decide(body, conversation)
    except (WireError, DecisionError) as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    finally:
        await router.aclose()
    return decision_payload(decision, new_trace_id())

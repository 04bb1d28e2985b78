"""`llmroute route CONFIG "prompt"`: print the routing decision, no server and no LLM call."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click
import orjson

from llmroute.cli.validate import allow_missing_env_option, load_for_command
from llmroute.config import LoadedConfig
from llmroute.observability.trace_context import new_trace_id
from llmroute.routing.decision import Decision, DecisionError, DecisionService, decision_payload
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
@click.option(
    "--explain",
    is_flag=True,
    help="Also print, on stderr, each route's score, the evidence that matched, the threshold and why.",
)
@allow_missing_env_option
def route_command(
    config_path: str,
    prompt: str | None,
    messages_file: str | None,
    model: str | None,
    fmt: str,
    explain: bool,
    allow_missing_env: bool,
) -> None:
    """Print the decision the gateway would make for PROMPT (or --messages), as JSON."""
    config = load_for_command(config_path, allow_missing_env)
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
    decision = asyncio.run(_decide(config, fmt, body))
    payload = decision_payload(decision, new_trace_id())
    if explain:
        click.echo(explanation(decision), err=True)
    click.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
    if "error" in payload and payload.get("model") == "none":
        sys.exit(1)


async def _decide(config: LoadedConfig, fmt: str, body: dict[str, Any]) -> Decision:
    router = build_router(config.raw.routing.router)
    service = DecisionService(config, router)
    try:
        conversation = parse_conversation(fmt, body)  # type: ignore[arg-type]
        return await service.decide(body, conversation)
    except (WireError, DecisionError) as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    finally:
        await router.aclose()


def explanation(decision: Decision) -> str:
    """A person's reading of the router's details: scores, evidence, threshold, the verdict."""
    if decision.source not in ("route", "model", "default") or decision.router_backend is None:
        return f"no routing: the decision came from {decision.source} ({', '.join(decision.models)})"
    if decision.router_error:
        return f"the router failed ({decision.router_error}); the fallback model is used"
    details = decision.router_details or {}
    lines = [f"router: {decision.router_backend}"]
    if "threshold" in details:
        lines.append(f"threshold: {details['threshold']}  (a route's score must reach it)")
    scores: dict[str, float] = details.get("scores", {})
    latest: dict[str, float] = details.get("latest_turn_scores", {})
    evidence: dict[str, dict[str, Any]] = details.get("evidence", {})
    if scores:
        lines.append("scores (latest turn, plus the previous user turn's weighted in), best route first:")
        for name, score in scores.items():
            own = (
                f"  latest turn alone {latest[name]:.2f}" if name in latest and latest[name] != score else ""
            )
            lines.append(f"  {score:7.2f}  {name}{own}")
            if name in evidence:
                e = evidence[name]
                lines.append(
                    f"           best match ({e['kind']}, similarity {e['similarity']}): {e['text'][:100]}"
                )
    verdict = f"route: {decision.route}" if decision.route else "no route"
    if details.get("reason"):
        verdict += f" ({details['reason']})"
    lines.append(verdict)
    return "\n".join(lines)

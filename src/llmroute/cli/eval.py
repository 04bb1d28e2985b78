"""`llmroute eval CONFIG CASES.jsonl [--suites suites.json] [--json]`: measure the configured router (SPEC §8)."""

from __future__ import annotations

import asyncio
import sys

import click
import orjson

from llmroute.cli.validate import allow_missing_env_option, load_for_command
from llmroute.routing.embedded import EmbeddedRouter
from llmroute.routing.eval import EvalInputError, EvalReport, evaluate, load_cases, load_suites
from llmroute.routing.leave_one_out import leave_one_suite_out
from llmroute.routing.types import Router


@click.command("eval")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.argument("cases_path", metavar="CASES.jsonl", type=click.Path(dir_okay=False))
@click.option(
    "--suites",
    "suites_path",
    type=click.Path(dir_okay=False),
    help="JSON object: suite id -> list of routes, for cases that name a `suite`.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (with every case's result).")
@click.option(
    "--leave-one-suite-out",
    "loso",
    is_flag=True,
    help="Also re-choose the embedded router's fitted constants without each suite and score it held out "
    "(cases must name a suite; a grid run, about a minute).",
)
@allow_missing_env_option
def eval_command(
    config_path: str,
    cases_path: str,
    suites_path: str | None,
    as_json: bool,
    loso: bool,
    allow_missing_env: bool,
) -> None:
    """Run labelled conversations through the configured router and report its accuracy.

    Each line of CASES.jsonl: {"id", "messages": [...], "expected": "<route>"|null, "scenario",
    "routes": [{"name", "description"}] | "suite": "<id>"}. Cases without routes or a suite use
    the config's routing_preferences.
    """
    config = load_for_command(config_path, allow_missing_env)
    try:
        suites = load_suites(suites_path) if suites_path else None
        cases = load_cases(cases_path, suites, default_routes=config.routes)
    except EvalInputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    try:
        from llmroute.routing.factory import build_router

        router = build_router(config.raw.routing.router)
    except Exception as exc:  # a model file that will not load, a bad endpoint: say so, no traceback
        click.echo(f"error: cannot start the router: {exc}", err=True)
        sys.exit(1)
    if loso and not isinstance(router, EmbeddedRouter):
        click.echo(
            "error: --leave-one-suite-out re-fits the embedded router's constants (routing.router.type: embedded)",
            err=True,
        )
        sys.exit(1)
    report = asyncio.run(_run(router, cases, keep_open=loso))
    held_out = None
    if loso:
        try:
            held_out = leave_one_suite_out(router, cases)  # type: ignore[arg-type]
        except ValueError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        finally:
            asyncio.run(router.aclose())
    if as_json:
        out = report.to_json()
        if held_out is not None:
            out["leave_one_suite_out"] = {"accuracy": round(held_out.accuracy, 4), "text": held_out.to_text()}
        click.echo(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(report.to_text())
        if held_out is not None:
            click.echo(held_out.to_text())


async def _run(router: Router, cases: list, keep_open: bool = False) -> EvalReport:
    try:
        return await evaluate(router, cases)
    finally:
        if not keep_open:
            await router.aclose()

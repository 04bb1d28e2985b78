"""`llmroute validate CONFIG`: exit 0 with a one-line summary, or 1 with one line per error."""

from __future__ import annotations

import click

from llmroute.config import ConfigError, LoadedConfig, load_config


def load_or_exit(config_path: str) -> LoadedConfig:
    """The loaded config, or the errors on stderr and exit status 1 (never a traceback)."""
    try:
        return load_config(config_path)
    except ConfigError as exc:
        for line in exc.errors:
            click.echo(f"error: {line}", err=True)
        raise SystemExit(1) from None


def summary(loaded: LoadedConfig) -> str:
    providers = {model.partition("/")[0] for model in loaded.models} | set(loaded.wildcards)
    models = len(loaded.models) + len(loaded.wildcards)
    parts = [
        _count(models, "model"),
        _count(len(providers), "provider"),
        _count(len(loaded.routes), "route"),
        _count(len(loaded.aliases), "alias", "aliases"),
        f"default {loaded.default_model or 'none'}",
    ]
    return ", ".join(parts)


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


@click.command()
@click.argument("config_path", metavar="CONFIG")
def validate(config_path: str) -> None:
    """Check CONFIG (YAML) without serving: every error is one line naming its key path."""
    loaded = load_or_exit(config_path)
    for warning in loaded.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"ok: {config_path}: {summary(loaded)}")

"""`llmroute validate CONFIG`: exit 0 with a one-line summary, or 1 with one line per error."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

import click

from llmroute.config import ConfigError, LoadedConfig, load_config


class _EnvWithPlaceholders(Mapping[str, str]):
    """os.environ, where an unset variable reads as a placeholder and is remembered (CI without secrets)."""

    def __init__(self) -> None:
        self.missing: list[str] = []

    def __getitem__(self, name: str) -> str:
        value = os.environ.get(name)
        if value is None:
            if name not in self.missing:
                self.missing.append(name)
            return f"unset-{name}"
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(os.environ)

    def __len__(self) -> int:
        return len(os.environ)


def load_or_exit(config_path: str, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """The loaded config, or the errors on stderr and exit status 1 (never a traceback)."""
    try:
        return load_config(config_path, env=env)
    except ConfigError as exc:
        for line in exc.errors:
            click.echo(f"error: {line}", err=True)
        raise SystemExit(1) from None


allow_missing_env_option = click.option(
    "--allow-missing-env",
    is_flag=True,
    help="Accept unset $VARIABLES (warn instead of fail), e.g. to check a config in CI without its secrets.",
)


def load_for_command(config_path: str, allow_missing_env: bool) -> LoadedConfig:
    """load_or_exit, where with --allow-missing-env an unset variable is a warning on stderr."""
    env = _EnvWithPlaceholders() if allow_missing_env else None
    loaded = load_or_exit(config_path, env)
    if env is not None:
        for name in env.missing:
            click.echo(f"warning: environment variable {name} is not set (needed to serve)", err=True)
    return loaded


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
@allow_missing_env_option
def validate(config_path: str, allow_missing_env: bool) -> None:
    """Check CONFIG (YAML) without serving: every error is one line naming its key path."""
    loaded = load_for_command(config_path, allow_missing_env)
    for warning in loaded.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"ok: {config_path}: {summary(loaded)}")

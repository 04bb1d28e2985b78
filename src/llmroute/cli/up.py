"""`llmroute up CONFIG`: validate the config, then serve the gateway."""

from __future__ import annotations

import click

from llmroute.cli.validate import load_or_exit


@click.command()
@click.argument("config_path", metavar="CONFIG")
@click.option("--host", default=None, help="Listen address (overrides the model listener's address).")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help="Listen port (overrides the listener's)."
)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes.")
@click.option(
    "--log-format",
    type=click.Choice(["human", "json"]),
    default="human",
    show_default=True,
    help="Log line format.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    show_default=True,
    help="Minimum log level.",
)
def up(
    config_path: str, host: str | None, port: int | None, workers: int, log_format: str, log_level: str
) -> None:
    """Serve the gateway described by CONFIG (YAML)."""
    # Fail fast with the config's own error lines before anything starts listening.
    # Its warnings (deprecations, migrations) are logged by the gateway once logging is configured.
    load_or_exit(config_path)
    # Imported here so `validate`/`init` never pay for the server's imports (ONNX runtime, uvicorn).
    from llmroute.server.run import serve

    serve(
        config_path, host=host, port=port, workers=workers, log_format=log_format, log_level=log_level.lower()
    )

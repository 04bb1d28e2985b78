"""The `llmroute` command: one module per subcommand, registered on the `main` group below."""

from __future__ import annotations

import click

from llmroute import __version__
from llmroute.cli.eval import eval_command
from llmroute.cli.init import init
from llmroute.cli.route import route_command
from llmroute.cli.routes import routes_group
from llmroute.cli.up import up
from llmroute.cli.validate import validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="llmroute")
def main() -> None:
    """llmroute: a self-hosted LLM gateway with preference-aligned routing.

    Apps call it with the OpenAI or Anthropic APIs; it picks the model per request,
    ranks candidates by live cost or latency, pins sessions and fails over on 429/5xx.
    """


main.add_command(up)
main.add_command(validate)
main.add_command(init)
main.add_command(route_command)
main.add_command(eval_command)
main.add_command(routes_group)

# Other commands: import them at the top with the others and add one `main.add_command(...)` line here.

"""The `adnet` command line. The only package that imports typer and rich; it parses and prints, and
imports the library (torch, OpenCV) only when a command runs, so ``adnet --help`` stays fast."""

from __future__ import annotations

from typing import Annotated

import typer

from adnet_cli.cli.eval import eval_command
from adnet_cli.cli.info import info
from adnet_cli.cli.merge import EXAMPLES as MERGE_EXAMPLES
from adnet_cli.cli.merge import merge
from adnet_cli.cli.options import Command, Group
from adnet_cli.cli.tonemap import tonemap
from adnet_cli.cli.train import train
from adnet_cli.version import __version__

app = typer.Typer(
    name="adnet",
    help="Deep HDR merging of bracketed exposures with ADNet.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    cls=Group,
    context_settings={"help_option_names": ["-h", "--help"]},  # subcommands inherit it
)
app.command(cls=Command, epilog=MERGE_EXAMPLES)(merge)
app.command(cls=Command)(info)
app.command(cls=Command)(tonemap)
app.command(cls=Command)(train)
app.command("eval", cls=Command)(eval_command)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"adnet {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", "-V", callback=_show_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Deep HDR merging of bracketed exposures with ADNet."""


def main() -> None:
    from adnet_cli.runtime import keep_freed_memory

    keep_freed_memory()
    app()

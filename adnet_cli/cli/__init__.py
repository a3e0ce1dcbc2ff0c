"""The `adnet` command line. The only package that imports typer and rich."""

from __future__ import annotations

import typer

from adnet_cli.cli.eval import eval_command
from adnet_cli.cli.info import info
from adnet_cli.cli.merge import merge
from adnet_cli.cli.tonemap import tonemap
from adnet_cli.cli.train import train
from adnet_cli.cpu import keep_freed_memory

app = typer.Typer(
    name="adnet",
    help="Deep HDR merging of bracketed exposures with ADNet.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(merge)
app.command()(info)
app.command()(tonemap)
app.command()(train)
app.command("eval")(eval_command)


def main() -> None:
    keep_freed_memory()
    app()

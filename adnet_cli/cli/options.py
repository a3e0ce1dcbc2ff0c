"""Options that several commands share, declared once (Annotated aliases, as huggingface_hub's CLI
does), and the choice enums, built from the library's tuples in :mod:`adnet_cli.choices`.

Nothing here imports torch or OpenCV, so ``adnet --help`` stays fast.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Optional

import typer
from typer import Abort
from typer.core import TyperCommand, TyperGroup

try:  # Typer vendors click since 0.2x; before, it used click itself
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException

from adnet_cli.choices import (
    BASES,
    CAMERAS,
    CONVENTIONS,
    DEFORM_BACKENDS,
    HDR_FORMATS,
    LAYOUTS,
    MERGE_METHODS,
    NETWORK_MODES,
    PRECISIONS,
    PREVIEW_FORMATS,
    RESPONSES,
    TONEMAP_OPERATORS,
)
from adnet_cli.errors import InputError


def choice(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A str Enum whose members are `values` (``-`` becomes ``_`` in member names only)."""
    return Enum(name, {v.replace("-", "_"): v for v in values}, type=str)  # type: ignore[return-value]


ConventionChoice = choice("ConventionChoice", ("auto", *CONVENTIONS))
PrecisionChoice = choice("PrecisionChoice", PRECISIONS)
BackendChoice = choice("BackendChoice", ("auto", *DEFORM_BACKENDS))
ResponseChoice = choice("ResponseChoice", RESPONSES)
FormatChoice = choice("FormatChoice", HDR_FORMATS)
PreviewFormatChoice = choice("PreviewFormatChoice", PREVIEW_FORMATS)
MethodChoice = choice("MethodChoice", MERGE_METHODS)
BitsChoice = choice("BitsChoice", ("8", "16"))  # bits per channel of display images  # eval refuses the fusion, saying why
LayoutChoice = choice("LayoutChoice", ("auto", *LAYOUTS))
OperatorChoice = choice("OperatorChoice", TONEMAP_OPERATORS)
BaseChoice = choice("BaseChoice", BASES)
NetworkChoice = choice("NetworkChoice", NETWORK_MODES)
CameraChoice = choice("CameraChoice", CAMERAS)

def table_help(table: tuple, lead: str = "") -> str:  # type: ignore[type-arg]
    """An option's help listing a table's rows with their help (`adnet_cli.tables`)."""
    return lead + "; ".join(f"{row.name}: {row.help}" for row in table) + "."


# Help panels of `adnet merge` (and of the commands that share its network options).
INPUTS = "Inputs and exposures"
WORKFLOW = "Photographer workflow"
OUTPUTS = "Outputs"
NETWORK = "Network and performance"


class _NoFlagPlaceholder:
    """Typer shows ``<bool>`` after every flag, --help included; a flag takes no value, so show none."""

    def get_params(self, ctx):  # type: ignore[no-untyped-def]
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params


class Command(_NoFlagPlaceholder, TyperCommand):
    """Every adnet command's class."""


class Group(_NoFlagPlaceholder, TyperGroup):
    """The adnet command group's class. Usage errors (an unknown option, a missing value) are one
    line on stderr like every other error, not Typer's multi-line box; the exit status stays 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[no-untyped-def]
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except ClickException as exc:
            if type(exc).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
                ctx = getattr(exc, "ctx", None)
                hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
                print(f"error: {' '.join(exc.format_message().split())}{hint}", file=sys.stderr)
            sys.exit(exc.exit_code)
        except Abort:
            print("aborted", file=sys.stderr)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


Weights = Annotated[
    Optional[str],
    typer.Option(
        help="Checkpoint: a path, or hf://owner/repo/file (repo@revision pins one); default: the shipped "
        "weights, or $ADNET_WEIGHTS.",
        rich_help_panel=NETWORK,
    ),
]
Convention = Annotated[
    ConventionChoice,  # type: ignore[valid-type]
    typer.Option(help="Pre-processing of the weights; auto reads the file's metadata.", rich_help_panel=NETWORK),
]
Device = Annotated[
    str,
    typer.Option(
        help="auto, cpu, cuda, cuda:N or mps (eval and train under torchrun: cuda:LOCAL_RANK).", rich_help_panel=NETWORK
    ),
]
Tile = Annotated[
    Optional[int],
    typer.Option(min=0, help="Tile side in pixels; 0 = whole image (default: from free memory).", rich_help_panel=NETWORK),
]
TilePad = Annotated[int, typer.Option(min=0, help="Context pixels around each tile.", rich_help_panel=NETWORK)]
Network = Annotated[
    NetworkChoice,  # type: ignore[valid-type]
    typer.Option(
        help="auto: residual weights run the network only where the frames disagree (the optimal merge elsewhere); "
        "everywhere: on every pixel (weights of base none always do).",
        rich_help_panel=NETWORK,
    ),
]
TTA = Annotated[bool, typer.Option("--tta", help="Average 4 flips/transposes (4x slower).", rich_help_panel=NETWORK)]
Precision = Annotated[
    PrecisionChoice,  # type: ignore[valid-type]
    typer.Option(help="Compute precision: auto = bfloat16 on CPUs with native bf16, else float32.", rich_help_panel=NETWORK),
]
Half = Annotated[bool, typer.Option("--half", help="Same as --precision float16 (CUDA only).", rich_help_panel=NETWORK)]
BF16 = Annotated[bool, typer.Option("--bf16", help="Same as --precision bfloat16.", rich_help_panel=NETWORK)]
DeformBackend = Annotated[
    BackendChoice, typer.Option(help="Deformable conv implementation.", rich_help_panel=NETWORK)  # type: ignore[valid-type]
]
Overwrite = Annotated[
    bool, typer.Option("--overwrite", help="Replace existing output files (never an input).", rich_help_panel=OUTPUTS)
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")]
JsonReport = Annotated[
    Optional[str],
    typer.Option("--json", metavar="FILE|-", help="Also write a machine-readable report to FILE, or to stdout with -.",
                 rich_help_panel=OUTPUTS),
]
Debug = Annotated[bool, typer.Option("--debug", help="Show the full traceback when something fails.")]


def precision_name(precision: Enum, half: bool = False, bf16: bool = False) -> str:
    """--precision, or its shorthands --half (float16) and --bf16; conflicting choices are refused."""
    chosen = {precision.value} - {"auto"} | ({"float16"} if half else set()) | ({"bfloat16"} if bf16 else set())
    if len(chosen) > 1:
        raise InputError(f"conflicting precisions: {', '.join(sorted(chosen))}")
    return chosen.pop() if chosen else "auto"


def convention_name(convention: Enum) -> str | None:
    """--convention as the library takes it: None for auto (read the weights' metadata)."""
    return None if convention.value == "auto" else convention.value


def network_engine(weights: str | None, *, convention: Enum, device: str, tile: int | None, tile_pad: int, tta: bool,
                   network: Enum, precision: Enum, half: bool, bf16: bool, deform_backend: Enum, local_rank: int = 0):  # type: ignore[no-untyped-def]
    """The engine the network options above describe, built one way for every command that has them
    (`adnet_cli.merge.engine.create_engine`: the device and precision are resolved there, once)."""
    from adnet_cli.merge.engine import create_engine

    return create_engine(weights, device=device, precision=precision_name(precision, half, bf16),
                         convention=convention_name(convention), deform_backend=deform_backend.value, tile=tile,
                         tile_pad=tile_pad, tta=tta, network=network.value, local_rank=local_rank)

"""The names the library accepts for each of its choices, and the defaults the command line shows,
in one leaf module that imports nothing heavy.

Every module that implements a choice imports its tuple from here (``preprocess.CONVENTIONS`` is
``choices.CONVENTIONS``), and the command line builds its option enums and help from the same
values, so ``adnet --help`` can list them without importing torch or OpenCV. The kinds of choice
with a table (`adnet_cli.tables`: formats, tone-mapping operators, merge methods, bases) have their
names and suffixes derived from it here.
"""

from __future__ import annotations

from adnet_cli import tables

CONVENTIONS: tuple[str, ...] = ("kalantari", "ntire")  # pre-processing of a checkpoint (preprocess)
PRECISIONS: tuple[str, ...] = ("auto", "float32", "bfloat16", "float16")  # compute dtype (runtime)
DEFORM_BACKENDS: tuple[str, ...] = ("torchvision", "torch")  # deformable conv implementation (ops)
RESPONSES: tuple[str, ...] = ("auto", "gamma", "srgb", "calibrate")  # camera response of LDR frames (response)
HDR_FORMATS: tuple[str, ...] = tables.names(f for f in tables.FORMATS if f.hdr)  # HDR file types written (io)
PREVIEW_FORMATS: tuple[str, ...] = tables.names(f for f in tables.FORMATS if f.bits and not f.hdr)  # display-only types
CLASSICAL_METHODS: tuple[str, ...] = tables.names(m for m in tables.METHODS if m.radiance and not m.weights)
FUSION = next(m.name for m in tables.METHODS if not m.radiance)  # exposure fusion: a display image, not radiance
MERGE_METHODS: tuple[str, ...] = tables.names(tables.METHODS)  # what `merge --method` runs (engine)
TONEMAP_OPERATORS: tuple[str, ...] = tables.names(tables.TONE_OPERATORS)  # (tonemap)
LAYOUTS: tuple[str, ...] = ("kalantari", "ntire", "ntire-folders")  # ground-truth dataset layouts (datasets)
BASES: tuple[str, ...] = tables.names(tables.BASES)  # residual output bases (bases)
# Where a residual model runs its network (adaptive): only where the frames disagree, or on every pixel.
NETWORK_MODES: tuple[str, ...] = ("auto", "everywhere")
CAMERAS: tuple[str, ...] = ("gamma", "realistic")  # simulated cameras (simulate)
TONE_CURVES: tuple[str, ...] = ("gamma", "srgb", "filmic")  # tone curves of the realistic camera (camera)

FRAMES = 3  # frames the network merges (bracket)
HDR_SUFFIXES: tuple[str, ...] = tables.suffixes(hdr=True)  # (io; a .tif HDR is 32-bit float)
PREVIEW_SUFFIXES: tuple[str, ...] = tables.suffixes(bits=8)  # (io)
PREVIEW_SUFFIXES_16BIT: tuple[str, ...] = tables.suffixes(bits=16)  # (io)
FRAME_SUFFIXES: tuple[str, ...] = tables.suffixes(frame=True)  # decoded frames (io; RAW apart)
SCENE_SUFFIXES: tuple[str, ...] = tables.suffixes(hdr=True, frame=False)  # always HDR (a .tif may be a photo)
# Context pixels around each tile (inference): the smallest multiple of 4 whose tiled result stays
# within 1e-4 of the whole image's with the shipped weights on a moving bracket (benchmarks/tile_pad.py).
DEFAULT_TILE_PAD = 20
DEFAULT_GAP = 2.0  # seconds; an AEB burst takes well under a second per frame (grouping)

# Steps between neighbouring frames where most training brackets lie (camera.SMALL_STEPS), and the
# range assumed for weights that record none (their adnet.ratio_range metadata).
TYPICAL_RATIOS: tuple[float, float] = (2.0, 8.0)

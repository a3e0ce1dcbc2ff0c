"""The names the library accepts for each of its choices, and the defaults the command line shows,
in one leaf module that imports nothing.

Every module that implements a choice imports its tuple from here (``preprocess.CONVENTIONS`` is
``choices.CONVENTIONS``), and the command line builds its option enums and help from the same
values, so ``adnet --help`` can list them without importing torch or OpenCV.
"""

from __future__ import annotations

CONVENTIONS: tuple[str, ...] = ("kalantari", "ntire")  # pre-processing of a checkpoint (preprocess)
PRECISIONS: tuple[str, ...] = ("auto", "float32", "bfloat16", "float16")  # compute dtype (runtime)
DEFORM_BACKENDS: tuple[str, ...] = ("torchvision", "torch")  # deformable conv implementation (ops)
RESPONSES: tuple[str, ...] = ("auto", "gamma", "srgb", "calibrate")  # camera response of LDR frames (response)
HDR_FORMATS: tuple[str, ...] = ("exr", "hdr", "tif")  # HDR file types written (io)
PREVIEW_FORMATS: tuple[str, ...] = ("png", "jpg")  # display file types written (io)
CLASSICAL_METHODS: tuple[str, ...] = ("debevec", "robertson", "medium", "optimal")  # parameter-free merges (classical)
FUSION = "mertens"  # OpenCV's exposure fusion: a display image, not radiance (classical)
MERGE_METHODS: tuple[str, ...] = ("adnet", *CLASSICAL_METHODS, FUSION)  # what `merge --method` runs (engine)
TONEMAP_OPERATORS: tuple[str, ...] = ("mu", "reinhard", "drago", "mantiuk")  # (tonemap)
LAYOUTS: tuple[str, ...] = ("kalantari", "ntire", "ntire-folders")  # ground-truth dataset layouts (datasets)
BASES: tuple[str, ...] = ("none", "reference", "merge", "deghost", "optimal")  # residual output bases (bases)
# Where a residual model runs its network (adaptive): only where the frames disagree, or on every pixel.
NETWORK_MODES: tuple[str, ...] = ("auto", "everywhere")
CAMERAS: tuple[str, ...] = ("gamma", "realistic")  # simulated cameras (simulate)
TONE_CURVES: tuple[str, ...] = ("gamma", "srgb", "filmic")  # tone curves of the realistic camera (camera)

FRAMES = 3  # frames the network merges (bracket)
EV_SOURCE = "--ev"  # a bracket's exposure source when exposures are relative (stops), not seconds (bracket)
HDR_SUFFIXES: tuple[str, ...] = (".hdr", ".exr", ".tif", ".tiff")  # (io; a .tif HDR is 32-bit float)
PREVIEW_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".tif", ".tiff")  # (io)
PREVIEW_SUFFIXES_16BIT: tuple[str, ...] = (".png", ".tif", ".tiff")  # (io)
# Context pixels around each tile (inference): the smallest multiple of 4 whose tiled result stays
# within 1e-4 of the whole image's with the shipped weights on a moving bracket (benchmarks/tile_pad.py).
DEFAULT_TILE_PAD = 12
DEFAULT_GAP = 2.0  # seconds; an AEB burst takes well under a second per frame (grouping)

# Steps between neighbouring frames where most training brackets lie (camera.SMALL_STEPS), and the
# range assumed for weights that record none (their adnet.ratio_range metadata).
TYPICAL_RATIOS: tuple[float, float] = (2.0, 8.0)

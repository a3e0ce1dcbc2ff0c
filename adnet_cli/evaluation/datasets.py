"""Ground-truth HDR datasets in their standard on-disk layouts, read into one :class:`Scene` type.

Three layouts are recognised (see :data:`LAYOUTS`):

- ``kalantari`` (SIG17): one folder per scene, anywhere below the root (``Test/PAPER/...``,
  ``Test/EXTRA/...``, ``Training/...``), holding three LDR ``.tif`` frames (8 or 16 bit),
  ``exposure.txt`` (one EV per line, in the frames' file-name order) and ``HDRImg.hdr``, the linear
  ground truth aligned to the medium frame, in units of the *shortest* frame's white level.
- ``ntire`` (NTIRE 2021 multi-frame), flat: ``NNNN_short.png``, ``NNNN_medium.png``,
  ``NNNN_long.png``, ``NNNN_exposures.npy`` (3 EVs), ``NNNN_alignratio.npy`` and ``NNNN_gt.png``
  (16 bit) directly in the root. The PNG holds ``round(gt_gamma * alignratio)``; the linear
  radiance is ``gt_gamma**2.24``, aligned to and in units of the medium frame's white level.
- ``ntire-folders``: the NTIRE data with one folder per scene holding ``0.png 1.png 2.png`` (short,
  medium, long; ``short.png medium.png long.png`` are accepted too), ``gt.png``, ``exposures.npy`` and
  ``alignratio.npy``.

Listing (:func:`find_scenes`) is cheap and lenient: anything that looks like a scene is listed.
:meth:`SceneRef.load` reads and checks it, raising :class:`InputError` that names the scene.
Ground truth is put on the project's output scale (1.0 = radiance that just saturates the medium
frame) with :func:`adnet_cli.network.preprocess.to_linear`, so the conventions live in one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from adnet_cli.choices import LAYOUTS
from adnet_cli.errors import InputError
from adnet_cli.formats.io import read_hdr, read_ldr
from adnet_cli.network.preprocess import GAMMA, Convention, from_linear, to_linear

KALANTARI_EXPOSURE = "exposure.txt"
KALANTARI_GT = "HDRImg.hdr"
TIFF_SUFFIXES: tuple[str, ...] = (".tif", ".tiff")
NTIRE_ROLES: tuple[str, ...] = ("short", "medium", "long")
# Per-scene folder file names: the first is the standard one, the second an accepted alias.
NTIRE_FOLDER_FRAMES: dict[str, tuple[str, str]] = {
    "short": ("0.png", "short.png"),
    "medium": ("1.png", "medium.png"),
    "long": ("2.png", "long.png"),
}
_NTIRE_FLAT = re.compile(r"^(?P<id>.+)_(?:(?:short|medium|long|gt)\.png|(?:exposures|alignratio)\.npy)$")


@dataclass(frozen=True, eq=False)
class Scene:
    """One bracket with its ground truth, on the project's scale.

    name: the scene's name (path relative to the root, or the NTIRE id).
    frames: (3, H, W, 3) float32 RGB in [0, 1], code values (not linearised), short, medium, long.
    exposures: relative exposure times ``2**ev``, strictly increasing, same order as ``frames``.
    hdr: (H, W, 3) float32 linear ground truth, aligned to the medium frame; 1.0 = the radiance that
        just saturates the medium frame (the scale ``adnet merge`` writes).
    """

    name: str
    frames: np.ndarray
    exposures: tuple[float, float, float]
    hdr: np.ndarray


@dataclass(frozen=True)
class SceneRef:
    """A scene found on disk, not yet read.

    name: as :attr:`Scene.name`. layout: one of :data:`LAYOUTS`.
    paths: the files the layout's reader needs, keyed by role; they may not exist (load() says so).
    """

    name: str
    layout: str
    paths: dict[str, Path] = field(hash=False)

    def load(self) -> Scene:
        """Read and check the scene. Raises InputError starting with ``scene NAME:``."""
        reader = LAYOUT_TABLE[self.layout].read
        try:
            frames, exposures, hdr = reader(self.paths)
        except InputError as exc:
            raise InputError(f"scene {self.name}: {exc}") from exc
        return Scene(name=self.name, frames=frames, exposures=exposures, hdr=hdr)


# ----------------------------------------------------------------------------- listing


def _relative_name(folder: Path, root: Path) -> str:
    """A folder's name relative to root, '/'-separated; the root's own name if it is the root."""
    rel = folder.relative_to(root).as_posix()
    return root.resolve().name if rel == "." else rel


def _marked_folders(root: Path, markers: Sequence[str]) -> list[Path]:
    """Folders at or below root that directly hold a file named one of ``markers``."""
    found = {p.parent for marker in markers for p in root.rglob(marker) if p.is_file()}
    return sorted(found)


def _list_kalantari(root: Path) -> list[SceneRef]:
    refs = []
    for folder in _marked_folders(root, (KALANTARI_EXPOSURE, KALANTARI_GT)):
        paths = {"folder": folder, "exposure": folder / KALANTARI_EXPOSURE, "gt": folder / KALANTARI_GT}
        refs.append(SceneRef(_relative_name(folder, root), "kalantari", paths))
    return refs


def _ntire_paths(folder: Path, prefix: str, frame_names: dict[str, str]) -> dict[str, Path]:
    """Paths of an NTIRE scene: frames by role, gt, exposures, alignratio."""
    paths = {role: folder / f"{prefix}{frame_names[role]}" for role in NTIRE_ROLES}
    paths.update(
        gt=folder / f"{prefix}gt.png",
        exposures=folder / f"{prefix}exposures.npy",
        alignratio=folder / f"{prefix}alignratio.npy",
    )
    return paths


def _ntire_flat_ids(root: Path) -> list[str]:
    """Scene ids of NTIRE flat files directly in root."""
    matches = (_NTIRE_FLAT.match(p.name) for p in root.iterdir() if p.is_file())
    return sorted({m["id"] for m in matches if m})


def _list_ntire(root: Path) -> list[SceneRef]:
    names = {role: f"{role}.png" for role in NTIRE_ROLES}
    return [SceneRef(i, "ntire", _ntire_paths(root, f"{i}_", names)) for i in _ntire_flat_ids(root)]


def _list_ntire_folders(root: Path) -> list[SceneRef]:
    refs = []
    for folder in _marked_folders(root, ("exposures.npy", "alignratio.npy")):
        # Use the alias only where it exists and the standard name does not.
        names = {
            role: alias if (folder / alias).exists() and not (folder / std).exists() else std
            for role, (std, alias) in NTIRE_FOLDER_FRAMES.items()
        }
        refs.append(SceneRef(_relative_name(folder, root), "ntire-folders", _ntire_paths(folder, "", names)))
    return refs




def _check_root(root: Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder" if root.exists() else f"{root}: no such folder")
    return root


def detect_layout(root: Path) -> str:
    """Which of :data:`LAYOUTS` the dataset under ``root`` uses.

    Raises InputError when root is not a folder, holds nothing recognisable, or holds more than one
    layout.
    """
    root = _check_root(root)
    found = [name for name, layout in LAYOUT_TABLE.items() if layout.detect(root)]
    if not found:
        raise InputError(
            f"{root}: no dataset recognised; expected Kalantari scene folders (3 .tif, {KALANTARI_EXPOSURE}, "
            f"{KALANTARI_GT}), NTIRE files (NNNN_short/medium/long/gt.png, NNNN_exposures/alignratio.npy) "
            "or NTIRE scene folders (0.png 1.png 2.png gt.png exposures.npy alignratio.npy)"
        )
    if len(found) > 1:
        raise InputError(f"{root}: holds more than one dataset layout ({', '.join(found)}); name the layout")
    return found[0]


def find_scenes(root: Path, layout: str | None = None) -> list[SceneRef]:
    """The scenes under ``root``, sorted by name, not yet read.

    layout: one of :data:`LAYOUTS`, or None to :func:`detect_layout`.
    Raises InputError when root is not a folder or holds no scene of the layout; ValueError for an
    unknown layout name.
    """
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"unknown dataset layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    root = _check_root(root)
    layout = layout or detect_layout(root)
    refs = LAYOUT_TABLE[layout].list_scenes(root)
    if not refs:
        raise InputError(f"{root}: no {layout} scenes found")
    return sorted(refs, key=lambda ref: ref.name)


# ----------------------------------------------------------------------------- reading


def _require(paths: Iterable[Path]) -> None:
    """InputError naming every one of ``paths`` that is not an existing file."""
    missing = [p for p in paths if not p.is_file()]
    if missing:
        folder = missing[0].parent
        raise InputError(f"missing {', '.join(p.name for p in missing)} in {folder}")


def _as_evs(values: np.ndarray, source: Path) -> list[float]:
    """Three finite, distinct EVs from ``values`` (any shape with 3 elements), else InputError."""
    evs = np.asarray(values, dtype=np.float64).ravel()
    if evs.size != 3 or not np.isfinite(evs).all():
        raise InputError(f"{source}: expected 3 finite EV values, got {evs.tolist()}")
    if len(set(evs.tolist())) != 3:
        raise InputError(f"{source}: exposures must differ, got EVs {evs.tolist()}")
    return evs.tolist()


def _read_ev_text(path: Path) -> list[float]:
    """EVs from a Kalantari exposure.txt: whitespace-separated numbers, one per frame."""
    try:
        words = path.read_text(encoding="utf-8").split()
        values = np.array([float(w) for w in words])
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from exc
    except ValueError as exc:
        raise InputError(f"{path}: not a list of EV numbers ({exc})") from exc
    return _as_evs(values, path)


def _read_npy(path: Path) -> np.ndarray:
    """A numeric .npy array (no pickles), else InputError."""
    try:
        value = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npy file ({exc})") from exc
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "iuf":
        raise InputError(f"{path}: expected a numeric array")
    return value


def _read_alignratio(path: Path) -> float:
    """The positive scalar of an NTIRE alignratio.npy."""
    value = _read_npy(path).astype(np.float64).ravel()
    if value.size != 1 or not np.isfinite(value[0]) or value[0] <= 0:
        raise InputError(f"{path}: expected one positive number, got {value.tolist()}")
    return float(value[0])


def _check_sizes(frames: dict[str, np.ndarray], gt: np.ndarray, gt_label: str) -> None:
    """InputError unless every frame has the ground truth's height and width."""
    height, width = gt.shape[:2]
    if all(f.shape[:2] == (height, width) for f in frames.values()):
        return
    sizes = ", ".join(f"{label} {f.shape[1]}x{f.shape[0]}" for label, f in frames.items())
    raise InputError(f"frame sizes (width x height) differ from {gt_label} {width}x{height}: {sizes}")


def _in_convention(
    fn: Callable[..., torch.Tensor], image: np.ndarray, exposures: Sequence[float], convention: str
) -> np.ndarray:
    """Apply ``to_linear``/``from_linear`` to an (H, W, 3) array; returns (H, W, 3) float32."""
    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
    out = fn(tensor, list(exposures), convention)
    return out[0].permute(1, 2, 0).contiguous().numpy().astype(np.float32, copy=False)


SceneData = tuple[np.ndarray, tuple[float, float, float], np.ndarray]


def _read_kalantari(paths: dict[str, Path]) -> SceneData:
    """Frames sorted by exposure, exposures 2**ev, ground truth converted from the kalantari domain."""
    folder = paths["folder"]
    _require((paths["exposure"], paths["gt"]))
    tifs = sorted(p for p in folder.iterdir() if p.suffix.lower() in TIFF_SUFFIXES and p.is_file())
    if len(tifs) != 3:
        raise InputError(f"expected 3 .tif frames in {folder}, found {len(tifs)}")
    evs = _read_ev_text(paths["exposure"])  # line i belongs to the i-th frame by file name
    frames = {p.name: read_ldr(p).pixels for p in tifs}
    gt = read_hdr(paths["gt"])
    _check_sizes(frames, gt, KALANTARI_GT)
    order = sorted(range(3), key=lambda i: evs[i])
    stack = np.stack([frames[tifs[i].name] for i in order])
    exposures = tuple(2.0 ** evs[i] for i in order)
    return stack, exposures, _in_convention(to_linear, gt, exposures, "kalantari")


def _read_ntire(paths: dict[str, Path]) -> SceneData:
    """Frames by role, exposures 2**ev, ground truth = (png / alignratio) ** 2.24 via to_linear."""
    _require(paths.values())
    evs = _as_evs(_read_npy(paths["exposures"]), paths["exposures"])
    if not evs[0] < evs[1] < evs[2]:
        raise InputError(f"{paths['exposures']}: EVs must increase short < medium < long, got {evs}")
    ratio = _read_alignratio(paths["alignratio"])
    frames = {paths[role].name: read_ldr(paths[role]).pixels for role in NTIRE_ROLES}
    gt_png = read_ldr(paths["gt"])
    if gt_png.bit_depth != 16:
        raise InputError(f"{paths['gt']}: ground truth must be a 16-bit PNG, not {gt_png.bit_depth}-bit")
    _check_sizes(frames, gt_png.pixels, paths["gt"].name)
    # read_ldr divided by 65535; recover the stored integers exactly before applying alignratio.
    gt_gamma = (np.rint(gt_png.pixels.astype(np.float64) * 65535.0) / ratio).astype(np.float32)
    exposures = tuple(2.0**ev for ev in evs)
    return np.stack(list(frames.values())), exposures, _in_convention(to_linear, gt_gamma, exposures, "ntire")




def _has_kalantari(root: Path) -> bool:
    return any(True for m in (KALANTARI_EXPOSURE, KALANTARI_GT) for _ in root.rglob(m))


def _has_ntire_folders(root: Path) -> bool:
    return any(True for m in ("exposures.npy", "alignratio.npy") for _ in root.rglob(m))


@dataclass(frozen=True)
class Layout:
    """One ground-truth dataset layout: how it is recognised, listed and read, the convention its
    frames and ground truth follow (so the classical merges' response gamma, ``preprocess.GAMMA``),
    and the metrics its papers report first."""

    detect: Callable[[Path], bool]
    list_scenes: Callable[[Path], list[SceneRef]]
    read: Callable[[dict[str, Path]], SceneData]
    convention: Convention
    headline_metrics: tuple[str, ...]

    @property
    def gamma(self) -> float:
        return GAMMA[self.convention]


KALANTARI_METRICS: tuple[str, ...] = ("PSNR-mu", "PSNR-l", "SSIM-mu", "SSIM-l")
NTIRE_METRICS: tuple[str, ...] = ("NTIRE PSNR-mu", "NTIRE PSNR-L")
# The table of layouts, in the order of :data:`adnet_cli.choices.LAYOUTS`.
LAYOUT_TABLE: dict[str, Layout] = {
    "kalantari": Layout(_has_kalantari, _list_kalantari, _read_kalantari, "kalantari", KALANTARI_METRICS),
    "ntire": Layout(lambda root: bool(_ntire_flat_ids(root)), _list_ntire, _read_ntire, "ntire", NTIRE_METRICS),
    "ntire-folders": Layout(_has_ntire_folders, _list_ntire_folders, _read_ntire, "ntire", NTIRE_METRICS),
}
assert tuple(LAYOUT_TABLE) == LAYOUTS


def to_network_domain(linear: np.ndarray, exposures: Sequence[float], convention: str) -> np.ndarray:
    """Linear (H, W, 3) HDR on the project's scale -> that convention's network/ground-truth domain
    (``from_linear``): kalantari = linear with 1.0 = shortest frame's white; ntire = gamma-encoded."""
    return _in_convention(from_linear, linear, exposures, convention)

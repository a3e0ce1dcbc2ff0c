"""Scene sources for the bracket simulator: crops of the user's HDR images or of LDR photos.

Each source draws (height, width, 3) float32 linear radiance crops; :func:`adnet_cli.training.simulate.simulate`
turns them into brackets.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from adnet_cli.choices import SCENE_SUFFIXES as HDR_SUFFIXES  # a .tif in a scene folder is a photo
from adnet_cli.curves import srgb_to_linear
from adnet_cli.formats.io import LDR_INPUT_SUFFIXES, read_hdr, read_ldr

# Real HDR scenes of the project's shared sources kept out of training (`hdr:` folders skip files of
# these names unless asked) for the real-scene validation set: an industrial interior (the example
# bracket's scene), a garden in daylight, a road by moonlight and a photo studio.
VALIDATION_SCENES: tuple[str, ...] = (
    "aerodynamics_workshop_1k.hdr",
    "chinese_garden_1k.hdr",
    "narrow_moonlit_road_1k.hdr",
    "brown_photostudio_02_1k.hdr",
)


class SceneSource(Protocol):
    """Anything that draws linear radiance crops for :func:`simulate`."""

    def draw(self, rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, str]:
        """A (height, width, 3) float32 linear radiance crop (>= 0, any scale) and a label for it."""
        ...


def loguniform(rng: np.random.Generator, lo: float, hi: float, size: int | None = None) -> np.ndarray:
    return np.exp(rng.uniform(math.log(lo), math.log(hi), size))


def _find(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Files under ``folder`` (recursively, sorted, dot-files skipped) whose suffix is in ``suffixes``."""
    found = (p for p in folder.rglob("*") if p.suffix.lower() in suffixes and not p.name.startswith("."))
    return sorted(p for p in found if p.is_file())


def _random_crop(rng: np.random.Generator, image: np.ndarray, height: int, width: int) -> np.ndarray:
    """A random window of ``image`` (H, W, 3) resized to (height, width, 3) float32, randomly mirrored.

    The window is up to 4x the output size (area-averaged) when the image allows; small images are
    up-sampled.
    """
    h, w = image.shape[:2]
    fit = min(h / height, w / width)
    zoom = fit if fit <= 1.0 else float(np.exp(rng.uniform(0.0, math.log(min(fit, 4.0)))))
    ch, cw = min(h, max(1, round(height * zoom))), min(w, max(1, round(width * zoom)))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    interpolation = cv2.INTER_AREA if zoom > 1.0 else cv2.INTER_LINEAR
    crop = cv2.resize(image[y : y + ch, x : x + cw], (width, height), interpolation=interpolation)
    return np.ascontiguousarray(crop[:, ::-1] if rng.random() < 0.5 else crop, dtype=np.float32)


def _load_hdr(path: Path) -> np.ndarray:
    """A .hdr/.exr file as (H, W, 3) float32 linear radiance, NaN and infinities read as 0."""
    return np.maximum(np.nan_to_num(read_hdr(path), nan=0.0, posinf=0.0, neginf=0.0), 0.0, dtype=np.float32)


def _crop_hdr(rng: np.random.Generator, image: np.ndarray, height: int, width: int) -> np.ndarray:
    h, w = image.shape[:2]
    if abs(w - 2 * h) <= 0.01 * w:  # equirectangular: the middle half of the rows, away from the poles
        image = image[h // 4 : h - h // 4]
    return _random_crop(rng, image, height, width) * np.float32(loguniform(rng, 0.25, 4.0))


def _load_ldr(path: Path) -> np.ndarray:
    """An 8/16-bit photo as (H, W, 3) float32 linear values in [0, 1] (inverse sRGB curve)."""
    return srgb_to_linear(read_ldr(path).pixels)


def _crop_ldr(rng: np.random.Generator, image: np.ndarray, height: int, width: int) -> np.ndarray:
    """A crop of a linearised photo with synthetic highlights, since an 8-bit photo has no range above white.

    Near-white pixels (clipped by the camera that took the photo) and 1-3 soft Gaussian blobs are each
    multiplied by a factor log-uniform in [4, 64], blended smoothly. Returns (height, width, 3) float32.
    """
    linear = _random_crop(rng, image, height, width)
    gain = 1.0 + (loguniform(rng, 4.0, 64.0) - 1.0) * np.clip((linear.max(-1) - 0.6) / 0.4, 0.0, 1.0) ** 2
    ys, xs = np.arange(height, dtype=np.float32) / height, np.arange(width, dtype=np.float32) / width
    for _ in range(int(rng.integers(1, 4))):
        (cy, cx), (sy, sx) = rng.random(2), rng.uniform(0.05, 0.3, 2)
        blob = np.exp(-0.5 * ((ys - cy) / sy) ** 2)[:, None] * np.exp(-0.5 * ((xs - cx) / sx) ** 2)[None, :]
        gain *= 1.0 + (loguniform(rng, 4.0, 64.0) - 1.0) * blob
    return (linear * gain[..., None]).astype(np.float32)


class _FolderSource:
    """Image files found under a folder (recursively), decoded on first use and kept in an LRU cache of
    ``cache_size`` images (a 4K panorama takes about 100 MB). Undecodable files raise InputError on draw."""

    def __init__(
        self, folder: Path, suffixes: tuple[str, ...], label: str, cache_size: int,
        load: Callable[[Path], np.ndarray], crop: Callable[..., np.ndarray],
        only: tuple[Path, ...] = (), exclude: tuple[str, ...] = (),
    ) -> None:
        self.folder, self.label, self.cache_size = Path(folder), label, cache_size
        self._load, self._crop = load, crop
        found = _find(self.folder, suffixes) if self.folder.is_dir() else []
        self.files = [p for p in found if (not only or p in only) and p.name not in exclude]
        if not self.files:
            left_out = f" (left out: {', '.join(exclude)})" if exclude else ""
            raise ValueError(f"{self.folder}: no {'/'.join(suffixes)} files found{left_out}")
        self._cache: OrderedDict[Path, np.ndarray] = OrderedDict()

    def draw(self, rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, str]:
        """A (height, width, 3) float32 linear crop of a randomly chosen file, and "<kind>:<path>"."""
        path = self.files[int(rng.integers(len(self.files)))]
        if path not in self._cache:
            self._cache[path] = self._load(path)
            while len(self._cache) > max(1, self.cache_size):
                self._cache.popitem(last=False)
        self._cache.move_to_end(path)
        return self._crop(rng, self._cache[path], height, width), f"{self.label}:{path}"


class HdrFolderSource(_FolderSource):
    """Crops of .hdr/.exr files (:func:`adnet_cli.formats.io.read_hdr`): a random file, window (of a 2:1 panorama
    only the middle half of the rows), mirror flip and radiance scale (log-uniform in [1/4, 4])."""

    def __init__(self, folder: Path, cache_size: int = 8, only: tuple[Path, ...] = (),
                 exclude: tuple[str, ...] = ()) -> None:
        """only: these files alone (full paths); exclude: files of these names left out."""
        super().__init__(folder, HDR_SUFFIXES, "hdr", cache_size, _load_hdr, _crop_hdr, only, exclude)


class LdrFolderSource(_FolderSource):
    """Crops of .png/.jpg/.tif photos (:func:`adnet_cli.formats.io.read_ldr`), linearised with the inverse sRGB
    curve, cropped like HdrFolderSource and given highlights above white (see :func:`_crop_ldr`)."""

    def __init__(self, folder: Path, cache_size: int = 8) -> None:
        super().__init__(folder, LDR_INPUT_SUFFIXES, "ldr", cache_size, _load_ldr, _crop_ldr)


def sources_from_folder(folder: Path, holdout: bool = True) -> list[SceneSource]:
    """[HdrFolderSource] if ``folder`` holds .hdr/.exr files, [LdrFolderSource] if it holds LDR photos,
    both if both (searched recursively); with `holdout`, HDR files named in VALIDATION_SCENES are left
    out. ValueError if it holds neither or is not a folder."""
    folder = Path(folder)
    exclude = VALIDATION_SCENES if holdout else ()
    hdrs = [p for p in _find(folder, HDR_SUFFIXES) if p.name not in exclude] if folder.is_dir() else []
    found = [bool(hdrs), folder.is_dir() and bool(_find(folder, LDR_INPUT_SUFFIXES))]
    if not any(found):
        kinds = ", ".join(HDR_SUFFIXES + LDR_INPUT_SUFFIXES)
        raise ValueError(f"{folder}: not a folder holding scene images ({kinds})")
    sources: list[SceneSource] = [HdrFolderSource(folder, exclude=exclude)] if found[0] else []
    return sources + ([LdrFolderSource(folder)] if found[1] else [])


def validation_scene_files(folders: list[Path]) -> list[Path]:
    """The VALIDATION_SCENES files found under `folders` (recursively), in VALIDATION_SCENES order,
    each name once (the first folder that has it)."""
    found: dict[str, Path] = {}
    for folder in folders:
        for p in _find(Path(folder), HDR_SUFFIXES) if Path(folder).is_dir() else []:
            found.setdefault(p.name, p)
    return [found[name] for name in VALIDATION_SCENES if name in found]

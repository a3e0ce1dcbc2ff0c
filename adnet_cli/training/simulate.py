"""Deterministic synthetic brackets for training: three 8-bit frames and their linear HDR ground truth.

``simulate(seed, config, sources)`` draws everything from one ``np.random.default_rng(seed)``: the same
seed, config and sources give a bit-identical :class:`Sample`. A sample is made in four steps.

1. Scene: linear radiance on a square canvas (the output crop plus a margin that no warp below reaches
   past), rendered at ``SS`` x supersampling: procedural dead leaves or, when sources are given, half of
   the time a crop drawn from a :class:`SceneSource`.
2. Motion: the medium frame is the reference (identity, objects at their reference positions). Unless the
   sample is static, short and long each get a global affine warp (translation up to ``max_shift`` px,
   rotation up to 1.5 degrees, scale 1 +- 0.02) and each of 0..``max_objects`` objects its own translation
   (up to ``3 * max_shift`` px); objects are alpha layers composited in a fixed depth order. Every frame is
   warped bilinearly on the supersampled grid, then area-averaged, so all three are filtered alike.
3. Exposure: the scene is scaled so that 1.0 saturates the medium frame: a drawn 2-20 % of its pixels
   saturate, with its median signal held within 0.08-0.35. Exposure times are ``1/r1, 1, r2``, r1 and r2
   log-uniform in ``ratio_range``.
4. Camera (`adnet_cli.training.camera`): ``camera="gamma"`` is Poisson-Gaussian noise, clipping at 1, a gamma
   response and 8-bit quantisation. ``camera="realistic"`` draws a real camera's variations from a
   stream of its own (so the gamma camera's samples stay bit-identical): tone curves around sRGB and
   filmic S-curves, channels clipping at different levels, chroma noise, JPEG; EV steps of 1-3 stops
   (ratios 2-8, the two steps equal as in auto-bracketing 70 % of the time) with one pair in
   ``LARGE_STEP_PROB`` spanning 3 stops up to ``ratio_range[1]``; and in ``DARK_PROB`` of the brackets a
   dark scene (median signal 0.004-0.04 of the medium frame's white, little saturated, more read noise).

The output is ``size`` x ``width`` (``width`` 0: square).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from adnet_cli.choices import CAMERAS
from adnet_cli.curves import NTIRE_GAMMA
from adnet_cli.training.camera import CameraParams, capture, capture_camera, draw_camera, draw_exposures
from adnet_cli.training.scene_sources import SceneSource, loguniform

SS = 2  # supersampling factor of scene rendering and warping
MAX_ROTATION_DEG = 1.5
MAX_SCALE_CHANGE = 0.02
OBJECT_SHIFT = 3.0  # objects move up to this many times max_shift
FULLWELL = (2000.0, 20000.0)  # electrons at saturation, log-uniform per sample
READ_SIGMA = (5e-4, 3e-3)  # read noise in signal units, log-uniform per sample
SATURATED_FRACTION = (0.02, 0.2)  # target share of saturated medium-frame pixels
MEDIAN_SIGNAL = (0.08, 0.35)  # bounds on the medium frame's median signal
NOISE_CELLS = (2.0, 8.0, 32.0)  # value-noise feature sizes of leaf textures, output pixels
DARK_PROB = 0.15
DARK_MEDIAN = (0.004, 0.04)
DARK_SATURATED = (0.0, 0.02)
DARK_READ_SIGMA = (2e-3, 8e-3)

# (y0, x0, height, width) of a window on the supersampled canvas -> its (height, width, 3) radiance.
Texture = Callable[[int, int, int, int], np.ndarray]
# A moving object on the supersampled canvas: y0, x0 and (h, w, 4) premultiplied radiance and alpha.
Layer = tuple[int, int, np.ndarray]


@dataclass(frozen=True)
class SimulatorConfig:
    """Parameters of :func:`simulate`, explained in the module docstring; ValueError if inconsistent."""

    size: int = 256
    ratio_range: tuple[float, float] = (2.0, 8.0)
    camera: str = "gamma"
    width: int = 0  # 0: square (size x size)
    gamma: float = NTIRE_GAMMA
    gamma_jitter: float = 0.1
    gamma_jitter_prob: float = 0.3
    static_prob: float = 0.25
    max_shift: float = 6.0
    max_objects: int = 3
    noise: bool = True

    def __post_init__(self) -> None:
        if not (self.size >= 4 and 1.0 < self.ratio_range[0] <= self.ratio_range[1]):
            raise ValueError(f"need size >= 4 and 1 < ratio_range[0] <= ratio_range[1], got {self}")
        if not (0.0 <= self.gamma_jitter < self.gamma and self.max_shift >= 0 and self.max_objects >= 0):
            raise ValueError(f"need 0 <= gamma_jitter < gamma, max_shift >= 0, max_objects >= 0, got {self}")
        if not (0.0 <= self.gamma_jitter_prob <= 1.0 and 0.0 <= self.static_prob <= 1.0):
            raise ValueError(f"probabilities must lie in [0, 1], got {self}")
        if self.camera not in CAMERAS or self.width < 0 or 0 < self.width < 4:
            raise ValueError(f"need camera in {CAMERAS} and width 0 or >= 4, got {self}")

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the output."""
        return self.size, self.width or self.size


@dataclass(frozen=True)
class Sample:
    """One synthetic bracket.

    ldrs: (3, H, W, 3) float32 in [0, 1], frames short, medium, long; 8-bit values k/255.
    exposures: (3,) float64 exposure times, medium == 1.0, strictly increasing.
    hdr: (H, W, 3) float32 linear radiance as the medium frame sees it (its pose and object positions),
        noise-free and unclipped; 1.0 is the radiance that just saturates the medium frame.
    gamma: the response gamma, ``ldr = clip(signal, 0, 1) ** (1 / gamma)``, of the gamma camera or of a
        realistic camera whose tone curve is ``gamma`` (meaningless for its srgb and filmic curves).
    static: True when all three frames share one geometry.
    noise_params: (fullwell, read_sigma) given to :func:`capture`; (inf, 0.0) when noise is off.
    scene: "dead_leaves", or the label of the source crop (e.g. "hdr:/data/room.exr").
    """

    ldrs: np.ndarray
    exposures: np.ndarray
    hdr: np.ndarray
    gamma: float
    static: bool
    noise_params: tuple[float, float] = (math.inf, 0.0)
    scene: str = "dead_leaves"
    camera: CameraParams | None = None  # the realistic camera's draw; None for the gamma camera
    dark: bool = False


# ----------------------------------------------------------------------------- dead leaves


def _outlines(rng: np.random.Generator, centres: np.ndarray, radii: np.ndarray, k: int) -> np.ndarray:
    """Random discs, ellipses, rectangles and 3-8-gons of the given centres (n, 2) (x, y) and radii (n,),
    output pixels, as (n, k, 2) int32 vertices on the supersampled grid in cv2 fixed point (shift 4)."""
    n = len(radii)
    kind = rng.integers(0, 4, n)  # 0 disc, 1 ellipse, 2 rectangle, 3 polygon
    theta = 2 * np.pi * np.arange(k) / k
    circle = np.stack([np.cos(theta), np.sin(theta)], -1)
    unit = np.broadcast_to(circle, (n, k, 2)).copy()
    unit[kind == 2] = circle / np.abs(circle).max(-1, keepdims=True)  # k divisible by 8 hits the corners
    poly = kind == 3
    corners = rng.integers(3, 9, int(poly.sum()))[:, None]
    angles = np.where(np.arange(8) < corners, rng.uniform(0, 2 * np.pi, (len(corners), 8)), np.inf)
    slot = np.arange(k) * corners // k  # each polygon vertex repeated to fill the k slots
    a = np.take_along_axis(np.sort(angles, axis=1), slot, 1)
    rho = np.take_along_axis(rng.uniform(0.6, 1.0, (len(corners), 8)), slot, 1)
    unit[poly] = np.stack([np.cos(a), np.sin(a)], -1) * rho[..., None]
    x = unit[..., 0] * radii[:, None]
    y = unit[..., 1] * (radii * np.where(kind == 0, 1.0, rng.uniform(0.3, 1.0, n)))[:, None]
    phi = rng.uniform(0, np.pi, (n, 1))
    cos, sin = np.cos(phi), np.sin(phi)
    points = np.stack([cos * x - sin * y + centres[:, :1], sin * x + cos * y + centres[:, 1:]], -1)
    return np.round((points * SS + (SS - 1) / 2) * 16).astype(np.int32)


def _leaf_table(rng: np.random.Generator, centres: np.ndarray, radii: np.ndarray) -> dict[str, np.ndarray]:
    """Per-leaf appearance: (n,) arrays ((n, 3) for tint), float32 except the int ``field``.

    Log10 radiance is uniform on [-4, 0] or on [0, 1] with equal odds: five decades, the bright side
    short so that the short frame can hold most highlights. Tint: per-channel log-normal, mean 1.
    Textures: a log-linear gradient pivoting on the leaf centre (half the leaves, up to e**2 across),
    sinusoidal stripes (30 %, period 3-30 px), multiplicative value noise (70 %, one of three scales).
    """
    n, f32 = len(radii), np.float32
    log10 = np.where(rng.random(n) < 0.5, rng.uniform(0.0, 1.0, n), rng.uniform(-4.0, 0.0, n))
    tint = np.exp(rng.uniform(0.0, 0.5, (n, 1)) * rng.standard_normal((n, 3)))
    slope, direction = (rng.random(n) < 0.5) * rng.uniform(0.0, 1.0, n) / radii, rng.uniform(0, 2 * np.pi, n)
    gx, gy = slope * np.cos(direction), slope * np.sin(direction)
    wave, orient = 2 * np.pi / loguniform(rng, 3.0, 30.0, n), rng.uniform(0, np.pi, n)
    return {
        "log_r": (log10 * math.log(10) - gx * centres[:, 0] - gy * centres[:, 1]).astype(f32),
        "tint": (tint / tint.mean(1, keepdims=True)).astype(f32),
        "gx": gx.astype(f32),
        "gy": gy.astype(f32),
        "stripe": ((rng.random(n) < 0.3) * rng.uniform(0.3, 0.9, n)).astype(f32),
        "kx": (wave * np.cos(orient)).astype(f32),
        "ky": (wave * np.sin(orient)).astype(f32),
        "phase": rng.uniform(0, 2 * np.pi, n).astype(f32),
        "noise": ((rng.random(n) < 0.7) * rng.uniform(-0.8, 0.8, n)).astype(f32),
        "field": rng.integers(0, len(NOISE_CELLS), n),
    }


def _shade(
    table: dict[str, np.ndarray], ids: np.ndarray, y0: int, x0: int, fields: np.ndarray, light: np.ndarray
) -> np.ndarray:
    """Radiance (h, w, 3) float32 of the supersampled-canvas window at (y0, x0) showing leaves ``ids``
    ((h, w) indices into ``table``); ``fields`` (3, H, W) value noise and ``light`` (H, W) log illumination
    cover the whole canvas."""
    h, w = ids.shape
    y = ((np.arange(y0, y0 + h, dtype=np.float32) - (SS - 1) / 2) / SS)[:, None]
    x = ((np.arange(x0, x0 + w, dtype=np.float32) - (SS - 1) / 2) / SS)[None, :]
    at = {name: np.take(values, ids) for name, values in table.items() if name != "tint"}
    log_r = at["log_r"] + at["gx"] * x + at["gy"] * y + light[y0 : y0 + h, x0 : x0 + w]
    log_r += np.log1p(at["stripe"] * np.sin(at["kx"] * x + at["ky"] * y + at["phase"]))
    log_r += at["noise"] * np.take_along_axis(fields[:, y0 : y0 + h, x0 : x0 + w], at["field"][None], 0)[0]
    return np.exp(log_r)[..., None] * np.take(table["tint"], ids, axis=0)


def _dead_leaves(rng: np.random.Generator, canvas: int) -> tuple[np.ndarray, Texture]:
    """Dead-leaves radiance (canvas*SS, canvas*SS, 3) float32 and a texture for object layers.

    Leaf radii follow p(r) ~ r**-3 (scale invariant) from 1 px to the canvas size; leaves are painted
    back to front over one canvas-wide leaf until their areas sum to 2.2 canvases. 1-5 small emitters
    (radius 1-4 px, 50-1000x the median radiance, unlit) go on top; a log-linear illumination gradient of
    up to 1.5 decades across the canvas lights everything else.
    """
    n2, rmax = canvas * SS, float(canvas)
    n = int(2.2 * canvas**2 / (0.65 * math.pi * 2 * math.log(rmax)))  # 2 ln(rmax) = E[r**2]; 0.65: shape area
    n_emit = int(rng.integers(1, 6))
    radii = (1.0 - rng.random(n) * (1.0 - rmax**-2)) ** -0.5  # inverse CDF of r**-3 on [1, rmax]
    radii = np.concatenate([[rmax], radii, rng.uniform(1, 4, n_emit)])
    centres = np.concatenate([[[canvas / 2, canvas / 2]], rng.uniform(0, canvas, (n + n_emit, 2))])
    table = _leaf_table(rng, centres, radii)
    small, big = _outlines(rng, centres, radii, 16), radii >= 10
    big[0] = False  # leaf 0 is the background, never drawn: the outlines below must start at leaf 1's
    large = iter(_outlines(rng, centres[big], radii[big], 64))  # more vertices where they show
    ids = np.zeros((n2, n2), np.int32)
    for i in range(1, len(radii)):
        cv2.fillPoly(ids, [next(large) if big[i] else small[i]], i, cv2.LINE_8, 4)
    ids = ids.astype(np.intp)
    grids = [rng.uniform(-1, 1, (math.ceil(n2 / (c * SS)) + 2,) * 2).astype(np.float32) for c in NOISE_CELLS]
    fields = np.stack([cv2.resize(g, (n2, n2), interpolation=cv2.INTER_CUBIC) for g in grids])  # value noise
    angle, decades = rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 1.5)
    ramp = np.linspace(-0.5, 0.5, n2, dtype=np.float32) * np.float32(decades * math.log(10))
    light = ramp[None, :] * np.float32(math.cos(angle)) + ramp[:, None] * np.float32(math.sin(angle))
    radiance = _shade(table, ids, 0, 0, fields, light)
    emitter = ids > n
    power = float(np.median(radiance[::4, ::4].mean(-1))) * loguniform(rng, 50.0, 1000.0, n_emit)
    radiance[emitter] = power.astype(np.float32)[ids[emitter] - n - 1, None] * table["tint"][ids[emitter]]

    def texture(y0: int, x0: int, h: int, w: int) -> np.ndarray:
        centre = (np.array([[x0 + w / 2, y0 + h / 2]]) - (SS - 1) / 2) / SS
        leaf = _leaf_table(rng, centre, np.array([max(h, w) / (2 * SS)]))
        return _shade(leaf, np.zeros((h, w), np.intp), y0, x0, fields, light)

    return radiance, texture


# ----------------------------------------------------------------------------- motion and frames


def _margin(config: SimulatorConfig) -> int:
    """Canvas border (output px) that no camera warp or object shift samples past."""
    swing = MAX_SCALE_CHANGE + 2 * math.sin(math.radians(MAX_ROTATION_DEG) / 2) * (1 + MAX_SCALE_CHANGE)
    return math.ceil((1 + OBJECT_SHIFT) * config.max_shift + max(config.shape) / math.sqrt(2) * swing) + 2


def _object(rng: np.random.Generator, shape: tuple[int, int], margin: int, texture: Texture) -> Layer:
    """An object of radius 8-30 % of the height, centred inside the (height, width) output crop, at its
    reference position."""
    (h, w), size = shape, shape[0]
    canvas = np.array([w + 2 * margin, h + 2 * margin]) * SS  # (x, y)
    centre = margin + rng.uniform(0, size, (1, 2)) * np.array([w / size, 1.0])
    radius = np.array([rng.uniform(0.08, 0.3) * size])
    points = _outlines(rng, centre, radius, 64)[0]
    lo, hi = np.clip(points.min(0) // 16 - 1, 0, canvas), np.clip(points.max(0) // 16 + 2, 0, canvas)
    mask = np.zeros((hi[1] - lo[1], hi[0] - lo[0]), np.float32)
    cv2.fillPoly(mask, [points - lo * 16], 1.0, cv2.LINE_8, 4)
    radiance = texture(int(lo[1]), int(lo[0]), *mask.shape)
    return int(lo[1]), int(lo[0]), np.dstack([radiance * mask[..., None], mask])


def _disc(rng: np.random.Generator, radius: float) -> np.ndarray:
    """A (2,) point (x, y) uniform in the disc of ``radius`` output px, in supersampled px."""
    r, a = radius * SS * math.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
    return np.array([r * math.cos(a), r * math.sin(a)])


def _camera(rng: np.random.Generator, config: SimulatorConfig, margin: int) -> np.ndarray:
    """(2, 3) inverse map from a moved camera's crop pixels to canvas positions, both supersampled."""
    angle = math.radians(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG))
    lin = (1.0 + rng.uniform(-MAX_SCALE_CHANGE, MAX_SCALE_CHANGE)) * np.array(
        [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
    )
    h, w = config.shape
    centre = ((np.array([w, h], dtype=np.float64) + 2 * margin) * SS - 1) / 2  # rotate, scale about the canvas centre
    offset = lin @ (margin * SS - centre) + centre + _disc(rng, config.max_shift)
    return np.hstack([lin, offset[:, None]])


def _composite(frame: np.ndarray, layer: Layer, matrix: np.ndarray, shift: np.ndarray) -> None:
    """Paint ``layer`` moved by ``shift`` (SS px, x/y) over ``frame`` (SS grid) in place, via ``matrix``."""
    y0, x0, rgba = layer
    lin, offset = matrix[:, :2], matrix[:, 2] - shift - (x0, y0)  # frame pixel -> layer pixel
    h, w = rgba.shape[:2]
    corners = (np.array([[0, 0], [w, 0], [0, h], [w, h]]) - offset) @ np.linalg.inv(lin).T  # into the frame
    lo = np.maximum(np.floor(corners.min(0)).astype(int) - 2, 0)
    hi = np.minimum(np.ceil(corners.max(0)).astype(int) + 2, frame.shape[1::-1])
    if np.any(hi <= lo):
        return
    m = np.hstack([lin, (lin @ lo + offset)[:, None]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(rgba, m, (int(hi[0] - lo[0]), int(hi[1] - lo[1])), flags=flags)
    region = frame[lo[1] : hi[1], lo[0] : hi[0]]
    region *= 1.0 - warped[..., 3:]
    region += warped[..., :3]


def _render(
    background: np.ndarray, layers: list[Layer], matrix: np.ndarray, shifts: list[np.ndarray],
    shape: tuple[int, int],
) -> np.ndarray:
    """One frame's (height, width, 3) float32 radiance: the background through ``matrix``, objects over it."""
    (h2, w2), lin, offset = (shape[0] * SS, shape[1] * SS), matrix[:, :2], matrix[:, 2]
    if np.array_equal(lin, np.eye(2)) and np.array_equal(offset, np.round(offset)):  # an exact slice
        frame = background[int(offset[1]) : int(offset[1]) + h2, int(offset[0]) : int(offset[0]) + w2].copy()
    else:
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        frame = cv2.warpAffine(background, matrix, (w2, h2), flags=flags, borderMode=cv2.BORDER_REFLECT)
    for layer, shift in zip(layers, shifts):
        _composite(frame, layer, matrix, shift)
    return cv2.resize(frame, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


# ----------------------------------------------------------------------------- exposure and camera


def _exposure_scale(
    rng: np.random.Generator, medium: np.ndarray,
    saturated: tuple[float, float] = SATURATED_FRACTION, median_signal: tuple[float, float] = MEDIAN_SIGNAL,
) -> float:
    """Factor putting the medium frame's radiance (H, W, 3) on the output scale (1.0 saturates it)."""
    white = float(np.quantile(medium.max(-1)[::2, ::2], 1.0 - rng.uniform(*saturated)))
    median = float(np.median(medium[::2, ::2]))
    if median > 0:
        white = min(max(white, median / median_signal[1]), median / median_signal[0])
    white = white if white > 0 else float(medium.max())
    return 1.0 / white if white > 0 else 1.0


def _checked(radiance: np.ndarray, height: int, width: int) -> np.ndarray:
    """A source's crop as (height, width, 3) float32 >= 0 (NaN/inf -> 0); ValueError on a wrong shape."""
    if radiance.shape != (height, width, 3):
        raise ValueError(f"scene source returned shape {radiance.shape}, expected {(height, width, 3)}")
    return np.maximum(np.nan_to_num(radiance, nan=0.0, posinf=0.0, neginf=0.0), 0.0, dtype=np.float32)


def simulate(
    seed: int,
    config: SimulatorConfig = SimulatorConfig(),
    sources: Sequence[SceneSource] = (),
    procedural_share: float = 0.5,
) -> Sample:
    """A synthetic bracket (see :class:`Sample` and the module docstring), a pure function of its arguments.

    Without sources the scene is procedural dead leaves; with sources, a fraction 1 - procedural_share
    of the samples take their scene from one of them, chosen at random (moving objects are then
    textured from it too), and the rest are dead leaves.
    """
    rng = np.random.default_rng(seed)
    static = bool(rng.random() < config.static_prob)
    r1, r2 = loguniform(rng, *config.ratio_range, 2)
    exposures = np.array([1.0 / r1, 1.0, r2])
    gamma = float(config.gamma)
    if rng.random() < config.gamma_jitter_prob:
        gamma += float(rng.uniform(-config.gamma_jitter, config.gamma_jitter))
    noise = (math.inf, 0.0)
    if config.noise:
        noise = (float(loguniform(rng, *FULLWELL)), float(loguniform(rng, *READ_SIGMA)))
    camera, dark_median = None, None
    if config.camera == "realistic":
        camera, exposures, noise, dark_median = _realistic_draws(seed, config, noise)
    (h, w), margin = config.shape, _margin(config)
    h2, w2 = (h + 2 * margin) * SS, (w + 2 * margin) * SS
    if sources and rng.random() < 1.0 - procedural_share:
        source = sources[int(rng.integers(len(sources)))]
        crop, scene = source.draw(rng, h2, w2)
        background = _checked(crop, h2, w2)

        def texture(y0: int, x0: int, h: int, w: int) -> np.ndarray:
            return _checked(source.draw(rng, h, w)[0], h, w)

    else:
        (background, texture), scene = _dead_leaves(rng, max(h, w) + 2 * margin), "dead_leaves"
        background = background[:h2, :w2]
    n_objects = int(rng.integers(0, config.max_objects + 1))
    layers = [_object(rng, (h, w), margin, texture) for _ in range(n_objects)]
    identity = np.array([[1.0, 0.0, margin * SS], [0.0, 1.0, margin * SS]])
    medium = _render(background, layers, identity, [np.zeros(2)] * len(layers), (h, w))
    moved = [medium, medium]
    for i in range(0 if static else 2):
        shifts = [_disc(rng, OBJECT_SHIFT * config.max_shift) for _ in layers]
        moved[i] = _render(background, layers, _camera(rng, config, margin), shifts, (h, w))
    dark = dark_median is not None
    scale = np.float32(_exposure_scale(rng, medium, *((DARK_SATURATED, (dark_median,) * 2) if dark else ())))
    radiance = [(frame * scale).astype(np.float32) for frame in (moved[0], medium, moved[1])]
    if camera is None:
        ldrs = np.stack([capture(r * t, gamma, noise, rng) for r, t in zip(radiance, exposures)])
    else:
        ldrs = np.stack([capture_camera(r * t, camera, noise, rng) for r, t in zip(radiance, exposures)])
        gamma = camera.gamma
    return Sample(ldrs, exposures, radiance[1], gamma, static, noise, scene, camera, dark)


def _realistic_draws(
    seed: int, config: SimulatorConfig, noise: tuple[float, float]
) -> tuple[CameraParams, np.ndarray, tuple[float, float], float | None]:
    """The realistic camera's draws, from a stream of their own (so the draws of :func:`simulate`'s
    own stream stay those of the gamma camera): camera, exposures, noise and, for a dark scene, the
    medium frame's median signal (log-uniform in DARK_MEDIAN), else None."""
    crng = np.random.default_rng([seed, 1])
    camera, dark = draw_camera(crng, config.gamma, config.gamma_jitter), bool(crng.random() < DARK_PROB)
    exposures = draw_exposures(crng, config.ratio_range)
    if not dark:
        return camera, exposures, noise, None
    if config.noise:
        noise = (noise[0], float(loguniform(crng, *DARK_READ_SIGMA)))
    return camera, exposures, noise, float(loguniform(crng, *DARK_MEDIAN))

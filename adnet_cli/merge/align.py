"""Global pre-alignment of hand-held brackets: one translation, rotation or homography per frame.

ADNet's deformable alignment absorbs small motion; a hand-held bracket can move by tens of pixels
and rotate a little, so the frames are first registered to the reference frame:

1. Exposure matching: every comparison is between the reference and frame *i* brought to the same
   exposure and the same clipping (linearise with ``gamma``, scale by ``t_ref / t_i``, clip both at
   the lower of the two saturation levels, re-encode), in grayscale.
2. Estimation: OpenCV's ECC (:func:`cv2.findTransformECC`) on a Gaussian pyramid, coarse to fine,
   starting from a phase-correlation translation; the finest level has a longest side of at most
   :data:`MAX_SIDE` pixels and the matrix is scaled to full resolution. By default the simplest
   model that explains the frame (translation, then rotation + translation, then homography) is kept.
3. Fallback: when ECC fails or gives an implausible warp (:func:`_plausible`), a pure translation
   from phase correlation; when that is not trustworthy either, the frame is left as it is.
   Both are reported in ``notes``.
4. Warping at full resolution (bicubic). Pixels a warped frame does not cover are filled from the
   reference, exposure-matched to that frame, and ``valid`` marks what every frame covers;
   :func:`crop_frames` instead cuts the frames to a rectangle inside it (``adnet merge --crop``).

Matrices map *reference* pixel coordinates (x right, y down, pixel centres at integers) to the
frame's coordinates: ``aligned(x) = frame(matrix @ x)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from adnet_cli.curves import KALANTARI_GAMMA

MODELS: dict[str, int] = {
    "homography": cv2.MOTION_HOMOGRAPHY,
    "affine": cv2.MOTION_AFFINE,
    "euclidean": cv2.MOTION_EUCLIDEAN,
    "translation": cv2.MOTION_TRANSLATION,
}
MAX_SIDE = 1024  # longest side of the finest estimation level
MIN_SIDE = 64  # the coarsest pyramid level keeps at least this many pixels on its short side
MAX_LEVELS = 4
MAX_SHIFT = 0.2  # of the longest side: no corner may move further than this
MAX_AREA_CHANGE = 1.25  # the warped frame's area may change by at most this factor either way
MIN_PHASE_RESPONSE = 0.05  # phase-correlation peaks below this are noise
SIMPLEST_FIRST = ("translation", "euclidean", "homography")  # the models "auto" tries
AUTO_TOLERANCE = 0.1  # "auto" takes the simplest model whose residual is at most 10 % above the best
BORDER = 0.05  # of the longest side: edge pixels left out of the residual (replicated, not seen)
MIN_TEXTURE = 1e-3  # grayscale standard deviation below which nothing can be registered
ECC_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-6)


@dataclass(frozen=True)
class Motion:
    """How one frame moved relative to the reference.

    index: the frame's position in the input.
    model: the motion model actually used: one of :data:`MODELS`, or "reference" (the reference
        itself) or "none" (no trustworthy estimate; the frame was left as it is).
    dx, dy: displacement of the image centre, pixels (x right, y down).
    rotation: degrees, positive = counter-clockwise as displayed.
    scale: linear zoom factor (1.0 = none).
    matrix: (3, 3) float64, reference pixel coordinates -> frame pixel coordinates.
    note: why a fallback was taken (model "translation" or "none" after ECC failed), else None.
    """

    index: int
    model: str
    dx: float
    dy: float
    rotation: float
    scale: float
    matrix: np.ndarray
    note: str | None = None

    def summary(self) -> str:
        """One line, e.g. "homography, shift (+3.1, -0.4) px, rotation +0.20 deg, scale 1.000", plus the
        fallback's reason; for model "none" the reason alone."""
        if self.model == "none":
            return self.note or "left unaligned"
        dx, dy, rotation = round(self.dx, 1) + 0.0, round(self.dy, 1) + 0.0, round(self.rotation, 2) + 0.0  # no "-0.0"
        line = f"{self.model}, shift ({dx:+.1f}, {dy:+.1f}) px, rotation {rotation:+.2f} deg, scale {self.scale:.3f}"
        return f"{line} ({self.note})" if self.note else line


@dataclass(frozen=True)
class Alignment:
    """Frames registered to the reference.

    frames: (N, H, W, 3) float32 in [0, 1]; the reference frame is returned unchanged.
    motions: one :class:`Motion` per frame, in input order (with the fallback's reason, if any).
    valid: (H, W) bool, True where every warped frame has real content (not border fill).
    notes: human-readable remarks (fallbacks, frames left unaligned), "frame <index>: <reason>".
    """

    frames: np.ndarray
    motions: tuple[Motion, ...]
    valid: np.ndarray
    notes: tuple[str, ...]


def describe_motion(
    matrix: np.ndarray, index: int, model: str, shape: tuple[int, int], note: str | None = None
) -> Motion:
    """Summarise a (3, 3) reference->frame matrix for an image of ``shape`` (H, W)."""
    h, w = shape
    centre = np.array([[[(w - 1) / 2, (h - 1) / 2]]])
    moved = cv2.perspectiveTransform(centre, matrix)[0, 0] - centre[0, 0]
    a = matrix[:2, :2] / matrix[2, 2]  # the local linear part (exact for affine motion)
    rotation = math.degrees(math.atan2(a[0, 1] - a[1, 0], a[0, 0] + a[1, 1]))
    scale = math.sqrt(abs(float(np.linalg.det(a))))
    return Motion(index, model, float(moved[0]), float(moved[1]), rotation, scale, matrix.copy(), note)


def _match_exposures(
    frame: np.ndarray, reference: np.ndarray, ratio: float, gamma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Grayscale images of the frame and the reference at the reference's exposure, clipped alike.

    frame, reference: (h, w) float32 gray in [0, 1], gamma-encoded; ratio: t_ref / t_frame.
    Returns two (h, w) float32 arrays in [0, 1], gamma-encoded again.
    """
    level = min(1.0, ratio)  # the frame saturates at `ratio` once scaled to the reference exposure
    linear = (np.clip(frame, 0, 1) ** gamma * ratio, np.clip(reference, 0, 1) ** gamma)
    matched = [(np.clip(x, 0, level) ** (1 / gamma)).astype(np.float32) for x in linear]
    return matched[0], matched[1]


def _gray_small(image: np.ndarray) -> tuple[np.ndarray, int]:
    """(H, W, 3) -> (gray float32, k): halved k times until the longest side is <= MAX_SIDE."""
    gray = cv2.cvtColor(np.ascontiguousarray(image, dtype=np.float32), cv2.COLOR_RGB2GRAY)
    reductions = 0
    while max(gray.shape) > MAX_SIDE:
        gray, reductions = cv2.pyrDown(gray), reductions + 1
    return gray, reductions


def _exposure_matched_reference(reference: np.ndarray, ratio: float, gamma: float) -> np.ndarray:
    """The (H, W, 3) reference as it would look at the frame's exposure (t_frame / t_ref = 1 / ratio)."""
    return (np.clip(reference, 0, 1) ** gamma / ratio).clip(0, 1) ** (1 / gamma)


def _pyramid(image: np.ndarray) -> list[np.ndarray]:
    """Gaussian pyramid, finest (``image`` itself) first, at most MAX_LEVELS levels."""
    levels = [image]
    while len(levels) < MAX_LEVELS and min(levels[-1].shape) >= 2 * MIN_SIDE:
        levels.append(cv2.pyrDown(levels[-1]))
    return levels


def _rescale(matrix: np.ndarray, factor: float) -> np.ndarray:
    """The same motion in coordinates ``factor`` times larger (pyrDown: x_fine = 2 * x_coarse)."""
    s = np.diag([factor, factor, 1.0])
    return s @ matrix @ np.linalg.inv(s)


def _phase_shift(template: np.ndarray, moving: np.ndarray) -> tuple[float, float] | None:
    """Translation (dx, dy) of ``moving`` relative to ``template``, or None when not trustworthy."""
    if min(template.std(), moving.std()) < MIN_TEXTURE:
        return None
    window = cv2.createHanningWindow(template.shape[::-1], cv2.CV_32F)
    (dx, dy), response = cv2.phaseCorrelate(template - template.mean(), moving - moving.mean(), window)
    if not (np.isfinite(response) and response >= MIN_PHASE_RESPONSE):
        return None
    return float(dx), float(dy)


def _ecc(
    template: list[np.ndarray], moving: list[np.ndarray], model: str, start: np.ndarray
) -> tuple[np.ndarray, float]:
    """Coarse-to-fine ECC over pyramids (finest first); ``start`` is in coarsest-level coordinates.

    Returns the (3, 3) matrix in finest-level coordinates and the finest level's correlation
    coefficient (1 = a perfect fit). Raises cv2.error when ECC fails.
    """
    warp, rho = start, 0.0
    for level in range(len(template) - 1, -1, -1):
        if level < len(template) - 1:
            warp = _rescale(warp, 2.0)
        rows = 3 if model == "homography" else 2
        guess = np.ascontiguousarray(warp[:rows], dtype=np.float32)
        rho, found = cv2.findTransformECC(template[level], moving[level], guess, MODELS[model], ECC_CRITERIA, None, 5)
        warp = np.vstack([found, [0, 0, 1]]) if rows == 2 else found.astype(np.float64)
    return warp.astype(np.float64), float(rho)


def _residual(template: np.ndarray, moving: np.ndarray, matrix: np.ndarray) -> float:
    """Root-mean-square difference between the template and the moving image warped by `matrix`
    (template -> moving coordinates), over the template's pixels that carry information: neither
    clipped (the exposure-matched images share one clip level) nor within BORDER of the edge."""
    h, w = template.shape
    warped = cv2.warpPerspective(moving, matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                 borderMode=cv2.BORDER_REPLICATE)
    level = float(max(template.max(), moving.max()))
    keep = (template < level - 1e-3) & (warped < level - 1e-3)
    edge = max(1, round(BORDER * max(h, w)))
    keep[:edge], keep[-edge:], keep[:, :edge], keep[:, -edge:] = False, False, False, False
    diff = (template - warped)[keep]
    return float(np.sqrt(np.mean(diff**2))) if diff.size else math.inf


def _plausible(matrix: np.ndarray, shape: tuple[int, int]) -> bool:
    """True for a finite warp that moves no corner by more than MAX_SHIFT of the longest side,
    keeps the frame convex and changes its area by at most MAX_AREA_CHANGE."""
    if not np.all(np.isfinite(matrix)) or abs(matrix[2, 2]) < 1e-12:
        return False
    h, w = shape
    corners = np.array([[[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]]], np.float64)
    mapped = cv2.perspectiveTransform(corners, matrix)
    if not np.all(np.isfinite(mapped)):
        return False
    if np.abs(mapped - corners).max() > MAX_SHIFT * max(h, w):
        return False
    quad = mapped[0].astype(np.float32)
    area = cv2.contourArea(quad) / float((w - 1) * (h - 1))
    return cv2.isContourConvex(quad) and 1 / MAX_AREA_CHANGE <= area <= MAX_AREA_CHANGE


def _translation(shift: tuple[float, float] | None, factor: float = 1.0) -> np.ndarray:
    """(3, 3) matrix of the translation ``shift`` (identity for None), scaled by ``factor``."""
    matrix = np.eye(3)
    if shift is not None:
        matrix[:2, 2] = np.asarray(shift) * factor
    return matrix


def estimate_motion(
    frame: np.ndarray, reference: np.ndarray, ratio: float, model: str, gamma: float
) -> tuple[np.ndarray, str, str | None]:
    """Reference->frame matrix at full resolution for one (H, W, 3) frame in [0, 1].

    ratio: t_ref / t_frame. model: one of :data:`MODELS`, or "auto": the first of SIMPLEST_FIRST whose
    residual (:func:`_residual`) is within AUTO_TOLERANCE of the best of them (a homography fits
    noise and parallax too: on hand-held brackets it finds zoom and rotation that are not there).
    ECC runs coarse to fine from the coarsest level's phase-correlation shift; if that fails, once
    more on the finest level alone from its own phase-correlation shift (coarse levels of mostly
    clipped frames can mislead ECC); then the fallbacks.
    Returns (matrix (3, 3) float64, model used, note or None).
    """
    (small_frame, reductions), (small_ref, _) = _gray_small(frame), _gray_small(reference)
    moving, template = _match_exposures(small_frame, small_ref, ratio, gamma)
    moving_levels, template_levels = _pyramid(moving), _pyramid(template)
    to_full, shape = 2.0**reductions, frame.shape[:2]
    fine_shift = _phase_shift(template_levels[0], moving_levels[0])
    attempts = [(len(template_levels), _phase_shift(template_levels[-1], moving_levels[-1]))]
    if len(template_levels) > 1:
        attempts.append((1, fine_shift))
    fits: dict[str, tuple[np.ndarray, float]] = {}
    reason = ""
    for candidate in SIMPLEST_FIRST if model == "auto" else (model,):
        for levels, shift in attempts:
            try:
                found, rho = _ecc(template_levels[:levels], moving_levels[:levels], candidate, _translation(shift))
            except cv2.error:
                reason = "ECC did not converge"
                continue
            matrix = _rescale(found, to_full)
            if _plausible(matrix, shape):
                fits[candidate] = matrix, _residual(template_levels[0], moving_levels[0], found)
                break
            reason = "ECC gave an implausible warp"
    if fits:
        best = min(residual for _, residual in fits.values())
        chosen = next(m for m in fits if fits[m][1] <= best * (1 + AUTO_TOLERANCE) + 1e-6)
        return fits[chosen][0], chosen, None
    matrix = _translation(fine_shift, to_full)
    if fine_shift is not None and _plausible(matrix, shape):
        return matrix, "translation", f"{reason}; fell back to a translation (phase correlation)"
    return np.eye(3), "none", f"{reason} and no reliable translation was found; left unaligned"


def warp_frame(
    frame: np.ndarray, matrix: np.ndarray, filler: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Warp (H, W, 3) ``frame`` onto the reference grid; uncovered pixels come from ``filler``.

    Returns (warped (H, W, 3) float32 in [0, 1], covered (H, W) bool).
    """
    h, w = frame.shape[:2]
    flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    src = np.ascontiguousarray(frame, dtype=np.float32)
    warped = cv2.warpPerspective(src, matrix, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    ones = np.ones((h, w), np.float32)
    coverage = cv2.warpPerspective(ones, matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    covered = coverage >= 0.5  # the pixel centre falls within the frame's pixel area
    out = np.where(covered[..., None], np.clip(warped, 0, 1), filler).astype(np.float32)
    return out, covered


def align_frames(
    frames: np.ndarray,
    exposures: Sequence[float],
    reference: int,
    model: str = "auto",
    gamma: float = KALANTARI_GAMMA,
) -> Alignment:
    """Register every frame of a bracket to ``frames[reference]`` (see the module docstring).

    frames: (N, H, W, 3) float32 in [0, 1], gamma-encoded (``frame**gamma`` proportional to
    exposure x radiance, e.g. after :func:`adnet_cli.merge.response.to_network_frames`); not modified.
    exposures: N exposure times (any unit, only ratios matter), same order.
    reference: index of the frame the others are aligned to.
    model: "auto" (default: the simplest that explains the frames, see :func:`estimate_motion`),
        "homography", "affine", "euclidean" or "translation".
    gamma: the frames' encoding gamma, used only for exposure matching.
    Returns an :class:`Alignment`. Raises ValueError for an unknown model or mismatched inputs.
    """
    if model != "auto" and model not in MODELS:
        raise ValueError(f"unknown motion model {model!r}; expected auto or one of {', '.join(MODELS)}")
    _check_bracket(frames, exposures, reference)
    ref, shape = frames[reference], frames.shape[1:3]
    motions = []
    for i, frame in enumerate(frames):
        if i == reference:
            motions.append(describe_motion(np.eye(3), i, "reference", shape))
            continue
        matrix, used, note = estimate_motion(frame, ref, float(exposures[reference]) / float(exposures[i]), model, gamma)
        motions.append(describe_motion(matrix, i, used, shape, note))
    return apply_motions(frames, motions, exposures, reference, gamma)


def apply_motions(
    frames: np.ndarray, motions: Sequence[Motion], exposures: Sequence[float], reference: int, gamma: float = KALANTARI_GAMMA
) -> Alignment:
    """Warp each frame by its motion (as :func:`align_frames` found them, perhaps on other versions of
    the same frames): frames, exposures, reference and gamma as there, one motion per frame."""
    _check_bracket(frames, exposures, reference)
    ref = frames[reference]
    aligned, valid = [], np.ones(ref.shape[:2], bool)
    for i, (frame, motion) in enumerate(zip(frames, motions)):
        if i == reference:
            aligned.append(np.asarray(frame, np.float32))
            continue
        ratio = float(exposures[reference]) / float(exposures[i])
        warped, covered = warp_frame(frame, motion.matrix, _exposure_matched_reference(ref, ratio, gamma))
        aligned.append(warped)
        valid &= covered
    notes = tuple(f"frame {m.index}: {m.note}" for m in motions if m.note)
    return Alignment(np.stack(aligned), tuple(motions), valid, notes)


def _check_bracket(frames: np.ndarray, exposures: Sequence[float], reference: int) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(exposures) != len(frames):
        raise ValueError(f"expected (N, H, W, 3) frames and N exposures, got {frames.shape}, {len(exposures)}")
    if not 0 <= reference < len(frames):
        raise ValueError(f"reference index {reference} out of range for {len(frames)} frames")


def crop_box(valid: np.ndarray) -> tuple[int, int, int, int]:
    """An axis-aligned rectangle inside which ``valid`` is all True, as (y0, y1, x0, x1), half-open.

    Starts from the bounding box of the True pixels and repeatedly drops the edge row or column
    with the most False pixels until none is left: simple and close to the largest rectangle for
    the convex-ish masks that warping leaves (not guaranteed maximal). (0, 0, 0, 0) when nothing
    is valid.
    """
    ys, xs = np.nonzero(valid)
    if ys.size == 0:
        return 0, 0, 0, 0
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    bad = np.pad((~valid).astype(np.int64), ((1, 0), (1, 0))).cumsum(0).cumsum(1)  # summed-area table

    def count(ya: int, yb: int, xa: int, xb: int) -> int:
        return int(bad[yb, xb] - bad[ya, xb] - bad[yb, xa] + bad[ya, xa])

    while y0 < y1 and x0 < x1 and count(y0, y1, x0, x1):
        edges = {
            "top": count(y0, y0 + 1, x0, x1),
            "bottom": count(y1 - 1, y1, x0, x1),
            "left": count(y0, y1, x0, x0 + 1),
            "right": count(y0, y1, x1 - 1, x1),
        }
        worst = max(edges, key=edges.get)
        y0, y1 = y0 + (worst == "top"), y1 - (worst == "bottom")
        x0, x1 = x0 + (worst == "left"), x1 - (worst == "right")
    return (y0, y1, x0, x1) if y0 < y1 and x0 < x1 else (0, 0, 0, 0)


MIN_CROP = 0.5  # crop_frames keeps at least this fraction of the height and of the width, or does not crop


def crop_frames(alignment: Alignment) -> tuple[np.ndarray, tuple[int, int, int, int] | None, str]:
    """The aligned frames cut to :func:`crop_box` of ``alignment.valid`` (what every frame covers).

    Returns (frames (N, h, w, 3), the box (y0, y1, x0, x1) or None when not cropped, a line saying
    what was done). Nothing is cropped when every pixel is covered, or when the box would keep less
    than :data:`MIN_CROP` of the height or the width (the borders stay filled then).
    """
    height, width = alignment.valid.shape
    box = crop_box(alignment.valid)
    y0, y1, x0, x1 = box
    if box == (0, height, 0, width):
        return alignment.frames, None, "crop: every frame covers the whole picture; nothing to crop"
    if y1 - y0 < MIN_CROP * height or x1 - x0 < MIN_CROP * width:
        return alignment.frames, None, f"crop: the frames share only {x1 - x0}x{y1 - y0} pixels; borders filled instead"
    cropped = np.ascontiguousarray(alignment.frames[:, y0:y1, x0:x1])
    return cropped, box, f"cropped {width}x{height} to {x1 - x0}x{y1 - y0} at x {x0}, y {y0} (what every frame covers)"

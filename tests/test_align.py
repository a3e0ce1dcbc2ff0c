"""Tests for adnet_cli.merge.align: global pre-alignment of hand-held brackets on synthetic scenes.

Each non-reference frame is the reference scene warped with a known matrix M (cv2.warpAffine's
forward map, scene -> frame), so the reference->frame matrix align_frames must find is M itself.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from adnet_cli.merge.align import MODELS, align_frames, crop_box, crop_frames, describe_motion

SIZE = 192
TIMES = (1.0, 4.0, 16.0)
GAMMA = 2.2


def _scene(seed: int = 0, size: int = SIZE, bright: float = 1.0) -> np.ndarray:
    """(H, W, 3) float32 linear radiance: smooth shading times a blurred random texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    shading = 0.15 + 0.5 * (1 + np.sin(3 * xx + 2 * yy))[..., None] * np.stack([1.0 + 0.2 * xx, 1 - 0.2 * yy, 0.8 + 0 * xx], -1)
    texture = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 2.0)
    texture = np.exp(0.8 * texture / texture.std())
    return (bright * shading * texture[..., None]).astype(np.float32)


def _rigid(dx: float, dy: float, degrees: float, size: int = SIZE) -> np.ndarray:
    """(3, 3) forward matrix: rotate by ``degrees`` (counter-clockwise) about the centre, then shift."""
    m = cv2.getRotationMatrix2D(((size - 1) / 2, (size - 1) / 2), degrees, 1.0)
    m[:, 2] += (dx, dy)
    return np.vstack([m, [0, 0, 1]])


def _encode(linear: np.ndarray, time: float) -> np.ndarray:
    """Expose, clip, gamma-encode and quantise to 8 bits, as a camera would."""
    return np.round(np.clip(linear * time / 4, 0, 1) ** (1 / GAMMA) * 255).astype(np.float32) / 255


def _bracket(scene: np.ndarray, motions: dict[int, np.ndarray]) -> np.ndarray:
    """(3, H, W, 3) frames at TIMES; frame i is ``scene`` warped by ``motions[i]`` when given."""
    h, w = scene.shape[:2]
    frames = []
    for i, t in enumerate(TIMES):
        moved = scene
        if i in motions:
            moved = cv2.warpPerspective(scene, motions[i], (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        frames.append(_encode(np.maximum(moved, 0), t))
    return np.stack(frames)


def _grid_error(found: np.ndarray, truth: np.ndarray, size: int = SIZE) -> float:
    """Largest distance (px) between where the two matrices send a 9 x 9 grid of points."""
    pts = np.stack(np.meshgrid(np.linspace(0, size - 1, 9), np.linspace(0, size - 1, 9)), -1).reshape(1, -1, 2)
    return float(np.abs(cv2.perspectiveTransform(pts, found) - cv2.perspectiveTransform(pts, truth)).max())


def _matched_reference(reference: np.ndarray, ratio: float) -> np.ndarray:
    """The reference at the exposure of a frame with t_frame / t_ref = ratio."""
    return np.clip(reference**GAMMA * ratio, 0, 1) ** (1 / GAMMA)


def _check_aligned(result, frames: np.ndarray, static: np.ndarray, reference: int = 1, margin: int = 24) -> None:
    """In the interior, every aligned frame matches (a) the frame as it would have been without
    motion, closely, and (b) the reference brought to its exposure (unclipped pixels)."""
    inner = (slice(margin, -margin), slice(margin, -margin))
    for i, aligned in enumerate(result.frames):
        to_static = np.abs(aligned[inner] - static[i][inner])
        assert to_static.mean() < 0.008 and np.percentile(to_static, 99) < 0.04, (i, to_static.mean())
        expected = _matched_reference(frames[reference], TIMES[i] / TIMES[reference])
        unclipped = (frames[reference][inner] < 0.98) & (expected[inner] < 0.98) & (aligned[inner] < 0.98)
        diff = np.abs(aligned[inner] - expected[inner])[unclipped & (expected[inner] > 0.05)]
        assert diff.mean() < 0.02 and np.percentile(diff, 99) < 0.08, (i, diff.mean())


def test_recovers_rotation_and_subpixel_shift() -> None:
    truth = {0: _rigid(7.3, -4.6, 1.5), 2: _rigid(-5.2, 3.9, -1.2)}
    frames = _bracket(_scene(), truth)
    before = frames.copy()
    result = align_frames(frames, TIMES, reference=1)
    np.testing.assert_array_equal(frames, before)  # inputs untouched
    assert result.frames.shape == frames.shape and result.frames.dtype == np.float32
    assert result.notes == ()
    np.testing.assert_array_equal(result.frames[1], frames[1])
    ref_motion = result.motions[1]
    assert ref_motion.model == "reference" and np.allclose(ref_motion.matrix, np.eye(3))
    for i, m in truth.items():
        motion = result.motions[i]
        assert motion.index == i and motion.model == "euclidean"  # the simplest model with a rotation
        assert _grid_error(motion.matrix, m) < 1.0
        expected = describe_motion(m, i, "truth", (SIZE, SIZE))
        assert abs(motion.dx - expected.dx) < 0.5 and abs(motion.dy - expected.dy) < 0.5
        assert abs(motion.rotation - expected.rotation) < 0.1 and abs(motion.scale - 1) < 0.01
    assert motions_summary(result) == [(0, 7.3, -4.6, 1.5), (2, -5.2, 3.9, -1.2)]
    _check_aligned(result, frames, _bracket(_scene(), {}))
    assert result.valid.shape == (SIZE, SIZE) and 0.8 < result.valid.mean() < 1.0


def motions_summary(result) -> list[tuple[int, float, float, float]]:
    return [(m.index, round(m.dx, 1), round(m.dy, 1), round(m.rotation, 1)) for m in result.motions if m.index != 1]


@pytest.mark.parametrize("model", ["homography", "translation"])
def test_pure_translation(model: str) -> None:
    truth = {0: _rigid(7.3, -4.6, 0.0), 2: _rigid(-3.25, 6.5, 0.0)}
    frames = _bracket(_scene(seed=1), truth)
    result = align_frames(frames, TIMES, reference=1, model=model)
    for i, m in truth.items():
        assert result.motions[i].model == model
        assert _grid_error(result.motions[i].matrix, m) < 0.5
        assert abs(result.motions[i].rotation) < 0.05
    _check_aligned(result, frames, _bracket(_scene(seed=1), {}))


def _keystone(dx: float, dy: float, tilt: float, size: int = SIZE) -> np.ndarray:
    """(3, 3) forward matrix of a camera tilt about the centre (perspective), then a shift."""
    c = (size - 1) / 2
    to_centre = np.array([[1, 0, -c], [0, 1, -c], [0, 0, 1]], np.float64)
    tilted = np.array([[1, 0, 0], [0, 1, 0], [tilt, 0, 1]], np.float64)
    back = np.array([[1, 0, c + dx], [0, 1, c + dy], [0, 0, 1]], np.float64)
    return back @ tilted @ to_centre


@pytest.mark.parametrize(
    ("truth", "model"),
    [(_rigid(5.6, -3.1, 0.0), "translation"), (_rigid(-4.2, 2.5, 1.3), "euclidean"), (_keystone(3.0, -2.0, 8e-4), "homography")],
)
def test_auto_takes_the_simplest_model_that_explains_the_frame(truth: np.ndarray, model: str) -> None:
    """A homography fits anything a translation does and more (noise, parallax); it is taken only when
    the simpler models leave a clearly larger residual."""
    frames = _bracket(_scene(seed=6), {0: truth})
    result = align_frames(frames[:2], TIMES[:2], reference=1)
    assert result.motions[0].model == model
    assert _grid_error(result.motions[0].matrix, truth) < 1.0


def test_static_bracket_is_left_in_place() -> None:
    frames = _bracket(_scene(seed=2), {})
    result = align_frames(frames, TIMES, reference=1)
    for m in result.motions:
        assert _grid_error(m.matrix, np.eye(3)) < 0.1
    assert result.valid.mean() > 0.97


def test_saturated_regions_do_not_bias_the_estimate() -> None:
    """A bright scene: 90% of the long frame and half the reference are clipped."""
    scene = _scene(seed=3, bright=1.5)
    truth = {0: _rigid(4.4, 2.7, 0.8), 2: _rigid(-6.1, -2.2, -1.0)}
    frames = _bracket(scene, truth)
    assert (frames[2] >= 1.0).mean() > 0.85 and (frames[1] >= 1.0).mean() > 0.5
    result = align_frames(frames, TIMES, reference=1)
    assert result.notes == ()
    for i, m in truth.items():
        assert result.motions[i].model == "euclidean"
        assert _grid_error(result.motions[i].matrix, m) < 1.0, i


def test_flat_frames_fall_back_without_raising() -> None:
    frames = np.stack([np.full((64, 80, 3), v, np.float32) for v in (0.2, 0.5, 0.9)])
    result = align_frames(frames, TIMES, reference=1)
    for i in (0, 2):
        motion = result.motions[i]
        assert motion.model == "none"
        np.testing.assert_allclose(motion.matrix, np.eye(3))
        assert (motion.dx, motion.dy, motion.rotation, motion.scale) == (0.0, 0.0, 0.0, 1.0)
        assert motion.summary() == motion.note and motion.note.endswith("left unaligned")
    assert len(result.notes) == 2 and all("left unaligned" in n for n in result.notes)
    np.testing.assert_allclose(result.frames, frames, atol=1e-6)
    assert result.valid.all()


def test_uncovered_border_is_filled_from_the_exposure_matched_reference() -> None:
    shift = {0: _rigid(12.0, 0.0, 0.0)}  # frame 0's content moved 12 px right: its left edge is missing
    frames = _bracket(_scene(seed=4), shift)
    result = align_frames(frames, TIMES, reference=1, model="translation")
    expected = _matched_reference(frames[1], TIMES[0] / TIMES[1])
    np.testing.assert_allclose(result.frames[0][:, -8:], expected[:, -8:], atol=1e-6)
    assert not result.valid[:, -8:].any() and result.valid[:, :-16].all()
    y0, y1, x0, x1 = crop_box(result.valid)
    assert (y0, y1, x0) == (0, SIZE, 0) and SIZE - 14 <= x1 <= SIZE - 11
    cropped, box, said = crop_frames(result)
    assert box == (y0, y1, x0, x1) and cropped.shape == (3, SIZE, x1, 3)
    np.testing.assert_array_equal(cropped, result.frames[:, :, :x1])
    assert said == f"cropped {SIZE}x{SIZE} to {x1}x{SIZE} at x 0, y 0 (what every frame covers)"


def test_crop_frames_leaves_full_or_hopeless_coverage_alone() -> None:
    frames = np.random.default_rng(0).random((3, 20, 30, 3), dtype=np.float32)
    motions = tuple(describe_motion(np.eye(3), i, "none", (20, 30)) for i in range(3))
    full = align_frames(frames, TIMES, 1)  # flat noise: left unaligned, all covered
    assert full.valid.all() and crop_frames(full)[1] is None and "nothing to crop" in crop_frames(full)[2]
    sliver = np.zeros((20, 30), bool)
    sliver[:, :12] = True  # less than half the width in common
    hopeless = type(full)(frames, motions, sliver, ())
    kept, box, said = crop_frames(hopeless)
    assert box is None and kept is frames and said == "crop: the frames share only 12x20 pixels; borders filled instead"


def test_crop_box_is_all_valid() -> None:
    valid = np.zeros((40, 50), bool)
    cv2.fillConvexPoly(valid.view(np.uint8), np.array([[5, 3], [46, 6], [43, 37], [2, 34]], np.int32), 1)
    y0, y1, x0, x1 = crop_box(valid)
    assert valid[y0:y1, x0:x1].all()
    assert (y1 - y0) * (x1 - x0) > 0.7 * valid.sum()
    assert crop_box(np.ones((4, 6), bool)) == (0, 4, 0, 6)
    assert crop_box(np.zeros((4, 6), bool)) == (0, 0, 0, 0)


def test_rejects_bad_arguments() -> None:
    frames = np.zeros((3, 8, 8, 3), np.float32)
    assert set(MODELS) == {"homography", "affine", "euclidean", "translation"}
    with pytest.raises(ValueError, match="motion model"):
        align_frames(frames, TIMES, 1, model="optical-flow")
    with pytest.raises(ValueError, match="reference index"):
        align_frames(frames, TIMES, 3)
    with pytest.raises(ValueError, match="N exposures"):
        align_frames(frames, TIMES[:2], 1)


def test_ecc_failure_falls_back_to_phase_correlation(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args, **kwargs):
        raise cv2.error("ECC: Iterations do not converge")

    monkeypatch.setattr(cv2, "findTransformECC", fail)
    truth = {0: _rigid(7.3, -4.6, 0.0), 2: _rigid(-3.25, 6.5, 0.0)}
    frames = _bracket(_scene(seed=5), truth)
    result = align_frames(frames, TIMES, reference=1)
    for i, m in truth.items():
        assert result.motions[i].model == "translation"
        assert _grid_error(result.motions[i].matrix, m) < 0.5
    assert result.notes == tuple(
        f"frame {i}: ECC did not converge; fell back to a translation (phase correlation)" for i in (0, 2)
    )
    assert result.motions[0].note == "ECC did not converge; fell back to a translation (phase correlation)"
    summary = result.motions[0].summary()
    assert summary.startswith("translation, shift (+7.") and "rotation +0.00 deg, scale 1.000 (ECC did not" in summary

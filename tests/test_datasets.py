"""Tests for adnet_cli.evaluation.datasets: tiny Kalantari / NTIRE datasets written exactly as the real ones are stored.

Every dataset is made from one known linear scene ``radiance`` on the project's scale (1.0 = the
radiance that saturates the medium frame) through a gamma response, so the loaded ground truth can be
checked against it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from layouts import EVS, H, W, ldr_frames, radiance, write_kalantari, write_ntire, write_rgb

from adnet_cli.errors import InputError
from adnet_cli.evaluation.datasets import LAYOUTS, Scene, detect_layout, find_scenes, to_network_domain
from adnet_cli.network.preprocess import CONVENTIONS, to_linear


@pytest.fixture
def kalantari_root(tmp_path: Path) -> Path:
    write_kalantari(tmp_path / "Test" / "PAPER" / "001", radiance(1), EVS, 16)
    write_kalantari(tmp_path / "Test" / "EXTRA" / "002", radiance(2), (0.0, 2.0, 4.0), 8)
    return tmp_path


@pytest.fixture
def ntire_root(tmp_path: Path) -> Path:
    for i in (1, 0):  # written out of order: listing must sort
        write_ntire(tmp_path, f"{i:04d}_", radiance(10 + i), ("short.png", "medium.png", "long.png"))
    return tmp_path


@pytest.fixture
def ntire_folders_root(tmp_path: Path) -> Path:
    write_ntire(tmp_path / "b_scene", "", radiance(21), ("0.png", "1.png", "2.png"))
    write_ntire(tmp_path / "a_scene", "", radiance(20), ("short.png", "medium.png", "long.png"))
    return tmp_path


def load(root: Path, name: str) -> Scene:
    return next(ref for ref in find_scenes(root) if ref.name == name).load()


def assert_rgbe_close(actual: np.ndarray, expected: np.ndarray) -> None:
    """RGBE shares one exponent per pixel: error bounded by ~1% of the pixel's largest channel."""
    bound = 0.01 * expected.max(axis=-1, keepdims=True)
    assert np.all(np.abs(actual - expected) <= bound), np.abs(actual - expected).max()


def assert_frames(scene: Scene, frames: list[np.ndarray]) -> None:
    top = float(np.iinfo(frames[0].dtype).max)
    expected = np.stack(frames).astype(np.float32) / top
    assert scene.frames.dtype == np.float32 and scene.frames.shape == (3, H, W, 3)
    np.testing.assert_allclose(scene.frames, expected, atol=1e-6)


# ----------------------------------------------------------------------------- layouts and listing


@pytest.mark.parametrize("layout", LAYOUTS)
def test_detect_layout(request: pytest.FixtureRequest, layout: str) -> None:
    root = request.getfixturevalue(f"{layout.replace('-', '_')}_root")
    assert detect_layout(root) == layout
    assert all(ref.layout == layout for ref in find_scenes(root))


@pytest.mark.parametrize(
    ("fixture", "names"),
    [
        ("kalantari_root", ["Test/EXTRA/002", "Test/PAPER/001"]),
        ("ntire_root", ["0000", "0001"]),
        ("ntire_folders_root", ["a_scene", "b_scene"]),
    ],
)
def test_find_scenes_names_sorted(request: pytest.FixtureRequest, fixture: str, names: list[str]) -> None:
    root = request.getfixturevalue(fixture)
    assert [ref.name for ref in find_scenes(root)] == names


def test_empty_or_unrecognised_root_raises(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no dataset recognised"):
        detect_layout(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "photo.png").write_bytes(b"")
    with pytest.raises(InputError, match=str(tmp_path)):
        find_scenes(tmp_path)
    with pytest.raises(InputError, match="no such folder"):
        detect_layout(tmp_path / "absent")


def test_mixed_layouts_and_wrong_layout(kalantari_root: Path) -> None:
    with pytest.raises(InputError, match="no ntire scenes"):
        find_scenes(kalantari_root, "ntire")
    with pytest.raises(ValueError, match="unknown dataset layout"):
        find_scenes(kalantari_root, "sig17")
    write_ntire(kalantari_root, "0000_", radiance(3), ("short.png", "medium.png", "long.png"))
    with pytest.raises(InputError, match="more than one"):
        detect_layout(kalantari_root)
    assert [r.name for r in find_scenes(kalantari_root, "ntire")] == ["0000"]


# ----------------------------------------------------------------------------- loading


def test_kalantari_16bit_ev_minus2_0_2(tmp_path: Path) -> None:
    lin = radiance(1)
    frames = write_kalantari(tmp_path / "Test" / "PAPER" / "001", lin, EVS, 16)
    scene = load(tmp_path, "Test/PAPER/001")
    assert scene.exposures == (0.25, 1.0, 4.0)
    assert_frames(scene, frames)
    assert scene.hdr.dtype == np.float32 and scene.hdr.max() > 1.5
    assert_rgbe_close(scene.hdr, lin)


def test_kalantari_8bit_ev_0_2_4(tmp_path: Path) -> None:
    lin = radiance(2)
    frames = write_kalantari(tmp_path / "Test" / "EXTRA" / "002", lin, (0.0, 2.0, 4.0), 8)
    scene = load(tmp_path, "Test/EXTRA/002")
    assert scene.exposures == (1.0, 4.0, 16.0)
    assert_frames(scene, frames)
    assert_rgbe_close(scene.hdr, lin)


def test_kalantari_frames_sorted_by_exposure(tmp_path: Path) -> None:
    lin = radiance(4)
    folder = tmp_path / "Training" / "007"
    short, medium, long_ = write_kalantari(folder, lin, EVS, 16)
    # Rename so that file-name order is long, short, medium and rewrite exposure.txt to match.
    names = sorted(folder.glob("*.tif"))
    for path, new in zip(names, ("b.tif", "c.tif", "a.tif")):
        path.rename(folder / new)
    (folder / "exposure.txt").write_text("2\n-2\n0\n")
    scene = load(tmp_path, "Training/007")
    assert scene.exposures == (0.25, 1.0, 4.0)
    assert_frames(scene, [short, medium, long_])
    assert_rgbe_close(scene.hdr, lin)


@pytest.mark.parametrize("fixture", ["ntire_root", "ntire_folders_root"])
def test_ntire_loads_on_project_scale(request: pytest.FixtureRequest, fixture: str) -> None:
    root = request.getfixturevalue(fixture)
    refs = find_scenes(root)
    seeds = (10, 11) if fixture == "ntire_root" else (20, 21)
    for ref, seed in zip(refs, seeds):
        scene = ref.load()
        lin = radiance(seed)
        assert scene.name == ref.name
        assert scene.exposures == (0.25, 1.0, 4.0)
        assert_frames(scene, ldr_frames(lin, EVS, 8, 2.24))
        assert scene.hdr.dtype == np.float32 and scene.hdr.shape == (H, W, 3)
        # 16-bit quantisation of the gamma-domain value, times 2.24 in linear: well under 0.1%.
        np.testing.assert_allclose(scene.hdr, lin, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("fixture", ["kalantari_root", "ntire_root", "ntire_folders_root"])
def test_network_target_round_trip(request: pytest.FixtureRequest, fixture: str, convention: str) -> None:
    scene = find_scenes(request.getfixturevalue(fixture))[0].load()
    target = to_network_domain(scene.hdr, scene.exposures, convention)
    assert target.dtype == np.float32 and target.shape == scene.hdr.shape
    assert not np.allclose(target, scene.hdr)  # the network's domain is not the linear scale
    back = to_linear(torch.from_numpy(target).permute(2, 0, 1)[None], scene.exposures, convention)
    np.testing.assert_allclose(back[0].permute(1, 2, 0).numpy(), scene.hdr, rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------- errors


def _break_kalantari(folder: Path, how: str) -> str:
    """Damage a Kalantari scene; returns a pattern the error must contain besides the scene name."""
    if how == "missing gt":
        (folder / "HDRImg.hdr").unlink()
        return "missing HDRImg.hdr"
    if how == "missing exposure":
        (folder / "exposure.txt").unlink()
        return "missing exposure.txt"
    if how == "two evs":
        (folder / "exposure.txt").write_text("-2\n0\n")
        return "expected 3"
    if how == "text evs":
        (folder / "exposure.txt").write_text("short\nmedium\nlong\n")
        return "not a list of EV numbers"
    if how == "equal evs":
        (folder / "exposure.txt").write_text("0\n0\n2\n")
        return "must differ"
    if how == "size":
        first = sorted(folder.glob("*.tif"))[0]
        tifffile.imwrite(first, np.zeros((H, W + 4, 3), np.uint16), photometric="rgb")
        return "differ from HDRImg.hdr"
    if how == "unreadable":
        sorted(folder.glob("*.tif"))[1].write_bytes(b"not a tiff")
        return "not an image"
    if how == "two frames":
        sorted(folder.glob("*.tif"))[2].unlink()
        return "expected 3 .tif frames"
    raise AssertionError(how)


@pytest.mark.parametrize(
    "how",
    [
        "missing gt", "missing exposure", "two evs", "text evs",
        "equal evs", "size", "unreadable", "two frames",
    ],
)
def test_kalantari_errors_name_the_scene(kalantari_root: Path, how: str) -> None:
    pattern = _break_kalantari(kalantari_root / "Test" / "PAPER" / "001", how)
    refs = {ref.name: ref for ref in find_scenes(kalantari_root)}  # listing stays lenient
    with pytest.raises(InputError, match=rf"^scene Test/PAPER/001: .*{pattern}"):
        refs["Test/PAPER/001"].load()
    refs["Test/EXTRA/002"].load()  # the other scene is unaffected


def test_kalantari_folder_with_only_exposure_file(tmp_path: Path) -> None:
    (tmp_path / "Test" / "PAPER" / "empty").mkdir(parents=True)
    (tmp_path / "Test" / "PAPER" / "empty" / "exposure.txt").write_text("-2\n0\n2\n")
    (ref,) = find_scenes(tmp_path)
    with pytest.raises(InputError, match=r"^scene Test/PAPER/empty: missing HDRImg.hdr"):
        ref.load()


def _break_ntire(root: Path, how: str) -> str:
    if how == "missing gt":
        (root / "0000_gt.png").unlink()
        return "missing 0000_gt.png"
    if how == "missing exposures":
        (root / "0000_exposures.npy").unlink()
        return "missing 0000_exposures.npy"
    if how == "garbage exposures":
        (root / "0000_exposures.npy").write_bytes(b"\x00\x01 not numpy")
        return "not a readable .npy"
    if how == "decreasing exposures":
        np.save(root / "0000_exposures.npy", np.array([2.0, 0.0, -2.0]))
        return "must increase"
    if how == "bad alignratio":
        np.save(root / "0000_alignratio.npy", np.float32(0.0))
        return "one positive number"
    if how == "8-bit gt":
        write_rgb(root / "0000_gt.png", np.zeros((H, W, 3), np.uint8))
        return "16-bit"
    if how == "size":
        write_rgb(root / "0000_gt.png", np.zeros((H + 2, W, 3), np.uint16))
        return "differ from 0000_gt.png"
    raise AssertionError(how)


@pytest.mark.parametrize(
    "how",
    [
        "missing gt", "missing exposures", "garbage exposures",
        "decreasing exposures", "bad alignratio", "8-bit gt", "size",
    ],
)
def test_ntire_errors_name_the_scene(ntire_root: Path, how: str) -> None:
    pattern = _break_ntire(ntire_root, how)
    refs = find_scenes(ntire_root)
    assert [ref.name for ref in refs] == ["0000", "0001"]
    with pytest.raises(InputError, match=rf"^scene 0000: .*{pattern}"):
        refs[0].load()
    refs[1].load()


def test_ntire_folder_missing_frame_and_gt(ntire_folders_root: Path) -> None:
    (ntire_folders_root / "b_scene" / "1.png").unlink()
    (ntire_folders_root / "b_scene" / "gt.png").unlink()
    refs = find_scenes(ntire_folders_root)
    with pytest.raises(InputError, match=r"^scene b_scene: missing 1.png, gt.png"):
        refs[1].load()

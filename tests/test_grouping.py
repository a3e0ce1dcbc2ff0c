"""Batch grouping and frame selection as a library: collecting files, capture order, splitting into
brackets, choosing three frames of a longer bracket, and the --scale factor."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from shots import START, exposed, scene, write_jpeg

from adnet_cli.errors import InputError
from adnet_cli.merge.bracket import (
    Bracket,
    exif_exposures,
    output_scale,
    parse_frame_indices,
    parse_scale,
    plan_bracket,
    read_bracket,
)
from adnet_cli.merge.grouping import Shot, collect_images, group_shots, order_shots, prefer_raw, read_shot
from adnet_cli.merge.selection import select_frames


def shot(name: str, seconds: float | None, exposure: float | None, iso: float = 100) -> Shot:
    when = None if seconds is None else START + timedelta(seconds=seconds)
    return Shot(Path(name), when, (exposure, iso, 2.8))


def names(groups: list[list[Shot]]) -> list[list[str]]:
    return [[s.path.name for s in g] for g in groups]


def test_a_gap_in_capture_time_starts_a_bracket():
    shots = [shot("a", 0, 1 / 100), shot("b", 0.5, 1 / 400), shot("c", 1.0, 1 / 25),
             shot("d", 3.5, 1 / 50), shot("e", 4.0, 1 / 200), shot("f", 4.5, 1 / 12)]
    assert names(group_shots(shots, gap=2.0)) == [["a", "b", "c"], ["d", "e", "f"]]
    assert names(group_shots(shots, gap=3.0)) == [["a", "b", "c", "d", "e", "f"]]


def test_a_repeated_exposure_pattern_starts_a_bracket():
    evs = [0, -2, 2, 0, -2, 2, 0, -2, 2]  # AEB fired three times in a burst
    shots = [shot(f"{i}", 0.2 * i, 2.0**ev / 100) for i, ev in enumerate(evs)]
    assert names(group_shots(shots)) == [["0", "1", "2"], ["3", "4", "5"], ["6", "7", "8"]]
    # A different ISO is a different setting, not a repeat.
    assert len(group_shots([shot("a", 0, 0.01), shot("b", 0.1, 0.01, iso=400), shot("c", 0.2, 0.04)])) == 1


def test_group_size_cuts_consecutive_groups():
    shots = [shot(f"{i}", None, 0.01) for i in range(7)]
    assert names(group_shots(shots, group_size=3)) == [["0", "1", "2"], ["3", "4", "5"], ["6"]]


def test_missing_times_or_exposures_never_start_a_bracket():
    shots = [shot("a", None, 0.01), shot("b", 10, None), shot("c", None, None), shot("d", 11, 0.04)]
    assert names(group_shots(shots)) == [["a", "b", "c", "d"]]
    # ... nor hide a pause: it is measured from the last file that has a capture time
    shots = [shot("a", 0, 0.01), shot("b", None, 0.02), shot("c", 600, 0.04, iso=400)]
    assert names(group_shots(shots)) == [["a", "b"], ["c"]]


def test_a_gap_given_is_kept_to_even_for_hand_timed_brackets():
    night = [shot(f"N{i}", when, t) for i, (when, t) in enumerate([(0, 1 / 30), (62, 1 / 2), (130, 2)])]
    assert names(group_shots(night, gap=30, slow=False)) == [["N0"], ["N1"], ["N2"]]


def test_order_by_capture_time_or_by_name_with_a_note():
    shots = [shot("b", 0.3, 0.01), shot("c", 0.0, 0.02), shot("a", 0.6, 0.04)]
    ordered, note = order_shots(shots)
    assert [s.path.name for s in ordered] == ["c", "b", "a"] and note is None
    ordered, note = order_shots([*shots, shot("0", None, 0.01)])
    assert [s.path.name for s in ordered] == ["0", "c", "b", "a"]  # first by name: first
    assert note == ("no capture time (EXIF DateTimeOriginal) in 1 of 4 files (e.g. 0): "
                    "each placed after the file before it by name")
    ordered, note = order_shots([shot(n, None, 0.01) for n in "ba"])
    assert [s.path.name for s in ordered] == ["a", "b"] and "in any of 2 files: ordered by file name" in note


def test_a_file_without_capture_time_keeps_its_place_by_name():
    """One frame whose EXIF was stripped does not send the whole folder into file-name order."""
    shots = [shot("IMG_4.jpg", 0.3, 0.04), shot("IMG_1.jpg", 0.0, 0.01), shot("IMG_2.jpg", None, 0.02),
             shot("IMG_3.jpg", 0.6, 0.08), shot("IMG_0.jpg", 5.0, 0.01)]
    ordered, _ = order_shots(shots)
    assert [s.path.name for s in ordered] == ["IMG_1.jpg", "IMG_2.jpg", "IMG_4.jpg", "IMG_3.jpg", "IMG_0.jpg"]


def test_hand_timed_brackets_group_by_their_exposure_pattern():
    # A night set timed by hand: a minute or so between frames, each exposure longer, one ISO and aperture.
    night = [shot(f"N{i}", when, t) for i, (when, t) in enumerate([(0, 1 / 30), (62, 1 / 2), (130, 2), (215, 15)])]
    assert names(group_shots(night)) == [["N0", "N1", "N2", "N3"]]
    # An 8-frame set 4-10 s apart, exposures halving each time.
    phone = [shot(f"P{i}", 7 * i, 2.0**-i) for i in range(8)]
    assert names(group_shots(phone)) == [[f"P{i}" for i in range(8)]]
    # What breaks the pattern after a pause starts a new bracket: another ISO, a step back, half-stop
    # steps, a long pause.
    assert names(group_shots([*night[:2], shot("iso", 120, 2, iso=400)])) == [["N0", "N1"], ["iso"]]
    assert names(group_shots([*night[:2], shot("back", 120, 1 / 8)])) == [["N0", "N1"], ["back"]]
    assert names(group_shots([*night[:2], shot("small", 120, 0.6)])) == [["N0", "N1"], ["small"]]
    assert names(group_shots([*night[:2], shot("later", 1000, 2)])) == [["N0", "N1"], ["later"]]
    assert names(group_shots([*night[:2], shot("quick", 63, 1 / 8)])) == [["N0", "N1", "quick"]]  # within --gap


def test_collect_images_from_folders_and_files(tmp_path):
    folder = tmp_path / "shoot"
    (folder / "sub").mkdir(parents=True)
    for name in ("b.JPG", "a.png", "c.tif", "d.dng", "notes.txt", ".hidden.jpg", "sub/e.jpg"):
        (folder / name).write_bytes(b"x")
    found = collect_images([folder, folder / "a.png"])
    assert [p.name for p in found] == ["a.png", "b.JPG", "c.tif", "d.dng"]
    with pytest.raises(InputError, match="not a supported image"):
        collect_images([folder / "notes.txt"])
    with pytest.raises(InputError, match="no such file or folder"):
        collect_images([tmp_path / "absent"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no image files"):
        collect_images([tmp_path / "empty"])


def test_raw_plus_jpeg_twins_keep_the_raw():
    # RAW+JPEG shooting: each shot twice, with the same capture time and settings; as two files the
    # second would look like a repeated setting and split every bracket.
    paths = [Path("s/IMG_1.CR2"), Path("s/IMG_1.JPG"), Path("s/IMG_2.jpg"), Path("t/IMG_2.dng"),
             Path("s/img_3.nef"), Path("s/IMG_3.jpg")]
    kept, note = prefer_raw(paths)
    assert kept == [Path("s/IMG_1.CR2"), Path("s/IMG_2.jpg"), Path("t/IMG_2.dng"), Path("s/img_3.nef")]
    assert note == "2 files (e.g. IMG_1.JPG) have a camera RAW file of the same name: using the RAW files"
    assert prefer_raw(paths[2:4]) == (paths[2:4], None)  # different folders: not twins
    assert prefer_raw(paths[:3])[1] == "IMG_1.JPG has a camera RAW file of the same name: using the RAW files"


def test_read_shot_takes_capture_time_and_settings_from_exif(tmp_path):
    when = START + timedelta(seconds=1.25)
    path = write_jpeg(tmp_path / "x.jpg", exposed(scene(), 0.01), Fraction(1, 100), when, iso=200)
    got = read_shot(path)
    assert got.capture_time == when and got.setting == (pytest.approx(0.01), 200.0, 2.8)


@pytest.mark.parametrize(
    ("evs", "expected"),
    [
        ([-2, -1, 0, 1, 2], (0, 2, 4)),
        ([-3, -2, -1, 0, 1, 2, 3], (0, 3, 6)),
        ([-4, -3, -2, 2], (0, 1, 2)),  # the +2 frame is 16x from -2: beyond the typical 2-8x steps
        ([-3, -1, 1, 3], (0, 1, 2)),  # 4x steps either way: a tie goes to the shorter reference
        ([0, 1, 2], (0, 1, 2)),
        ([-2, -1, 0, 1, 2, 3, 4, 5], (0, 3, 6)),  # the widest span of 8x steps; reference nearest the middle
    ],
)
def test_select_frames_takes_the_widest_span_of_typical_steps(evs, expected):
    assert select_frames([2.0**ev for ev in evs]) == (expected, None)


def test_select_frames_keeps_to_the_weights_range_and_the_best_exposed_reference():
    night = [1 / 30, 1 / 2, 2, 15]  # hand-timed: 15x, 4x, 7.5x
    assert select_frames(night) == ((1, 2, 3), None)  # not 1/30 s -> 2 s (60x), as the extremes would take
    # Steps up to 32x are in this (wider) trained range, but 2-8x steps still rank first ...
    assert select_frames([2.0**ev for ev in (-4, -3, -2, 2)], (2.0, 32.0))[0] == (0, 1, 2)
    # ... and a range that allows them admits a bracket that has no typical steps at all.
    assert select_frames([1.0, 16.0, 256.0], (2.0, 32.0)) == ((0, 1, 2), None)
    # The best-exposed reference wins among fitting triples of equal span: -1 EV over 0 EV here.
    evs = [2.0**ev for ev in (-2, -1, 0, 1, 2)]
    assert select_frames(evs, exposed=[0.2, 0.9, 0.5, 0.3, 0.1])[0] == (0, 1, 4)
    chosen, warning = select_frames([1.0, 60.0, 120.0])
    assert chosen == (0, 1, 2) and warning == ("no three frames step by 2-8x, the weights' trained range: merging "
                                               "#0, #1, #2 (60x and 2x), which the network may handle poorly")


def test_plan_bracket_reads_how_well_each_frame_is_exposed(tmp_path):
    """Five JPEGs 1 EV apart of a scene too bright for the metered frame: -1 EV is the best exposed."""
    times = [Fraction(1, 400), Fraction(1, 200), Fraction(1, 100), Fraction(1, 50), Fraction(1, 25)]
    paths = [write_jpeg(tmp_path / f"f{i}.jpg", exposed(scene(), float(t), white=150.0), t, START + timedelta(seconds=i / 4))
             for i, t in enumerate(times)]
    plan = plan_bracket(paths)
    assert plan.reference.name == "f1.jpg" and plan.chosen == (0, 1, 4)
    assert plan_bracket(paths[1:4]).reference.name == "f2.jpg"  # three frames: nothing to choose


def test_select_frames_needs_three():
    with pytest.raises(InputError, match="at least 3 frames"):
        select_frames([1.0, 2.0])


def test_parse_frame_indices():
    assert parse_frame_indices("4, 0,2") == (0, 2, 4)
    for bad in ("0,1", "0,0,1", "-1,0,2", "a,b,c", "0,1,2,3"):
        with pytest.raises(InputError, match="--frames"):
            parse_frame_indices(bad)


def test_plan_bracket_sorts_selects_and_says_which(tmp_path):
    import cv2

    paths = [tmp_path / f"f{i}.png" for i in range(5)]
    for path in paths:  # all alike: how well each is exposed decides nothing here
        cv2.imwrite(str(path), np.full((8, 8, 3), 128, np.uint8))
    plan = plan_bracket(paths, exposures="1/100,1/400,1/25,1/200,1/800")  # steps 2, 2, 2 and 4x
    assert [p.name for p in plan.paths] == ["f4.png", "f1.png", "f3.png", "f0.png", "f2.png"]
    assert plan.chosen == (0, 2, 4) and plan.reference.name == "f3.png"
    assert plan.selection_note() == (
        "5 frames: using #0 f4.png, #2 f3.png (reference), #4 f2.png (#: sorted by exposure; --frames to choose)"
    )
    assert plan_bracket(paths, ev="0,-2,2,-1,1", frames=(1, 3, 4)).reference.name == "f4.png"  # -1, 1, 2 EV
    with pytest.raises(InputError, match="index 5 out of range; this bracket has 5 frames"):
        plan_bracket(paths, ev="0,-2,2,-1,1", frames=(0, 2, 5))
    with pytest.raises(InputError, match="must differ"):
        plan_bracket(paths, exposures="1,1,2,3,4", frames=(0, 1, 4))
    assert plan_bracket(paths[:3], ev="0,-2,2").selection_note() is None


def test_parse_scale():
    assert parse_scale("reference") is None
    assert parse_scale("fixed:1/60") == pytest.approx(1 / 60)
    assert parse_scale("fixed: 0.5") == 0.5
    for bad in ("fixed:0", "fixed:", "fixed:-1", "fixed:fast", "absolute", "fixed:1/0"):
        with pytest.raises(InputError, match="--scale"):
            parse_scale(bad)


def test_output_scale_is_the_ratio_of_fixed_to_reference_exposure():
    frames = np.zeros((3, 4, 4, 3), np.float32)
    paths = (Path("a"), Path("b"), Path("c"))
    bracket = Bracket(frames, (0.01, 0.04, 0.16), paths, "EXIF ExposureTime", ())
    assert output_scale(bracket, None) == 1.0
    # A 1/50 s exposure saturates at twice the radiance a 1/25 s one does: values halve.
    assert output_scale(bracket, 0.02) == pytest.approx(0.5)
    with pytest.raises(InputError, match="not --ev"):
        output_scale(Bracket(frames, (0.25, 1.0, 4.0), paths, "--ev", ()), 0.02)


def test_a_bracket_may_not_mix_raw_and_other_files(tmp_path):
    paths = [tmp_path / "a.dng", tmp_path / "b.jpg", tmp_path / "c.jpg"]
    for path in paths[1:]:
        write_jpeg(path, exposed(scene(), 0.01), Fraction(1, 100), START)
    with pytest.raises(InputError, match="mixes camera RAW and other files"):
        read_bracket(plan_bracket(paths, ev="-2,0,2"))


F28 = Fraction(28, 10)


def iso_bracket(folder: Path, settings: list[tuple[Fraction, int | None, Fraction | None]]) -> list[Path]:
    """JPEGs of one scene with the given (ExposureTime, ISO, FNumber) tags (None: tag left out)."""
    paths = []
    for i, (t, iso, f_number) in enumerate(settings):
        when = START + timedelta(seconds=i / 4)
        paths.append(write_jpeg(folder / f"f{i}.jpg", exposed(scene(), 0.01), t, when, iso=iso, f_number=f_number))
    return paths


def test_iso_changing_between_frames_scales_the_exposures(tmp_path):
    # Auto ISO or ISO bracketing: 1/100 s at ISO 100 and 400, then 1/25 s at ISO 400 -> 1 : 4 : 16.
    settings = [(Fraction(1, 100), 100, None), (Fraction(1, 100), 400, None), (Fraction(1, 25), 400, None)]
    paths = iso_bracket(tmp_path, settings)
    plan = plan_bracket(list(reversed(paths)))
    assert [p.name for p in plan.paths] == ["f0.jpg", "f1.jpg", "f2.jpg"] and plan.reference.name == "f1.jpg"
    assert plan.source == (
        "EXIF ExposureTime x ISO (ISO differs across frames; as seconds at the reference frame's settings)"
    )
    # Seconds at the reference's ISO 400: its own 1/100 s, the ISO 100 frame a quarter of that.
    assert plan.exposures == pytest.approx((0.0025, 0.01, 0.04))
    assert plan.notes == ("no FNumber in EXIF: assumed the same in every frame",)
    bracket = read_bracket(plan)
    assert bracket.notes[0] == plan.notes[0]
    assert output_scale(bracket, 1 / 50) == pytest.approx(2.0)  # --scale fixed keeps meaning seconds


def test_aperture_changing_between_frames_scales_the_exposures(tmp_path):
    settings = [
        (Fraction(1, 100), 200, Fraction(4)), (Fraction(1, 100), 200, Fraction(2)), (Fraction(1, 25), 200, Fraction(2)),
    ]
    found = exif_exposures(iso_bracket(tmp_path, settings))
    assert found.seconds == pytest.approx([0.01, 0.01, 0.04])
    assert np.allclose(np.array(found.values) / found.values[0], [1, 4, 16])  # f/4 -> f/2 is two stops
    assert found.source.startswith("EXIF ExposureTime / FNumber^2") and found.notes == ()


def test_missing_iso_falls_back_and_says_so(tmp_path):
    frames = [(Fraction(1, 400), None, F28), (Fraction(1, 100), None, None), (Fraction(1, 25), None, F28)]
    found = exif_exposures(iso_bracket(tmp_path, frames))
    assert found.values == found.seconds == pytest.approx([0.0025, 0.01, 0.04]) and found.source == "EXIF ExposureTime"
    assert found.notes == (
        "no ISO in EXIF: assumed the same in every frame",
        "no FNumber in the EXIF of f1.jpg: assumed 2.8 like the other frames",
    )
    complete = iso_bracket(tmp_path, [(Fraction(1, 400), 100, F28), (Fraction(1, 100), 100, F28)])
    assert exif_exposures(complete).notes == ()


def test_iso_differing_with_a_frame_lacking_it_is_refused(tmp_path):
    settings = [(Fraction(1, 100), 100, None), (Fraction(1, 100), 400, None), (Fraction(1, 25), None, None)]
    paths = iso_bracket(tmp_path, settings)
    with pytest.raises(InputError, match=r"ISO differs across frames \(100, 400\) but the EXIF of f2.jpg has no ISO"):
        plan_bracket(paths)
    assert plan_bracket(paths, exposures="1/400,1/100,1/25").source == "--exposures"  # the way out the message names


def test_select_frames_never_takes_two_equal_exposures():
    chosen, warning = select_frames([1 / 1000, 1 / 1000, 1 / 500, 1 / 2])  # 500x to the last: nothing fits
    assert chosen in ((0, 2, 3), (1, 2, 3)) and warning
    with pytest.raises(InputError, match="exposure times must differ"):
        select_frames([0.01, 0.01, 0.01, 0.02])

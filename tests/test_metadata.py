"""What the merged files record, read back with independent readers: OpenEXR's own bindings and
OpenImageIO (where its wheel is installed) for the HDR, Pillow for the previews' tags."""

from __future__ import annotations

import hashlib
import io
import struct
from datetime import timedelta
from fractions import Fraction

import numpy as np
import OpenEXR
import pytest
from helpers import invoke
from PIL import Image
from scenes import radiance
from shots import START, srgb_encode, write_jpeg

from adnet_cli import __version__
from adnet_cli.formats.io import read_hdr

TIMES = (Fraction(1, 100), Fraction(1, 400), Fraction(1, 25))  # in file order, as a Canon shoots 0, -2, +2


def canon_bracket(folder, orientation: int | None = None) -> list:
    paths = []
    for i, t in enumerate(TIMES):
        path = write_jpeg(folder / f"IMG_{i + 1:04d}.jpg", srgb_encode(radiance() * float(t) * 100), t,
                          START + timedelta(seconds=0.3 * i), iso=200, make="Canon", color_space=1)
        with Image.open(path) as img:  # a model, a lens and GPS, as a camera writes them
            exif = img.getexif()
            exif[0x0110] = "EOS R6"
            exif.get_ifd(0x8769)[0xA434] = "RF24-105mm F4 L IS USM"
            exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 22.0, 12.5)})
            if orientation:
                exif[0x0112] = orientation
            img.save(path, exif=exif.tobytes(), quality=95)
        paths.append(path)
    return paths


def png_chunks(path) -> dict[bytes, bytes]:
    data, found, at = path.read_bytes(), {}, 8
    while at < len(data):
        (length,), kind = struct.unpack(">I", data[at : at + 4]), data[at + 4 : at + 8]
        found.setdefault(kind, data[at + 8 : at + 8 + length])
        at += 12 + length
    return found


def test_the_exr_records_software_capture_and_bracket(tmp_path, random_checkpoint):
    frames = canon_bracket(tmp_path)
    out = tmp_path / "out.exr"
    result = invoke("merge", *frames, "-o", out, "-p", tmp_path / "out.png", "--weights", random_checkpoint)
    assert result.exit_code == 0, result.output
    header = OpenEXR.File(str(out)).header()
    digest = hashlib.sha256(random_checkpoint.read_bytes()).hexdigest()
    assert header["software"] == f"adnet {__version__}; weights random.safetensors (sha256 {digest})"
    assert header["capDate"] == "2024:05:01 12:00:00"  # the reference's (IMG_0001) DateTimeOriginal
    assert header["expTime"] == pytest.approx(0.01) and header["isoSpeed"] == 200 and header["aperture"] == pytest.approx(2.8)
    assert header["comments"] == ("merged by adnet from IMG_0002.jpg 1/400 s, IMG_0001.jpg 1/100 s, IMG_0003.jpg 1/25 s "
                                  "(exposures from EXIF ExposureTime); reference IMG_0001.jpg")
    assert np.allclose(header["chromaticities"], (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290))
    assert read_hdr(out).shape == (96, 128, 3)


def test_openimageio_reads_the_exr_attributes(tmp_path, random_checkpoint):
    oiio = pytest.importorskip("OpenImageIO")
    frames = canon_bracket(tmp_path)
    out = tmp_path / "out.exr"
    assert invoke("merge", *frames, "-o", out, "--weights", random_checkpoint).exit_code == 0
    spec = oiio.ImageInput.open(str(out)).spec()
    assert spec.getattribute("software").startswith(f"adnet {__version__}; weights random.safetensors (sha256 ")
    assert spec.getattribute("DateTime") == "2024:05:01 12:00:00"
    assert spec.getattribute("ExposureTime") == pytest.approx(0.01) and spec.getattribute("FNumber") == pytest.approx(2.8)
    assert "IMG_0002.jpg 1/400 s" in spec.getattribute("ImageDescription")
    assert np.allclose(spec.getattribute("chromaticities"), (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290))


def test_the_radiance_file_has_software_and_exposure_lines(tmp_path, random_checkpoint):
    frames = canon_bracket(tmp_path)
    for scale, exposure in (("reference", "0.01"), ("fixed:1/60", "0.0166666667")):
        out = tmp_path / f"{scale.replace(':', '_').replace('/', '_')}.hdr"
        assert invoke("merge", *frames, "-o", out, "--scale", scale, "--weights", random_checkpoint).exit_code == 0
        head = out.read_bytes().split(b"\n\n")[0].decode().splitlines()
        assert head[0] == "#?RADIANCE" and f"EXPOSURE={exposure}" in head
        assert any(line.startswith(f"SOFTWARE=adnet {__version__}; weights random.safetensors") for line in head)
        assert read_hdr(out).shape == (96, 128, 3)  # still a Radiance file OpenCV reads
    relative = tmp_path / "ev.hdr"
    assert invoke("merge", *frames, "-o", relative, "--ev", "0,-2,2", "--weights", random_checkpoint).exit_code == 0
    assert b"EXPOSURE=" not in relative.read_bytes().split(b"\n\n")[0]  # no seconds: no absolute exposure


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_previews_carry_srgb_and_the_reference_frames_camera_exif(tmp_path, random_checkpoint, suffix):
    frames = canon_bracket(tmp_path, orientation=6)  # stored turned: the preview is upright, so Orientation 1
    preview = tmp_path / f"out{suffix}"
    assert invoke("merge", *frames, "-o", tmp_path / "out.exr", "-p", preview, "--weights", random_checkpoint).exit_code == 0
    with Image.open(preview) as img:
        exif = img.getexif()
        assert img.size == (96, 128)
    assert exif[0x010F] == "Canon" and exif[0x0110] == "EOS R6" and exif[0x0112] == 1
    assert exif.get_ifd(0x8769)[0x9003] == "2024:05:01 12:00:00" and exif.get_ifd(0x8769)[0xA434] == "RF24-105mm F4 L IS USM"
    assert exif.get_ifd(0x8825)[1] == "N"
    if suffix == ".png":
        assert png_chunks(preview)[b"sRGB"] == b"\x00"


def test_a_preview_of_frames_without_exif_carries_srgb_and_software_only(tmp_path, random_checkpoint):
    from helpers import EXPOSURES, write_bracket

    frames = write_bracket(tmp_path)
    preview = tmp_path / "p.png"
    assert invoke("merge", *frames, "-e", EXPOSURES, "-o", tmp_path / "o.exr", "-p", preview,
                  "--weights", random_checkpoint).exit_code == 0
    chunks = png_chunks(preview)
    assert chunks[b"sRGB"] == b"\x00"
    with Image.open(io.BytesIO(preview.read_bytes())) as img:
        img.load()  # a valid PNG for an independent decoder
        exif = img.getexif()
    assert exif[0x0131].startswith("adnet ") and set(exif) == {0x0131, 0x0112}  # Software, Orientation: nothing invented


def test_a_batch_into_its_own_folder_skips_what_it_wrote(tmp_path, random_checkpoint):
    """Outputs written into the input folder (previews, fusions, float TIFFs) are never taken for frames."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    canon_bracket(folder)
    for args in (["--format", "tif"], ["--method", "mertens", "-o", folder / "fused"]):
        out = folder if "--format" in args else args[-1]
        extra = args if "--format" in args else args[:2]
        result = invoke("merge", folder, "-o", out, *extra, "--weights", random_checkpoint)
        assert result.exit_code == 0, result.output
    (folder / "fused" / "IMG_0001.png").rename(folder / "IMG_0001_fused.png")
    again = invoke("merge", folder, "-o", folder, "--format", "tif", "--dry-run", "--weights", random_checkpoint)
    assert again.exit_code == 0, again.output
    assert "3 files in 1 group: 0 to merge, 1 skipped (output exists)" in again.stdout

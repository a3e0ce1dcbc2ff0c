"""What the image codecs inside OpenCV say reaches the user as the project's own lines, never raw."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import EXPOSURES, fails_cleanly, invoke, write_bracket

from adnet_cli.errors import InputError
from adnet_cli.formats.cvlog import codec_messages
from adnet_cli.formats.io import read_ldr

ROOT = Path(__file__).resolve().parent.parent


def _chunk(kind: bytes, data: bytes, crc: int | None = None) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) if crc is None else crc)


def _png(path: Path) -> bytes:
    ok, data = cv2.imencode(".png", cv2.imread(str(path)))
    assert ok
    return data.tobytes()


def _after_ihdr(png: bytes, extra: bytes) -> bytes:
    return png[:33] + extra + png[33:]  # signature (8) + IHDR chunk (25)


def test_a_codec_warning_is_a_note_not_a_raw_stderr_line(tmp_path, random_checkpoint):
    """libpng's own warning handler writes to descriptor 2, where OpenCV's log level does not reach."""
    frames = write_bracket(tmp_path)
    frames[1].write_bytes(_after_ihdr(_png(frames[1]), _chunk(b"tEXt", b"Comment\x00x", crc=1234)))
    code = "import sys; from adnet_cli.cli import main; sys.argv[0] = 'adnet'; main()"
    done = subprocess.run([sys.executable, "-c", code, "merge", *map(str, frames), "-e", EXPOSURES, "-o", "out.exr",
                           "--weights", str(random_checkpoint)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert "libpng warning" not in done.stderr
    assert f"{frames[1].name}: the decoder warned (libpng: tEXt: CRC error)" in done.stderr
    assert (tmp_path / "out.exr").is_file()


def test_a_codec_error_names_the_codecs_reason(tmp_path):
    path = tmp_path / "frame.png"
    cv2.imwrite(str(path), np.full((8, 8, 3), 90, np.uint8))
    data = path.read_bytes()
    start = data.find(b"IDAT")
    end = start + 4 + struct.unpack(">I", data[start - 4 : start])[0]
    path.write_bytes(data[:end] + b"\0\0\0\0" + data[end + 4 :])  # a wrong CRC on the pixel data
    with pytest.raises(InputError, match=r"not an image OpenCV can read \(libpng: IDAT: CRC error\)"):
        read_ldr(path)


def test_an_image_over_opencvs_pixel_limit_is_one_line(tmp_path, random_checkpoint):
    frames = write_bracket(tmp_path)
    header = _chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0))  # 3.6e9 pixels, 2^30 allowed
    for frame in frames:  # all alike, so the size check passes and decoding meets the limit
        data = _png(frame)
        frame.write_bytes(data[:8] + header + data[33:])
    out = tmp_path / "out.exr"
    result = invoke("merge", *frames, "-e", EXPOSURES, "-o", out, "--weights", random_checkpoint)
    fails_cleanly(result, "more pixels than OpenCV decodes")
    assert "Assertion" not in result.stderr and not out.exists()


def test_other_writers_to_descriptor_2_pass_through_the_capture(capfd):
    with codec_messages() as found:
        os.write(2, b"libpng warning: iCCP: known incorrect sRGB profile\n")
        os.write(2, b"progress 3/10\n")
    assert found == ["libpng warning: iCCP: known incorrect sRGB profile"]
    assert capfd.readouterr().err == "progress 3/10\n"

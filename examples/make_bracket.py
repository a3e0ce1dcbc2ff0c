"""How examples/workshop/ was made (kept for provenance; needs ../shared/datasets, not run by tests).

Scene: a 256 x 384 crop of Poly Haven's "Aerodynamics Workshop" HDRI (CC0), from the project's shared
scene sources. Three exposures at 1/100, 1/25 and 1/6 s through a gamma-2.2 response with mild
shot/read noise, clipped and quantised to 8-bit PNG, each carrying its ExposureTime in EXIF.
The ground truth crop is written beside them as reference.hdr (1.0 = white level of the 1/25 s frame).

    python examples/make_bracket.py ../shared/datasets/hdr/aerodynamics_workshop_1k.hdr
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

OUT = Path(__file__).parent / "workshop"
TIMES = {"short": Fraction(1, 100), "medium": Fraction(1, 25), "long": Fraction(1, 6)}


def main(source: str) -> None:
    hdr = cv2.imread(source, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR)[140:396, 460:844, ::-1].astype(np.float64)
    # Scale so the medium exposure's white level sits at the scene's 97th percentile.
    radiance = hdr / np.percentile(hdr.max(-1), 97) / float(TIMES["medium"])
    rng = np.random.default_rng(2021)
    for name, t in TIMES.items():
        signal = radiance * float(t)
        noisy = signal + rng.normal(size=signal.shape) * np.sqrt(2e-5 * signal + 1e-6)
        ldr = np.round(np.clip(noisy, 0, 1) ** (1 / 2.2) * 255).astype(np.uint8)
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x829A] = IFDRational(t.numerator, t.denominator)  # ExposureTime
        Image.fromarray(ldr).save(OUT / f"{name}.png", exif=exif.tobytes())
    truth = (radiance * float(TIMES["medium"])).astype(np.float32)
    cv2.imwrite(str(OUT / "reference.hdr"), truth[..., ::-1])


if __name__ == "__main__":
    main(sys.argv[1])

"""The transfer curves and gammas the project assumes, in one place (a leaf: numpy only).

NTIRE_GAMMA is the NTIRE 2021 challenge's encoding (its ground truth is ``linear**(1/2.24)``) and the
nominal response of the simulated cameras; KALANTARI_GAMMA is the gamma of Kalantari and Ramamoorthi's
SIG17 inputs. The sRGB curve is IEC 61966-2-1's.
"""

from __future__ import annotations

import numpy as np

NTIRE_GAMMA = 2.24
KALANTARI_GAMMA = 2.2


def srgb_to_linear(encoded: np.ndarray) -> np.ndarray:
    """Invert the sRGB transfer curve: any shape, values in [0, 1] (clipped) -> float32 linear in [0, 1]."""
    c = np.clip(np.asarray(encoded, dtype=np.float32), 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """The sRGB transfer curve: linear values in [0, 1] -> encoded, in the input's dtype (not clipped)."""
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055)

"""Pixel values between the file and the network.

Plates are scene-linear: highlights far above 1.0, small negatives after
black-level and grain. The network wants values in [-1, 1] (its output is a
tanh). An asinh shaper is linear near zero and logarithmic for large values,
defined for every real number and exactly invertible, so it compresses HDR
range without clipping negatives; an affine map then fits the shot's own range
into the network's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# Below this magnitude the shaper is close to linear (0.05 ~ deep shadow in
# scene-linear); above it each doubling of light costs about the same range.
DEFAULT_SOFTNESS = 0.05
# Keep the shot's range inside the tanh's reach so highlights stay reproducible.
NETWORK_RANGE = 0.9

_INTEGER_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
_HALF_MAX = float(np.finfo(np.float16).max)


@dataclass(frozen=True)
class LogEncoding:
    """encode(x) = (asinh(x / softness) - centre) * gain; decode inverts it."""

    softness: float = DEFAULT_SOFTNESS
    centre: float = 0.0
    gain: float = 1.0

    @classmethod
    def fit(cls, samples: np.ndarray, softness: float = DEFAULT_SOFTNESS) -> "LogEncoding":
        """Map the 0.1 and 99.9 percentiles of ``samples`` to -0.9 and 0.9."""
        shaped = np.arcsinh(np.asarray(samples, dtype=np.float64).ravel() / softness)
        low, high = np.percentile(shaped, [0.1, 99.9]) if shaped.size else (0.0, 1.0)
        if high - low < 1e-6:  # a flat plate: any non-degenerate range will do
            low, high = low - 1.0, high + 1.0
        return cls(softness=softness, centre=float((low + high) / 2), gain=float(2 * NETWORK_RANGE / (high - low)))

    def encode(self, linear: np.ndarray) -> np.ndarray:
        shaped = np.arcsinh(linear.astype(np.float32) / np.float32(self.softness))
        return ((shaped - np.float32(self.centre)) * np.float32(self.gain)).astype(np.float32)

    def decode(self, encoded: np.ndarray) -> np.ndarray:
        shaped = encoded.astype(np.float32) / np.float32(self.gain) + np.float32(self.centre)
        return (np.sinh(shaped) * np.float32(self.softness)).astype(np.float32)

    def to_dict(self) -> dict:
        return asdict(self)


def to_float32(pixels: np.ndarray) -> np.ndarray:
    """File pixels as float32; integer files are normalised to [0, 1]."""
    scale = _INTEGER_SCALE.get(pixels.dtype)
    if scale is not None:
        return pixels.astype(np.float32) / np.float32(scale)
    return pixels.astype(np.float32)


def from_float32(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """float32 values back in a file's pixel type, clamped to what it can hold."""
    dtype = np.dtype(dtype)
    scale = _INTEGER_SCALE.get(dtype)
    if scale is not None:
        return np.clip(np.rint(values * scale), 0, scale).astype(dtype)
    if dtype == np.float16:
        return np.clip(values, -_HALF_MAX, _HALF_MAX).astype(np.float16)
    return values.astype(dtype)

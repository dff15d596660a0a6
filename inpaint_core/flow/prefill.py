"""What flow estimation sees in place of a hole: a smooth fill from the pixels around it, and display grey.

Telea's fast-marching inpainting (OpenCV) works in an arcsinh encoding of scene-linear values, so a bright
highlight beside the hole does not bleed into it as it would in linear light.
"""

from __future__ import annotations

import cv2
import numpy as np

from inpaint_core.io.display import linear_to_srgb

_SOFTNESS = np.float32(0.05)  # scene-linear value where the encoding turns from linear to logarithmic
_SCALE = np.float32(10000.0)  # OpenCV's float Telea rounds at unit scale: fill the encoding scaled up
TELEA_RADIUS = 5


def telea_prefill(colour: np.ndarray, hole: np.ndarray, radius: int = TELEA_RADIUS) -> np.ndarray:
    """An (H, W, C) scene-linear float32 frame with its hole filled by Telea; outside the hole untouched.

    The values under the hole are never read (they may be NaN).
    """
    known = np.where(hole[..., None], np.float32(0.0), colour).astype(np.float32)
    if not hole.any() or hole.all():
        return known
    encoded = np.arcsinh(known / _SOFTNESS) * _SCALE
    hole8 = hole.astype(np.uint8) * 255
    filled = np.stack([cv2.inpaint(np.ascontiguousarray(encoded[..., c]), hole8, radius, cv2.INPAINT_TELEA)
                       for c in range(encoded.shape[-1])], axis=-1)
    decoded = (np.sinh(filled / _SCALE) * _SOFTNESS).astype(np.float32)
    return np.where(hole[..., None], decoded, known)


def display_grey(colour: np.ndarray) -> np.ndarray:
    """(H, W, C) scene-linear to 8-bit display grey, what flow estimation works on (C = 1, 3 or more)."""
    display = np.rint(linear_to_srgb(colour) * 255.0).astype(np.uint8)
    if display.shape[-1] >= 3:
        return cv2.cvtColor(np.ascontiguousarray(display[..., :3]), cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(display[..., 0])

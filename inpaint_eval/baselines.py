"""Classical per-frame fills to compare the learned inpainter against.

OpenCV's Telea inpainting only takes 8-bit 1/3-channel or 16-bit/float32
single-channel images, so an HDR plate is filled one channel at a time in
float32. It is filled in an asinh-encoded space (linear near black,
logarithmic for highlights, exactly invertible, defined for negatives):
Telea averages its neighbours, and in linear light a single bright highlight
would otherwise bleed into the whole hole. Nothing is quantised, so no HDR
value is lost.
"""

from __future__ import annotations

import cv2
import numpy as np

from inpaint_core.errors import InputError, MaskError, NonFiniteError

# Below this the encoding is close to linear (deep shadow in scene-linear);
# the same softness as the network's shaper in colour.py.
_SOFTNESS = 0.05
# OpenCV's float Telea behaves as if values spanned 0..255: at unit scale its
# fill is off by about one unit. Working at this scale makes that negligible.
_TELEA_SCALE = 10000.0


def telea_fill(frame_linear: np.ndarray, mask: np.ndarray, radius: int = 5) -> np.ndarray:
    """Fill the masked pixels of an (H, W, 3) scene-linear frame with Telea's method.

    Returns float32 (H, W, 3); pixels outside the mask are returned bit-identical.
    """
    _check_inputs(frame_linear, mask, radius)
    frame = frame_linear.astype(np.float32)
    hole = mask.astype(bool)
    if not hole.any():
        return frame.copy()
    encoded = np.arcsinh(frame / np.float32(_SOFTNESS)) * np.float32(_TELEA_SCALE)
    hole8 = hole.astype(np.uint8) * 255
    filled = np.stack(
        [cv2.inpaint(np.ascontiguousarray(encoded[..., c]), hole8, radius, cv2.INPAINT_TELEA) for c in range(3)],
        axis=-1,
    )
    decoded = (np.sinh(filled / np.float32(_TELEA_SCALE)) * np.float32(_SOFTNESS)).astype(np.float32)
    return np.where(hole[..., None], decoded, frame).astype(np.float32)


def _check_inputs(frame: np.ndarray, mask: np.ndarray, radius: int) -> None:
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"telea_fill: expected an (H, W, 3) frame, got shape {frame.shape}")
    if mask.shape != frame.shape[:2]:
        raise MaskError(f"telea_fill: mask shape {mask.shape} does not match frame {frame.shape[:2]}")
    if radius < 1:
        raise InputError(f"telea_fill: radius must be at least 1 pixel, got {radius}")
    if not np.isfinite(frame).all():
        raise NonFiniteError("telea_fill: the frame holds NaN or infinite values; "
                             "Telea would spread them into the hole")
    if mask.astype(bool).all():
        raise MaskError("telea_fill: the mask covers the whole frame, so there is nothing to fill from")

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

import numpy as np

from inpaint_core.errors import InputError, MaskError, NonFiniteError
from inpaint_core.flow.prefill import telea_prefill

# The fill itself is the library's (inpaint_core.flow.prefill: the prefill flow estimation sees), so the baseline
# and the product's propagation use one Telea.


def telea_fill(frame_linear: np.ndarray, mask: np.ndarray, radius: int = 5) -> np.ndarray:
    """Fill the masked pixels of an (H, W, 3) scene-linear frame with Telea's method.

    Returns float32 (H, W, 3); pixels outside the mask are returned bit-identical.
    """
    _check_inputs(frame_linear, mask, radius)
    return telea_prefill(frame_linear.astype(np.float32), mask.astype(bool), radius)


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

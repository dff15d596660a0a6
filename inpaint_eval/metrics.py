"""How close a fill is to the truth, measured inside the hole only.

Pixels outside the hole are copied from the plate by construction, so
counting them would only dilute the score. Both images are first taken to
display sRGB (``display.linear_to_srgb``): errors then weigh roughly as a
viewer sees them, and a sun at 8.0 cannot drown every other error.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from inpaint_core.errors import InputError, MaskError
from inpaint_core.io.display import linear_to_srgb

# Identical images have infinite PSNR; reports average and serialise these
# numbers (JSON has no inf), so an exact match scores this instead.
MAX_PSNR_DB = 100.0
_SSIM_C1 = (0.01 * 1.0) ** 2  # K1 * L with peak L = 1.0
_SSIM_C2 = (0.03 * 1.0) ** 2  # K2 * L
_SSIM_WINDOW = (11, 11)
_SSIM_SIGMA = 1.5


def psnr_in_mask(result_linear: np.ndarray, truth_linear: np.ndarray, mask: np.ndarray) -> float:
    """PSNR (dB, peak 1.0) of sRGB-encoded images over masked pixels, all channels.

    Capped at ``MAX_PSNR_DB`` so the value is always finite.
    """
    result, truth, selected = _prepare("psnr_in_mask", result_linear, truth_linear, mask)
    diff = result[selected].astype(np.float64) - truth[selected].astype(np.float64)
    mse = float(np.mean(diff * diff))
    if mse <= 10.0 ** (-MAX_PSNR_DB / 10.0):
        return MAX_PSNR_DB
    return -10.0 * math.log10(mse)


def ssim_in_mask(result_linear: np.ndarray, truth_linear: np.ndarray, mask: np.ndarray) -> float:
    """Mean SSIM (Gaussian 11x11, sigma 1.5, K1 0.01, K2 0.03) over masked pixels.

    The SSIM map is computed on the whole sRGB image per channel (so windows
    near the hole's edge see the real surroundings) and then averaged over
    the masked pixels and the three channels.
    """
    result, truth, selected = _prepare("ssim_in_mask", result_linear, truth_linear, mask)
    if result.ndim == 3:
        result, truth, selected = result[None], truth[None], selected[None]
    total = 0.0
    for frame_result, frame_truth, frame_mask in zip(result, truth, selected):
        if frame_mask.any():
            total += float(_ssim_map(frame_result, frame_truth)[frame_mask].sum())
    return total / (int(selected.sum()) * 3)


def _prepare(
    caller: str, result: np.ndarray, truth: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate shapes and return both images in sRGB plus the boolean mask."""
    if result.shape != truth.shape:
        raise InputError(f"{caller}: result shape {result.shape} differs from truth shape {truth.shape}")
    if result.ndim not in (3, 4) or result.shape[-1] != 3:
        raise InputError(f"{caller}: expected (H, W, 3) or (T, H, W, 3) images, got shape {result.shape}")
    if mask.shape != result.shape[:-1]:
        raise MaskError(f"{caller}: mask shape {mask.shape} does not match image shape {result.shape[:-1]}")
    selected = np.asarray(mask).astype(bool)
    if not selected.any():
        raise MaskError(f"{caller}: the mask is empty, so there is no hole to measure")
    return linear_to_srgb(result), linear_to_srgb(truth), selected


def _ssim_map(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM of two (H, W, 3) images in [0, 1], channels kept separate."""
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    blur = _gaussian
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov = blur(x * y) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + _SSIM_C1) * (2 * cov + _SSIM_C2)
    denominator = (mu_x * mu_x + mu_y * mu_y + _SSIM_C1) * (var_x + var_y + _SSIM_C2)
    return numerator / denominator


def _gaussian(image: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(image, _SSIM_WINDOW, _SSIM_SIGMA)

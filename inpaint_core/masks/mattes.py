"""Holes from mattes: channel choice, alignment to the plate, threshold, dilation."""

from __future__ import annotations

import cv2
import numpy as np

from inpaint_core.errors import MaskError
from inpaint_core.io.colour import to_float32
from inpaint_core.io.image_files import Frame

DEFAULT_THRESHOLD = 0.5


def choose_mask_channel(names: tuple[str, ...], requested: str | None, path: str) -> int:
    """Index of the matte channel: the one asked for, else alpha, else a lone channel."""
    if requested is not None:
        if requested in names:
            return names.index(requested)
        raise MaskError(f"{path} has no channel {requested!r}; its channels are {', '.join(names)}.")
    for alpha in ("A", "a", "alpha"):
        if alpha in names:
            return names.index(alpha)
    if len(names) == 1:
        return 0
    raise MaskError(
        f"{path} has no alpha channel to use as the matte (channels: {', '.join(names)}); "
        "name one with --mask-channel."
    )


def hole_from_frame(
    matte: Frame,
    channel: str | None,
    plate: Frame,
    threshold: float = DEFAULT_THRESHOLD,
    dilate: int = 0,
) -> np.ndarray:
    """The hole (True = remove) in the plate's data window, from one matte frame.

    Matte and plate must share a display window; their data windows may
    differ (a matte rendered with a tight bounding box, say): matte pixels are
    placed by their coordinates, and where the matte has no data there is no hole.
    """
    if matte.display_window != plate.display_window:
        raise MaskError(
            f"Matte {matte.path} is {_window_text(matte.display_window)} but plate "
            f"{plate.path} is {_window_text(plate.display_window)}; they must have the same format."
        )
    index = choose_mask_channel(matte.channel_names, channel, matte.path)
    values = to_float32(matte.pixels[..., index])
    if not np.all(np.isfinite(values)):
        raise MaskError(f"Matte {matte.path} holds NaN or infinite values in channel {matte.channel_names[index]!r}.")
    hole = _place_in_window(values > threshold, matte.data_window, plate.data_window)
    return dilate_hole(hole, dilate)


def dilate_hole(hole: np.ndarray, pixels: int) -> np.ndarray:
    """Grow the hole by ``pixels`` with a round kernel (covers soft matte edges)."""
    if pixels <= 0:
        return hole
    size = 2 * pixels + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return cv2.dilate(hole.astype(np.uint8), kernel).astype(bool)


def _place_in_window(
    values: np.ndarray, source: tuple[int, int, int, int], target: tuple[int, int, int, int]
) -> np.ndarray:
    """Copy a boolean image from one data window into another, False where it has no data."""
    sx, sy, sw, sh = source
    tx, ty, tw, th = target
    if source == target:
        return values
    out = np.zeros((th, tw), dtype=bool)
    x0, y0 = max(sx, tx), max(sy, ty)
    x1, y1 = min(sx + sw, tx + tw), min(sy + sh, ty + th)
    if x1 > x0 and y1 > y0:
        out[y0 - ty : y1 - ty, x0 - tx : x1 - tx] = values[y0 - sy : y1 - sy, x0 - sx : x1 - sx]
    return out


def _window_text(window: tuple[int, int, int, int]) -> str:
    x, y, w, h = window
    return f"{w}x{h}" + (f" at ({x},{y})" if x or y else "")

"""Turning scene-linear pixels into images a person can look at.

Used for previews, contact sheets and the hole metrics. The transform is the
plain sRGB curve with values clipped to [0, 1]: no highlight roll-off. A
roll-off would make previews of skies prettier, but it would also change what
the metrics measure, and a plain, standard curve is what every viewer and
every other tool agrees on. Everything above 1.0 shows as white.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from inpaint_core.errors import InputError

_GAP = 4  # pixels between tiles of a contact sheet
_SHEET_GREY = 32  # dark neutral so neither bright nor dark tiles blend into it
_LABEL_HEIGHT = 22
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_FONT_SCALE = 0.45


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Scene-linear float to display sRGB in [0, 1] (float32).

    Negatives clip to 0 and highlights to 1. NaN shows as black and +inf as
    white so a broken pixel never poisons a preview or a metric with NaN.
    """
    linear = np.nan_to_num(np.asarray(x, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    linear = np.clip(linear, 0.0, 1.0)
    curved = 1.055 * np.power(linear, 1.0 / 2.4) - 0.055
    return np.where(linear <= 0.0031308, 12.92 * linear, curved).astype(np.float32)


def to_display_uint8(x: np.ndarray) -> np.ndarray:
    """(H, W, 3) scene-linear float to 8-bit sRGB, RGB channel order."""
    if x.ndim != 3 or x.shape[2] != 3:
        raise InputError(f"to_display_uint8: expected an (H, W, 3) image, got shape {x.shape}")
    return np.rint(linear_to_srgb(x) * 255.0).astype(np.uint8)


def mask_overlay(
    image_uint8: np.ndarray,
    mask: np.ndarray,
    colour: tuple[int, int, int] = (255, 40, 40),
    opacity: float = 0.5,
) -> np.ndarray:
    """A copy of ``image_uint8`` with the masked pixels tinted towards ``colour``."""
    _check_rgb8("mask_overlay", image_uint8)
    if mask.shape != image_uint8.shape[:2]:
        raise InputError(f"mask_overlay: mask shape {mask.shape} does not match image {image_uint8.shape[:2]}")
    if not 0.0 <= opacity <= 1.0:
        raise InputError(f"mask_overlay: opacity must be in [0, 1], got {opacity}")
    out = image_uint8.copy()
    selected = mask.astype(bool)
    tinted = out[selected].astype(np.float32) * (1.0 - opacity) + np.float32(colour) * opacity
    out[selected] = np.clip(np.rint(tinted), 0, 255).astype(np.uint8)
    return out


def contact_sheet(
    rows: Sequence[Sequence[np.ndarray]],
    labels: Sequence[str] | None = None,
    max_width: int = 1600,
) -> np.ndarray:
    """Tile rows of uint8 RGB images into one image, with optional column labels.

    Tiles within a row must share a size; rows may differ. The tiles are
    scaled first and the labels drawn afterwards, so text stays legible on a
    sheet that had to shrink to fit ``max_width``.
    """
    _check_rows(rows, labels)
    scale = _fit_scale(rows, max_width)
    scaled = [[_resize(tile, scale) for tile in row] for row in rows]
    header = _LABEL_HEIGHT if labels else 0
    width = max(_row_width([tile.shape[1] for tile in row]) for row in scaled)
    height = header + sum(row[0].shape[0] for row in scaled) + _GAP * (len(scaled) + 1)
    sheet = np.full((height, width, 3), _SHEET_GREY, np.uint8)
    y = header + _GAP
    for row in scaled:
        x = _GAP
        for tile in row:
            sheet[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
            x += tile.shape[1] + _GAP
        y += row[0].shape[0] + _GAP
    if labels:
        _draw_labels(sheet, labels, scaled[0][0].shape[1])
    return sheet


def write_png_rgb(path: str, image: np.ndarray) -> None:
    """Write a uint8 RGB image as PNG.

    Encoding in memory and writing with ``open`` (rather than ``cv2.imwrite``,
    which only returns False) lets a bad path raise an ``OSError`` that says why.
    """
    _check_rgb8("write_png_rgb", image)
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise InputError(f"write_png_rgb: OpenCV could not encode a PNG for {path}")
    with open(path, "wb") as handle:
        handle.write(encoded.tobytes())


def _check_rgb8(caller: str, image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise InputError(f"{caller}: expected a uint8 (H, W, 3) RGB image, got {dtype} with shape {shape}")


def _check_rows(rows: Sequence[Sequence[np.ndarray]], labels: Sequence[str] | None) -> None:
    if not rows or any(len(row) == 0 for row in rows):
        raise InputError("contact_sheet: needs at least one row, and every row at least one image")
    for r, row in enumerate(rows):
        for tile in row:
            _check_rgb8(f"contact_sheet row {r}", tile)
            if tile.shape != row[0].shape:
                raise InputError(f"contact_sheet: row {r} mixes tile sizes {row[0].shape} and {tile.shape}")
    columns = max(len(row) for row in rows)
    if labels is not None and len(labels) > columns:
        raise InputError(f"contact_sheet: {len(labels)} labels for only {columns} columns")


def _row_width(tile_widths: list[int]) -> int:
    return sum(tile_widths) + _GAP * (len(tile_widths) + 1)


def _fit_scale(rows: Sequence[Sequence[np.ndarray]], max_width: int) -> float:
    """Largest scale <= 1 at which every row, gaps included (gaps do not shrink), fits."""
    scale = 1.0
    for row in rows:
        gaps = _GAP * (len(row) + 1)
        if max_width <= gaps + len(row):
            raise InputError(f"contact_sheet: max_width {max_width} leaves no room for {len(row)} tiles and their gaps")
        scale = min(scale, (max_width - gaps) / sum(tile.shape[1] for tile in row))
    return scale


def _resize(tile: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return tile
    size = (max(1, int(tile.shape[1] * scale)), max(1, int(tile.shape[0] * scale)))
    return cv2.resize(tile, size, interpolation=cv2.INTER_AREA)


def _draw_labels(sheet: np.ndarray, labels: Sequence[str], tile_width: int) -> None:
    """Each label at the left of its column (column widths follow the first row)."""
    for column, text in enumerate(labels):
        x = _GAP + column * (tile_width + _GAP)
        cv2.putText(sheet, text, (x, _LABEL_HEIGHT - 6), _FONT, _FONT_SCALE, (235, 235, 235), 1, cv2.LINE_AA)

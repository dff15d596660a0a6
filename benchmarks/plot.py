"""Line charts drawn with OpenCV, so the benchmarks need nothing beyond the project's dependencies.

Only what the report needs: panels side by side, a logarithmic x axis with
given ticks, a linear y axis with round ticks, solid lines with markers for
measured series, dashed horizontal lines for references, and a legend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_WHITE = (255, 255, 255)
_INK = (40, 40, 40)
_GRID = (225, 225, 225)
# Margins of the plotting area inside a panel: left, right, top, bottom (px).
_MARGINS = (64, 16, 40, 52)
_DASH, _GAP = 10, 7

# Distinct on white and for the common colour-vision deficiencies (Okabe-Ito), RGB.
PALETTE = [(0, 114, 178), (213, 94, 0), (0, 158, 115), (204, 121, 167), (230, 159, 0), (86, 180, 233), (0, 0, 0)]


@dataclass
class Series:
    label: str
    xs: list[float]
    ys: list[float]
    colour: tuple[int, int, int]  # RGB
    dashed: bool = False  # a reference level: drawn across the whole x range, without markers


@dataclass
class Panel:
    title: str
    series: list[Series]
    x_ticks: list[float]  # also fixes the x range (log scale)
    x_label: str
    y_label: str


def line_chart(panels: list[Panel], panel_size: tuple[int, int] = (620, 440)) -> np.ndarray:
    """All panels side by side, as one uint8 RGB image."""
    return np.concatenate([_draw_panel(panel, panel_size) for panel in panels], axis=1)


def _draw_panel(panel: Panel, size: tuple[int, int]) -> np.ndarray:
    width, height = size
    image = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = _MARGINS
    box = (left, top, width - right, height - bottom)
    x_low, x_high = math.log(min(panel.x_ticks)), math.log(max(panel.x_ticks))
    pad = 0.08 * (x_high - x_low or 1.0)
    x_range = (x_low - pad, x_high + pad)
    y_ticks = _nice_ticks([y for s in panel.series for y in s.ys if math.isfinite(y)])
    y_range = (y_ticks[0], y_ticks[-1])

    def to_px(x: float, y: float) -> tuple[int, int]:
        fx = (math.log(x) - x_range[0]) / (x_range[1] - x_range[0])
        fy = (y - y_range[0]) / (y_range[1] - y_range[0])
        return int(round(box[0] + fx * (box[2] - box[0]))), int(round(box[3] - fy * (box[3] - box[1])))

    _draw_axes(image, panel, box, y_ticks, to_px)
    for series in panel.series:
        _draw_series(image, series, box, to_px)
    _draw_legend(image, panel.series, box)
    return image


def _draw_axes(image: np.ndarray, panel: Panel, box: tuple[int, int, int, int], y_ticks: list[float], to_px) -> None:
    x0, y0, x1, y1 = box
    for y in y_ticks:
        _, py = to_px(1.0, y)  # the row does not depend on x
        cv2.line(image, (x0, py), (x1, py), _GRID, 1)
        _text(image, f"{y:g}", (x0 - 8, py + 5), 0.45, align="right")
    for x in panel.x_ticks:
        px, _ = to_px(x, y_ticks[0])
        cv2.line(image, (px, y0), (px, y1), _GRID, 1)
        _text(image, f"{x:g}", (px, y1 + 18), 0.45, align="centre")
    cv2.rectangle(image, (x0, y0), (x1, y1), _INK, 1)
    _text(image, panel.title, ((x0 + x1) // 2, 24), 0.55, align="centre", thickness=1)
    _text(image, panel.x_label, ((x0 + x1) // 2, y1 + 40), 0.45, align="centre")
    _vertical_text(image, panel.y_label, (14, (y0 + y1) // 2))


def _draw_series(image: np.ndarray, series: Series, box: tuple[int, int, int, int], to_px) -> None:
    colour = tuple(int(c) for c in series.colour)
    if series.dashed:
        _, py = to_px(1.0, series.ys[0])  # the row does not depend on x
        _dashed_line(image, (box[0] + 1, py), (box[2] - 1, py), colour)
        return
    points = [to_px(x, y) for x, y in zip(series.xs, series.ys) if math.isfinite(y)]
    for a, b in zip(points, points[1:]):
        cv2.line(image, a, b, colour, 2, cv2.LINE_AA)
    for point in points:
        cv2.circle(image, point, 5, colour, -1, cv2.LINE_AA)


def _draw_legend(image: np.ndarray, series: list[Series], box: tuple[int, int, int, int]) -> None:
    """In the corner of the plot that hides the fewest drawn pixels."""
    line_height, swatch = 18, 26
    text_width = max(cv2.getTextSize(s.label, _FONT, 0.42, 1)[0][0] for s in series)
    width, height = swatch + 12 + text_width, line_height * len(series) + 8
    x0, y0 = _emptiest_corner(image, box, width, height)
    cv2.rectangle(image, (x0, y0), (x0 + width, y0 + height), _WHITE, -1)
    cv2.rectangle(image, (x0, y0), (x0 + width, y0 + height), _GRID, 1)
    for index, s in enumerate(series):
        y = y0 + 4 + line_height * index + line_height // 2
        colour = tuple(int(c) for c in s.colour)
        if s.dashed:
            _dashed_line(image, (x0 + 6, y), (x0 + 6 + swatch, y), colour, dash=6, gap=4)
        else:
            cv2.line(image, (x0 + 6, y), (x0 + 6 + swatch, y), colour, 2, cv2.LINE_AA)
            cv2.circle(image, (x0 + 6 + swatch // 2, y), 4, colour, -1, cv2.LINE_AA)
        _text(image, s.label, (x0 + swatch + 10, y + 5), 0.42)


def _emptiest_corner(image: np.ndarray, box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int]:
    inset = 8
    corners = [(box[2] - width - inset, box[3] - height - inset), (box[0] + inset, box[3] - height - inset),
               (box[2] - width - inset, box[1] + inset), (box[0] + inset, box[1] + inset)]
    # Grid lines are light; anything darker is data.
    inked = (image.min(axis=2) < min(_GRID)).astype(np.int32)

    def covered(corner: tuple[int, int]) -> int:
        x, y = corner
        return int(inked[y : y + height, x : x + width].sum())

    return min(corners, key=covered)


def _nice_ticks(values: list[float], count: int = 6) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) that cover ``values``."""
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if high - low < 1e-9:
        low, high = low - 1.0, high + 1.0
    # Headroom, so a line at the extreme value does not merge with the frame.
    low, high = low - 0.03 * (high - low), high + 0.03 * (high - low)
    raw = (high - low) / (count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    last = math.ceil(high / step) * step
    return [first + i * step for i in range(int(round((last - first) / step)) + 1)]


def _dashed_line(image: np.ndarray, a: tuple[int, int], b: tuple[int, int], colour: tuple[int, ...],
                 dash: int = _DASH, gap: int = _GAP) -> None:
    length = max(abs(b[0] - a[0]), abs(b[1] - a[1]))
    for start in range(0, length, dash + gap):
        end = min(start + dash, length)
        p = (a[0] + (b[0] - a[0]) * start // max(length, 1), a[1] + (b[1] - a[1]) * start // max(length, 1))
        q = (a[0] + (b[0] - a[0]) * end // max(length, 1), a[1] + (b[1] - a[1]) * end // max(length, 1))
        cv2.line(image, p, q, colour, 2, cv2.LINE_AA)


def _text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float,
          align: str = "left", thickness: int = 1) -> None:
    (width, _), _ = cv2.getTextSize(text, _FONT, scale, thickness)
    x = {"left": origin[0], "centre": origin[0] - width // 2, "right": origin[0] - width}[align]
    cv2.putText(image, text, (x, origin[1]), _FONT, scale, _INK, thickness, cv2.LINE_AA)


def _vertical_text(image: np.ndarray, text: str, centre: tuple[int, int], scale: float = 0.45) -> None:
    """Text rotated a quarter turn anticlockwise, centred on ``centre``."""
    (width, height), baseline = cv2.getTextSize(text, _FONT, scale, 1)
    strip = np.full((height + baseline + 4, width + 4, 3), 255, np.uint8)
    cv2.putText(strip, text, (2, height + 2), _FONT, scale, _INK, 1, cv2.LINE_AA)
    turned = np.rot90(strip)
    h, w = turned.shape[:2]
    y, x = max(centre[1] - h // 2, 0), max(centre[0] - w // 2, 0)
    h, w = min(h, image.shape[0] - y), min(w, image.shape[1] - x)
    image[y : y + h, x : x + w] = np.minimum(image[y : y + h, x : x + w], turned[:h, :w])

"""Filling a frame scale by scale (the progressive mode for large frames): the scale plan and the fill.

The shot is solved at a base scale (long side at most ``base_long_side``),
then refined in x2 steps up to full size; at each higher scale a small
generator fills the hole from the lower scale's result enlarged (the prior).
Only a box around the holes is worked on at every scale, so the cost of a
frame follows the size of its holes, not of the frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from inpaint_core.errors import InputError
from inpaint_core.inference.fill import composite, fill_encoded, to_device
from inpaint_core.io.colour import LogEncoding
from inpaint_core.model.generator import InpaintGenerator

DEFAULT_BASE_LONG_SIDE = 1024
SCALE_STEP = 2


@dataclass(frozen=True)
class Scale:
    """One scale of a progressive job: the frame reduced by ``divisor``."""

    index: int  # 0 = the base scale
    divisor: int  # full size / this scale's size
    width: int
    height: int

    @property
    def full(self) -> bool:
        """The full-size scale (the last one)."""
        return self.divisor == 1


def plan_scales(width: int, height: int, base_long_side: int = DEFAULT_BASE_LONG_SIDE) -> list[Scale]:
    """Base scale with long side <= ``base_long_side`` (a power-of-two reduction), then x2 steps to full size."""
    if base_long_side < 16:
        raise InputError(f"The progressive base size must be at least 16 px (got {base_long_side}).")
    steps = max(0, math.ceil(math.log2(max(width, height) / base_long_side)))
    divisors = [SCALE_STEP**k for k in range(steps, -1, -1)]
    return [Scale(i, d, max(1, round(width / d)), max(1, round(height / d))) for i, d in enumerate(divisors)]


def resize_frame(colour: np.ndarray, hole: np.ndarray, scale: Scale) -> tuple[np.ndarray, np.ndarray]:
    """Colour (holes zeroed) and hole at ``scale``: area-averaged colour, and any pixel touching a hole is a hole."""
    if scale.full:
        return colour, hole
    size = (scale.width, scale.height)
    small = cv2.resize(colour, size, interpolation=cv2.INTER_AREA).reshape(scale.height, scale.width, -1)
    return small, cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0


Box = tuple[int, int, int, int]  # y0, y1, x0, x1 of a frame at one scale


class ProgressiveFill:
    """Fills one frame scale by scale, working only in a box around the holes at every scale.

    The base net runs on the base-scale frame's hole box (with ``base_margin``
    pixels of context, about what it saw in its training crops), each refine
    net on tiles of its scale's hole box; colour is encoded and decoded in the
    box alone. So the cost of a frame follows the size of its holes, not of
    the frame.
    """

    def __init__(self, base: InpaintGenerator, refiners: list[InpaintGenerator | None], images: np.ndarray,
                 holes: np.ndarray, encoding: LogEncoding, scales: list[Scale], channels: list[int],
                 device: torch.device, tile: int = 384, tile_margin: int = 32, base_margin: int = 64):
        """``images``, ``holes``: the shot at the base scale, encoded with ``encoding`` ((T, h, w, C), (T, h, w));
        ``refiners``: one net per higher scale, None where that scale is only upsampled."""
        self.base, self.refiners, self.scales = base, refiners, scales
        self.images, self.holes, self.encoding = images, holes, encoding
        self.channels, self.device, self.base_margin = channels, device, base_margin
        self.tile, self.tile_margin = tile, tile_margin

    def frame(self, t: int, pixels: np.ndarray, colour: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """Frame ``t`` of the shot with its hole filled, in the plate's pixel type (like fill.inpaint_frame)."""
        encoding, margin = self.encoding, self.tile_margin + 1
        small_hole = self.holes[t]
        box = hole_box(small_hole, self.base_margin)
        image, box_hole = self.images[t][_slices(box)].astype(np.float32), small_hole[_slices(box)]
        filled = np.where(box_hole[..., None], fill_encoded(self.base, image, box_hole, self.device), image)
        colour = np.where(hole[..., None], 0.0, colour).astype(np.float32)
        lower, lower_box = self.scales[0], box
        for scale, refiner in zip(self.scales[1:], self.refiners):
            scaled, scaled_hole = resize_frame(colour, hole, scale)
            box = hole_box(scaled_hole, margin)
            box_hole = scaled_hole[_slices(box)]
            encoded = encoding.encode(scaled[_slices(box)]) * ~box_hole[..., None]
            prior = upsample_box(filled, lower_box, lower, scale, box)
            if refiner is None:
                filled = np.where(box_hole[..., None], prior, encoded)
            else:
                filled = refine_with_prior(refiner, prior, encoded, box_hole, self.device, self.tile, self.tile_margin)
            lower, lower_box = scale, box
        out = pixels.copy()
        out[_slices(lower_box)] = composite(pixels[_slices(lower_box)], hole[_slices(lower_box)],
                                            encoding.decode(filled), self.channels)
        return out


def hole_box(hole: np.ndarray, margin: int) -> Box:
    """The holes' bounding box grown by ``margin`` pixels, inside the frame (the whole frame if there is no hole)."""
    height, width = hole.shape
    rows, cols = np.nonzero(hole.any(axis=1))[0], np.nonzero(hole.any(axis=0))[0]
    if not len(rows):
        return 0, height, 0, width
    return (max(int(rows[0]) - margin, 0), min(int(rows[-1]) + 1 + margin, height),
            max(int(cols[0]) - margin, 0), min(int(cols[-1]) + 1 + margin, width))


def _slices(box: Box) -> tuple[slice, slice]:
    return slice(box[0], box[1]), slice(box[2], box[3])


def upsample_box(values: np.ndarray, box: Box, scale: Scale, target: Scale, target_box: Box) -> np.ndarray:
    """``values`` (the box ``box`` of a frame at ``scale``) enlarged to ``target_box`` of the frame at ``target``.

    The same bilinear sampling as cv2.resize of the whole frame (pixel
    centres aligned), computed for the target box alone; beyond the source
    box the edge is repeated, which only ever reaches known pixels.
    """
    y0, y1, x0, x1 = target_box
    ys = (np.arange(y0, y1, dtype=np.float32) + 0.5) * (scale.height / target.height) - 0.5 - box[0]
    xs = (np.arange(x0, x1, dtype=np.float32) + 0.5) * (scale.width / target.width) - 0.5 - box[2]
    map_x = np.ascontiguousarray(np.broadcast_to(xs[None, :], (y1 - y0, x1 - x0)))
    map_y = np.ascontiguousarray(np.broadcast_to(ys[:, None], (y1 - y0, x1 - x0)))
    out = cv2.remap(np.ascontiguousarray(values, dtype=np.float32), map_x, map_y, cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(y1 - y0, x1 - x0, -1)


def refine_with_prior(model: InpaintGenerator, prior: np.ndarray, encoded: np.ndarray, hole: np.ndarray,
                      device: torch.device, tile: int = 384, margin: int = 32) -> np.ndarray:
    """``encoded`` ((H, W, C), this scale) with its hole filled by the refine net from ``prior`` (same size).

    The prior (the lower scale's result, enlarged) is pasted into the hole;
    the net runs on tiles (with ``margin`` pixels of context) that split the
    holes' bounding box evenly, so memory is bounded whatever the frame size.
    """
    result = np.where(hole[..., None], prior, encoded).astype(np.float32)
    y0, y1, x0, x1 = hole_box(hole, 0)
    if not hole.any():
        return result
    source = result.copy()  # every tile sees the prior, not its neighbours' refinements
    for ya, yb in _even_split(y0, y1, tile):
        for xa, xb in _even_split(x0, x1, tile):
            core = (slice(ya, yb), slice(xa, xb))
            if hole[core].any():
                _refine_tile(model, source, hole, result, core, margin, device)
    return result


def _even_split(start: int, stop: int, tile: int) -> list[tuple[int, int]]:
    """[start, stop) cut into the fewest pieces of at most ``tile``, of (nearly) equal length."""
    count = max(1, math.ceil((stop - start) / tile))
    edges = np.linspace(start, stop, count + 1).round().astype(int)
    return list(zip(edges[:-1].tolist(), edges[1:].tolist()))


@torch.no_grad()
def _refine_tile(model: InpaintGenerator, source: np.ndarray, hole: np.ndarray, result: np.ndarray,
                 core: tuple[slice, slice], margin: int, device: torch.device) -> None:
    height, width = hole.shape
    y0, y1 = max(core[0].start - margin, 0), min(core[0].stop + margin, height)
    x0, x1 = max(core[1].start - margin, 0), min(core[1].stop + margin, width)
    was_training = model.training
    model.eval()
    masked = np.ascontiguousarray(source[y0:y1, x0:x1].transpose(2, 0, 1))[None]
    hole_t = hole[y0:y1, x0:x1].astype(np.float32)[None, None]
    _, out = model(to_device(masked, device), to_device(hole_t, device))
    model.train(was_training)
    out = out[0].float().cpu().numpy().transpose(1, 2, 0)
    inner = (slice(core[0].start - y0, core[0].stop - y0), slice(core[1].start - x0, core[1].stop - x0))
    region = result[core]
    region[hole[core]] = out[inner][hole[core]]

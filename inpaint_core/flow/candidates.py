"""The colour a hole pixel gets from the other frames of the shot, along chained flow tracks.

For a target frame t every hole pixel is tracked outwards through the shot, one neighbour flow at a time, in both
directions; a frame s is a candidate for the pixel when the track lands inside s on a pixel s shows (not under
s's own hole). The ``candidates`` nearest-in-time candidates are blended with weight 1 / distance in frames
(typically one forward, one backward: the blend halves the error of either). Measured on the benchmark clips:
chaining short flows beats a direct long-range flow, and the nearest frames beat ones pushed further away from
the holes (benchmarks/experiments/README.md).

A pixel no frame shows is *unseen*: the caller fills it otherwise (the network, or Telea).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from inpaint_core.flow.estimate import FlowSettings, ReadFrame, ShotFlow

_REACH = 2  # once a pixel has a candidate at distance d, more are looked for up to _REACH * d frames away
_REMAP_ROW = 1024  # cv2.remap's maps must stay under 32767 columns: positions go through it in rows of this


@dataclass
class FrameCandidates:
    """What the other frames say about one frame's hole pixels (in the order of ``np.nonzero(hole)``)."""

    hole: np.ndarray  # (H, W) bool, the target frame's hole
    values: np.ndarray  # (N, C) float32 scene-linear: the blended candidates (0 where unseen)
    seen: np.ndarray  # (N,) bool: some frame shows the pixel
    distance: np.ndarray  # (N,) int32: frames to the nearest that shows it (0 where unseen)

    def seen_map(self) -> np.ndarray:
        """(H, W) bool: the hole pixels another frame shows."""
        out = np.zeros(self.hole.shape, bool)
        out[self.hole] = self.seen
        return out

    def paint(self, colour: np.ndarray) -> np.ndarray:
        """``colour`` (H, W, C float32) with the seen hole pixels replaced by their candidates."""
        out = colour.copy()
        ys, xs = np.nonzero(self.hole)
        out[ys[self.seen], xs[self.seen]] = self.values[self.seen]
        return out


class FrameCache:
    """The last frames read, up to a memory budget: the walks of neighbouring targets read the same sources.

    Frames are kept in the type they are read in (a half plate stays half: twice the frames in the budget). The
    budget must hold a walk's frames, or each target frame reads them all again: a 4K shot's walk of +-7 frames
    missed a 1 GB float32 cache, 14 reads per frame (benchmarks/highres.py: 7 s a frame of propagation).
    """

    def __init__(self, read: ReadFrame, budget_bytes: int = 3 << 29) -> None:
        self._read = read
        self._budget = budget_bytes
        self._frames: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def __call__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if index in self._frames:
            self._frames.move_to_end(index)
            return self._frames[index]
        colour, hole = self._read(index)
        colour = np.array(colour, copy=True)
        colour[hole] = 0  # hole pixels are never read (a NaN there must not reach a blend)
        self._frames[index] = (colour, hole)
        while len(self._frames) > 1 and sum(c.nbytes + h.nbytes for c, h in self._frames.values()) > self._budget:
            self._frames.popitem(last=False)
        return colour, hole


def frame_candidates(t: int, hole: np.ndarray, flow: ShotFlow, read: ReadFrame,
                     settings: FlowSettings | None = None) -> FrameCandidates:
    """The candidates of frame t's hole pixels from the other frames (``read`` gives any frame of the shot)."""
    settings = settings or FlowSettings()
    ys, xs = np.nonzero(hole)
    count, channels = len(ys), None
    total = weight = found = nearest = None
    tracks = {step: np.stack(flow.to_flow(xs.astype(np.float32), ys.astype(np.float32)), -1) for step in (1, -1)}
    for distance in range(1, flow.count):
        if found is not None and ((found >= settings.candidates) | ((found > 0) & (distance > _REACH * nearest))).all():
            break  # every pixel has its candidates, or has one and the rest would be much further away
        for step in (1, -1):
            source = t + step * distance
            if not 0 <= source < flow.count or count == 0:
                continue
            field = flow.forward[source - 1] if step > 0 else flow.backward[source]
            tracks[step] = tracks[step] + _sample_flow(field, tracks[step])
            px, py = flow.to_frame(tracks[step][:, 0], tracks[step][:, 1])
            colour, source_hole = read(source)
            if total is None:
                channels = colour.shape[-1]
                total, weight = np.zeros((count, channels)), np.zeros(count)
                found, nearest = np.zeros(count, np.int32), np.zeros(count, np.int32)
            wanted = (found < settings.candidates) & ((found == 0) | (distance <= _REACH * nearest))
            valid = _lands_on_known(px, py, source_hole) & wanted
            if not valid.any():
                continue
            total[valid] += _known_bilinear(colour, source_hole, px[valid], py[valid]) / distance
            weight[valid] += 1.0 / distance
            nearest[valid & (found == 0)] = distance
            found[valid] += 1
    if total is None:  # a one-frame shot, or an empty hole
        channels = channels or read(t)[0].shape[-1]
        return FrameCandidates(hole, np.zeros((count, channels), np.float32), np.zeros(count, bool),
                               np.zeros(count, np.int32))
    seen = found > 0
    values = np.zeros((count, channels), np.float32)
    values[seen] = total[seen] / weight[seen, None]
    return FrameCandidates(hole, values, seen, nearest)


def _sample_flow(field: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The flow (bilinear, edge-replicated) at (N, 2) working-size positions."""
    count = len(positions)
    rows = -(-count // _REMAP_ROW)
    padded = np.zeros((rows * _REMAP_ROW, 2), np.float32)
    padded[:count] = positions
    grid = padded.reshape(rows, _REMAP_ROW, 2)
    sampled = cv2.remap(field, grid[..., 0], grid[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return sampled.reshape(-1, 2)[:count]


def _lands_on_known(x: np.ndarray, y: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Positions inside the frame whose nearest pixel is known."""
    height, width = hole.shape
    inside = (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
    rows = np.clip(np.rint(y), 0, height - 1).astype(int)
    cols = np.clip(np.rint(x), 0, width - 1).astype(int)
    return inside & ~hole[rows, cols]


def _known_bilinear(image: np.ndarray, hole: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples over the known pixels of the footprint only (weights renormalised): never a hole pixel."""
    height, width = hole.shape
    x0 = np.clip(np.floor(x).astype(int), 0, max(width - 2, 0))
    y0 = np.clip(np.floor(y).astype(int), 0, max(height - 2, 0))
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = np.clip(x - x0, 0, 1), np.clip(y - y0, 0, 1)
    total = np.zeros((len(x), image.shape[-1]))
    weight = np.zeros(len(x))
    for yy, xx, w in ((y0, x0, (1 - fx) * (1 - fy)), (y0, x1, fx * (1 - fy)), (y1, x0, (1 - fx) * fy),
                      (y1, x1, fx * fy)):
        known = ~hole[yy, xx]
        w = w * known
        total += w[:, None] * np.where(known[:, None], image[yy, xx], 0.0)  # a hole pixel may hold NaN
        weight += w
    return total / np.maximum(weight, 1e-12)[:, None]

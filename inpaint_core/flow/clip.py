"""Propagation of a whole clip held in memory: what tests, benchmarks and small shots use.

Jobs stream frames from disk instead (inpaint_core.jobs); this is the same propagation over arrays.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from inpaint_core.flow.candidates import frame_candidates
from inpaint_core.flow.estimate import FlowSettings, estimate_shot_flow
from inpaint_core.flow.prefill import telea_prefill


@dataclass
class ClipPropagation:
    """A clip filled by propagation alone: Telea where no frame shows a hole pixel."""

    filled: np.ndarray  # (T, H, W, C) float32 scene-linear; outside the holes the input's values
    seen: np.ndarray  # (T, H, W) bool: hole pixels another frame shows
    seconds: float
    hole_pixels: int

    @property
    def seen_fraction(self) -> float:
        """The share of hole pixels another frame shows (1.0 when there is no hole)."""
        return float(self.seen.sum() / max(1, self.hole_pixels)) if self.hole_pixels else 1.0


def propagate_clip(colour: np.ndarray, hole: np.ndarray, settings: FlowSettings | None = None) -> ClipPropagation:
    """Fill every frame's hole from the other frames of a (T, H, W, C) clip; values under the holes are never read."""
    settings = settings or FlowSettings()
    started = time.perf_counter()
    hole = hole.astype(bool)

    def read(index: int) -> tuple[np.ndarray, np.ndarray]:
        return colour[index], hole[index]

    flow = estimate_shot_flow(read, len(colour), settings)
    filled = np.where(hole[..., None], np.float32(0.0), colour).astype(np.float32)
    seen = np.zeros(hole.shape, bool)
    for t in range(len(colour)):
        if not hole[t].any():
            continue
        found = frame_candidates(t, hole[t], flow, read, settings)
        seen[t] = found.seen_map()
        frame = found.paint(filled[t])
        filled[t] = telea_prefill(frame, hole[t] & ~seen[t])
    return ClipPropagation(filled, seen, time.perf_counter() - started, int(hole.sum()))

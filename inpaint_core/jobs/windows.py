"""Temporal windows for long shots: overlapping ranges trained independently, cross-faded when joined.

A long shot is split into windows of ``size`` frames that overlap by
``overlap`` frames; each is inpainted on its own (a farm task each). Where
two windows overlap, their fills are cross-faded with linear weights that
sum to one, so the seam between two independently trained networks cannot
pop from one frame to the next. Outside the overlaps a frame comes from its
one window. Windows are over the frame *list* (a range with a step, or with
gaps, is windowed by position, not by number).
"""

from __future__ import annotations

from dataclasses import dataclass

from inpaint_core.errors import InputError


@dataclass(frozen=True)
class Window:
    index: int
    frames: tuple[int, ...]

    @property
    def first(self) -> int:
        return self.frames[0]

    @property
    def last(self) -> int:
        return self.frames[-1]


def plan_windows(frames: list[int], size: int, overlap: int) -> list[Window]:
    """Windows of ``size`` frames overlapping by ``overlap``, covering ``frames``; the last ends at the end."""
    if size < 2:
        raise InputError(f"A window must hold at least 2 frames (got {size}).")
    if not 0 <= overlap < size:
        raise InputError(f"The overlap must be at least 0 and less than the window size {size} (got {overlap}).")
    if not frames:
        raise InputError("No frames to split into windows.")
    if len(frames) <= size:
        return [Window(0, tuple(frames))]
    step = size - overlap
    starts = list(range(0, len(frames) - size, step)) + [len(frames) - size]
    return [Window(i, tuple(frames[s : s + size])) for i, s in enumerate(starts)]


def blend_weights(frame: int, windows: list[Window]) -> dict[int, float]:
    """Each covering window's weight for ``frame`` (window index -> weight); the weights sum to one.

    Within an overlap of windows A (earlier) and B, B's weight rises linearly
    from just above 0 at the overlap's first frame to just below 1 at its
    last, so neither window is ever used alone at the seam.
    """
    covering = [w for w in windows if frame in w.frames]
    if not covering:
        raise InputError(f"Frame {frame} is in no window.")
    if len(covering) == 1:
        return {covering[0].index: 1.0}
    weights = {w.index: 0.0 for w in covering}
    for earlier, later in zip(covering, covering[1:]):
        shared = [f for f in earlier.frames if f in later.frames]
        position = shared.index(frame)
        rising = (position + 1) / (len(shared) + 1)
        weights[later.index] += rising
        weights[earlier.index] += 1.0 - rising
    # Three or more windows cover a frame only when windows are shorter than twice the overlap;
    # then each pair has been counted once per pair: normalise.
    total = sum(weights.values())
    return {index: weight / total for index, weight in weights.items()}

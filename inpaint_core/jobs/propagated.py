"""The propagation step of a job ("guided" and "propagation" fills): flow through the shot, then per frame the
colour of every hole pixel some other frame shows, before any training.

Frames are streamed from disk (a small cache serves the walks of neighbouring frames), so a 4K shot costs its
flow at the working size plus each frame's hole pixels, not the shot in memory. The step reports its stages
(throttled), honours cancel, and its seconds come out of the training time budget: a 10-minute preset is 10
minutes including the flow.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from inpaint_core.errors import Cancelled
from inpaint_core.flow.candidates import FrameCache, frame_candidates
from inpaint_core.flow.estimate import estimate_shot_flow
from inpaint_core.flow.prefill import telea_prefill
from inpaint_core.inference.fill import composite
from inpaint_core.io.colour import to_float32
from inpaint_core.jobs.types import FillFrame, JobContext, write_frames
from inpaint_core.training.trainer import TrainSettings

_REPORT_EVERY = 5.0  # seconds between the step's progress lines
_MIN_TRAINING = 0.1  # of the time budget: what training keeps however long the flow took


@dataclass
class PropagatedShot:
    """Per frame of the shot (None where it has no hole): its hole pixels' candidates, in np.nonzero order."""

    values: list[np.ndarray | None]  # (N, C) float32 scene-linear
    seen: list[np.ndarray | None]  # (N,) bool
    seconds: float

    @property
    def hole_pixels(self) -> int:
        return sum(len(s) for s in self.seen if s is not None)

    @property
    def unseen_pixels(self) -> int:
        """Hole pixels no frame shows: what the network has to invent."""
        return sum(int((~s).sum()) for s in self.seen if s is not None)

    @property
    def seen_fraction(self) -> float:
        return 1.0 - self.unseen_pixels / self.hole_pixels if self.hole_pixels else 0.0

    def seen_map(self, index: int, hole: np.ndarray) -> np.ndarray:
        """(H, W) bool: frame ``index``'s hole pixels filled from another frame."""
        out = np.zeros(hole.shape, bool)
        if self.seen[index] is not None:
            out[hole] = self.seen[index]
        return out

    def has_unseen(self, index: int) -> bool:
        return self.seen[index] is not None and not self.seen[index].all()

    def paint(self, index: int, colour: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """``colour`` (H, W, C float32) with frame ``index``'s seen hole pixels set to their candidates."""
        out = colour.copy()
        if self.seen[index] is None:
            return out
        ys, xs = np.nonzero(hole)
        seen = self.seen[index]
        out[ys[seen], xs[seen]] = self.values[index][seen]
        return out


def propagate_shot(ctx: JobContext) -> PropagatedShot:
    """Flow through the shot and every frame's candidates; stages and cancel as any other step of the job."""
    started = time.monotonic()
    shot, reporter, settings = ctx.shot, ctx.reporter, ctx.spec.flow
    frames, count = shot.frames, len(shot.frames)

    def read(index: int) -> tuple[np.ndarray, np.ndarray]:
        plate, hole = shot.read(frames[index])
        return plate.pixels[..., shot.colour_channels], hole  # in the plate's type: the cache holds more frames

    cache = FrameCache(read)
    throttle = Throttle(reporter.stage)
    reporter.stage(f"Propagation: estimating flow between {count} frames")
    flow = estimate_shot_flow(
        cache, count, settings, lambda done, total: throttle(f"Propagation: flow {done} of {total} frame pairs"),
        ctx.should_cancel)
    reporter.stage(f"Propagation: tracking each hole pixel through the shot (flow at {flow.flow_width}x"
                   f"{flow.flow_height}, {flow.seconds:.0f} s)")
    values: list[np.ndarray | None] = [None] * count
    seen: list[np.ndarray | None] = [None] * count
    for index in range(count):
        if ctx.should_cancel is not None and ctx.should_cancel():
            raise Cancelled(f"Cancelled while propagating, after {index} of {count} frames.")
        _, hole = cache(index)
        if hole.any():
            found = frame_candidates(index, hole, flow, cache, settings)
            values[index], seen[index] = found.values, found.seen
        throttle(f"Propagation: {index + 1} of {count} frames tracked")
    result = PropagatedShot(values, seen, time.monotonic() - started)
    reporter.stage(f"Propagation done in {result.seconds:.0f} s: {100 * result.seen_fraction:.1f}% of the hole "
                   "pixels are shown by another frame")
    return result


def needs_network(ctx: JobContext, propagated: PropagatedShot | None) -> bool:
    """Whether the job trains a network: always for "paper", never for "propagation", and for "guided" when some
    hole pixel is shown by no frame."""
    if ctx.spec.fill == "paper" or propagated is None:
        return True
    if ctx.spec.fill == "propagation":
        return False
    if propagated.unseen_pixels == 0:
        ctx.reporter.stage("Every hole pixel is shown by another frame of the shot: no network to train")
    return propagated.unseen_pixels > 0


def remaining_budget(train: TrainSettings, spent: float) -> TrainSettings:
    """The training settings with the seconds already spent taken out of the time budget (none: unchanged)."""
    if train.time_budget <= 0 or spent <= 0:
        return train
    return replace(train, time_budget=max(train.time_budget * _MIN_TRAINING, train.time_budget - spent))


def propagation_figures(propagated: PropagatedShot | None, fill_seconds: float) -> dict[str, float]:
    """The JobResult fields on the propagation and the fill."""
    return {"propagation_seconds": 0.0 if propagated is None else propagated.seconds,
            "fill_seconds": fill_seconds, "seen_fraction": 0.0 if propagated is None else propagated.seen_fraction}


def write_filled(ctx: JobContext, propagated: PropagatedShot | None,
                 network: FillFrame | None) -> tuple[int, int, dict[str, float]]:
    """Write every frame with the job's fill (the network alone for "paper", else guided_fill) and the seen map;
    returns (filled, copied, the JobResult fields of propagation_figures)."""
    fill = network if propagated is None else guided_fill(propagated, network, ctx.shot.colour_channels)
    started = time.monotonic()
    filled, copied = write_frames(ctx, fill, None if propagated is None else propagated.seen_map)
    return filled, copied, propagation_figures(propagated, time.monotonic() - started)


def write_refined(ctx: JobContext, propagated: PropagatedShot,
                  fill: FillFrame) -> tuple[int, int, dict[str, float]]:
    """Write every frame with a fill of its own (the refiner's) and the seen map; returns as write_filled."""
    started = time.monotonic()
    filled, copied = write_frames(ctx, fill, propagated.seen_map)
    return filled, copied, propagation_figures(propagated, time.monotonic() - started)


def guided_fill(propagated: PropagatedShot, network: FillFrame | None, channels: list[int]) -> FillFrame:
    """A frame's fill: the propagated colour where another frame shows a pixel, ``network``'s elsewhere.

    Without a network (the "propagation" fill) Telea fills the pixels no frame shows. The network runs only on
    frames that have such pixels.
    """
    def fill(index: int, pixels: np.ndarray, colour: np.ndarray, hole: np.ndarray) -> np.ndarray:
        known = np.where(hole[..., None], np.float32(0.0), colour)
        if network is not None and propagated.has_unseen(index):
            known = to_float32(network(index, pixels, colour, hole)[..., channels])
        painted = propagated.paint(index, known, hole)
        if network is None and propagated.has_unseen(index):
            painted = telea_prefill(painted, hole & ~propagated.seen_map(index, hole))
        return composite(pixels, hole, painted, channels)

    return fill


class Throttle:
    """Passes a progress line on at most every _REPORT_EVERY seconds: one line every few seconds in a farm log."""

    def __init__(self, report: Callable[[str], None]) -> None:
        self._report = report
        self._last = time.monotonic()

    def __call__(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last >= _REPORT_EVERY:
            self._last = now
            self._report(message)

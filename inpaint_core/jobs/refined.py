"""The default ("guided") fill of a single-scale job: propagation, corrected by a refiner trained on the shot.

Three steps, each reported and cancellable, all inside the job's time budget: propagation through the real holes
(propagated.py), propagation again through ``BORROWED_CONFIGS`` configurations of holes borrowed along the
object's path (the refiner's training data: under a borrowed hole the plate is known), then the refiner's
training. The fill paints every hole pixel with its propagated colour (Telea where no frame shows it) and runs
the refiner on the frame; outside the hole the plate is untouched (composite).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from inpaint_core.errors import Cancelled
from inpaint_core.flow.borrowed import BorrowedHoles, UnionCandidates, borrow_along_path
from inpaint_core.flow.candidates import FrameCache, frame_candidates
from inpaint_core.flow.estimate import estimate_shot_flow
from inpaint_core.flow.prefill import telea_prefill
from inpaint_core.inference.fill import composite, refine_encoded
from inpaint_core.io.colour import LogEncoding, to_float32
from inpaint_core.jobs.propagated import PropagatedShot, Throttle
from inpaint_core.jobs.types import FillFrame, JobContext
from inpaint_core.model.refiner import PropagationRefiner
from inpaint_core.training.dataset import TrainingData
from inpaint_core.training.refiner import RefinerData

# Borrowed-hole configurations propagated for training: each costs one more propagation of the shot. Four was
# what the experiment measured (benchmarks/experiments/README.md, section 7).
BORROWED_CONFIGS = 4


def propagate_borrowed(ctx: JobContext, data: TrainingData, propagated: PropagatedShot) -> RefinerData:
    """The refiner's training data: the shot in memory plus every configuration's union candidates."""
    started = time.monotonic()
    rng = np.random.default_rng([ctx.spec.train.seed, 23])
    configs: list[BorrowedHoles] = []
    candidates: list[list[UnionCandidates | None]] = []
    for n in range(BORROWED_CONFIGS):
        config = borrow_along_path(data.holes, rng)
        candidates.append(_union_candidates(ctx, config, data, f"{n + 1} of {BORROWED_CONFIGS}"))
        configs.append(config)
    seconds = time.monotonic() - started
    ctx.reporter.stage(f"Refiner: {BORROWED_CONFIGS} borrowed-hole propagations in {seconds:.0f} s")
    frame = int(np.argmax(data.holes.reshape(len(data.frames), -1).sum(axis=1)))
    hole = data.holes[frame]
    colour = data.encoding.decode(data.images[frame].astype(np.float32))
    return RefinerData(data, configs, candidates, frame,
                       data.encoding.encode(candidate_frame(propagated, frame, colour, hole)),
                       propagated.seen_map(frame, hole), seconds)


def _union_candidates(ctx: JobContext, config: BorrowedHoles, data: TrainingData,
                      which: str) -> list[UnionCandidates | None]:
    """Propagation as at fill time with the real and the borrowed holes hidden; candidates of the hidden pixels."""
    shot, settings, frames = ctx.shot, ctx.spec.flow, ctx.shot.frames
    count = len(frames)

    def read(index: int) -> tuple[np.ndarray, np.ndarray]:
        plate, _ = shot.read(frames[index])
        return plate.pixels[..., shot.colour_channels], config.union(index, data.holes)

    cache = FrameCache(read)
    throttle = Throttle(ctx.reporter.stage)
    ctx.reporter.stage(f"Refiner: propagating through borrowed holes ({which})")
    flow = estimate_shot_flow(
        cache, count, settings, lambda done, total: throttle(f"Refiner: borrowed holes {which}, flow {done} of "
                                                             f"{total} frame pairs"), ctx.should_cancel)
    out: list[UnionCandidates | None] = []
    for index in range(count):
        if ctx.should_cancel is not None and ctx.should_cancel():
            raise Cancelled(f"Cancelled while propagating borrowed holes ({which}), after {index} of {count} frames.")
        colour, union = cache(index)
        if not union.any():
            out.append(None)
            continue
        found = frame_candidates(index, union, flow, cache, settings)
        painted = found.paint(to_float32(colour))
        filled = telea_prefill(painted, union & ~found.seen_map())
        # int32 halves the memory of the flat indices wherever they fit (any frame under 2**31 pixels)
        flat = np.flatnonzero(union).astype(np.int32 if union.size < 2**31 else np.int64)
        out.append(UnionCandidates(flat, data.encoding.encode(filled[union]).astype(np.float16), found.seen.copy()))
        throttle(f"Refiner: borrowed holes {which}, {index + 1} of {count} frames tracked")
    return out


def candidate_frame(propagated: PropagatedShot, index: int, colour: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """(H, W, C) float32 scene-linear: the frame with every hole pixel set to its propagated colour, Telea where
    no frame shows it; the values under the hole in ``colour`` are never read."""
    known = np.where(hole[..., None], np.float32(0.0), colour).astype(np.float32)
    painted = propagated.paint(index, known, hole)
    if propagated.has_unseen(index) or propagated.seen[index] is None:
        painted = telea_prefill(painted, hole & ~propagated.seen_map(index, hole))
    return painted


def refined_fill(propagated: PropagatedShot, model: PropagationRefiner, encoding: LogEncoding, channels: list[int],
                 device: torch.device) -> FillFrame:
    """A frame's fill: its propagated candidate frame through the trained refiner, composited into the plate."""
    def fill(index: int, pixels: np.ndarray, colour: np.ndarray, hole: np.ndarray) -> np.ndarray:
        candidate = candidate_frame(propagated, index, colour, hole)
        known = np.where(hole[..., None], np.float32(0.0), colour)
        refined = refine_encoded(model, encoding.encode(known), hole, encoding.encode(candidate),
                                 propagated.seen_map(index, hole), device)
        return composite(pixels, hole, encoding.decode(refined), channels)

    return fill

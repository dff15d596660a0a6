"""The default ("guided") fill of a single-scale job: propagation, corrected by a refiner trained on the shot.

Three steps, each reported and cancellable, all inside the job's time budget: propagation through the real holes
(propagated.py), propagation again through ``BORROWED_CONFIGS`` configurations of holes borrowed along the
object's path (one when a finished refiner seeds the job: a warm start), the refiner's training data (under a
borrowed hole the plate is known), then the refiner's training. The fill paints every hole pixel with its
propagated colour (Telea where no frame shows it) and runs the refiner on the frame; outside the hole the plate is
untouched (composite).
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from inpaint_core.errors import Cancelled, CheckpointError
from inpaint_core.flow.borrowed import BorrowedHoles, UnionCandidates, borrow_along_path
from inpaint_core.flow.candidates import FrameCache, frame_candidates
from inpaint_core.flow.estimate import estimate_shot_flow
from inpaint_core.flow.prefill import telea_prefill
from inpaint_core.inference.fill import composite, refine_encoded
from inpaint_core.io.colour import LogEncoding, to_float32
from inpaint_core.jobs.propagated import PropagatedShot, Throttle
from inpaint_core.jobs.types import FillFrame, JobContext, will_warm_start
from inpaint_core.model.refiner import PropagationRefiner
from inpaint_core.training.checkpoints import load_checkpoint
from inpaint_core.training.dataset import TrainingData
from inpaint_core.training.refiner import RefinerData, RefinerTrainer

# Borrowed-hole configurations propagated for training: each costs one more propagation of the shot. Four was
# what the experiment measured (benchmarks/experiments/README.md, section 7).
BORROWED_CONFIGS = 4
# A warm-started refiner has learned from four already (on nearly the same holes) and only fine-tunes: one
# propagation instead of four is most of what makes a re-press fast (docs/benchmarks.md, "Warm starts").
WARM_BORROWED_CONFIGS = 1


def borrowed_configs(ctx: JobContext, data: TrainingData) -> int:
    """How many borrowed-hole configurations the job propagates: as many as the checkpoint it resumes was trained
    on (its compatibility holds the count), WARM_BORROWED_CONFIGS when a finished refiner will seed it, else
    BORROWED_CONFIGS."""
    own = ctx.checkpoint
    if ctx.spec.resume and own and os.path.exists(own):
        try:
            return int(load_checkpoint(own)["compatibility"].get("configs", BORROWED_CONFIGS))
        except CheckpointError:
            return BORROWED_CONFIGS  # the job says so and starts over (resume_or_start)
    if will_warm_start(ctx, RefinerTrainer.kind, data.fingerprints, own):
        return WARM_BORROWED_CONFIGS
    return BORROWED_CONFIGS


def propagate_borrowed(ctx: JobContext, data: TrainingData, propagated: PropagatedShot) -> RefinerData:
    """The refiner's training data: the shot in memory plus every configuration's union candidates."""
    started = time.monotonic()
    rng = np.random.default_rng([ctx.spec.train.seed, 23])
    configs: list[BorrowedHoles] = []
    candidates: list[list[UnionCandidates | None]] = []
    count = borrowed_configs(ctx, data)
    for n in range(count):
        config = borrow_along_path(data.holes, rng)
        candidates.append(_union_candidates(ctx, config, data, f"{n + 1} of {count}"))
        configs.append(config)
    seconds = time.monotonic() - started
    ctx.reporter.stage(f"Refiner: {count} borrowed-hole propagation{'s' * (count > 1)} in {seconds:.0f} s"
                       + (" (a finished refiner seeds this job: it fine-tunes)" if count == WARM_BORROWED_CONFIGS
                          and count < BORROWED_CONFIGS else ""))
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

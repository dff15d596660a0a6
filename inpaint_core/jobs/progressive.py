"""Progressive multi-scale jobs for large frames (the paper's high-resolution mode).

A 4K shot does not fit in memory as a training set, and whole-frame steps at
4K would cost 16 times those at 1K. So the shot is solved at a base scale
(long side at most ``base_long_side``, 1024 by default) with the ordinary
Trainer, then refined at x2 steps up to full size: at each higher scale a small
one-stage generator (training/refine.py) gets the frame with its holes filled
by the upsampled lower-scale result (the prior) and learns, from patches near
the hole edges (boundary_sampling.py), to put back the detail. Frames are
streamed from disk: one pass reads every frame once to build the base-scale
shot and each scale's patch bank, a second one fills and writes them
(inference/progressive.py). What stays in memory is the base-scale shot, one
fixed-size patch bank per scale and one frame at a time; the cost of a
training step is fixed by the batch and patch size alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from inpaint_core.errors import Cancelled, InputError
from inpaint_core.inference.progressive import (
    DEFAULT_BASE_LONG_SIDE,
    ProgressiveFill,
    Scale,
    plan_scales,
    resize_frame,
)
from inpaint_core.io.colour import LogEncoding
from inpaint_core.jobs.propagated import (
    needs_network,
    propagate_shot,
    remaining_budget,
    write_filled,
)
from inpaint_core.jobs.types import (
    WARM_START_MODES,
    JobContext,
    JobResult,
    copy_through,
    resume_or_start,
    train_in_job,
    training_length,
    warn_full_frames,
)
from inpaint_core.masks.shot import Shot
from inpaint_core.training.boundary_sampling import PatchBank
from inpaint_core.training.dataset import (
    _FIT_SAMPLES_PER_FRAME,
    TrainingData,
    _check_enough_known,
    plate_fingerprint,
)
from inpaint_core.training.refine import (
    REFINE_SHARE,
    RefineTrainer,
    refine_crop,
    refine_iterations,
)
from inpaint_core.training.trainer import Trainer, TrainSettings

MODES = ("auto", "on", "off")
# "auto" turns progressive mode on above this long side, or when the shot held in
# memory (float16 colour + a bool hole per pixel) would pass this many bytes.
AUTO_LONG_SIDE = 2048
AUTO_MEMORY_BUDGET = 4 * 1024**3


@dataclass(frozen=True)
class ProgressiveSettings:
    """How a progressive job splits the work: the base scale's size, the refiners, the inference tiles."""

    base_long_side: int = DEFAULT_BASE_LONG_SIDE
    # Base width of each refine generator (one stage). It runs over every hole pixel at every higher scale, so
    # its cost per pixel sets the time to fill a 4K frame; the measured trade-off is in docs/benchmarks.md.
    refine_width: int = 8
    refine_iterations: int | None = None  # per higher scale; None: a quarter of the base scale's
    bank_size: int = 512  # patches per higher scale held in memory
    tile: int = 384  # inference tile (core) side at the higher scales
    tile_margin: int = 32  # context around each tile, cut away again

    def __post_init__(self) -> None:
        for name, low in (("base_long_side", 16), ("refine_width", 2), ("bank_size", 1), ("tile", 16),
                          ("tile_margin", 0)):
            if getattr(self, name) < low:
                raise InputError(f"Progressive setting {name} must be at least {low} (got {getattr(self, name)}).")


def wants_progressive(mode: str, shot: Shot) -> bool:
    """Whether a job runs progressively: 'on', 'off', or 'auto' (large frames or a shot too big for memory)."""
    if mode not in MODES:
        raise InputError(f"Unknown progressive mode {mode!r}; choose one of {', '.join(MODES)}.")
    if mode != "auto":
        return mode == "on"
    in_memory = len(shot.frames) * shot.width * shot.height * (2 * len(shot.colour_channels) + 1)
    return max(shot.width, shot.height) > AUTO_LONG_SIDE or in_memory > AUTO_MEMORY_BUDGET


def run_progressive(ctx: JobContext, settings: ProgressiveSettings | None = None) -> JobResult:
    """Read once, train scale by scale, then fill and write frame by frame."""
    spec, shot, reporter = ctx.spec, ctx.shot, ctx.reporter
    settings = settings or ProgressiveSettings(base_long_side=spec.progressive_base)
    scales = plan_scales(shot.width, shot.height, settings.base_long_side)
    sizes = " -> ".join(f"{s.width}x{s.height}" for s in scales)
    count = f"{len(scales)} scales" if len(scales) > 1 else "1 scale"
    reporter.stage(f"Progressive mode, {count} ({sizes}): reading {len(shot.frames)} frames of "
                   f"{spec.shot.plate} once")
    data, banks = read_shot(shot, scales, spec.train, settings, ctx.should_cancel)
    if not data.holes.any():
        return copy_through(ctx)
    warn_full_frames(ctx, data)
    propagated = propagate_shot(ctx) if spec.fill != "paper" else None
    base, refiners, train_seconds, network = None, [], 0.0, None
    if needs_network(ctx, propagated):
        ctx = replace(ctx, spec=replace(spec, train=remaining_budget(spec.train, ctx.seconds())))
        base, train_seconds = _train_base(ctx, data, scales[0])
        for scale in scales[1:]:
            refiner, seconds = _train_refiner(ctx, settings, banks.pop(scale.index), data, scale)
            refiners.append(refiner)
            train_seconds += seconds
        network = ProgressiveFill(base.inference_model, [None if r is None else r.model for r in refiners],
                                  data.images, data.holes, data.encoding, scales, shot.colour_channels, ctx.device,
                                  tile=settings.tile, tile_margin=settings.tile_margin,
                                  base_margin=spec.train.crop_size // 2).frame
    banks.clear()
    reporter.stage(f"Writing {len(ctx.outputs)} frames to {spec.output}")
    filled, copied, figures = write_filled(ctx, propagated, network)
    return JobResult(
        frames=shot.frames, outputs=list(ctx.outputs.values()), filled_frames=filled, copied_frames=copied,
        iterations=0 if base is None else base.iteration + sum(r.iteration for r in refiners if r is not None),
        final_loss=float("nan") if base is None else base.last_loss, hole_fraction=data.hole_fraction,
        device=str(ctx.device), checkpoint=None if base is None else scale_checkpoint(ctx.checkpoint, 0),
        train_seconds=train_seconds, total_seconds=ctx.seconds(),
        **figures,
    )


def read_shot(
    shot: Shot,
    scales: list[Scale],
    train: TrainSettings,
    settings: ProgressiveSettings,
    should_cancel: Callable[[], bool] | None = None,
) -> tuple[TrainingData, dict[int, PatchBank]]:
    """One pass over the shot: the base scale in memory, and a patch bank for each higher scale."""
    base, count, channels = scales[0], len(shot.frames), len(shot.colour_channels)
    images = np.empty((count, base.height, base.width, channels), dtype=np.float16)
    holes = np.empty((count, base.height, base.width), dtype=bool)
    banks = {s.index: PatchBank(settings.bank_size, refine_crop(train.crop_size, s), channels, count,
                                np.random.default_rng([train.seed, s.index])) for s in scales[1:]}
    rng, samples, fingerprints = np.random.default_rng(train.seed), [], {}
    for t, frame in enumerate(shot.frames):
        if should_cancel is not None and should_cancel():
            raise Cancelled(f"Cancelled while reading, after {t} of {count} frames.")
        plate, hole = shot.read(frame)
        plate_colour = shot.colour(plate)
        fingerprints[frame] = plate_fingerprint(plate_colour)  # of the full-size pixels, as single-scale jobs
        colour = np.where(hole[..., None], 0.0, plate_colour).astype(np.float32)
        del plate, plate_colour
        samples.append(_known_samples(colour, hole, rng))
        for scale in scales:
            small, small_hole = resize_frame(colour, hole, scale)
            if scale.index == 0:
                images[t], holes[t] = np.clip(small, -65504, 65504), small_hole
            else:
                banks[scale.index].offer(small, small_hole)
    _check_enough_known(shot, holes)
    encoding = LogEncoding.fit(np.concatenate(samples))
    for t in range(count):  # in place, frame by frame, as load_training_data does
        images[t] = encoding.encode(images[t]) * ~holes[t][..., None]
    for bank in banks.values():
        bank.encode(encoding.encode)
    return TrainingData(frames=list(shot.frames), images=images, holes=holes, encoding=encoding,
                        fingerprints=fingerprints), banks


def _known_samples(colour: np.ndarray, hole: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Up to _FIT_SAMPLES_PER_FRAME known pixels drawn at random, without a copy of every known pixel (4K)."""
    flat, holes = colour.reshape(-1, colour.shape[-1]), hole.ravel()
    picks = rng.integers(0, len(holes), 2 * _FIT_SAMPLES_PER_FRAME)
    picks = picks[~holes[picks]][:_FIT_SAMPLES_PER_FRAME]
    if len(picks) < _FIT_SAMPLES_PER_FRAME // 4:  # a frame mostly hole: draw among its known pixels
        known = np.flatnonzero(~holes)
        picks = known[rng.integers(0, len(known), min(len(known), _FIT_SAMPLES_PER_FRAME))] if len(known) else picks
    return flat[picks]


def scale_checkpoint(checkpoint: str, index: int) -> str:
    """Each scale's checkpoint beside the job's: ``clean.scale0.ckpt``, ``clean.scale1.ckpt``, ..."""
    root, ext = os.path.splitext(checkpoint)
    return f"{root}.scale{index}{ext}"


def scale_warm_start(warm_start: str, index: int) -> str:
    """The job's warm_start for scale ``index``: a mode as it is; a progressive job's checkpoint (any scale's, as
    scale_checkpoint names them) as that scale's sibling where there is one, so that each scale starts from its
    own network. Any other path stays as given: the scale's trainer refuses what does not fit, and says why."""
    if warm_start in WARM_START_MODES:
        return warm_start
    root, ext = os.path.splitext(warm_start)
    match = re.fullmatch(r"(.*)\.scale\d+", root)
    sibling = f"{match.group(1)}.scale{index}{ext}" if match else warm_start
    return sibling if os.path.exists(sibling) else warm_start


def _at_scale(ctx: JobContext, index: int) -> JobContext:
    return replace(ctx, spec=replace(ctx.spec, warm_start=scale_warm_start(ctx.spec.warm_start, index)))


def _train_base(ctx: JobContext, data: TrainingData, scale: Scale) -> tuple[Trainer, float]:
    trainer = Trainer(data, ctx.spec.train, ctx.device, scale_checkpoint(ctx.checkpoint, 0))
    resume_or_start(_at_scale(ctx, 0), trainer, "scale 1 ")
    ctx.reporter.stage(f"Scale 1 ({scale.width}x{scale.height}): training on {ctx.device} for "
                       f"{training_length(ctx.spec.train)} ({100 * data.hole_fraction:.1f}% of pixels to fill)")
    seconds = train_in_job(ctx, trainer)
    trainer.stop_prefetching()
    trainer.sampler = None  # its anchors are not needed for filling; the base-scale shot is
    return trainer, seconds


def _train_refiner(ctx: JobContext, settings: ProgressiveSettings, bank: PatchBank, data: TrainingData,
                   scale: Scale) -> tuple[RefineTrainer | None, float]:
    if bank.count == 0:  # only when every hole covers its whole frame: nothing near an edge to learn from
        ctx.reporter.warning(f"No hole edge to learn from at {scale.width}x{scale.height}: that scale is "
                             "upsampled only.")
        return None, 0.0
    train = ctx.spec.train
    iterations = refine_iterations(train.iterations, settings.refine_iterations)
    trainer = RefineTrainer(bank, data.channels, train, settings.refine_width, iterations, ctx.device,
                            scale_checkpoint(ctx.checkpoint, scale.index), seed=train.seed + scale.index,
                            size=(scale.width, scale.height), fingerprints=data.fingerprints)
    resume_or_start(_at_scale(ctx, scale.index), trainer, f"scale {scale.index + 1} ")
    budget = train.time_budget / REFINE_SHARE
    length = f"up to {budget / 60:.1f} minutes" if budget > 0 else f"{iterations} iterations"
    ctx.reporter.stage(f"Scale {scale.index + 1} ({scale.width}x{scale.height}): refining for {length} "
                       f"on {bank.count} patches of {bank.crop} px near the hole edges")
    seconds = train_in_job(ctx, trainer)
    trainer.release_bank()
    return trainer, seconds

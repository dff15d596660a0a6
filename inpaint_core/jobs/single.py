"""A single-scale job: the whole shot in memory, one network trained on it, every frame filled and written.

Everything that can be checked is checked before the first iteration (the
shot when it is opened, the outputs when they are planned, the known pixels
when the shot is read); outputs are written frame by frame, each atomically.
"""

from __future__ import annotations

import numpy as np

from inpaint_core.inference.fill import inpaint_frame
from inpaint_core.jobs.propagated import (
    PropagatedShot,
    needs_network,
    propagate_shot,
    remaining_budget,
    write_filled,
    write_refined,
)
from inpaint_core.jobs.refined import propagate_borrowed, refined_fill
from inpaint_core.jobs.types import (
    FillFrame,
    JobContext,
    JobResult,
    copy_through,
    resume_or_start,
    train_in_job,
    training_length,
    warn_full_frames,
)
from inpaint_core.training.dataset import TrainingData, load_training_data
from inpaint_core.training.loop import TrainingLoop
from inpaint_core.training.refiner import RefinerData, RefinerTrainer
from inpaint_core.training.trainer import Trainer


def run_single_scale(ctx: JobContext) -> JobResult:
    """Read the shot, propagate through it (guided and propagation fills), train on it (the refiner for guided,
    the paper's network for paper; resuming when asked), then fill and write every frame."""
    spec, shot, reporter = ctx.spec, ctx.shot, ctx.reporter
    reporter.stage(f"Reading {len(shot.frames)} frames of {spec.shot.plate} ({shot.width}x{shot.height})")
    data = load_training_data(shot, seed=spec.train.seed)
    if not data.holes.any():
        return copy_through(ctx)
    warn_full_frames(ctx, data)
    hole_fraction = data.hole_fraction
    propagated = propagate_shot(ctx) if spec.fill != "paper" else None

    trainer: TrainingLoop | None = None
    train_seconds, network, fill = 0.0, None, None
    if spec.fill == "guided" and propagated is not None:
        refiner_data = propagate_borrowed(ctx, data, propagated)
        propagated.seconds += refiner_data.seconds  # the result's propagation seconds: every propagation run
        trainer, train_seconds, fill = _train_refiner(ctx, refiner_data, propagated)
        del refiner_data
    elif needs_network(ctx, propagated):
        trainer, train_seconds, network = _train_network(ctx, data)
    del data

    reporter.stage(f"Writing {len(ctx.outputs)} frames to {spec.output}")
    if fill is None:
        filled, copied, figures = write_filled(ctx, propagated, network)
    else:
        filled, copied, figures = write_refined(ctx, propagated, fill)
    return JobResult(
        frames=shot.frames, outputs=list(ctx.outputs.values()), filled_frames=filled, copied_frames=copied,
        iterations=0 if trainer is None else trainer.iteration,
        final_loss=float("nan") if trainer is None else trainer.last_loss, hole_fraction=hole_fraction,
        device=str(ctx.device), checkpoint=None if trainer is None else ctx.checkpoint, train_seconds=train_seconds,
        total_seconds=ctx.seconds(), **figures,
    )


def _train_refiner(ctx: JobContext, refiner_data: RefinerData,
                   propagated: PropagatedShot) -> tuple[TrainingLoop, float, FillFrame]:
    """The guided fill's training on the borrowed holes; returns the refiner, its seconds and the fill."""
    train = remaining_budget(ctx.spec.train, ctx.seconds())
    refiner = RefinerTrainer(refiner_data, train, ctx.device, ctx.checkpoint)
    refiner.on_notice = ctx.reporter.warning
    resume_or_start(ctx, refiner)
    ctx.reporter.stage(f"Training the propagation refiner on {ctx.device} for {training_length(train)} "
                       f"({100 * refiner_data.data.hole_fraction:.1f}% of pixels to fill)")
    seconds = train_in_job(ctx, refiner)
    refiner.release_training_data()  # filling streams frames from disk
    fill = refined_fill(propagated, refiner.inference_model, refiner.shot.data.encoding, ctx.shot.colour_channels,
                        ctx.device)
    return refiner, seconds, fill


def _train_network(ctx: JobContext, data: TrainingData) -> tuple[TrainingLoop, float, FillFrame]:
    """The paper's network trained on the shot; returns it, its seconds and the fill of a frame with it."""
    train = remaining_budget(ctx.spec.train, ctx.seconds())
    trainer = Trainer(data, train, ctx.device, ctx.checkpoint)
    resume_or_start(ctx, trainer)
    ctx.reporter.stage(f"Training on {ctx.device} for {training_length(train)} "
                       f"({100 * data.hole_fraction:.1f}% of pixels to fill)")
    seconds = train_in_job(ctx, trainer)
    trainer.release_training_data()  # inference streams frames from disk
    encoding, model, channels = trainer.data.encoding, trainer.inference_model, ctx.shot.colour_channels

    def network(index: int, pixels: np.ndarray, colour: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """The whole frame through the trained network, composited into the plate."""
        return inpaint_frame(model, encoding, pixels, colour, hole, channels, ctx.device)

    return trainer, seconds, network

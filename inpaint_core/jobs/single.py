"""A single-scale job: the whole shot in memory, one network trained on it, every frame filled and written.

Everything that can be checked is checked before the first iteration (the
shot when it is opened, the outputs when they are planned, the known pixels
when the shot is read); outputs are written frame by frame, each atomically.
"""

from __future__ import annotations

import numpy as np

from inpaint_core.inference.fill import inpaint_frame
from inpaint_core.jobs.propagated import (
    needs_network,
    propagate_shot,
    remaining_budget,
    write_filled,
)
from inpaint_core.jobs.types import (
    JobContext,
    JobResult,
    copy_through,
    resume_or_start,
    train_in_job,
    training_length,
    warn_full_frames,
)
from inpaint_core.training.dataset import load_training_data
from inpaint_core.training.trainer import Trainer


def run_single_scale(ctx: JobContext) -> JobResult:
    """Read the shot, propagate through it (guided and propagation fills), train on it where the fill needs the
    network (resuming when asked), then fill and write every frame."""
    spec, shot, reporter = ctx.spec, ctx.shot, ctx.reporter
    reporter.stage(f"Reading {len(shot.frames)} frames of {spec.shot.plate} ({shot.width}x{shot.height})")
    data = load_training_data(shot, seed=spec.train.seed)
    if not data.holes.any():
        return copy_through(ctx)
    warn_full_frames(ctx, data)
    hole_fraction = data.hole_fraction
    propagated = propagate_shot(ctx) if spec.fill != "paper" else None

    trainer, train_seconds, network = None, 0.0, None
    if needs_network(ctx, propagated):
        train = remaining_budget(spec.train, ctx.seconds())
        trainer = Trainer(data, train, ctx.device, ctx.checkpoint)
        resume_or_start(ctx, trainer)
        reporter.stage(f"Training on {ctx.device} for {training_length(train)} "
                       f"({100 * hole_fraction:.1f}% of pixels to fill)")
        train_seconds = train_in_job(ctx, trainer)
        trainer.release_training_data()  # inference streams frames from disk
        encoding, model = trainer.data.encoding, trainer.inference_model

        def network(index: int, pixels: np.ndarray, colour: np.ndarray, hole: np.ndarray) -> np.ndarray:
            """The whole frame through the trained network, composited into the plate."""
            return inpaint_frame(model, encoding, pixels, colour, hole, shot.colour_channels, ctx.device)
    del data

    reporter.stage(f"Writing {len(ctx.outputs)} frames to {spec.output}")
    filled, copied, figures = write_filled(ctx, propagated, network)
    return JobResult(
        frames=shot.frames, outputs=list(ctx.outputs.values()), filled_frames=filled, copied_frames=copied,
        iterations=0 if trainer is None else trainer.iteration,
        final_loss=float("nan") if trainer is None else trainer.last_loss, hole_fraction=hole_fraction,
        device=str(ctx.device), checkpoint=None if trainer is None else ctx.checkpoint, train_seconds=train_seconds,
        total_seconds=ctx.seconds(), **figures,
    )

"""``run_job``: one inpainting job end to end, whichever kind it is.

It checks the shot and plans the outputs before any work, propagates a
single-frame mask through the shot first when there is one, then hands the
job to the single-scale or the progressive kind (large frames).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace

from inpaint_core.device import select_device
from inpaint_core.jobs.progressive import run_progressive, wants_progressive
from inpaint_core.jobs.single import run_single_scale
from inpaint_core.jobs.types import (
    JobContext,
    JobReporter,
    JobResult,
    JobSpec,
    check_seen_channel,
    plan_outputs,
    warn_gaps,
)
from inpaint_core.masks.mattes import DEFAULT_THRESHOLD
from inpaint_core.masks.shot import Shot
from inpaint_core.training.mask_propagation import (
    PropagationSettings,
    propagate_shot_mask,
)


def run_job(
    spec: JobSpec,
    reporter: JobReporter | None = None,
    should_cancel: Callable[[], bool] | None = None,
    preview_every: int = 0,
) -> JobResult:
    """Run a whole job; raises an InpaintError subclass with a clear message on bad input."""
    shot = Shot(spec.shot)
    ctx = JobContext(spec, shot, plan_outputs(spec.output, shot, spec.overwrite), select_device(spec.device),
                     reporter or JobReporter(), should_cancel, preview_every)
    warn_gaps(ctx)
    check_seen_channel(ctx)
    if spec.shot.mask_frame is not None:
        ctx = propagate_mask(ctx)
    if wants_progressive(ctx.spec.progressive, ctx.shot):
        return run_progressive(ctx)
    return run_single_scale(ctx)


def propagate_mask(ctx: JobContext) -> JobContext:
    """Single-frame mask: propagate it through the shot into the work folder; the job then uses those mattes."""
    spec = ctx.spec
    folder = os.path.splitext(ctx.checkpoint)[0] + ".mattes"  # never beside the user's inputs
    settings = spec.propagation or PropagationSettings(seed=spec.train.seed)
    ctx.reporter.stage(f"Propagating the mask of frame {spec.shot.mask_frame} through {len(ctx.shot.frames)} frames")
    pattern = propagate_shot_mask(ctx.shot, folder, settings, ctx.device, ctx.reporter.progress, ctx.should_cancel)
    shot_spec = replace(spec.shot, mask=pattern, mask_channel=None, mask_threshold=DEFAULT_THRESHOLD, mask_frame=None)
    return replace(ctx, spec=replace(spec, shot=shot_spec), shot=Shot(shot_spec))

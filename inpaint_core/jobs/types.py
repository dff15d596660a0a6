"""What every kind of job shares: its spec and result, its reporter, its context, and the steps all of them take.

The bottom of the jobs layer: single-scale, progressive and windowed jobs
build on this module and never on each other, and ``run_job`` (run.py) sits
on top. A JobContext carries what a running job needs (the spec, the checked
shot, the output paths, the device, where news and cancellation come from,
where the checkpoint goes) so that the steps take one argument instead of a
handful that every caller has to pass on in the same order.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

from inpaint_core.errors import (
    Cancelled,
    CheckpointError,
    InputError,
    OutdatedCheckpoint,
    OutputError,
    WarmStartRefused,
)
from inpaint_core.flow.estimate import FlowSettings
from inpaint_core.io.image_files import with_channel, write_frame
from inpaint_core.io.sequence import SequencePattern, format_frame_list
from inpaint_core.masks.shot import Shot, ShotSpec
from inpaint_core.training.checkpoints import load_checkpoint
from inpaint_core.training.dataset import TrainingData
from inpaint_core.training.loop import Progress, TrainingLoop
from inpaint_core.training.mask_propagation import PropagationSettings
from inpaint_core.training.trainer import TrainSettings

WORK_FOLDER = ".internal_inpaint"

# How a hole is filled. "guided" (the default): from the frames of the shot that show each hole pixel, along
# flow tracks (inpaint_core.flow), Telea where none does, then corrected by the refiner trained on the shot
# (jobs/refined.py; progressive jobs instead train their network for the pixels no frame shows). "paper": by
# the network alone (Ouyang et al.: implicit propagation, no flow). "propagation": flow alone, Telea where no
# frame shows a pixel (the network switched off: fast, and the ablation of "guided").
FILL_MODES = ("guided", "paper", "propagation")
SEEN_CHANNEL = "inpaint.seen"  # the optional output channel: 1 where the fill came from another frame
WARM_START_MODES = ("auto", "off", "force")  # JobSpec.warm_start, besides a checkpoint's path

# fill(index in the shot, plate pixels, plate colour as float32, hole) -> the frame's pixels, filled
FillFrame = Callable[[int, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
# seen(index in the shot, hole) -> (H, W) bool: the hole pixels filled from another frame
SeenMap = Callable[[int, np.ndarray], np.ndarray]


@dataclass
class JobSpec:
    """What to do: the shot, where the results go, how to train; everything a job needs from its caller."""

    shot: ShotSpec
    output: str  # pattern, e.g. 'clean.####.exr'
    train: TrainSettings = field(default_factory=TrainSettings)
    device: str = "auto"
    work_dir: str | None = None  # checkpoints; default: a hidden folder beside the outputs
    resume: bool = False
    overwrite: bool = False
    # Single-frame mask (shot.mask_frame): the propagation's settings; None = its defaults with train.seed.
    propagation: PropagationSettings | None = None
    # Large frames: 'auto' (on above 2048 px or a shot too big for memory), 'on' or 'off'; see progressive.py.
    progressive: str = "auto"
    progressive_base: int = 1024  # long side of the progressive base scale, in pixels
    fill: str = "guided"  # one of FILL_MODES
    flow: FlowSettings = field(default_factory=FlowSettings)  # the propagation of "guided" and "propagation"
    seen_channel: bool = False  # add SEEN_CHANNEL to the outputs
    # Seeding the network from a finished run (resume_or_start): "auto" = the first of the job's own earlier
    # checkpoint and warm_start_sources whose run finished on the same plate pixels; "force" = the first of them
    # with the same network, even if the plate changed (the job says so); "off" = always cold; or a checkpoint's
    # path (forced).
    warm_start: str = "auto"
    # Checkpoints of other finished jobs that auto and force consider after the job's own, best first: the server's
    # finished jobs, newest first (each job has its own work folder there). None: no search was made (the command
    # line); a tuple, even empty: the job's news says when it starts cold.
    warm_start_sources: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.fill not in FILL_MODES:
            raise InputError(f"Unknown fill mode {self.fill!r}; choose one of {', '.join(FILL_MODES)}.")
        if not self.warm_start:
            raise InputError(f"warm_start must be {', '.join(WARM_START_MODES)} or a checkpoint's path.")
        if self.warm_start_sources is not None:
            self.warm_start_sources = tuple(self.warm_start_sources)


@dataclass
class JobResult:
    """What a finished job did, for the caller's summary."""

    frames: list[int]
    outputs: list[str]
    filled_frames: int  # frames with a hole, filled by the network
    copied_frames: int  # frames without a hole, written unchanged
    iterations: int
    final_loss: float
    hole_fraction: float
    device: str
    checkpoint: str | None
    train_seconds: float
    total_seconds: float
    propagation_seconds: float = 0.0  # flow and candidates, before training (counted in the time budget)
    fill_seconds: float = 0.0  # filling and writing the frames with a hole
    seen_fraction: float = 0.0  # the share of hole pixels filled from another frame of the shot


class JobReporter:
    """Receives a job's news; the default ignores it. Subclass to show it."""

    def stage(self, message: str) -> None:
        """A step of the job begins (reading, training, writing)."""

    def warning(self, message: str) -> None:
        """Something the user should know, that does not stop the job."""

    def progress(self, progress: Progress) -> None:
        """One training iteration is done."""

    def frame_written(self, frame: int, path: str, done: int, total: int) -> None:
        """One output frame is on disk."""


@dataclass
class JobContext:
    """A running job: its spec, the checked shot and everything its steps need besides."""

    spec: JobSpec
    shot: Shot
    outputs: dict[int, str]  # output path per frame (plan_outputs)
    device: torch.device
    reporter: JobReporter = field(default_factory=JobReporter)
    should_cancel: Callable[[], bool] | None = None
    preview_every: int = 0  # iterations between progress previews; 0 = none
    started: float = field(default_factory=time.monotonic)

    @cached_property
    def checkpoint(self) -> str:
        """The job's checkpoint path in its work folder; the folder is made on first use, not before."""
        return checkpoint_path(self.spec, self.outputs)

    def seconds(self) -> float:
        """Since the job started."""
        return time.monotonic() - self.started


def plan_outputs(pattern: str, shot: Shot, overwrite: bool) -> dict[int, str]:
    """Output path per frame, refusing to write over inputs, or over anything without ``overwrite``."""
    sequence = SequencePattern.parse(pattern)
    outputs = {frame: sequence.path(frame) for frame in shot.frames}
    inputs = set(map(os.path.realpath, shot.plate_paths.values()))
    if shot.mask_paths:
        inputs |= set(map(os.path.realpath, shot.mask_paths.values()))
    inputs |= set(map(os.path.realpath, shot.reference_paths))
    clashes = [f for f, p in outputs.items() if os.path.realpath(p) in inputs]
    if clashes:
        raise OutputError(
            f"Output {pattern!r} would overwrite input files (frames {format_frame_list(clashes)}); "
            "choose another output path. Inputs are never overwritten."
        )
    existing = [f for f, p in outputs.items() if os.path.exists(p)]
    if existing and not overwrite:
        raise OutputError(
            f"{len(existing)} output files exist already (frames {format_frame_list(existing)}, e.g. "
            f"{outputs[existing[0]]}); pass --overwrite to replace them."
        )
    folder = os.path.dirname(os.path.abspath(outputs[shot.frames[0]]))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"Cannot create output folder {folder}: {exc.strerror}.") from exc
    return outputs


def checkpoint_path(spec: JobSpec, outputs: dict[int, str]) -> str:
    """``<work folder>/<output name>.ckpt``: the work folder is the spec's, or a hidden one beside the outputs."""
    first_output = next(iter(outputs.values()))
    folder = spec.work_dir or os.path.join(os.path.dirname(os.path.abspath(first_output)), WORK_FOLDER)
    os.makedirs(folder, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", os.path.basename(SequencePattern.parse(spec.output).prefix)).strip("._")
    return os.path.join(folder, f"{name or 'job'}.ckpt")


def write_frames(ctx: JobContext, fill: FillFrame | None, seen: SeenMap | None = None) -> tuple[int, int]:
    """Write every frame: ``fill`` for frames with a hole, a copy for the others (and for all of them when
    ``fill`` is None). With the spec's ``seen_channel`` each output gets SEEN_CHANNEL from ``seen`` (none:
    0 everywhere). Returns (filled, copied)."""
    filled = copied = 0
    outputs = ctx.outputs
    for done, frame in enumerate(ctx.shot.frames, start=1):
        if ctx.should_cancel is not None and ctx.should_cancel():
            raise Cancelled(f"Cancelled while writing, after {done - 1} of {len(outputs)} frames.")
        plate, hole = ctx.shot.read(frame)
        if fill is None or not hole.any():
            pixels, copied = plate.pixels, copied + 1
        else:
            pixels, filled = fill(done - 1, plate.pixels, ctx.shot.colour(plate), hole), filled + 1
        spec = plate.spec
        if ctx.spec.seen_channel:
            from_frames = seen(done - 1, hole) if seen is not None and hole.any() else np.zeros(hole.shape, bool)
            extended = with_channel(plate, pixels, SEEN_CHANNEL, from_frames)
            pixels, spec = extended.pixels, extended.spec
        write_frame(outputs[frame], pixels, spec, overwrite=ctx.spec.overwrite)
        ctx.reporter.frame_written(frame, outputs[frame], done, len(outputs))
    return filled, copied


def copy_through(ctx: JobContext) -> JobResult:
    """A job whose matte is empty everywhere: every frame is written unchanged, nothing is trained."""
    ctx.reporter.warning("The matte is empty in every frame: nothing to remove, frames are copied through unchanged.")
    write_frames(ctx, None)
    frames = ctx.shot.frames
    return JobResult(frames, list(ctx.outputs.values()), 0, len(frames), 0, float("nan"), 0.0, str(ctx.device),
                     None, 0.0, ctx.seconds())


def resume_or_start(ctx: JobContext, trainer: TrainingLoop, what: str = "") -> None:
    """Continue the trainer's checkpoint when the job says so (--resume) and there is one; else seed it from a
    finished run as the job's warm_start allows (warm_start), or warn that the earlier checkpoint will be replaced.

    A checkpoint of an earlier format is not an error here: the job says so and starts over.
    ``what`` names the part of the job in the message ('scale 2 ').
    """
    path = trainer.checkpoint_path
    if ctx.spec.resume and path and os.path.exists(path):
        try:
            resumed = trainer.resume()
        except OutdatedCheckpoint as exc:
            ctx.reporter.warning(f"Checkpoint {exc.path} was written by an earlier version of InternalInpaint "
                                 f"({exc.what}) and cannot be resumed: the job starts over and replaces it.")
            return
        if resumed:  # the message ends with the iteration: the server's clients read it from there
            ctx.reporter.stage(f"Resuming {what}from {path} at iteration {trainer.iteration}")
            return
    if warm_start(ctx, trainer):
        return
    if path and os.path.exists(path):
        ctx.reporter.warning(f"Starting over; the earlier checkpoint {path} will be replaced "
                             "(use --resume to continue it).")


def warm_start(ctx: JobContext, trainer: TrainingLoop) -> bool:
    """Seed the trainer from a finished run, as the job's warm_start says; True when the job's news has said what
    became of an earlier checkpoint (it started from it, or starts cold and why), False when there was none to
    consider. Trainers without fingerprints (mask propagation) always start cold."""
    choice, own, searched = ctx.spec.warm_start, trainer.checkpoint_path, ctx.spec.warm_start_sources
    if choice == "off" or not trainer.fingerprints():
        return False
    sources = _warm_sources(ctx, own)
    if not sources:
        if choice == "force":
            ctx.reporter.warning("Starting cold: there is no finished run to warm-start from.")
        elif searched is not None:
            ctx.reporter.stage("Starting cold: there is no finished run to warm-start from")
        return choice == "force" or searched is not None
    refusals: list[WarmStartRefused | CheckpointError] = []
    for source in sources:
        try:
            seeded = trainer.warm_start_from(source, force=choice != "auto")
        except (WarmStartRefused, CheckpointError) as exc:
            refusals.append(exc)
            continue
        changed = (f"; the plate changed in {len(seeded.changed_frames)} of its frames (forced)"
                   if seeded.changed_frames else "")
        ctx.reporter.stage(f"Warm start from {seeded.path} ({seeded.iterations} iterations, "
                           f"{seeded.unchanged_frames} frames unchanged{changed})")
        return True
    own_refused = bool(own) and sources[0] == own
    if choice == "auto" and not own_refused and not any(getattr(exc, "related", False) for exc in refusals):
        # Only other shots' runs were considered: news, not a warning.
        ctx.reporter.stage(f"Starting cold: none of the {len(refusals)} finished runs considered was trained on "
                           "this plate")
        return True
    ctx.reporter.warning(f"Starting cold: {_refusal_reason(refusals, own_refused)}"
                         + (f"; the earlier checkpoint {own} will be replaced" if own_refused else "") + ".")
    return True


def _warm_sources(ctx: JobContext, own: str | None) -> list[str]:
    """The checkpoints the job's warm_start lets it start from, best first (existing files only)."""
    choice = ctx.spec.warm_start
    if choice == "off":
        return []
    if choice in WARM_START_MODES:
        return [p for p in (own, *(ctx.spec.warm_start_sources or ())) if p and os.path.exists(p)]
    if os.path.exists(choice):
        return [choice]
    raise InputError(f"No checkpoint at {choice} to warm-start from (--warm-start); give a finished job's "
                     f"checkpoint, or {', '.join(WARM_START_MODES)}.")


def will_warm_start(ctx: JobContext, kind: str, fingerprints: dict[int, str], own: str | None) -> bool:
    """Whether warm_start will most likely seed a ``kind`` trainer, judged before the trainer exists from what
    its checkpoints store (kind, finished, fingerprints), for precomputations a warm start can shorten. The
    network's shapes are checked only by warm_start itself, which decides for good."""
    if not fingerprints:
        return False
    for source in _warm_sources(ctx, own):
        try:
            state = load_checkpoint(source)
        except CheckpointError:
            continue
        old = state.get("fingerprints") or {}
        common = set(old) & set(fingerprints)
        unchanged = bool(common) and all(old[f] == fingerprints[f] for f in common)
        if state["kind"] == kind and state.get("finished") and (unchanged or ctx.spec.warm_start != "auto"):
            return True
    return False


def _refusal_reason(refusals: list, own_refused: bool) -> str:
    """Why the most relevant checkpoint was refused: the job's own, else the first trained on these pixels, else
    the first."""
    related = [e for e in refusals if getattr(e, "related", False)]
    exc = refusals[0] if own_refused or not related else related[0]
    why = f"an earlier version's checkpoint ({exc.what})" if isinstance(exc, OutdatedCheckpoint) else str(exc)
    others = len(refusals) - 1
    return why + (f" (and {others} more finished run{'s' * (others > 1)} did not fit)" if others else "")


def train_in_job(ctx: JobContext, trainer: TrainingLoop) -> float:
    """Run the trainer with the job's reporter and cancellation; returns the seconds it took."""
    started = time.monotonic()
    trainer.train(ctx.reporter.progress, ctx.should_cancel, ctx.preview_every)
    if trainer.compile_error:
        ctx.reporter.warning(f"The network could not be compiled ({trainer.compile_error}); it trained uncompiled.")
    return time.monotonic() - started


def training_length(settings: TrainSettings) -> str:
    """'10 minutes' for a time-budgeted run, else '3000 iterations'."""
    if settings.time_budget > 0:
        return f"{settings.time_budget / 60:g} minutes"
    return f"{settings.iterations} iterations"


def check_seen_channel(ctx: JobContext) -> None:
    """Before any work: the outputs can take SEEN_CHANNEL only if the plate has no channel of that name."""
    if ctx.spec.seen_channel and SEEN_CHANNEL in ctx.shot.channel_names:
        raise OutputError(f"The seen channel adds {SEEN_CHANNEL!r} to the outputs, and the plate {ctx.spec.shot.plate} "
                          "has a channel of that name already: rename or drop it, or leave the seen channel off.")


def warn_gaps(ctx: JobContext) -> None:
    """A scanned sequence with holes in its numbering is often an unfinished render."""
    frames = ctx.shot.frames
    if ctx.spec.shot.frames is not None or len(frames) < 2:
        return
    missing = sorted(set(range(frames[0], frames[-1] + 1)) - set(frames))
    if missing:
        ctx.reporter.warning(
            f"Frames {format_frame_list(missing)} of {ctx.spec.shot.plate} are not on disk; the shot is processed "
            "without them (pass --frames to make a gap an error)."
        )


def warn_full_frames(ctx: JobContext, data: TrainingData) -> None:
    """Frames that are hole everywhere get nothing of their own to learn from."""
    full = [f for f, hole in zip(data.frames, data.holes) if hole.all()]
    if full:
        ctx.reporter.warning(
            f"The matte covers all of frames {format_frame_list(full)}: those are filled from the other frames alone."
        )

"""One inpainting job end to end: check the shot, train on it, fill every frame, write.

Everything that can be checked is checked before the first iteration: frame
presence and sizes, the matte, NaN/Inf pixels, and whether the outputs would
overwrite anything. Outputs are written frame by frame, each atomically.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field, replace
from typing import Callable

from inpaint_core.training.dataset import load_training_data
from inpaint_core.device import select_device
from inpaint_core.errors import Cancelled, OutputError
from inpaint_core.io.image_files import write_frame
from inpaint_core.inference.fill import inpaint_frame
from inpaint_core.training.mask_propagation import PropagationSettings, propagate_shot_mask
from inpaint_core.masks.mattes import DEFAULT_THRESHOLD
from inpaint_core.io.sequence import SequencePattern, format_frame_list
from inpaint_core.masks.shot import Shot, ShotSpec
from inpaint_core.training.trainer import Progress, Trainer, TrainSettings

WORK_FOLDER = ".internal_inpaint"


@dataclass
class JobSpec:
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


@dataclass
class JobResult:
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


def run_job(
    spec: JobSpec,
    reporter: JobReporter | None = None,
    should_cancel: Callable[[], bool] | None = None,
    preview_every: int = 0,
) -> JobResult:
    """Run a whole job; raises an InpaintError subclass with a clear message on bad input."""
    reporter = reporter or JobReporter()
    started = time.monotonic()
    shot = Shot(spec.shot)
    outputs = plan_outputs(spec.output, shot, spec.overwrite)
    device = select_device(spec.device)
    _warn_gaps(spec.shot, shot.frames, reporter)
    if spec.shot.mask_frame is not None:
        spec, shot = _propagate_mask(spec, shot, outputs, device, reporter, should_cancel)
    from inpaint_core.jobs.progressive import run_progressive, wants_progressive  # local: progressive builds on this module

    if wants_progressive(spec.progressive, shot):
        return run_progressive(spec, shot, outputs, device, reporter, should_cancel, preview_every)
    reporter.stage(f"Reading {len(shot.frames)} frames of {spec.shot.plate} ({shot.width}x{shot.height})")
    data = load_training_data(shot, seed=spec.train.seed)
    hole_fraction = data.hole_fraction
    if not data.holes.any():
        reporter.warning("The matte is empty in every frame: nothing to remove, frames are copied through unchanged.")
        _write_outputs(shot, outputs, None, spec, reporter, should_cancel)
        return JobResult(shot.frames, list(outputs.values()), 0, len(shot.frames), 0, float("nan"),
                         0.0, str(device), None, 0.0, time.monotonic() - started)
    _warn_full_frames(data, reporter)

    checkpoint = _checkpoint_path(spec, outputs)
    trainer = Trainer(data, spec.train, device, checkpoint)
    if spec.resume and trainer.resume():
        reporter.stage(f"Resuming from {checkpoint} at iteration {trainer.iteration}")
    elif os.path.exists(checkpoint):
        reporter.warning(f"Starting over; the earlier checkpoint {checkpoint} will be replaced (use --resume to continue it).")
    reporter.stage(f"Training on {device} for {_training_length(spec.train)} ({100 * hole_fraction:.1f}% of pixels to fill)")
    train_started = time.monotonic()
    trainer.train(reporter.progress, should_cancel, preview_every)
    train_seconds = time.monotonic() - train_started
    if trainer.compile_error:
        reporter.warning(f"The network could not be compiled ({trainer.compile_error}); it trained uncompiled.")

    del data
    trainer.release_training_data()  # inference streams frames from disk
    reporter.stage(f"Writing {len(outputs)} frames to {spec.output}")
    counts = _write_outputs(shot, outputs, trainer, spec, reporter, should_cancel)
    return JobResult(
        frames=shot.frames, outputs=list(outputs.values()), filled_frames=counts[0], copied_frames=counts[1],
        iterations=trainer.iteration, final_loss=trainer.last_loss, hole_fraction=hole_fraction,
        device=str(device), checkpoint=checkpoint, train_seconds=train_seconds,
        total_seconds=time.monotonic() - started,
    )


def _training_length(settings: TrainSettings) -> str:
    if settings.time_budget > 0:
        return f"{settings.time_budget / 60:g} minutes"
    return f"{settings.iterations} iterations"


def plan_outputs(pattern: str, shot: Shot, overwrite: bool) -> dict[int, str]:
    """Output path per frame, refusing to write over inputs, or over anything without ``overwrite``."""
    sequence = SequencePattern.parse(pattern)
    outputs = {frame: sequence.path(frame) for frame in shot.frames}
    inputs = set(map(os.path.realpath, shot.plate_paths.values()))
    if shot.mask_paths:
        inputs |= set(map(os.path.realpath, shot.mask_paths.values()))
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


def _write_outputs(shot, outputs, trainer, spec, reporter, should_cancel) -> tuple[int, int]:
    """Fill with the trainer's network (or copy every frame through when there is no trainer)."""
    if trainer is None:
        return write_frames(shot, outputs, None, spec, reporter, should_cancel)

    def fill(index: int, pixels, colour, hole):
        return inpaint_frame(trainer.inference_model, trainer.data.encoding, pixels, colour, hole,
                             shot.colour_channels, trainer.device)

    return write_frames(shot, outputs, fill, spec, reporter, should_cancel)


def write_frames(shot, outputs, fill, spec, reporter, should_cancel) -> tuple[int, int]:
    """Write every frame: ``fill(index, pixels, colour, hole)`` for frames with a hole, a copy for the others
    (and for all of them when ``fill`` is None). Returns (filled, copied)."""
    filled = copied = 0
    for done, frame in enumerate(shot.frames, start=1):
        if should_cancel is not None and should_cancel():
            raise Cancelled(f"Cancelled while writing, after {done - 1} of {len(outputs)} frames.")
        plate, hole = shot.read(frame)
        if fill is None or not hole.any():
            pixels, copied = plate.pixels, copied + 1
        else:
            pixels, filled = fill(done - 1, plate.pixels, shot.colour(plate), hole), filled + 1
        write_frame(outputs[frame], pixels, plate.spec, overwrite=spec.overwrite)
        reporter.frame_written(frame, outputs[frame], done, len(outputs))
    return filled, copied


def _propagate_mask(spec: JobSpec, shot: Shot, outputs: dict[int, str], device, reporter: JobReporter,
                    should_cancel: Callable[[], bool] | None) -> tuple[JobSpec, Shot]:
    """Single-frame mask: propagate it through the shot into the work folder; the job then uses those mattes."""
    folder = os.path.splitext(_checkpoint_path(spec, outputs))[0] + ".mattes"  # never beside the user's inputs
    settings = spec.propagation or PropagationSettings(seed=spec.train.seed)
    reporter.stage(f"Propagating the mask of frame {spec.shot.mask_frame} through {len(shot.frames)} frames")
    pattern = propagate_shot_mask(shot, folder, settings, device, reporter.progress, should_cancel)
    shot_spec = replace(spec.shot, mask=pattern, mask_channel=None, mask_threshold=DEFAULT_THRESHOLD, mask_frame=None)
    return replace(spec, shot=shot_spec), Shot(shot_spec)


def _checkpoint_path(spec: JobSpec, outputs: dict[int, str]) -> str:
    first_output = next(iter(outputs.values()))
    folder = spec.work_dir or os.path.join(os.path.dirname(os.path.abspath(first_output)), WORK_FOLDER)
    os.makedirs(folder, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", os.path.basename(SequencePattern.parse(spec.output).prefix)).strip("._")
    return os.path.join(folder, f"{name or 'job'}.ckpt")


def _warn_gaps(shot_spec: ShotSpec, frames: list[int], reporter: JobReporter) -> None:
    """A scanned sequence with holes in its numbering is often an unfinished render."""
    if shot_spec.frames is not None or len(frames) < 2:
        return
    missing = sorted(set(range(frames[0], frames[-1] + 1)) - set(frames))
    if missing:
        reporter.warning(
            f"Frames {format_frame_list(missing)} of {shot_spec.plate} are not on disk; the shot is processed without "
            "them (pass --frames to make a gap an error)."
        )


def _warn_full_frames(data, reporter: JobReporter) -> None:
    full = [f for f, hole in zip(data.frames, data.holes) if hole.all()]
    if full:
        reporter.warning(
            f"The matte covers all of frames {format_frame_list(full)}: those are filled from the other frames alone."
        )

"""A windowed job in a job folder: plan it, run its windows anywhere, assemble them.

The job folder is the whole state, so any farm node can pick up any task::

    DIR/plan.json                     the shot, settings (fill, seen channel) and windows (written once)
    DIR/windows/003/clean.####.exr    window 3's frames
    DIR/windows/003/work/             its checkpoint: a killed task resumes from it
    DIR/windows/003/done.json         written last: the window is complete
    DIR/assembled/<frame>             one marker per output frame the assembly wrote

Every file is written atomically (temp file + rename), so a task killed at
any moment leaves either the old state or the new one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from inpaint_core.errors import Cancelled, InputError, OutputError
from inpaint_core.io.image_files import read_frame, with_channel, write_frame
from inpaint_core.io.sequence import SequencePattern, format_frame_list
from inpaint_core.jobs.types import FILL_MODES, SEEN_CHANNEL, JobReporter, JobResult, JobSpec, plan_outputs
from inpaint_core.jobs.windows import Window, blend_weights, plan_windows
from inpaint_core.masks.shot import Shot, ShotSpec
from inpaint_core.training.presets import preset_settings

PLAN_FILE = "plan.json"
# 2: training settings as the preset's overrides. fill and seen_channel came later within version 2: a plan
# without them was made when every window filled with the network alone, so its remaining windows do too
# ("paper"), and the assembled shot does not change method from one window to the next.
PLAN_VERSION = 2
_FILL_BEFORE_FILL_MODES = "paper"
DEFAULT_WINDOW_SIZE = 40
DEFAULT_OVERLAP = 8
_WINDOW_OUTPUT = "clean.####.exr"


@dataclass
class WindowedPlan:
    shot: ShotSpec  # frames resolved: the exact list
    output: str
    preset: str = "standard"
    # Training settings that replace the preset's (TrainSettings field names; None = the preset's).
    overrides: dict = field(default_factory=dict)
    overwrite: bool = False
    window_size: int = DEFAULT_WINDOW_SIZE
    overlap: int = DEFAULT_OVERLAP
    windows: list[Window] = field(default_factory=list)
    fill: str = "guided"  # each window's JobSpec.fill: one of FILL_MODES
    seen_channel: bool = False  # each window's, and the assembled, outputs get SEEN_CHANNEL

    def __post_init__(self) -> None:
        if self.fill not in FILL_MODES:
            raise InputError(f"Unknown fill mode {self.fill!r}; choose one of {', '.join(FILL_MODES)}.")
        if not isinstance(self.seen_channel, bool):
            raise InputError(f"seen_channel must be true or false (got {self.seen_channel!r}).")

    def to_dict(self) -> dict:
        """The plan as plan.json holds it, with its version."""
        values = asdict(self)
        values["windows"] = [list(w.frames) for w in self.windows]
        return {"version": PLAN_VERSION, **values}

    @classmethod
    def from_dict(cls, values: dict) -> "WindowedPlan":
        """A plan read from plan.json; one of another version is refused: its windows may mean something else."""
        values = dict(values)
        if values.pop("version", None) != PLAN_VERSION:
            raise InputError("The job folder's plan.json was written by another version; plan the job again.")
        values["shot"] = ShotSpec(**values["shot"])
        values.setdefault("fill", _FILL_BEFORE_FILL_MODES)
        values["windows"] = [Window(i, tuple(frames)) for i, frames in enumerate(values["windows"])]
        return cls(**values)


def create_plan(job_dir: str, plan: WindowedPlan) -> WindowedPlan:
    """Check the shot and the outputs, split it into windows and write the plan (idempotent for the same plan)."""
    if plan.shot.mask_frame is not None:
        # Each window would propagate on its own frames, with seams between windows' mattes.
        raise InputError("A single-frame mask (--mask-frame) is not supported by windowed farm jobs: run the shot "
                         "with `internal-inpaint run --mask-frame N`, or give a matte for every frame to `plan`.")
    shot = Shot(plan.shot)
    if plan.seen_channel and SEEN_CHANNEL in shot.channel_names:
        raise InputError(f"--seen-channel adds a channel {SEEN_CHANNEL!r} to the outputs, and the plate "
                         f"{plan.shot.plate} has one already: rename or drop it, or leave --seen-channel out.")
    plan.shot.frames = list(shot.frames)
    plan.overrides = {k: v for k, v in plan.overrides.items() if v is not None}
    preset_settings(plan.preset, **plan.overrides)  # validates
    plan.windows = plan_windows(shot.frames, plan.window_size, plan.overlap)
    path = os.path.join(job_dir, PLAN_FILE)
    if os.path.exists(path):
        if load_plan(job_dir).to_dict() != plan.to_dict():
            raise InputError(f"The job folder {job_dir} holds another job's plan; use a new folder, or delete it.")
        return plan
    if not os.path.isdir(os.path.join(job_dir, "assembled")):
        plan_outputs(plan.output, shot, plan.overwrite)
    os.makedirs(job_dir, exist_ok=True)
    _write_json(path, plan.to_dict())
    return plan


def load_plan(job_dir: str) -> WindowedPlan:
    """The job folder's plan, with a message saying what to do when there is none or it is damaged."""
    path = os.path.join(job_dir, PLAN_FILE)
    try:
        with open(path) as handle:
            return WindowedPlan.from_dict(json.load(handle))
    except FileNotFoundError:
        raise InputError(f"No plan in {job_dir}: run `internal-inpaint plan ... --job-dir {job_dir}` first.") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError(f"The plan {path} is damaged ({exc}); plan the job again in a new folder.") from exc


def window(plan: WindowedPlan, index: int) -> Window:
    """Window ``index`` of the plan; a wrong index names the ones there are."""
    if not 0 <= index < len(plan.windows):
        raise InputError(f"Window {index} does not exist: this job has windows 0-{len(plan.windows) - 1}.")
    return plan.windows[index]


def window_dir(job_dir: str, index: int) -> str:
    """The folder of window ``index``: its frames, its checkpoint, its done marker."""
    return os.path.join(job_dir, "windows", f"{index:03d}")


def window_job(job_dir: str, plan: WindowedPlan, index: int, device: str = "auto",
               checkpoint_every: int | None = None) -> JobSpec:
    """The library job of one window: its frames, its own outputs and checkpoint, resuming when it can."""
    frames = list(window(plan, index).frames)
    folder = window_dir(job_dir, index)
    os.makedirs(folder, exist_ok=True)
    # The references inside the window's range are its; the others are another window's frames.
    references = tuple(r for r in plan.shot.references if r.frame in frames)
    shot = ShotSpec(**{**asdict(plan.shot), "frames": frames, "references": references})
    settings = preset_settings(plan.preset, checkpoint_every=checkpoint_every, **plan.overrides)
    return JobSpec(shot=shot, output=os.path.join(folder, _WINDOW_OUTPUT), train=settings, device=device,
                   work_dir=os.path.join(folder, "work"), resume=True, overwrite=True, fill=plan.fill,
                   seen_channel=plan.seen_channel)


def window_done(job_dir: str, index: int) -> bool:
    """Whether the window's done marker is there (written last, so its frames are complete)."""
    return os.path.exists(os.path.join(window_dir(job_dir, index), "done.json"))


def mark_window_done(job_dir: str, index: int, result: JobResult) -> None:
    """Write the window's done marker, atomically, once its frames are all on disk."""
    _write_json(os.path.join(window_dir(job_dir, index), "done.json"),
                {"frames": result.frames, "iterations": result.iterations, "final_loss": result.final_loss})


def assemble(job_dir: str, reporter: JobReporter | None = None,
             should_cancel: Callable[[], bool] | None = None) -> list[str]:
    """Join the windows into the plan's output, cross-fading the fills where windows overlap."""
    reporter = reporter or JobReporter()
    plan = load_plan(job_dir)
    missing = [w.index for w in plan.windows if not window_done(job_dir, w.index)]
    if missing:
        raise InputError(f"Windows {format_frame_list(missing)} of {job_dir} are not done; run them first.")
    shot = Shot(plan.shot)
    markers = os.path.join(job_dir, "assembled")
    started = os.path.isdir(markers)
    outputs = plan_outputs(plan.output, shot, overwrite=plan.overwrite or started)
    os.makedirs(markers, exist_ok=True)
    sources = {w.index: SequencePattern.parse(os.path.join(window_dir(job_dir, w.index), _WINDOW_OUTPUT))
               for w in plan.windows}
    reporter.stage(f"Assembling {len(shot.frames)} frames from {len(plan.windows)} windows into {plan.output}")
    for done, frame in enumerate(shot.frames, start=1):
        if should_cancel is not None and should_cancel():
            raise Cancelled(f"Assembly cancelled after {done - 1} of {len(shot.frames)} frames; "
                            "run it again to finish.")
        marker = os.path.join(markers, str(frame))
        if not os.path.exists(marker):
            plate, hole = shot.read(frame)
            blended, nchannels = list(shot.colour_channels), plate.spec.nchannels
            if plan.seen_channel:
                blended.append(nchannels)  # the windows' SEEN_CHANNEL, after the plate's channels
                nchannels += 1
            pixels = _blend(frame, plan.windows, sources, hole, blended, nchannels)
            spec = plate.spec
            if plan.seen_channel:
                # The plate's header with the channel added, as a single job writes it; in an overlap, the windows'
                # values cross-faded like the colour: the share of the blended fill taken from other frames.
                extended = with_channel(plate, pixels[..., :-1], SEEN_CHANNEL, pixels[..., -1])
                pixels, spec = extended.pixels, extended.spec
            # Our own earlier, interrupted assembly may have written this frame: replacing it is safe.
            write_frame(outputs[frame], pixels, spec, overwrite=plan.overwrite or started)
            _write_json(marker, {"frame": frame})
        reporter.frame_written(frame, outputs[frame], done, len(shot.frames))
    return list(outputs.values())


def _blend(frame: int, windows: list[Window], sources: dict[int, SequencePattern], hole: np.ndarray,
           colour: list[int], nchannels: int) -> np.ndarray:
    """The frame from its windows: identical outside the hole (the plate), cross-faded inside it (the channels
    ``colour``). Each window's frame must have ``nchannels`` channels."""
    weights = blend_weights(frame, windows)
    frames = {}
    for index in weights:
        path = sources[index].path(frame)
        frames[index] = read_frame(path).pixels
        if frames[index].shape[-1] != nchannels:
            raise OutputError(f"{path} has {frames[index].shape[-1]} channels where this plan makes {nchannels}: "
                              f"window {index} was not written for this plan; delete {os.path.dirname(path)} "
                              f"and run the window again.")
    first = frames[next(iter(weights))]
    if len(weights) == 1 or not hole.any():
        return first
    blended = sum(weight * frames[index][..., colour].astype(np.float32) for index, weight in weights.items())
    pixels = first.copy()
    rows, cols = np.nonzero(hole)
    for channel_position, channel in enumerate(colour):
        pixels[rows, cols, channel] = blended[rows, cols, channel_position].astype(pixels.dtype)
    return pixels


def _write_json(path: str, values: dict) -> None:
    temp = f"{path}.partial-{os.getpid()}"
    with open(temp, "w") as handle:
        json.dump(values, handle, indent=1)
    os.replace(temp, path)

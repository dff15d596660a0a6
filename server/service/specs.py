"""From the contract's JobSpec to the library's JobSpec, checking every field on the way.

Checks that need no files happen here (sizes, channels, preset, numbers);
checks of files (path mode) happen when the library opens the shot.
"""

from __future__ import annotations

import math
import os

import numpy as np
from internal_inpaint.v1 import inpaint_pb2 as pb

from inpaint_core.errors import InpaintError
from inpaint_core.io import MAX_SIDE, format_frame_list, parse_frame_range
from inpaint_core.jobs import JobSpec
from inpaint_core.masks import DEFAULT_THRESHOLD, ShotSpec
from inpaint_core.training import PRESETS, TrainSettings, preset_settings

from .errors import InvalidRequest, LimitExceeded

DEFAULT_PRESET = "standard"
MAX_FRAMES = 100_000
MAX_ITERATIONS = 10_000_000
MAX_DILATE = 1024
PLATE_NAME = "plate.####.exr"  # upload jobs' files in the spool
OUTPUT_NAME = "clean.####.exr"
_DTYPES = {pb.HALF: np.dtype("<f2"), pb.FLOAT: np.dtype("<f4")}
_PROGRESSIVE_MODES = {pb.PROGRESSIVE_AUTO: "auto", pb.PROGRESSIVE_ON: "on", pb.PROGRESSIVE_OFF: "off"}


def pixel_dtype(layout: pb.FrameLayout) -> np.dtype:
    return _DTYPES[layout.pixel_type]


def frame_bytes(layout: pb.FrameLayout) -> int:
    return layout.width * layout.height * len(layout.channels) * pixel_dtype(layout).itemsize


def check_spec(spec: pb.JobSpec, max_frame_bytes: int) -> TrainSettings:
    """Raise InvalidRequest/LimitExceeded naming the first bad field; returns the training settings."""
    source = spec.WhichOneof("source")
    if source is None:
        raise InvalidRequest("The job spec has no source: set either upload (frames sent to the server) or paths.")
    if source == "upload":
        _check_upload(spec.upload, spec.matte, max_frame_bytes)
    if spec.matte.dilate < 0 or spec.matte.dilate > MAX_DILATE:
        raise InvalidRequest(f"matte.dilate must be between 0 and {MAX_DILATE} pixels (got {spec.matte.dilate}).")
    if spec.matte.HasField("threshold") and not math.isfinite(spec.matte.threshold):
        raise InvalidRequest("matte.threshold must be a finite number.")
    if spec.non_finite not in (pb.NON_FINITE_POLICY_UNSPECIFIED, pb.REFUSE, pb.INPAINT):
        raise InvalidRequest(f"Unknown non_finite policy {spec.non_finite}.")
    if source == "upload":
        check_mask_frame(spec.matte, list(spec.upload.frames))
    elif spec.paths.frames:
        try:
            check_mask_frame(spec.matte, parse_frame_range(spec.paths.frames, limit=MAX_FRAMES))
        except InpaintError as exc:
            raise InvalidRequest(str(exc)) from exc
    return train_settings(spec.training)


def train_settings(training: pb.TrainingSettings) -> TrainSettings:
    preset = training.preset or DEFAULT_PRESET
    if preset not in PRESETS:
        raise InvalidRequest(f"Unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")
    if training.HasField("iterations") and not 1 <= training.iterations <= MAX_ITERATIONS:
        raise InvalidRequest(f"training.iterations must be between 1 and {MAX_ITERATIONS} (got {training.iterations}).")
    if training.preview_every < 0:
        raise InvalidRequest(f"training.preview_every must be 0 or more (got {training.preview_every}).")
    if training.progressive not in _PROGRESSIVE_MODES:
        raise InvalidRequest(f"training.progressive {training.progressive} is not a known mode "
                             "(PROGRESSIVE_AUTO, PROGRESSIVE_ON or PROGRESSIVE_OFF).")
    overrides = training_overrides(training)
    for name in ("stabilisation", "anti_ambiguity", "time_budget"):
        if overrides[name] is not None and not math.isfinite(overrides[name]):
            raise InvalidRequest(f"training.{name if name != 'time_budget' else 'time_budget_minutes'} must be a finite number.")
    try:
        return preset_settings(preset, **overrides)
    except InpaintError as exc:
        raise InvalidRequest(str(exc).replace("time_budget", "time_budget (seconds)")) from exc


def training_overrides(training: pb.TrainingSettings) -> dict:
    """The library's settings that the request sets over its preset's (None: the preset's)."""
    def given(name: str):
        return getattr(training, name) if training.HasField(name) else None

    minutes = given("time_budget_minutes")
    return dict(iterations=given("iterations"), seed=given("seed"), stabilisation=given("stabilisation"),
                anti_ambiguity=given("anti_ambiguity"), time_budget=None if minutes is None else 60.0 * minutes)


def check_mask_frame(matte: pb.MatteSettings, frames: list[int]) -> None:
    """A single-frame mask must be on one of the job's frames (path jobs without a range: once resolved)."""
    if matte.HasField("mask_frame") and matte.mask_frame not in frames:
        raise InvalidRequest(f"matte.mask_frame {matte.mask_frame} is not one of the job's frames "
                             f"({format_frame_list(sorted(frames))}); annotate one of them.")


def _check_upload(upload: pb.UploadSource, matte: pb.MatteSettings, max_frame_bytes: int) -> None:
    layout = upload.layout
    if not upload.frames:
        raise InvalidRequest("upload.frames is empty: list the frame numbers you will send.")
    if len(upload.frames) > MAX_FRAMES:
        raise LimitExceeded(f"{len(upload.frames)} frames in one job; at most {MAX_FRAMES}.")
    if len(set(upload.frames)) != len(upload.frames):
        duplicates = sorted({f for f in upload.frames if list(upload.frames).count(f) > 1})
        raise InvalidRequest(f"upload.frames lists frames more than once: {duplicates[:10]}.")
    if not (0 < layout.width <= MAX_SIDE and 0 < layout.height <= MAX_SIDE):
        raise InvalidRequest(f"Frame size {layout.width}x{layout.height} is not between 1 and {MAX_SIDE} per side.")
    if layout.pixel_type not in _DTYPES:
        raise InvalidRequest("layout.pixel_type must be HALF or FLOAT.")
    channels = list(layout.channels)
    if not channels or any(not c or len(c) > 255 or "\x00" in c for c in channels):
        raise InvalidRequest(f"layout.channels must be non-empty names (got {channels}).")
    if len(set(channels)) != len(channels):
        raise InvalidRequest(f"layout.channels has a name twice: {channels}.")
    if frame_bytes(layout) > max_frame_bytes:
        raise LimitExceeded(f"A {layout.width}x{layout.height} frame of {len(channels)} channels is "
                            f"{_size(frame_bytes(layout))}; this server takes at most {_size(max_frame_bytes)}.")
    wanted = matte.channel or "A"
    if wanted not in channels:
        raise InvalidRequest(f"The matte channel {wanted!r} is not among the frame's channels {channels}; "
                             "send it, or name another with matte.channel.")


def _size(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB" if nbytes >= 100_000 else f"{nbytes} bytes"


def library_spec(spec: pb.JobSpec, job_dir: str, device: str, checkpoint_every: int,
                 overwrite_own_outputs: bool) -> JobSpec:
    """The library's job for a stored spec: upload jobs read and write in the job's spool folder."""
    settings = preset_settings(spec.training.preset or DEFAULT_PRESET, checkpoint_every=checkpoint_every,
                               **training_overrides(spec.training))
    matte = spec.matte
    common = dict(
        mask_channel=matte.channel or None,
        mask_threshold=matte.threshold if matte.HasField("threshold") else DEFAULT_THRESHOLD,
        mask_dilate=matte.dilate,
        nonfinite="inpaint" if spec.non_finite == pb.INPAINT else "error",
        mask_frame=matte.mask_frame if matte.HasField("mask_frame") else None,
    )
    if spec.WhichOneof("source") == "upload":
        shot = ShotSpec(plate=os.path.join(job_dir, "input", PLATE_NAME), frames=sorted(spec.upload.frames), **common)
        output, overwrite = os.path.join(job_dir, "output", OUTPUT_NAME), True
    else:
        paths = spec.paths
        frames = parse_frame_range(paths.frames, limit=MAX_FRAMES) if paths.frames else None
        shot = ShotSpec(plate=paths.plate, frames=frames, mask=paths.matte or None, **common)
        output, overwrite = paths.output, paths.overwrite or overwrite_own_outputs
    return JobSpec(shot=shot, output=output, train=settings, device=device,
                   work_dir=os.path.join(job_dir, "work"), resume=True, overwrite=overwrite,
                   progressive=_PROGRESSIVE_MODES[spec.training.progressive])

"""From the contract's JobSpec to the library's JobSpec, checking every field on the way.

Checks that need no files happen here (sizes, channels, preset, numbers);
checks of files (path mode) happen when the library opens the shot.
"""

from __future__ import annotations

import math
import os

import numpy as np

from inpaint_core.io import MAX_SIDE, SequencePattern, format_frame_list, parse_frame_range
from inpaint_core.jobs import JobSpec
from inpaint_core.jobs.types import SEEN_CHANNEL
from inpaint_core.masks import DEFAULT_THRESHOLD, ReferenceSpec, ShotSpec
from inpaint_core.training import TrainSettings, preset_settings
from internal_inpaint.v1 import inpaint_pb2 as pb
from internal_inpaint_client.options import JOB_SPEC, OPTIONS, TRAIN_SETTINGS, Option

from .errors import InvalidRequest, LimitExceeded

MAX_FRAMES = 100_000
MAX_DILATE = 1024
PLATE_NAME = "plate.####.exr"  # upload jobs' files in the spool
OUTPUT_NAME = "clean.####.exr"
REFERENCE_NAME = "reference.####.exr"  # upload jobs' reference frames in the spool
_DTYPES = {pb.HALF: np.dtype("<f2"), pb.FLOAT: np.dtype("<f4")}
# The training options a request carries (the options schema's, client/src/internal_inpaint_client/options.py).
_REQUEST_OPTIONS = tuple(option for option in OPTIONS.values() if option.grpc is not None)


def _enum_choices(option: Option) -> dict[int, str]:
    """An enum field's values -> the option's choices ('on' travels as PROGRESSIVE_ON)."""
    enum = pb.TrainingSettings.DESCRIPTOR.fields_by_name[option.grpc.name].enum_type
    return {enum.values_by_name[option.grpc.enum_prefix + choice.upper()].number: choice for choice in option.choices}


_ENUM_CHOICES = {option.name: _enum_choices(option) for option in _REQUEST_OPTIONS if option.grpc.enum_prefix}


def pixel_dtype(layout: pb.FrameLayout) -> np.dtype:
    return _DTYPES[layout.pixel_type]


def frame_bytes(layout: pb.FrameLayout, extra_channels: int = 0) -> int:
    """The bytes of one frame of ``layout`` (with ``extra_channels`` more: a result's seen channel)."""
    return layout.width * layout.height * (len(layout.channels) + extra_channels) * pixel_dtype(layout).itemsize


def check_spec(spec: pb.JobSpec, max_frame_bytes: int) -> TrainSettings:
    """Raise InvalidRequest/LimitExceeded naming the first bad field (a malformed paths.frames: the library's
    SequenceError); returns the training settings."""
    source = spec.WhichOneof("source")
    if source is None:
        raise InvalidRequest("The job spec has no source: set either upload (frames sent to the server) or paths.")
    if source == "upload":
        _check_upload(spec.upload, spec.matte, max_frame_bytes)
        if spec.training.seen_channel and SEEN_CHANNEL in spec.upload.layout.channels:
            raise InvalidRequest(f"training.seen_channel adds a channel {SEEN_CHANNEL!r} to the results, and the "
                                 f"uploaded frames have one already: rename or drop it, or leave seen_channel off.")
    if spec.matte.dilate < 0 or spec.matte.dilate > MAX_DILATE:
        raise InvalidRequest(f"matte.dilate must be between 0 and {MAX_DILATE} pixels (got {spec.matte.dilate}).")
    if spec.matte.HasField("threshold") and not math.isfinite(spec.matte.threshold):
        raise InvalidRequest("matte.threshold must be a finite number.")
    if spec.non_finite not in (pb.NON_FINITE_POLICY_UNSPECIFIED, pb.REFUSE, pb.INPAINT):
        raise InvalidRequest(f"Unknown non_finite policy {spec.non_finite}.")
    if source == "upload":
        check_mask_frame(spec.matte, list(spec.upload.frames))
    elif spec.paths.frames:
        # A malformed range is the library's SequenceError: its status comes from server/error_table.py.
        check_mask_frame(spec.matte, parse_frame_range(spec.paths.frames, limit=MAX_FRAMES))
    return train_settings(spec.training)


def requested_options(training: pb.TrainingSettings) -> dict[str, object]:
    """The request's training options by the schema's names, in the surfaces' units, each checked against the
    schema's range or choices: None for an optional field left unset (the preset's), the default for a plain
    field's zero value. Raises InvalidRequest naming the first bad field."""
    values: dict[str, object] = {}
    for option in _REQUEST_OPTIONS:
        field = option.grpc.name
        if option.grpc.enum_prefix:
            number = getattr(training, field)
            choices = _ENUM_CHOICES[option.name]
            if number not in choices:
                names = [f"{option.grpc.enum_prefix}{choice.upper()}" for choice in option.choices]
                raise InvalidRequest(f"training.{field} {number} is not a known mode "
                                     f"({', '.join(names[:-1])} or {names[-1]}).")
            value = choices[number]
        elif option.grpc.optional:
            value = getattr(training, field) if training.HasField(field) else None
        else:
            value = getattr(training, field)
            if value == option.grpc.unset:
                value = option.default
        problem = option.problem(value, f"training.{field}", limit=option.grpc.limit)
        if problem:
            raise InvalidRequest(problem)
        values[option.name] = value
    return values


def train_settings(training: pb.TrainingSettings) -> TrainSettings:
    """The library's settings for a request's training options; InvalidRequest names the first bad field.

    The schema's ranges are the library's, so preset_settings refuses nothing the checks let through; should it,
    its InputError answers INVALID_ARGUMENT all the same (server/error_table.py).
    """
    values = requested_options(training)
    return preset_settings(values["preset"], **_library_overrides(values))


def _library_overrides(values: dict[str, object]) -> dict:
    """The library's settings that the request sets over its preset's (None: the preset's), in its units."""
    return {option.library: option.to_library(values[option.name]) for option in _REQUEST_OPTIONS
            if option.library and option.library_on == TRAIN_SETTINGS}


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
    references = list(upload.reference_frames)
    if len(set(references)) != len(references) or not set(references) <= set(upload.frames):
        raise InvalidRequest(f"upload.reference_frames {sorted(references)[:10]} must be distinct frames of "
                             "upload.frames.")
    wanted = matte.channel or "A"
    if wanted not in channels:
        raise InvalidRequest(f"The matte channel {wanted!r} is not among the frame's channels {channels}; "
                             "send it, or name another with matte.channel.")


def _size(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB" if nbytes >= 100_000 else f"{nbytes} bytes"


def library_spec(spec: pb.JobSpec, job_dir: str, device: str, checkpoint_every: int,
                 overwrite_own_outputs: bool, warm_start_sources: tuple[str, ...] = ()) -> JobSpec:
    """The library's job for a stored spec: upload jobs read and write in the job's spool folder.

    ``warm_start_sources``: the finished jobs' checkpoints it may start from (JobManager.warm_start_sources); a
    named warm_start_job is forced."""
    options = requested_options(spec.training)
    settings = preset_settings(options["preset"], checkpoint_every=checkpoint_every, **_library_overrides(options))
    matte = spec.matte
    common = dict(
        mask_channel=matte.channel or None,
        mask_threshold=matte.threshold if matte.HasField("threshold") else DEFAULT_THRESHOLD,
        mask_dilate=matte.dilate,
        nonfinite="inpaint" if spec.non_finite == pb.INPAINT else "error",
        mask_frame=matte.mask_frame if matte.HasField("mask_frame") else None,
    )
    if spec.WhichOneof("source") == "upload":
        # A reference's matte channel (the job's) says what was painted.
        painted = SequencePattern.parse(os.path.join(job_dir, "input", REFERENCE_NAME))
        references = tuple(ReferenceSpec(f, painted.path(f), painted.path(f), matte.channel or None)
                           for f in sorted(spec.upload.reference_frames))
        shot = ShotSpec(plate=os.path.join(job_dir, "input", PLATE_NAME), frames=sorted(spec.upload.frames),
                        references=references, **common)
        output, overwrite = os.path.join(job_dir, "output", OUTPUT_NAME), True
    else:
        paths = spec.paths
        frames = parse_frame_range(paths.frames, limit=MAX_FRAMES) if paths.frames else None
        references = tuple(ReferenceSpec(r.frame, r.image, r.matte or None) for r in paths.references)
        shot = ShotSpec(plate=paths.plate, frames=frames, mask=paths.matte or None, references=references, **common)
        output, overwrite = paths.output, paths.overwrite or overwrite_own_outputs
    job_options = {o.library: options[o.name] for o in _REQUEST_OPTIONS if o.library and o.library_on == JOB_SPEC}
    if spec.training.warm_start_job:
        job_options["warm_start"] = "force"
    return JobSpec(shot=shot, output=output, train=settings, device=device,
                   work_dir=os.path.join(job_dir, "work"), resume=True, overwrite=overwrite,
                   warm_start_sources=warm_start_sources, **job_options)

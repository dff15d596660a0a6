"""Command-line options that describe a shot and its training, shared by `run` and `plan`."""

from __future__ import annotations

import argparse

from inpaint_core.io import parse_frame_range
from inpaint_core.masks import DEFAULT_THRESHOLD, NONFINITE_POLICIES, ReferenceSpec, ShotSpec
from inpaint_core.training import describe_presets
from internal_inpaint_client.options import JOB_SPEC, OPTIONS, TRAIN_SETTINGS

LOG_FORMATS = ("text", "json")
# The training options of `run` and `plan`, in the order of their --help (the options schema declares them).
SHOT_TRAINING_OPTIONS = ("preset", "time_budget", "iterations", "width", "stabilisation", "anti_ambiguity",
                         "precision", "compile", "seed", "fill", "seen_channel")
# Those of them that are the library's JobSpec fields (how the job runs) rather than TrainSettings.
SHOT_JOB_OPTIONS = tuple(name for name in SHOT_TRAINING_OPTIONS
                         if OPTIONS[name].library_on == JOB_SPEC and OPTIONS[name].library)
# What only the library can add to a flag's help: the presets' descriptions.
_HELP_ADDED = {"preset": f": {describe_presets()}"}


def add_shot_options(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--input", "-i", required=required, metavar="PATTERN",
                   help="plate sequence, e.g. 'plate.####.exr', 'plate.%%04d.exr' or 'plate.@@@@.exr'")
    p.add_argument("--output", "-o", required=required, metavar="PATTERN",
                   help="where to write the clean plate, e.g. 'clean.####.exr'")
    p.add_argument("--mask", "-m", metavar="PATTERN",
                   help="matte sequence (white = remove); default: a channel of the plate")
    p.add_argument("--mask-channel", metavar="NAME", help="matte channel (default: A, or the matte's only channel)")
    p.add_argument("--mask-threshold", type=float, default=DEFAULT_THRESHOLD, metavar="V",
                   help=f"matte values above V are holes (default {DEFAULT_THRESHOLD})")
    p.add_argument("--mask-dilate", type=int, default=0, metavar="PX",
                   help="grow the holes by PX pixels, to cover soft matte edges (default 0)")
    p.add_argument("--mask-frame", type=int, metavar="N",
                   help="single-frame mask: only frame N's matte is read (only it need exist); the object it covers is "
                        "found in every other frame by a segmentation net trained on the shot, and those mattes "
                        "(written to the work folder) are inpainted")
    p.add_argument("--reference", action="append", default=[], metavar="FRAME=IMAGE[,MATTE]",
                   help="a clean frame painted by hand for frame FRAME (the plate's format, size, channels and pixel "
                        "type), optionally with a matte of what was painted (white = painted; default: all of the "
                        "frame's hole): training treats the painted pixels as known, and the output keeps them "
                        "exactly; repeat for more frames, e.g. --reference 1012=painted.1012.exr")
    p.add_argument("--frames", "-f", metavar="RANGE",
                   help="frames to process: '1001-1100', '1001-1100x2', '1001,1005-1010' (default: all on disk)")
    add_training_options(p, SHOT_TRAINING_OPTIONS)
    p.add_argument("--nonfinite", choices=NONFINITE_POLICIES, default="error",
                   help="NaN/Inf plate pixels: refuse (error, default) or fill them like holes (inpaint)")
    p.add_argument("--overwrite", action="store_true", help="replace output files that exist (never input files)")


def add_log_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-format", choices=LOG_FORMATS, default="text",
                   help="text (progress bars) or json (one JSON object per line on stdout, for farm monitors)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars, only warnings, errors and the summary")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def add_training_options(p: argparse.ArgumentParser, names: tuple[str, ...]) -> None:
    """The training options ``names`` as flags, as the options schema declares them (in the order given: the
    order of --help)."""
    for name in names:
        option = OPTIONS[name]
        flag = option.cli
        if flag is None:
            raise ValueError(f"The training option {name} has no command-line flag in the options schema.")
        kwargs: dict = {"dest": option.name}
        if option.kind is bool:
            kwargs["action"] = "store_true"
        else:
            if option.choices:
                kwargs["choices"] = list(option.choices)
            else:
                kwargs["type"] = option.kind
            kwargs["default"] = option.default
        if flag.metavar is not None:
            kwargs["metavar"] = flag.metavar
        kwargs["help"] = (option.help + _HELP_ADDED.get(name, "")).replace("%", "%%")
        p.add_argument(flag.name, **kwargs)


def training_overrides(args: argparse.Namespace) -> dict:
    """The training settings the command line sets over the preset's (None: keep the preset's), in the library's
    names and units."""
    return {OPTIONS[name].library: OPTIONS[name].to_library(getattr(args, name))
            for name in SHOT_TRAINING_OPTIONS if OPTIONS[name].library_on == TRAIN_SETTINGS and OPTIONS[name].library}


def job_options(args: argparse.Namespace) -> dict:
    """The job settings of `run` and `plan` (fill, seen_channel: fields of the library's JobSpec, not of its
    TrainSettings), by their library names."""
    return {OPTIONS[name].library: getattr(args, name) for name in SHOT_JOB_OPTIONS}


def shot_spec(args: argparse.Namespace) -> ShotSpec:
    return ShotSpec(
        plate=args.input,
        frames=parse_frame_range(args.frames) if args.frames else None,
        mask=args.mask,
        mask_channel=args.mask_channel,
        mask_threshold=args.mask_threshold,
        mask_dilate=args.mask_dilate,
        mask_frame=args.mask_frame,
        nonfinite=args.nonfinite,
        references=tuple(ReferenceSpec.parse(text) for text in args.reference),
    )

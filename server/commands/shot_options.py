"""Command-line options that describe a shot and its training, shared by `run` and `plan`."""

from __future__ import annotations

import argparse

from inpaint_core.io import parse_frame_range
from inpaint_core.masks import DEFAULT_THRESHOLD, NONFINITE_POLICIES, ShotSpec
from inpaint_core.training import PRESETS, describe_presets
from inpaint_core.training.precision import PRECISION_CHOICES

LOG_FORMATS = ("text", "json")


def add_shot_options(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--input", "-i", required=required, metavar="PATTERN", help="plate sequence, e.g. 'plate.####.exr', 'plate.%%04d.exr' or 'plate.@@@@.exr'")
    p.add_argument("--output", "-o", required=required, metavar="PATTERN", help="where to write the clean plate, e.g. 'clean.####.exr'")
    p.add_argument("--mask", "-m", metavar="PATTERN", help="matte sequence (white = remove); default: a channel of the plate")
    p.add_argument("--mask-channel", metavar="NAME", help="matte channel (default: A, or the matte's only channel)")
    p.add_argument("--mask-threshold", type=float, default=DEFAULT_THRESHOLD, metavar="V", help=f"matte values above V are holes (default {DEFAULT_THRESHOLD})")
    p.add_argument("--mask-dilate", type=int, default=0, metavar="PX", help="grow the holes by PX pixels, to cover soft matte edges (default 0)")
    p.add_argument("--mask-frame", type=int, metavar="N",
                   help="single-frame mask: only frame N's matte is read (only it need exist); the object it covers is "
                        "found in every other frame by a segmentation net trained on the shot, and those mattes "
                        "(written to the work folder) are inpainted")
    p.add_argument("--frames", "-f", metavar="RANGE", help="frames to process: '1001-1100', '1001-1100x2', '1001,1005-1010' (default: all on disk)")
    p.add_argument("--preset", choices=list(PRESETS), default="standard",
                   help=f"quality/speed trade-off by training time (default standard): {describe_presets()}")
    p.add_argument("--time-budget", type=float, metavar="MIN",
                   help="minutes of training (default: the preset's); the run stops there or at --iterations")
    p.add_argument("--iterations", type=int, metavar="N",
                   help="train exactly N iterations, without the preset's time budget: the same result from the same "
                        "seed on any machine")
    p.add_argument("--width", type=int, metavar="C", help="network base width (default: the preset's)")
    p.add_argument("--stabilisation", type=float, default=0.0, metavar="W",
                   help="weight of the stabilisation regulariser against flicker (the paper uses 0.2; default 0 = off; "
                        "about doubles the cost of a step)")
    p.add_argument("--anti-ambiguity", type=float, default=0.0, metavar="W",
                   help="weight of the anti-ambiguity regulariser for sharper fills (the paper uses 0.1; default 0 = off; "
                        "see docs/benchmarks.md for its measured effect)")
    p.add_argument("--precision", choices=PRECISION_CHOICES, default="auto",
                   help="arithmetic of training: auto = bfloat16 mixed precision on a CUDA GPU, float32 elsewhere")
    p.add_argument("--compile", action="store_true",
                   help="compile the network with torch.compile (off by default: slower on the CPUs measured, see "
                        "docs/benchmarks.md; falls back to uncompiled with a warning when it cannot compile)")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed and inputs give the same result (default 0)")
    p.add_argument("--nonfinite", choices=NONFINITE_POLICIES, default="error", help="NaN/Inf plate pixels: refuse (error, default) or fill them like holes (inpaint)")
    p.add_argument("--overwrite", action="store_true", help="replace output files that exist (never input files)")


def add_log_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-format", choices=LOG_FORMATS, default="text",
                   help="text (progress bars) or json (one JSON object per line on stdout, for farm monitors)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars, only warnings, errors and the summary")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def training_overrides(args: argparse.Namespace) -> dict:
    """The training settings the command line sets over the preset's (None: keep the preset's)."""
    return dict(
        iterations=args.iterations, width=args.width, seed=args.seed, stabilisation=args.stabilisation,
        anti_ambiguity=args.anti_ambiguity, precision=args.precision, compile=args.compile,
        time_budget=None if args.time_budget is None else 60.0 * args.time_budget,
    )


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
    )

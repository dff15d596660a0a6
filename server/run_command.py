"""`internal-inpaint run`: inpaint one shot headless (workstation or render farm)."""

from __future__ import annotations

import argparse

from inpaint_core.device import DEVICE_CHOICES
from inpaint_core.masks import DEFAULT_THRESHOLD
from inpaint_core.pipeline import JobSpec
from inpaint_core.presets import PRESETS, preset_settings
from inpaint_core.sequence import parse_frame_range
from inpaint_core.shot import NONFINITE_POLICIES, ShotSpec

from .console import EXIT_OK, run_job_with_console, run_reporting_errors


def add_parser(commands: argparse._SubParsersAction, epilog: str) -> None:
    p = commands.add_parser(
        "run",
        help="inpaint an image sequence",
        description="Train on the shot's known pixels, then fill the matte's holes in every frame. "
        "Pixels outside the matte are written back bit-identical, in the plate's pixel type, with its metadata.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--input", "-i", required=True, metavar="PATTERN", help="plate sequence, e.g. 'plate.####.exr', 'plate.%%04d.exr' or 'plate.@@@@.exr'")
    p.add_argument("--output", "-o", required=True, metavar="PATTERN", help="where to write the clean plate, e.g. 'clean.####.exr'")
    p.add_argument("--mask", "-m", metavar="PATTERN", help="matte sequence (white = remove); default: a channel of the plate")
    p.add_argument("--mask-channel", metavar="NAME", help="matte channel (default: A, or the matte's only channel)")
    p.add_argument("--mask-threshold", type=float, default=DEFAULT_THRESHOLD, metavar="V", help=f"matte values above V are holes (default {DEFAULT_THRESHOLD})")
    p.add_argument("--mask-dilate", type=int, default=0, metavar="PX", help="grow the holes by PX pixels, to cover soft matte edges (default 0)")
    p.add_argument("--frames", "-f", metavar="RANGE", help="frames to process: '1001-1100', '1001-1100x2', '1001,1005-1010' (default: all on disk)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="standard", help="quality/speed trade-off (default standard)")
    p.add_argument("--iterations", type=int, metavar="N", help="training iterations (default: the preset's)")
    p.add_argument("--width", type=int, metavar="C", help="network base width (default: the preset's)")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed and inputs give the same result (default 0)")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto = CUDA, else Apple MPS, else CPU")
    p.add_argument("--nonfinite", choices=NONFINITE_POLICIES, default="error", help="NaN/Inf plate pixels: refuse (error, default) or fill them like holes (inpaint)")
    p.add_argument("--resume", action="store_true", help="continue from this output's checkpoint, if there is one")
    p.add_argument("--overwrite", action="store_true", help="replace output files that exist (never input files)")
    p.add_argument("--work-dir", metavar="DIR", help="where checkpoints go (default: .internal_inpaint beside the outputs)")
    p.add_argument("--checkpoint-every", type=int, metavar="N", help="iterations between checkpoints (default 500)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars, only warnings, errors and the summary")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    return run_reporting_errors(lambda: _run(args), args.debug)


def _run(args: argparse.Namespace) -> int:
    spec = JobSpec(
        shot=ShotSpec(
            plate=args.input,
            frames=parse_frame_range(args.frames) if args.frames else None,
            mask=args.mask,
            mask_channel=args.mask_channel,
            mask_threshold=args.mask_threshold,
            mask_dilate=args.mask_dilate,
            nonfinite=args.nonfinite,
        ),
        output=args.output,
        train=preset_settings(args.preset, iterations=args.iterations, width=args.width, seed=args.seed,
                              checkpoint_every=args.checkpoint_every),
        device=args.device,
        work_dir=args.work_dir,
        resume=args.resume,
        overwrite=args.overwrite,
    )
    run_job_with_console(spec, quiet=args.quiet)
    return EXIT_OK

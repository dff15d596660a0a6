"""`internal-inpaint plan`: split a long shot into overlapping windows in a job folder (farm step 1 of 3).

Then `internal-inpaint run --job-dir DIR --window K` for each window (any node,
any order, restartable), then `internal-inpaint assemble --job-dir DIR`.
"""

from __future__ import annotations

import argparse

from inpaint_core.jobs import windowed
from inpaint_core.jobs.windows import plan_windows
from inpaint_core.masks import Shot

from .console import EXIT_OK, emit_json, run_reporting_errors
from .shot_options import add_log_options, add_shot_options, job_options, shot_spec, training_overrides


def add_parser(commands: argparse._SubParsersAction, epilog: str) -> None:
    p = commands.add_parser(
        "plan", help="split a long shot into overlapping windows for a render farm",
        description=__doc__.split("\n\n")[0] + ".", epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_shot_options(p)
    p.add_argument("--job-dir", required=True, metavar="DIR",
                   help="the job folder: plan, windows' frames and checkpoints (on storage every node sees)")
    p.add_argument("--window-size", type=int, default=windowed.DEFAULT_WINDOW_SIZE, metavar="N",
                   help=f"frames per window (default {windowed.DEFAULT_WINDOW_SIZE})")
    p.add_argument("--overlap", type=int, default=windowed.DEFAULT_OVERLAP, metavar="M",
                   help=f"frames shared by neighbouring windows, cross-faded (default {windowed.DEFAULT_OVERLAP})")
    p.add_argument("--print-window-range", action="store_true",
                   help="only print the windows' index range (e.g. 0-7) for a job submitter; writes nothing")
    add_log_options(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    return run_reporting_errors(lambda: _plan(args), args.debug, args.log_format)


def _plan(args: argparse.Namespace) -> int:
    spec = shot_spec(args)
    if args.print_window_range:
        windows = plan_windows(Shot(spec).frames, args.window_size, args.overlap)
        print(f"0-{len(windows) - 1}")
        return EXIT_OK
    plan = windowed.create_plan(args.job_dir, windowed.WindowedPlan(
        shot=spec, output=args.output, preset=args.preset, overrides=training_overrides(args),
        overwrite=args.overwrite, window_size=args.window_size, overlap=args.overlap, **job_options(args),
    ))
    window_range = f"0-{len(plan.windows) - 1}"
    for w in plan.windows:
        if args.log_format == "json":
            emit_json("window", index=w.index, first=w.first, last=w.last, frames=len(w.frames))
        else:
            print(f"window {w.index}: frames {w.first}-{w.last} ({len(w.frames)} frames)")
    if args.log_format == "json":
        emit_json("plan", windows=len(plan.windows), window_range=window_range, job_dir=args.job_dir,
                  frames=len(plan.shot.frames))
    else:
        print(f"window range: {window_range}")
    return EXIT_OK

"""`internal-inpaint run`: inpaint one shot headless (workstation or render farm)."""

from __future__ import annotations

import argparse

from inpaint_core.device import DEVICE_CHOICES
from inpaint_core.errors import InputError
from inpaint_core.jobs import JobSpec, windowed
from inpaint_core.training import preset_settings
from internal_inpaint_client.options import OPTIONS

from .console import EXIT_OK, emit_json, run_job_with_console, run_reporting_errors, say
from .shot_options import (
    SHOT_JOB_OPTIONS,
    add_log_options,
    add_shot_options,
    add_training_options,
    job_options,
    shot_spec,
    training_overrides,
)


def add_parser(commands: argparse._SubParsersAction, epilog: str) -> None:
    p = commands.add_parser(
        "run",
        help="inpaint an image sequence",
        description="Train on the shot's known pixels, then fill the matte's holes in every frame. "
        "Pixels outside the matte are written back bit-identical, in the plate's pixel type, with its metadata.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_shot_options(p, required=False)
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto = CUDA, else Apple MPS, else CPU")
    p.add_argument("--resume", action="store_true", help="continue from this output's checkpoint, if there is one")
    p.add_argument("--warm-start", default="auto", metavar="auto|off|force|PATH",
                   help="seed the network from a finished run: auto (default) = this output's earlier checkpoint "
                        "when that run finished on the same plate pixels (a re-run after growing the matte, or "
                        "with more frames), off = always from scratch, force = that checkpoint even if the plate "
                        "changed, or a checkpoint's path (used even if the plate changed; the log says so)")
    p.add_argument("--work-dir", metavar="DIR",
                   help="where checkpoints go (default: .internal_inpaint beside the outputs)")
    p.add_argument("--checkpoint-every", type=int, metavar="N", help="iterations between checkpoints (default 500)")
    add_training_options(p, ("progressive",))
    farm = p.add_argument_group("windowed jobs (render farms; see `internal-inpaint plan`)")
    farm.add_argument("--job-dir", metavar="DIR", help="a job folder made by `plan`: run one of its windows")
    farm.add_argument("--window", type=int, metavar="K", help="the window to run; resumes from its checkpoint, "
                                                               "does nothing if it is done")
    add_log_options(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    return run_reporting_errors(lambda: _run(args), args.debug, args.log_format)


def _run(args: argparse.Namespace) -> int:
    if args.job_dir is not None or args.window is not None:
        return _run_window(args)
    if not args.input or not args.output:
        raise InputError("run needs --input and --output (or --job-dir and --window for a planned windowed job).")
    spec = JobSpec(
        shot=shot_spec(args),
        output=args.output,
        train=preset_settings(args.preset, checkpoint_every=args.checkpoint_every, **training_overrides(args)),
        device=args.device,
        work_dir=args.work_dir,
        resume=args.resume,
        warm_start=args.warm_start,
        overwrite=args.overwrite,
        progressive=args.progressive,
        **job_options(args),
    )
    run_job_with_console(spec, quiet=args.quiet, log_format=args.log_format)
    return EXIT_OK


def _run_window(args: argparse.Namespace) -> int:
    if args.job_dir is None or args.window is None:
        raise InputError("A windowed run needs both --job-dir and --window.")
    if args.input or args.output:
        raise InputError("--input/--output come from the job folder's plan; leave them out with --job-dir.")
    given = [OPTIONS[name].cli.name for name in SHOT_JOB_OPTIONS if getattr(args, name) != OPTIONS[name].default]
    if given:
        raise InputError(f"{' and '.join(given)} come from the job folder's plan; leave them out with --job-dir "
                         "(plan the job again to change them).")
    plan = windowed.load_plan(args.job_dir)
    if windowed.window_done(args.job_dir, args.window):
        windowed.window(plan, args.window)  # still refuse a window number that does not exist
        _tell(args, "window", f"Window {args.window} is done already.", window=args.window, done=True)
        return EXIT_OK
    spec = windowed.window_job(args.job_dir, plan, args.window, args.device, args.checkpoint_every)
    result = run_job_with_console(spec, quiet=args.quiet, log_format=args.log_format)
    windowed.mark_window_done(args.job_dir, args.window, result)
    return EXIT_OK


def _tell(args: argparse.Namespace, event: str, message: str, **fields: object) -> None:
    if args.log_format == "json":
        emit_json(event, message=message, **fields)
    else:
        say(message)

"""`internal-inpaint assemble`: join a windowed job's windows into the output (farm step 3 of 3)."""

from __future__ import annotations

import argparse

from inpaint_core.jobs import windowed

from .console import EXIT_OK, CancelOnInterrupt, emit_json, make_reporter, run_reporting_errors, say
from .shot_options import add_log_options


def add_parser(commands: argparse._SubParsersAction, epilog: str) -> None:
    p = commands.add_parser(
        "assemble", help="join the windows of a planned job, cross-fading their overlaps",
        description=__doc__.split(":", 1)[1].strip(), epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--job-dir", required=True, metavar="DIR", help="the job folder made by `plan`")
    add_log_options(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    return run_reporting_errors(lambda: _assemble(args), args.debug, args.log_format)


def _assemble(args: argparse.Namespace) -> int:
    reporter = make_reporter(args.log_format, args.quiet)
    with CancelOnInterrupt() as cancel:
        try:
            outputs = windowed.assemble(args.job_dir, reporter, cancel)
        finally:
            reporter.close()
    if args.log_format == "json":
        emit_json("result", frames=len(outputs), outputs=[outputs[0], outputs[-1]])
    else:
        say(f"Assembled {len(outputs)} frames: {outputs[0]} ... {outputs[-1]}")
    return EXIT_OK

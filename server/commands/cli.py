"""The `internal-inpaint` command: one subcommand per module."""

from __future__ import annotations

import argparse
import sys

from . import assemble, demo, plan, run, serve

EXIT_CODES = """exit codes:
  0  success
  1  unexpected internal error (please report it, with --debug output)
  2  bad input or usage: the message names the file, frame or option
  3  outputs cannot be written (would overwrite, no permission)
  4  checkpoint unusable (corrupt, or made for another shot or settings)
  130 cancelled (Ctrl-C); a checkpoint was saved, continue with --resume"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="internal-inpaint",
        description="Remove objects from EXR sequences by internal learning: a small network is trained on the shot itself.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (run, plan, assemble, serve, demo):
        module.add_parser(commands, EXIT_CODES)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())

"""The `internal-inpaint` command: one subcommand per module."""

from __future__ import annotations

import argparse
import sys

from server.error_table import EXIT_CODE_MEANINGS

from . import assemble, demo, plan, run, serve

# `--help` lists them from server/error_table.py, where each library error gets its code.
EXIT_CODES = "exit codes:\n" + "\n".join(f"  {code:<2} {meaning}" for code, meaning in EXIT_CODE_MEANINGS.items())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="internal-inpaint",
        description="Remove objects from EXR sequences by internal learning: a small network is trained on the shot "
                    "itself.",
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

"""``python -m server.cli``: the name of the command line before server/ was split by program, which farm
configurations written then use (server/openjd). The command line is server/commands/cli.py."""

import sys

from server.commands.cli import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())

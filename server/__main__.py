"""``python -m server``: the `internal-inpaint` command, for a Python whose scripts folder is not on PATH."""

import sys

from server.commands.cli import main

sys.exit(main())

"""``python -m benchmarks [--quick]``: see benchmarks/run.py."""

import sys

from .run import main

sys.exit(main())

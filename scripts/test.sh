#!/usr/bin/env bash
# Set up .venv, lint the tree (ruff, configured in pyproject.toml), run the test suite.
# Extra arguments go to pytest: `-m "not slow"` is the quick loop (CI runs everything), `-k exr` a few tests.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
if ! .venv/bin/ruff check --quiet .; then
    echo "ruff found the problems above; fix them (many with: .venv/bin/ruff check --fix .)." >&2
    exit 1
fi
exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# Set up .venv and run the test suite. Extra arguments go to pytest (e.g. -k exr).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# Set up .venv and run the demo: generate a clip, remove its occluder, write EXRs and a contact sheet.
# Extra arguments go to `internal-inpaint demo` (e.g. --output DIR, --iterations N).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
exec .venv/bin/internal-inpaint demo "$@"

# Sourced by the other scripts: create .venv if needed and install the project into it.
# torch goes in first, pinned, so pip takes the CPU build this machine ships instead of
# pulling a multi-GB CUDA build; a venv that already has a torch (a CUDA one, say) keeps it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
"$PYTHON" - <<'PY' || { echo "InternalInpaint needs Python 3.10 or newer (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11." >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 10) else 1)
PY

if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $("$PYTHON" --version)" >&2
    "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    echo "Installing torch==2.13.0" >&2
    .venv/bin/python -m pip install --quiet "torch==2.13.0"
fi
echo "Installing InternalInpaint and its dependencies into .venv" >&2
# The client distribution (client/: the client library, the gRPC stubs, the Resolve plugin) goes in first, by
# path: it is not on PyPI, so the main project cannot name it as a dependency, but the server imports it.
if ! { .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ./client &&
       .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"; } >.venv/install.log 2>&1; then
    cat .venv/install.log >&2
    echo "Installing InternalInpaint into .venv failed (log above, also in .venv/install.log)." >&2
    exit 1
fi

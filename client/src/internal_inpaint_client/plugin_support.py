"""What the Nuke and the Resolve/Fusion plugins share besides the client: defaults, the token, the hint that
starts a server, and removing rendered inputs no job will read.

Standard library only, like ``reuse_key``: a plugin imports it at once, and the client (grpc) only when a job
starts.
"""

from __future__ import annotations

import os
from typing import Iterable, Mapping, Optional

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_JOB_FOLDER = os.path.join("~", "internal_inpaint_jobs")
# The server's presets: 3/10/30 min, wide = GPU. Written out (this module imports the standard library alone);
# tests/client/test_options.py checks them against the options schema and the library.
PRESETS = ("draft", "standard", "final", "wide")
CONNECT_TIMEOUT = 5.0  # seconds to wait for the server before saying it is not there
TOKEN_VARIABLE = "INTERNAL_INPAINT_TOKEN"


def environment_token(environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """$INTERNAL_INPAINT_TOKEN, or None when it is unset or empty (servers off localhost need one)."""
    return (os.environ if environ is None else environ).get(TOKEN_VARIABLE) or None


def serve_command(job_folder: str = "") -> str:
    """The command that starts a server which accepts jobs under ``job_folder`` (DIR when not known)."""
    return f"internal-inpaint serve --allow-root {job_folder or 'DIR'}"


def discard(folder: str, files: Iterable[str]) -> None:
    """Remove rendered inputs no job will read, and their folder if that leaves it empty (any thread)."""
    for path in files:
        try:
            os.remove(path)
        except OSError:
            pass
    try:
        os.rmdir(folder)
    except OSError:
        pass

"""What the Nuke and the Resolve/Fusion plugins share besides the client: defaults, the token, the hint that
starts a server, and removing rendered inputs no job will read.

Standard library only, like ``reuse_key``: a plugin imports it at once, and the client (grpc) only when a job
starts.
"""

from __future__ import annotations

import os
import re
from typing import Iterable, List, Mapping, Optional, Set, Tuple

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


_FRAME_ITEM = re.compile(r"(-?\d+)(?:-(-?\d+))?")


def parse_frame_list(text: str, allow_negative: bool = True) -> Tuple[int, ...]:
    """'1012', '1012,1040', '1040 1012' or '1010-1012': the frames, sorted, each once ('' -> none).

    Raises ValueError with a message for the artist (each plugin shows it as its own error).
    """
    frames: Set[int] = set()
    for item in re.split(r"[\s,]+", (text or "").strip()):
        if not item:
            continue
        match = _FRAME_ITEM.fullmatch(item)
        if match is None:
            raise ValueError(f"Reference frames {text.strip()!r}: list frame numbers separated by commas, e.g. "
                             "1012 or 1012,1040 (1010-1012 for a run).")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if not allow_negative and min(first, last) < 0:
            raise ValueError(f"Reference frames {text.strip()!r}: negative frames are not supported.")
        if last < first:
            raise ValueError(f"Reference frames: the run {item} ends before it starts.")
        frames.update(range(first, last + 1))
    return tuple(sorted(frames))


def frame_runs(frames: Iterable[int]) -> List[Tuple[int, int]]:
    """Frames as runs of consecutive frames, in order: (1012, 1013, 1040) -> [(1012, 1013), (1040, 1040)]: one
    render per run."""
    runs: List[Tuple[int, int]] = []
    for frame in sorted(set(frames)):
        if runs and frame == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], frame)
        else:
            runs.append((frame, frame))
    return runs


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

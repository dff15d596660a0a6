"""Fault injection for tests that kill a child process at an exact moment.

Python imports ``sitecustomize`` at start-up from the first folder on its path
that has one; a test puts this folder on a child server's PYTHONPATH and sets

    INTERNAL_INPAINT_STALL_WRITE=N:MARKER

to make the child's N-th frame write stop half-way: the hidden temporary file
holds half the frame's bytes, MARKER is created, and the process waits to be
killed. Without the variable nothing is changed.
"""

from __future__ import annotations

import os
import time

_SETTING = os.environ.get("INTERNAL_INPAINT_STALL_WRITE")

if _SETTING:
    from inpaint_core.io import image_files as image_io

    _stall_at, _marker = _SETTING.split(":", 1)
    _real_write = image_io._write
    _calls = 0

    def _stalling_write(path, pixels, spec, target):
        global _calls
        _calls += 1
        _real_write(path, pixels, spec, target)
        if _calls == int(_stall_at):
            with open(path, "r+b") as handle:
                handle.truncate(os.path.getsize(path) // 2)
            open(_marker, "w").close()
            time.sleep(3600)  # killed here, mid-frame

    image_io._write = _stalling_write

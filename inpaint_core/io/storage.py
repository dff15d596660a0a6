"""Telling a full disk from other write failures, so the message says what to do.

Writers see a full disk in many guises: OSError(ENOSPC) from Python, a
RuntimeError from torch's zip writer, a one-line text from OpenImageIO. The
free space left where the write failed says it plainly; it is measured before
the failed write's temporary file is removed, while the disk is still full.
"""

from __future__ import annotations

import errno
import os
import shutil

# Below this much free space a failed write is put down to the disk being full.
NEARLY_FULL_BYTES = 1 << 20
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def disk_full_note(path: str, error: BaseException | None = None) -> str:
    """' The disk holding FOLDER is full (...)' when it is, else ''; to append to a failed write's message."""
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    full_errno = isinstance(error, OSError) and error.errno in _FULL_ERRNOS
    if not full_errno and (free is None or free >= NEARLY_FULL_BYTES):
        return ""
    left = "" if free is None else f" ({free // 1024} KB free)"
    return f" The disk holding {folder} is full{left}: free some space, then run the job again."

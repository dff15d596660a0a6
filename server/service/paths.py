"""Path mode: clients name sequences on a shared filesystem; only paths under allowed roots are accepted.

Every check works on resolved paths (symlinks followed, ``..`` applied), so a
link inside a root that points outside it is refused like the outside path
itself. ``..`` components are refused outright: a farm task has no reason to
send them, and refusing them keeps the message simple.
"""

from __future__ import annotations

import os
from typing import Iterable

from .errors import InvalidRequest, PathRefused, ServerConfigError


class AllowedRoots:
    def __init__(self, roots: Iterable[str]):
        self.roots = []
        for root in roots:
            real = os.path.realpath(root)
            if not os.path.isdir(real):
                raise ServerConfigError(f"Allowed root {root} is not a directory.")
            self.roots.append(real)

    @property
    def enabled(self) -> bool:
        return bool(self.roots)

    def check_pattern(self, pattern: str, what: str) -> str:
        """The pattern with its folder resolved; PathRefused when that folder is outside every root."""
        if not self.enabled:
            raise PathRefused("Path mode is off on this server: start it with --allow-root DIR to accept paths.")
        if not pattern:
            raise InvalidRequest(f"The {what} path is empty.")
        if "\x00" in pattern or not os.path.isabs(pattern):
            raise InvalidRequest(f"The {what} path {pattern!r} must be an absolute path.")
        if ".." in pattern.replace("\\", "/").split("/"):
            raise PathRefused(f"The {what} path {pattern} contains '..'; give it without.")
        folder, name = os.path.split(pattern)
        resolved = os.path.join(_resolve(folder), name)
        self.check_file(resolved, what, shown=pattern)
        return resolved

    def check_file(self, path: str, what: str, shown: str | None = None) -> None:
        """PathRefused unless the resolved path lies inside an allowed root."""
        real = _resolve(path)
        if not any(real == root or real.startswith(root + os.sep) for root in self.roots):
            raise PathRefused(
                f"The {what} {shown or path} is outside the server's allowed roots "
                f"({', '.join(self.roots)})" + (f": it resolves to {real}." if real != (shown or path) else ".")
            )


def _resolve(path: str) -> str:
    """realpath of the nearest existing ancestor, with the missing rest appended (outputs may not exist yet)."""
    path = os.path.abspath(path)
    missing = []
    while not os.path.lexists(path):
        parent, name = os.path.split(path)
        if parent == path:
            break
        missing.append(name)
        path = parent
    return os.path.join(os.path.realpath(path), *reversed(missing))

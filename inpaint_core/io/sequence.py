"""Frame-numbered file patterns and frame ranges, as compositors write them.

Patterns: ``plate.####.exr`` (Nuke: one ``#`` per digit), ``plate.@@@@.exr``
(one ``@`` per digit), ``plate.%04d.exr`` / ``plate.%d.exr`` (printf).
Ranges: ``1001-1100``, ``1001-1100x2``, ``1001``, and comma lists of those.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from inpaint_core.errors import SequenceError

_HASHES = re.compile(r"#+|@+")
_PRINTF = re.compile(r"%(0?)(\d*)d")
_RANGE_PART = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*(?:[xX:]\s*(\d+))?)?\s*$")


@dataclass(frozen=True)
class SequencePattern:
    """One frame-numbered path pattern, split around its frame-number token."""

    pattern: str
    prefix: str
    suffix: str
    padding: int  # minimum digit count; 1 means unpadded

    @classmethod
    def parse(cls, pattern: str) -> "SequencePattern":
        tokens = [(m.start(), m.end(), len(m.group())) for m in _HASHES.finditer(pattern)]
        for m in _PRINTF.finditer(pattern):
            width = int(m.group(2)) if m.group(2) else 1
            tokens.append((m.start(), m.end(), width))
        if len(tokens) != 1:
            what = "no" if not tokens else "more than one"
            raise SequenceError(
                f"Pattern {pattern!r} has {what} frame-number token; write exactly one of "
                "'####', '@@@@' or '%04d', e.g. 'plate.####.exr'."
            )
        start, end, padding = tokens[0]
        if os.sep in pattern[end:] or "/" in pattern[end:]:
            raise SequenceError(
                f"Pattern {pattern!r}: the frame number must be in the file name, not a folder."
            )
        return cls(pattern, pattern[:start], pattern[end:], padding)

    def path(self, frame: int) -> str:
        """The file path of one frame (negative frames keep their sign)."""
        digits = f"{abs(frame):0{self.padding}d}"
        return f"{self.prefix}{'-' if frame < 0 else ''}{digits}{self.suffix}"

    def find_frames(self) -> list[int]:
        """Frame numbers of the files on disk that match this pattern, sorted."""
        folder, name_prefix = os.path.split(self.prefix)
        folder = folder or "."
        try:
            names = os.listdir(folder)
        except OSError as exc:
            raise SequenceError(f"Cannot list folder {folder!r} for {self.pattern!r}: {exc.strerror}") from exc
        number = re.compile(
            re.escape(name_prefix) + r"(-?\d{%d,})" % self.padding + re.escape(self.suffix) + "$"
        )
        frames = set()
        for name in names:
            match = number.match(name)
            # The round trip rejects other paddings: '0042' is not frame 42 of '%d'.
            if match and os.path.basename(self.path(int(match.group(1)))) == name:
                frames.add(int(match.group(1)))
        return sorted(frames)


MAX_RANGE_FRAMES = 1_000_000  # a typo such as '1-1000000000' must not build a list of a billion frames


def parse_frame_range(text: str, limit: int = MAX_RANGE_FRAMES) -> list[int]:
    """Parse '1001-1100', '1001-1100x2', '1001' or a comma list of these.

    Returns the frames in the order given, duplicates removed; more than ``limit`` frames is an error.
    """
    frames: list[int] = []
    for part in text.split(","):
        match = _RANGE_PART.match(part)
        if not match:
            raise SequenceError(
                f"Frame range {text!r}: cannot read {part.strip()!r}; "
                "write e.g. '1001-1100', '1001-1100x2' or '1001,1005-1010'."
            )
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        step = int(match.group(3)) if match.group(3) else 1
        if last < first:
            raise SequenceError(f"Frame range {part.strip()!r} ends before it starts.")
        if step < 1:
            raise SequenceError(f"Frame range {part.strip()!r}: the step must be at least 1.")
        part_frames = range(first, last + 1, step)
        if len(frames) + len(part_frames) > limit:
            raise SequenceError(f"Frame range {text!r} has more than {limit} frames.")
        frames.extend(part_frames)
    seen: set[int] = set()
    return [f for f in frames if not (f in seen or seen.add(f))]


def format_frame_list(frames: list[int], limit: int = 8) -> str:
    """Frames as short text for messages: '1003, 1007-1009 (+12 more)'."""
    runs: list[str] = []
    ordered = sorted(frames)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        runs.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    text = ", ".join(runs[:limit])
    return text + (f" (+{len(runs) - limit} more)" if len(runs) > limit else "")


def resolve_sequence(pattern: str, frames: list[int] | None) -> dict[int, str]:
    """Map each frame to its existing file; with no frames given, use all on disk.

    Raises SequenceError naming the missing frames, so a render gap is caught
    before any training starts.
    """
    seq = SequencePattern.parse(pattern)
    if frames is None:
        frames = seq.find_frames()
        if not frames:
            raise SequenceError(f"No files match {pattern!r}.")
    paths = {f: seq.path(f) for f in frames}
    missing = [f for f, p in paths.items() if not os.path.isfile(p)]
    if missing:
        example = paths[missing[0]]
        raise SequenceError(
            f"{len(missing)} of {len(frames)} frames of {pattern!r} are missing: "
            f"{format_frame_list(missing)} (first missing file: {example})."
        )
    return paths

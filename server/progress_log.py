"""Progress in a log: one line every few seconds, whatever the job's pace, and what the line says."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from inpaint_core.training import Progress

LOG_INTERVAL = 5.0  # seconds between progress lines in a pipe, a farm log or serve's log


class Every:
    """True at most once every ``seconds`` (and always for the last step): the gate in front of a log line.

    A farm log or a pipe keeps every line it is given: a job of thousands of iterations must not become thousands
    of lines. The first call passes, so a log shows a job started moving.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._last: float | None = None

    def __call__(self, last: bool = False) -> bool:
        now = self._clock()
        if not last and self._last is not None and now - self._last < self.seconds:
            return False
        self._last = now
        return True


def progress_line(progress: Progress) -> str:
    """One line of training progress: iteration, share, loss, time spent and left."""
    share = 100 * progress.iteration / max(progress.iterations, 1)
    return (f"train: {progress.iteration}/{progress.iterations} it ({share:.0f}%), loss {progress.loss:.4f}, "
            f"{_clock_time(progress.elapsed)} elapsed, about {_clock_time(progress.eta)} left")


def _clock_time(seconds: float) -> str:
    if not math.isfinite(seconds):  # before the first iterations there is no pace to go by
        return "?"
    minutes, secs = divmod(int(max(seconds, 0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"

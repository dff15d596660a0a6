"""A few main-thread updates a second from a worker thread that has many: the last value wins.

A training job streams an event per iteration; posting each to Nuke's main thread with ``nuke.executeInMainThread``
queues hundreds of knob updates a second behind the artist's own work. ``LatestOnly`` posts at most one call per
interval, and that call shows the newest value when it runs, so nothing queues up however fast events come.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional, Tuple

STATUS_INTERVAL = 0.25  # seconds: at most 4 status updates a second


class LatestOnly:
    """Hands the newest ``offer(*args)`` to ``deliver`` in the main thread, at most once per ``interval`` seconds.

    ``post`` is ``nuke.executeInMainThread``: any thread may offer, ``deliver`` only runs in the main thread.
    ``close()`` drops whatever is still pending: the job's final state is posted on its own, after it, and an
    intermediate update arriving late must not overwrite it.
    """

    def __init__(self, deliver: Callable[..., None], post: Callable[[Callable[[], None]], Any],
                 interval: float = STATUS_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self._deliver, self._post, self._interval, self._clock = deliver, post, interval, clock
        self._lock = threading.Lock()
        self._pending: Optional[Tuple[Any, ...]] = None
        self._armed = False  # a call is scheduled or queued: it will take the newest value, no other is needed
        self._closed = False
        self._last_post = float("-inf")
        self._timer: Optional[threading.Timer] = None

    def offer(self, *args: Any) -> None:
        """Any thread: make ``args`` the value to show next."""
        with self._lock:
            if self._closed:
                return
            self._pending = args
            if self._armed:
                return
            self._armed = True
            wait = self._last_post + self._interval - self._clock()
            if wait > 0:
                self._timer = threading.Timer(wait, self._send)
                self._timer.daemon = True
                self._timer.start()
                return
        self._send()

    def close(self) -> None:
        """Any thread: nothing more is delivered, not even what was offered last."""
        with self._lock:
            self._closed, self._pending = True, None
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _send(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._last_post, self._timer = self._clock(), None
        self._post(self._deliver_latest)

    def _deliver_latest(self) -> None:
        """Main thread: show the newest value offered (None once closed)."""
        with self._lock:
            args, self._pending, self._armed = self._pending, None, False
        if args is not None:
            self._deliver(*args)

"""Batches drawn on a background thread, so training never waits for data.

On the CPU a batch costs little beside a step; on a GPU a step of the small
nets is so short that drawing the next batch in the same thread would leave
the GPU idle a large part of the time (docs/benchmarks.md has the figures). Numpy's slicing
and copying release the GIL, so the thread runs beside the step.

Reproducibility is kept: only this thread draws from the sampler's generator,
in order, and each batch carries the generator's state after it was drawn;
a checkpoint stores the state after the last batch *used*, so a resumed run
draws exactly the batches an uninterrupted one would have.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable

import numpy as np

from inpaint_core.training.sampling import Batch, PatchSampler

# Batches ready ahead of the step: two hide the draw time; more only holds memory.
DEPTH = 2


class BatchPrefetcher:
    def __init__(self, sampler: PatchSampler, prepare: Callable[[Batch], Any] = lambda batch: batch):
        """``prepare`` runs on the thread too (e.g. pinning memory for a fast copy to the GPU)."""
        self.sampler = sampler
        self.prepare = prepare
        self.state_after_last_used: dict = sampler.rng.bit_generator.state
        self._queue: queue.Queue = queue.Queue(maxsize=DEPTH)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="batch-prefetch", daemon=True)
        self._thread.start()

    def next(self) -> Any:
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        prepared, state = item
        self.state_after_last_used = state
        return prepared

    def close(self) -> None:
        """Stop the thread and put the generator back where the last used batch left it."""
        self._stop.set()
        while self._thread.is_alive():
            try:  # unblock a put() waiting on a full queue
                self._queue.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(timeout=0.05)
        self.sampler.rng.bit_generator.state = self.state_after_last_used

    def _run(self) -> None:
        rng: np.random.Generator = self.sampler.rng
        try:
            while not self._stop.is_set():
                batch = self.sampler.sample()
                item = (self.prepare(batch), rng.bit_generator.state)
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
        except Exception as exc:  # noqa: BLE001 - handed to the training thread, which raises it
            self._queue.put(exc)

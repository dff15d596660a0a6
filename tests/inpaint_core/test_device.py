"""device.run_flushing_subnormals: training's CPU arithmetic flushes subnormal floats; the caller's never does."""

from __future__ import annotations

import threading

import pytest
import torch

from inpaint_core.device import run_flushing_subnormals

SUBNORMAL = 1e-39  # below float32's smallest normal number (1.18e-38)
# Large enough that torch splits the product over its worker threads, which must carry the flag too.
ELEMENTS = 1 << 22


def _kept() -> int:
    """How many subnormal values survive a product by one in this thread (and its torch workers)."""
    return int(torch.count_nonzero(torch.full((ELEMENTS,), SUBNORMAL, dtype=torch.float32) * 1.0))


def test_the_work_flushes_subnormals_and_the_caller_keeps_them():
    assert _kept() == ELEMENTS  # before: IEEE arithmetic (also what makes the next line able to fail)
    assert run_flushing_subnormals(_kept) == 0
    assert _kept() == ELEMENTS  # after: the caller's thread and workers were never touched
    threads: list[str] = []
    run_flushing_subnormals(lambda: threads.append(threading.current_thread().name))
    assert threads == ["internal-inpaint-training"]


def test_the_works_error_reaches_the_caller():
    def fails() -> None:
        raise ValueError("the work's own error")

    with pytest.raises(ValueError, match="the work's own error"):
        run_flushing_subnormals(fails)

"""Which torch device a job runs on, and handing its memory back after a job."""

from __future__ import annotations

import ctypes
import gc
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import torch

from inpaint_core.errors import InputError

T = TypeVar("T")

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def select_device(name: str = "auto") -> torch.device:
    """'auto' takes CUDA, then Apple MPS, then the CPU; a named device must exist."""
    if name not in DEVICE_CHOICES and not name.startswith("cuda:"):
        raise InputError(f"Unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)} or cuda:N.")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"Device {name!r} was asked for, but this machine has no usable CUDA GPU; "
                         "use --device cpu or auto.")
    if name == "mps" and not _mps_available():
        raise InputError("Device 'mps' was asked for, but Apple Metal is not available here; use --device cpu or auto.")
    return torch.device(name)


def run_flushing_subnormals(work: Callable[[], T]) -> T:
    """``work()``, on a thread of its own that computes subnormal floats as zero on the CPU; its result or error.

    Near convergence (late in a run, and from the first step of a warm start) a network's gradients underflow into
    subnormal floats, which x86 CPUs compute on some ten times slower: a warm-started refiner measured 1.5 s a
    step against 0.17 s with them flushed. The CPU flag is per thread, and torch's worker threads take it from the
    thread that starts them, so a fresh thread is the only way to give it to training alone: the rest of the
    process (reading, compositing and writing pixels, which must stay bit-exact, and any host around the library)
    keeps IEEE arithmetic. Flushing is deterministic: the same seed gives the same weights.
    """
    outcome: dict[str, Any] = {}

    def flushed() -> None:
        torch.set_flush_denormal(True)
        try:
            outcome["value"] = work()
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread, re-raised there
            outcome["error"] = error

    # A daemon, so that an abort of the caller (a second Ctrl-C) ends the process instead of waiting for it.
    thread = threading.Thread(target=flushed, name="internal-inpaint-training", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def release_memory() -> None:
    """Hand the memory a finished job freed back to the system: to the GPU's free pool and, on the CPU, to the OS.

    A long-lived process (the server, a host with the library inside) would otherwise keep its largest job's
    footprint for good: torch's CUDA allocator caches freed blocks, and glibc keeps freed heap (1.2 GB after a
    'standard' training step), so the process's resident size wanders by tens of MB from one job to the next and
    never comes down.
    """
    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc (macOS, Windows, musl): their allocators return memory on their own terms


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())

"""Which torch device a job runs on."""

from __future__ import annotations

import torch

from inpaint_core.errors import InputError

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


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())

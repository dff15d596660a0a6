"""Mixed precision: bfloat16 (or float16) autocast on CUDA, full float32 elsewhere.

On a GPU with tensor cores the convolutions run several times faster in 16
bits; bfloat16 keeps float32's range, so no loss scaling is needed. GPUs
without bfloat16 use float16 with a gradient scaler. On the CPU autocast is
off by default: without AMX/AVX-512-BF16 units it is slower than float32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from inpaint_core.errors import InputError

PRECISION_CHOICES = ("auto", "float32", "bfloat16", "float16")


def resolve_precision(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for a setting on a device; None = plain float32."""
    if name not in PRECISION_CHOICES:
        raise InputError(f"Unknown precision {name!r}; choose one of {', '.join(PRECISION_CHOICES)}.")
    if name == "float32":
        return None
    if name == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if name == "float16" and device.type != "cuda":
        raise InputError("Precision float16 needs a CUDA GPU; use bfloat16 or float32 on this device.")
    return torch.bfloat16 if name == "bfloat16" else torch.float16


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """Run the enclosed forward pass in ``dtype`` where that is safe (autocast's op lists); no-op for None."""
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def gradient_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler | None:
    """float16 gradients underflow without scaling; bfloat16 and float32 need none."""
    if dtype is torch.float16:
        return torch.amp.GradScaler(device.type)
    return None

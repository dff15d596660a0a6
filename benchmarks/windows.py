"""Windowed jobs: what one window costs in memory, which sets the default window size.

A farm task holds its window's frames in memory while it trains (the
encoded colour as float16 plus the holes), so a window's memory grows with
its frame count; the network, its optimiser and the batches are a fixed
cost on top. Measured: the peak resident memory of a fresh process that
loads a window of N frames of 2048x1080 RGBA half and takes a few draft
training steps on it, for several N; the slope per frame is then scaled to
4K (3840x2160) by pixel count. Inference streams frames from disk and adds
nothing that grows with N.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import OpenImageIO as oiio

from inpaint_core.io.image_files import write_frame

SIZE_2K = (2048, 1080)
SIZE_4K = (3840, 2160)
FIRST_FRAME = 1001
_STEPS = 3
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the children import benchmarks from here

# Run in a child process, so that its peak memory is this window's alone. Not ru_maxrss: Linux carries the
# forking parent's resident size over exec into it (a parent at 3.8 GB made every window read 3839 MB); VmHWM
# belongs to the child's own address space.
_CHILD = """
import json, sys
from benchmarks.speed import peak_memory_mb
from inpaint_core.training.dataset import load_training_data
from inpaint_core.device import select_device
from inpaint_core.training.presets import preset_settings
from inpaint_core.masks.shot import Shot, ShotSpec
from inpaint_core.training.trainer import Trainer
pattern, first, count, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
shot = Shot(ShotSpec(plate=pattern, frames=list(range(first, first + count))))
trainer = Trainer(load_training_data(shot), preset_settings("draft", iterations=steps), select_device("cpu"))
for _ in range(steps):
    trainer.step()
print(json.dumps({"peak_mb": peak_memory_mb()}))
"""


@dataclass
class WindowMemory:
    width: int
    height: int
    frames: list[int]  # window sizes measured
    peak_mb: list[float]  # peak resident memory of each
    per_frame_mb: float  # slope of a straight-line fit
    fixed_mb: float  # its intercept: the process, torch, the network


def window_memory(folder: str, sizes: tuple[int, ...], log: Callable[[str], None]) -> WindowMemory:
    pattern = _write_frames(folder, max(sizes))
    peaks = []
    for count in sizes:
        result = subprocess.run([sys.executable, "-c", _CHILD, pattern, str(FIRST_FRAME), str(count), str(_STEPS)],
                                capture_output=True, text=True, check=True, cwd=_ROOT)
        peaks.append(json.loads(result.stdout.strip().splitlines()[-1])["peak_mb"])
        log(f"window of {count} frames at {SIZE_2K[0]}x{SIZE_2K[1]}: peak RSS {peaks[-1]:.0f} MB")
    slope, intercept = np.polyfit(np.array(sizes, float), np.array(peaks), 1)
    return WindowMemory(SIZE_2K[0], SIZE_2K[1], list(sizes), peaks, float(slope), float(intercept))


def scaled_per_frame_mb(memory: WindowMemory, size: tuple[int, int]) -> float:
    """The per-frame cost at another frame size (it is proportional to the pixel count)."""
    return memory.per_frame_mb * (size[0] * size[1]) / (memory.width * memory.height)


def _write_frames(folder: str, count: int) -> str:
    """``count`` frames of seeded noise, RGBA half, with a small square hole in A (content is irrelevant here)."""
    os.makedirs(folder, exist_ok=True)
    pattern = os.path.join(folder, "plate.%04d.exr")
    width, height = SIZE_2K
    rng = np.random.default_rng(0)
    spec = oiio.ImageSpec(width, height, 4, oiio.HALF)
    spec.channelnames = ("R", "G", "B", "A")
    spec.attribute("compression", "zip")
    for index in range(count):
        path = pattern % (FIRST_FRAME + index)
        if os.path.exists(path):
            continue
        pixels = rng.random((height, width, 4), dtype=np.float32).astype(np.float16)
        pixels[..., 3] = 0
        pixels[200:328, 300 + 8 * index : 428 + 8 * index, 3] = 1
        write_frame(path, pixels, spec)
    return pattern

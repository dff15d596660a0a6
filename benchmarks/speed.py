"""Speed: training throughput against the machine's matmul peak, inference, memory, EXR I/O.

FLOPs of a training step (forward and backward of both stages, with the loss)
are counted by ``torch.utils.flop_counter.FlopCounterMode``, which counts the
convolutions and matrix products (2 FLOPs per multiply-add) and ignores
element-wise work (activations, gates, Adam). The machine's peak is the best of
several fp32 2048x2048 ``torch.matmul`` timings in the same process, so the
ratio is "how much of what this CPU does on the easiest dense kernel".

Peak memory per stage is the process's resident high-water mark (VmHWM),
reset before each stage through /proc/self/clear_refs (Linux) after freed
heap has been returned to the OS (glibc ``malloc_trim``); where that is not
possible the process-wide ``ru_maxrss`` is reported instead.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import OpenImageIO as oiio
import torch
from torch.utils.flop_counter import FlopCounterMode

from inpaint_core.device import release_memory
from inpaint_core.inference.fill import inpaint_frame
from inpaint_core.io.image_files import read_frame, write_frame
from inpaint_core.masks.shot import Shot, ShotSpec
from inpaint_core.training.dataset import load_training_data
from inpaint_core.training.presets import preset_settings
from inpaint_core.training.trainer import Trainer

from .clips import BenchClip
from .quality import parse_variant, synchronize

_MATMUL_SIZE = 2048
_MATMUL_REPEATS = 20
HD = (1920, 1080)  # the inference and I/O figures at a real plate size


@dataclass
class TrainSpeed:
    preset: str
    width: int
    two_stage: bool
    crop: int
    batch: int
    parameters: int
    gflop_per_step: float
    seconds_per_step: float
    steps: int  # timed steps
    gflops: float  # achieved
    base_rss_mb: float  # resident memory when the stage began
    peak_rss_mb: float  # resident high-water mark during the stage
    peak_fraction: float = 0.0  # achieved / matmul peak, filled in once the peak is known
    cpu_share: float = 1.0  # process CPU time / (wall time x threads) over the timed steps
    batch_wait_fraction: float = float("nan")  # share of the timed steps' time spent waiting for a batch


@dataclass
class InferSpeed:
    preset: str
    width: int
    height: int
    frames: int
    seconds_per_frame: float
    base_rss_mb: float
    peak_rss_mb: float


@dataclass
class IoSpeed:
    label: str
    frames: int
    mb_per_frame: float  # decoded pixel bytes
    file_mb_per_frame: float  # on disk, compressed
    read_mbs: float  # through inpaint_core.io.image_files
    raw_read_mbs: float  # oiio.ImageInput.read_image
    write_mbs: float
    raw_write_mbs: float


@dataclass
class SpeedResult:
    threads: int
    matmul_gflops: float  # the best of the measurements below: the peak the ratios use
    matmul_runs: list[float] = field(default_factory=list)  # at the start and at the end of the section
    train: list[TrainSpeed] = field(default_factory=list)
    infer: list[InferSpeed] = field(default_factory=list)
    io: list[IoSpeed] = field(default_factory=list)


# -- memory -------------------------------------------------------------------------


def reset_peak_memory() -> float:
    """Reset the resident high-water mark of this process (where the kernel allows); the current RSS in MB."""
    release_memory()
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass  # not Linux, or not allowed: the peak then counts from the process's start
    return _status_mb("VmRSS:")


def peak_memory_mb() -> float:
    """Resident high-water mark since the last reset (VmHWM), or since start (ru_maxrss)."""
    peak = _status_mb("VmHWM:")
    return peak if peak > 0 else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _status_mb(field_name: str) -> float:
    """A memory field of /proc/self/status in MB; 0 where there is none."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field_name):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass  # not Linux
    return 0.0


# -- compute ------------------------------------------------------------------------


def matmul_peak_gflops(device: torch.device) -> float:
    """Best of several fp32 square matmul timings, in GFLOP/s."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(_MATMUL_SIZE, _MATMUL_SIZE, generator=generator).to(device)
    b = torch.randn(_MATMUL_SIZE, _MATMUL_SIZE, generator=generator).to(device)
    out = torch.empty_like(a)
    best = float("inf")
    for repeat in range(_MATMUL_REPEATS + 2):
        start = time.perf_counter()
        torch.matmul(a, b, out=out)
        synchronize(device)
        elapsed = time.perf_counter() - start
        if repeat >= 2:  # the first runs warm caches and thread pools
            best = min(best, elapsed)
    return 2.0 * _MATMUL_SIZE**3 / best / 1e9


def train_speed(clip: BenchClip, preset: str, steps: int, device: torch.device) -> TrainSpeed:
    """FLOPs of one training step and the time per step, over ``steps`` steps after a warm-up."""
    base = reset_peak_memory()
    data = load_training_data(Shot(ShotSpec(plate=clip.plate_pattern)))
    name, overrides = parse_variant(preset)  # e.g. 'standard+compile'
    settings = preset_settings(name, iterations=10**9, checkpoint_every=0, **overrides)
    trainer = Trainer(data, settings, device)
    if settings.compile:
        trainer.step()  # compiles; the FLOP count and the timing below are of the compiled step
    # The counted step doubles as the warm-up (first-call allocation, thread start-up).
    with FlopCounterMode(display=False) as counter:
        trainer.step()
    flops = counter.get_total_flops()
    synchronize(device)
    start, start_cpu, waited = time.perf_counter(), time.process_time(), trainer.batch_wait_seconds
    for _ in range(steps):
        trainer.step()
    synchronize(device)
    wall = time.perf_counter() - start
    share = (time.process_time() - start_cpu) / (wall * torch.get_num_threads())
    per_step = wall / steps
    achieved = flops / per_step / 1e9
    parameters = sum(p.numel() for p in trainer.model.parameters())
    return TrainSpeed(preset, settings.width, settings.two_stage, settings.crop_size, settings.batch_size,
                      parameters, flops / 1e9, per_step, steps, achieved, base, peak_memory_mb(), cpu_share=share,
                      batch_wait_fraction=(trainer.batch_wait_seconds - waited) / wall)


def infer_speed(
    clip: BenchClip, preset: str, frames: int, size: tuple[int, int] | None, device: torch.device
) -> InferSpeed:
    """Seconds per frame of ``inpaint_frame`` (untrained weights: the cost does not depend on them).

    ``size`` None: the clip's own frames; else frames of the clip scaled to that size.
    """
    base = reset_peak_memory()
    shot = Shot(ShotSpec(plate=clip.plate_pattern))
    settings = preset_settings(preset)
    # The clip's data give the model its colour encoding; inference itself never touches them.
    data = load_training_data(shot)
    trainer = Trainer(data, settings, device)
    trainer.release_training_data()
    inputs = [_inference_input(clip, t % len(clip.frames), size) for t in range(frames + 1)]
    seconds = 0.0
    for index, (pixels, hole) in enumerate(inputs):
        start = time.perf_counter()
        inpaint_frame(trainer.model, trainer.data.encoding, pixels, pixels[..., :3].astype(np.float32), hole,
                      [0, 1, 2], device)
        synchronize(device)
        if index > 0:  # the first frame pays for allocation
            seconds += time.perf_counter() - start
    width, height = size or clip.size
    return InferSpeed(preset, width, height, frames, seconds / frames, base, peak_memory_mb())


def _inference_input(clip: BenchClip, t: int, size: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray]:
    plate, hole = clip.plate[t], clip.hole[t]
    if size is not None:
        plate = cv2.resize(plate, size, interpolation=cv2.INTER_LINEAR)
        hole = cv2.resize(hole.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    pixels = np.concatenate([plate, hole[..., None].astype(np.float32)], axis=-1).astype(np.float16)
    return pixels, hole


# -- EXR I/O ------------------------------------------------------------------------


def io_speed(clip: BenchClip, folder: str, size: tuple[int, int] | None, frames: int, repeats: int) -> IoSpeed:
    """Read/write MB/s of RGBA half zip EXRs through the library and through bare OpenImageIO.

    Best of ``repeats`` passes over ``frames`` files; the files are small
    enough to stay in the page cache, so this measures decoding and encoding,
    not the disk.
    """
    os.makedirs(folder, exist_ok=True)
    images = [_inference_input(clip, t % len(clip.frames), size)[0] for t in range(frames)]
    spec = oiio.ImageSpec(images[0].shape[1], images[0].shape[0], 4, "half")
    spec.channelnames = ("R", "G", "B", "A")
    spec.attribute("compression", "zip")
    paths = [os.path.join(folder, f"io.{t:04d}.exr") for t in range(frames)]
    raw_paths = [os.path.join(folder, f"raw.{t:04d}.exr") for t in range(frames)]
    write_s = _best(repeats, lambda: [write_frame(p, im, spec, overwrite=True) for p, im in zip(paths, images)])
    raw_write_s = _best(repeats, lambda: [_raw_write(p, im, spec) for p, im in zip(raw_paths, images)])
    read_s = _best(repeats, lambda: [read_frame(p) for p in paths])
    raw_read_s = _best(repeats, lambda: [_raw_read(p) for p in paths])
    decoded_mb = images[0].nbytes / 1e6
    file_mb = float(np.mean([os.path.getsize(p) for p in paths])) / 1e6
    total = decoded_mb * frames
    width, height = images[0].shape[1], images[0].shape[0]
    label = f"{width}x{height} RGBA half, zip"
    return IoSpeed(label, frames, decoded_mb, file_mb, total / read_s, total / raw_read_s,
                   total / write_s, total / raw_write_s)


def _best(repeats: int, action: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def _raw_read(path: str) -> np.ndarray:
    inp = oiio.ImageInput.open(path)
    try:
        return inp.read_image("half")
    finally:
        inp.close()


def _raw_write(path: str, pixels: np.ndarray, spec: oiio.ImageSpec) -> None:
    out = oiio.ImageOutput.create(path)
    try:
        if not out.open(path, spec) or not out.write_image(pixels):
            raise OSError(f"OpenImageIO could not write {path}: {out.geterror()}")
    finally:
        out.close()

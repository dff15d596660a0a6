"""Large frames: memory and iteration cost of a progressive job on a 4K shot.

The issue's requirement: a 3840x2160 half-float sequence of 100 frames runs
with a peak resident memory under 8 GB and a per-iteration cost that does not
grow with the frame size. Measured here:

- a 4K RGBA half sequence (a panning procedural scene with a moving opaque
  ellipse, its matte in alpha) is generated frame by frame under a folder of
  /tmp, and a whole progressive job (the library's run_job, draft preset, few
  iterations) runs on it in a fresh child process, whose resident high-water
  mark (VmHWM: ru_maxrss would include the forking parent's size) is the figure of record; the child also reports each
  stage's wall time and each scale's time per iteration;
- the time of a training iteration of the refine stage (and of the base
  scale) for frames of 960x540, 1920x1080 and 3840x2160, with the batch shape
  and patch-bank size, to show that the cost is flat;
- PSNR inside the hole on a few frames against the scene without the
  occluder (with so few iterations this says little about final quality).

The generated frames and the outputs are deleted at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import OpenImageIO as oiio

from inpaint_core.io.image_files import read_frame, write_frame
from inpaint_eval.metrics import psnr_in_mask
from inpaint_eval.synthetic import make_clip

SIZE_4K = (3840, 2160)
FIRST_FRAME = 1001
PAN_PX = 3  # camera pan per frame
OCCLUDER_AREA = 0.03  # of the frame: a person-sized object at 4K
PRESET = "draft"
FRAME_SIZES = ((960, 540), (1920, 1080), (3840, 2160))
_WARMUP_STEPS, _TIMED_STEPS = 2, 8
_MAGENTA = np.float32([0.6, 0.04, 0.4])
_SCORED_FRAMES = 5
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the child imports benchmarks from here

# The job, alone in a fresh process: its peak memory is the job's own.
_CHILD_JOB = """
import json, re, sys, time
from benchmarks.speed import peak_memory_mb
from inpaint_core.jobs import JobReporter, JobSpec, run_job
from inpaint_core.training.presets import preset_settings
from inpaint_core.masks.shot import ShotSpec
pattern, output, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3])

class Timing(JobReporter):
    def __init__(self):
        self.stages, self.points = [], {}
    def stage(self, message):
        self.stages.append([message, time.monotonic()])
    def progress(self, p):
        self.points.setdefault(len(self.stages) - 1, []).append([p.iteration, p.elapsed])

reporter = Timing()
spec = JobSpec(ShotSpec(pattern), output, preset_settings("%s", iterations=iterations, checkpoint_every=0),
               device="cpu", progressive="on", overwrite=True)
start = time.monotonic()
result = run_job(spec, reporter)
end = time.monotonic()
scales = []
for index, (message, _) in enumerate(reporter.stages):
    size = re.match(r"Scale \\d+ \\((\\d+)x(\\d+)\\)", message)
    points = reporter.points.get(index, [])
    if size and len(points) > 1:  # the first iteration (warm-up) is left out of the pace
        pace = (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0])
        scales.append({"width": int(size[1]), "height": int(size[2]), "iterations": len(points),
                       "seconds_per_iteration": pace})
marks = [t for _, t in reporter.stages] + [end]
stage_seconds = [marks[i + 1] - marks[i] for i in range(len(reporter.stages))]
print(json.dumps({"peak_mb": peak_memory_mb(), "scales": scales,
                  "read_seconds": stage_seconds[0], "write_seconds": stage_seconds[-1],
                  "train_seconds": result.train_seconds, "job_seconds": end - start,
                  "stages": [m for m, _ in reporter.stages]}))
""" % PRESET


@dataclass
class ScaleCost:
    width: int
    height: int
    iterations: int
    seconds_per_iteration: float


@dataclass
class FrameSizeCost:
    width: int
    height: int
    base_width: int  # the base scale this frame size is trained at
    base_height: int
    batch_shape: list[int]  # (B, C, h, w) of a refine batch
    bank_mb: float  # patch bank of one higher scale, in memory
    base_seconds_per_iteration: float
    refine_seconds_per_iteration: float | None  # None: the frame is its own base scale (no refinement)


@dataclass
class HighresResult:
    width: int
    height: int
    frames: int
    preset: str
    iterations: int  # at the base scale; each higher scale gets a quarter
    generate_seconds: float
    plate_mb_on_disk: float
    peak_rss_mb: float
    job_seconds: float
    read_seconds: float
    train_seconds: float
    write_seconds: float
    scales: list[ScaleCost] = field(default_factory=list)
    sizes: list[FrameSizeCost] = field(default_factory=list)
    psnr_db: float | None = None  # inside the hole, on a few frames
    stages: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, values: dict) -> "HighresResult":
        values = dict(values)
        values["scales"] = [ScaleCost(**s) for s in values.get("scales", [])]
        values["sizes"] = [FrameSizeCost(**s) for s in values.get("sizes", [])]
        return cls(**values)


def highres(folder: str, frames: int, iterations: int, log: Callable[[str], None], keep: bool = False) -> HighresResult:
    """Generate the 4K shot under ``folder``, run and measure the progressive job, then delete the files."""
    os.makedirs(folder, exist_ok=True)
    try:
        started = time.monotonic()
        scene = Scene.build(frames)
        pattern = scene.write(os.path.join(folder, "plate"), log)
        generate_seconds = time.monotonic() - started
        plate_mb = _folder_mb(os.path.join(folder, "plate"))
        log(f"highres: {frames} frames of {SIZE_4K[0]}x{SIZE_4K[1]} RGBA half written in {generate_seconds:.0f} s "
            f"({plate_mb:.0f} MB on disk)")
        output = os.path.join(folder, "out", "clean.####.exr")
        child = subprocess.run([sys.executable, "-c", _CHILD_JOB, pattern, output, str(iterations)],
                               capture_output=True, text=True, cwd=_ROOT)
        if child.returncode != 0:
            raise RuntimeError(f"The progressive job failed:\n{child.stderr[-4000:]}")
        job = json.loads(child.stdout.strip().splitlines()[-1])
        log(f"highres: peak RSS {job['peak_mb']:.0f} MB, job {job['job_seconds']:.0f} s (read "
            f"{job['read_seconds']:.0f}, train {job['train_seconds']:.0f}, write {job['write_seconds']:.0f})")
        result = HighresResult(
            SIZE_4K[0], SIZE_4K[1], frames, PRESET, iterations, generate_seconds, plate_mb, job["peak_mb"],
            job["job_seconds"], job["read_seconds"], job["train_seconds"], job["write_seconds"],
            [ScaleCost(**s) for s in job["scales"]], stages=job["stages"],
        )
        result.psnr_db = scene.score(output, pattern)
        result.sizes = [frame_size_cost(pattern, size, frames, log) for size in FRAME_SIZES]
        return result
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


# -- the shot --------------------------------------------------------------------


@dataclass
class Scene:
    """A wide panorama the camera pans across, and an ellipse crossing the frame: plates built frame by frame."""

    world: np.ndarray  # (H, W + pan, 3) float32 scene-linear
    frames: int

    @classmethod
    def build(cls, frames: int) -> "Scene":
        width, height = SIZE_4K
        # One frame of a wide procedural clip: the whole panorama is rendered once (about 2 GB for a minute),
        # instead of a 100-frame clip in memory (20 GB of float32 at 4K).
        world = make_clip(frames=1, width=width + PAN_PX * frames, height=height, seed=3).background[0]
        return cls(world, frames)

    def background(self, t: int) -> np.ndarray:
        width, _ = SIZE_4K
        return self.world[:, PAN_PX * t : PAN_PX * t + width]

    def matte(self, t: int) -> np.ndarray:
        width, height = SIZE_4K
        progress = t / max(self.frames - 1, 1)
        b = int(0.2 * height)
        a = int(OCCLUDER_AREA * width * height / (np.pi * b))
        centre = (int(0.15 * width + 0.7 * width * progress), int(0.5 * height + 0.1 * height * np.sin(6.3 * progress)))
        matte = np.zeros((height, width), np.uint8)
        cv2.ellipse(matte, centre, (a, b), 0, 0, 360, 1, thickness=-1)
        return matte.astype(bool)

    def write(self, prefix: str, log: Callable[[str], None]) -> str:
        os.makedirs(prefix, exist_ok=True)
        pattern = os.path.join(prefix, "plate.%04d.exr")
        width, height = SIZE_4K
        spec = oiio.ImageSpec(width, height, 4, oiio.HALF)
        spec.channelnames = ("R", "G", "B", "A")
        spec.attribute("compression", "zip")
        for t in range(self.frames):
            matte = self.matte(t)
            pixels = np.empty((height, width, 4), np.float16)
            pixels[..., :3] = np.where(matte[..., None], _MAGENTA, self.background(t))
            pixels[..., 3] = matte
            write_frame(pattern % (FIRST_FRAME + t), pixels, spec, overwrite=True)
            if (t + 1) % 25 == 0:
                log(f"highres: generated {t + 1}/{self.frames} frames")
        return pattern

    def score(self, output: str, pattern: str) -> float:
        """PSNR inside the hole over a few frames spread over the shot."""
        picks = np.linspace(0, self.frames - 1, min(_SCORED_FRAMES, self.frames)).round().astype(int)
        ours, truth, holes = [], [], []
        for t in picks:
            frame = FIRST_FRAME + int(t)
            out = read_frame(output.replace("####", f"{frame:04d}")).pixels
            hole = read_frame(pattern % frame).pixels[..., 3] > 0.5
            box = _box(hole)
            ours.append(out[box][..., :3].astype(np.float32))
            truth.append(self.background(int(t))[box].astype(np.float16).astype(np.float32))
            holes.append(hole[box])
        return float(np.mean([psnr_in_mask(o[None], g[None], h[None]) for o, g, h in zip(ours, truth, holes)]))


def _box(hole: np.ndarray) -> tuple[slice, slice]:
    rows, cols = np.nonzero(hole.any(axis=1))[0], np.nonzero(hole.any(axis=0))[0]
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _folder_mb(folder: str) -> float:
    return sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder)) / 2**20


# -- cost of an iteration against the frame size -----------------------------------


def frame_size_cost(pattern: str, size: tuple[int, int], shot_frames: int, log: Callable[[str], None],
                    frames: int = 3) -> FrameSizeCost:
    """Time base and refine training steps for a shot of ``frames`` frames at ``size`` (the 4K plates reduced)."""
    import torch

    from inpaint_core.inference.progressive import Scale, plan_scales, resize_frame
    from inpaint_core.io.colour import LogEncoding
    from inpaint_core.jobs.progressive import ProgressiveSettings
    from inpaint_core.training.boundary_sampling import PatchBank
    from inpaint_core.training.dataset import TrainingData
    from inpaint_core.training.presets import preset_settings
    from inpaint_core.training.refine import RefineTrainer, refine_crop
    from inpaint_core.training.trainer import Trainer

    settings, progressive = preset_settings(PRESET, checkpoint_every=0), ProgressiveSettings()
    scales = plan_scales(*size, progressive.base_long_side)
    base, top = scales[0], Scale(1, 1, *size)
    encoding = LogEncoding()
    bank = PatchBank(progressive.bank_size, refine_crop(settings.crop_size, top), 3, frames, np.random.default_rng(0))
    images = np.zeros((frames, base.height, base.width, 3), np.float16)
    holes = np.zeros((frames, base.height, base.width), bool)
    for t, index in enumerate(np.linspace(0, shot_frames - 1, frames).round().astype(int)):
        plate = read_frame(pattern % (FIRST_FRAME + int(index))).pixels
        hole = plate[..., 3] > 0.5
        colour = np.where(hole[..., None], 0.0, plate[..., :3].astype(np.float32))
        scaled, scaled_hole = resize_frame(colour, hole, Scale(0, SIZE_4K[0] // size[0], *size))
        bank.offer(scaled, scaled_hole)
        small, small_hole = resize_frame(scaled, scaled_hole, Scale(0, base.divisor, base.width, base.height))
        images[t], holes[t] = encoding.encode(small) * ~small_hole[..., None], small_hole
    bank.encode(encoding.encode)
    device = torch.device("cpu")
    base_trainer = Trainer(TrainingData(list(range(frames)), images, holes, encoding), settings, device)
    base_pace = _pace(base_trainer.step)
    refine_pace, shape = None, []
    if len(scales) > 1:
        refiner = RefineTrainer(bank, 3, settings, progressive.refine_width, _TIMED_STEPS, device)
        shape = list(refiner.sampler.sample().masked.shape)
        refine_pace = _pace(refiner.step)
    cost = FrameSizeCost(size[0], size[1], base.width, base.height, shape, bank.nbytes / 2**20, base_pace, refine_pace)
    refine_text = "no refinement" if refine_pace is None else f"refine {refine_pace:.3f} s/it, batch {shape}"
    log(f"highres: {size[0]}x{size[1]}: base ({base.width}x{base.height}) {base_pace:.3f} s/it, {refine_text}")
    return cost


def _pace(step: Callable[[], float]) -> float:
    for _ in range(_WARMUP_STEPS):
        step()
    started = time.perf_counter()
    for _ in range(_TIMED_STEPS):
        step()
    return (time.perf_counter() - started) / _TIMED_STEPS

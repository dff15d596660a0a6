"""Warm starts: how soon a job seeded by a finished job's network reaches what a cold job reaches.

Two re-presses of a finished job, on each benchmark clip, each run cold (from scratch, the whole budget) and warm
(seeded by the finished job, a quarter of the budget), every job the product's default fill with flow and every
precomputation inside its time budget:

- dilate: the matte grown by 4 px. In real use the 4 px ring the first job learned as known holds the object's
  edge, so the plate carries a coloured halo in that ring (in every job of this case); the warm fill must not
  bring it back: its share of the halo left in the ring is scored against the cold fill's.
- range: the first job saw all but the last 10 frames; the re-press has them all.

The target (issue 19): the warm job reaches the cold job's PSNR in the hole in at most a quarter of the cold time.

    .venv/bin/python -m benchmarks --only warm --merge
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from inpaint_core.io.image_files import read_frame
from inpaint_core.jobs import JobReporter, JobSpec, run_job
from inpaint_core.masks import ShotSpec
from inpaint_core.training.presets import preset_settings
from inpaint_eval.metrics import psnr_in_mask

from .clips import FIRST_FRAME, BenchClip, write_rgba_sequence

DILATE_PX = 4
EXTRA_FRAMES = 10
WARM_SHARE = 0.25  # of the cold job's budget
HALO_COLOUR = np.array([1.0, 0.05, 0.8], np.float32)  # scene-linear magenta: an edge nobody would mistake
HALO_MIX = 0.7  # the halo's share of a ring pixel's colour


@dataclass
class WarmCase:
    clip: str
    case: str  # 'dilate' or 'range'
    budget_s: float  # the cold job's; the warm job has WARM_SHARE of it
    cold_psnr: float  # in the (new) hole
    warm_psnr: float
    cold_seconds: float  # whole jobs, flow included
    warm_seconds: float
    warm_message: str  # what the warm job said about where it started
    cold_iterations: int = 0
    warm_iterations: int = 0
    # dilate: PSNR in the 4 px ring, and the share of the painted halo left there (1 = all of it, 0 = none)
    cold_ring_psnr: float | None = None
    warm_ring_psnr: float | None = None
    cold_halo: float | None = None
    warm_halo: float | None = None
    # range: PSNR in the hole of the frames the first job never saw
    cold_new_psnr: float | None = None
    warm_new_psnr: float | None = None


@dataclass
class WarmResult:
    budget_s: float
    cases: list[WarmCase] = field(default_factory=list)

    @classmethod
    def from_dict(cls, values: dict) -> WarmResult:
        return cls(values["budget_s"], [WarmCase(**c) for c in values["cases"]])


class _Stages(JobReporter):
    """Keeps what a job says about its start (the warm start's line, or why it started cold)."""

    def __init__(self) -> None:
        self.start = ""

    def stage(self, message: str) -> None:
        if message.startswith(("Warm start", "Starting cold")):
            self.start = message

    def warning(self, message: str) -> None:
        if message.startswith("Starting cold"):
            self.start = message


def measure(clips: list[BenchClip], folder: str, budget_s: float, log: Callable[[str], None]) -> WarmResult:
    """Both cases on every clip, in ``folder`` (deleted after)."""
    result = WarmResult(budget_s)
    for clip in clips:
        for case in (_dilate_case, _range_case):
            shutil.rmtree(folder, ignore_errors=True)
            os.makedirs(folder)
            try:
                scored = case(clip, folder, budget_s)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            log(f"{clip.name} {scored.case}: cold {scored.cold_psnr:.2f} dB in {scored.cold_seconds:.0f} s, warm "
                f"{scored.warm_psnr:.2f} dB in {scored.warm_seconds:.0f} s ({scored.warm_message})"
                + (f"; halo left cold {scored.cold_halo:.3f} / warm {scored.warm_halo:.3f}"
                   if scored.case == "dilate" else ""))
            result.cases.append(scored)
    return result


def _job(folder: str, name: str, frames: list[int] | None, budget_s: float, **options: object
         ) -> tuple[np.ndarray, float, int, str]:
    """Run the default fill on ``folder``'s plate (its first ``frames``); the fill (scene-linear RGB), the job's
    seconds, its iterations and what it said about its start."""
    settings = replace(preset_settings("standard", checkpoint_every=0), time_budget=budget_s)
    out = os.path.join(folder, name)
    spec = JobSpec(ShotSpec(os.path.join(folder, f"plate-{options.pop('plate')}.####.exr"), frames=frames),
                   os.path.join(out, "clean.####.exr"), settings, device="cpu", work_dir=os.path.join(out, "work"),
                   **options)
    news = _Stages()
    started = time.perf_counter()
    job = run_job(spec, news)
    seconds = time.perf_counter() - started
    filled = np.stack([read_frame(p).pixels[..., :3].astype(np.float32) for p in job.outputs])
    return filled, seconds, job.iterations, news.start


def _first_checkpoint(folder: str, name: str) -> str:
    return os.path.join(folder, name, "work", "clean.ckpt")


def _cold_and_warm(folder: str, frames: list[int] | None, budget_s: float, plate: str, base: str):
    cold = _job(folder, "cold", frames, budget_s, plate=plate, warm_start="off")
    # auto, as the server offers a finished job: taken only because the plate's colour is unchanged
    warm = _job(folder, "warm", frames, WARM_SHARE * budget_s, plate=plate, warm_start="auto",
                warm_start_sources=(_first_checkpoint(folder, base),))
    return cold, warm


def _dilate_case(clip: BenchClip, folder: str, budget_s: float) -> WarmCase:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * DILATE_PX + 1, 2 * DILATE_PX + 1))
    grown = np.stack([cv2.dilate(h.astype(np.uint8), kernel).astype(bool) for h in clip.hole])
    ring = grown & ~clip.hole
    haloed = clip.plate.copy()
    haloed[ring] = (1 - HALO_MIX) * clip.truth[ring] + HALO_MIX * HALO_COLOUR
    write_rgba_sequence(os.path.join(folder, "plate-first.####.exr"), haloed, clip.hole)
    write_rgba_sequence(os.path.join(folder, "plate-grown.####.exr"), haloed, grown)
    _job(folder, "first", None, budget_s, plate="first", warm_start="off")
    (cold, cold_s, cold_it, _), (warm, warm_s, warm_it, said) = _cold_and_warm(folder, None, budget_s, "grown",
                                                                             "first")
    painted = haloed[ring] - clip.truth[ring]

    def halo_left(filled: np.ndarray) -> float:
        """The fill's error along the painted halo, as a share of it: 1 = the halo came back whole."""
        return float(np.sum((filled[ring] - clip.truth[ring]) * painted) / np.sum(painted * painted))

    return WarmCase(clip.name, "dilate", budget_s, _psnr(cold, clip.truth, grown), _psnr(warm, clip.truth, grown),
                    round(cold_s, 1), round(warm_s, 1), said, cold_it, warm_it,
                    cold_ring_psnr=_psnr(cold, clip.truth, ring), warm_ring_psnr=_psnr(warm, clip.truth, ring),
                    cold_halo=round(halo_left(cold), 4), warm_halo=round(halo_left(warm), 4))


def _range_case(clip: BenchClip, folder: str, budget_s: float) -> WarmCase:
    write_rgba_sequence(os.path.join(folder, "plate-all.####.exr"), clip.plate, clip.hole)
    count = len(clip.plate)
    seen = list(range(FIRST_FRAME, FIRST_FRAME + count - EXTRA_FRAMES))
    _job(folder, "first", seen, budget_s, plate="all", warm_start="off")
    (cold, cold_s, cold_it, _), (warm, warm_s, warm_it, said) = _cold_and_warm(folder, None, budget_s, "all",
                                                                             "first")
    new = slice(count - EXTRA_FRAMES, count)
    return WarmCase(clip.name, "range", budget_s, _psnr(cold, clip.truth, clip.hole),
                    _psnr(warm, clip.truth, clip.hole), round(cold_s, 1), round(warm_s, 1), said, cold_it, warm_it,
                    cold_new_psnr=_psnr(cold[new], clip.truth[new], clip.hole[new]),
                    warm_new_psnr=_psnr(warm[new], clip.truth[new], clip.hole[new]))


def _psnr(filled: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    return round(psnr_in_mask(filled, truth, mask), 2)

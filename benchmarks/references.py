"""Reference frames (clean plates): what one or two true clean frames do to the fill around them.

The procedural clip with a box pinned to the background (``make_clip(occluder="pinned")``) hides part of the
background in every frame: no frame shows it, so without help the fill invents it. A reference here is a frame's
ground truth (what a perfect paint job would give). The default fill runs as a job at a fixed iteration count
with no reference, with one (the middle frame) and with two (a third and two thirds in); PSNR in the hole is
scored without the reference frames themselves, by distance from the nearest reference: 1-5 frames, 6-15 and
beyond, and over the pixels no frame shows (the pinned box) separately.

    .venv/bin/python -m benchmarks --only references --merge
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import OpenImageIO as oiio

from inpaint_core.io.image_files import read_frame, write_frame
from inpaint_core.jobs import JobSpec, run_job
from inpaint_core.masks import ReferenceSpec, ShotSpec
from inpaint_core.training.presets import preset_settings
from inpaint_eval.metrics import psnr_in_mask
from inpaint_eval.synthetic import make_clip, write_exr_sequence

FIRST = 1001
BUCKETS = ((1, 5), (6, 15), (16, 10**6))


@dataclass
class ReferenceScore:
    references: list[int]  # frame indices (0-based) given a reference
    psnr: float  # in the hole, every frame but the references
    hidden_psnr: float  # over the pixels no frame shows (the pinned box)
    # bucket label -> [PSNR in the hole of the frames that far from a reference, the same without references]
    by_distance: dict[str, list[float]]
    seconds: float


@dataclass
class ReferenceResult:
    frames: int
    size: list[int]
    iterations: int
    scores: list[ReferenceScore] = field(default_factory=list)

    @classmethod
    def from_dict(cls, values: dict) -> ReferenceResult:
        return cls(**{**values, "scores": [ReferenceScore(**s) for s in values["scores"]]})


def measure(folder: str, frames: int, iterations: int, log: Callable[[str], None]) -> ReferenceResult:
    """Run the three jobs in ``folder`` (deleted after) and score them."""
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    clip = make_clip(frames=frames, width=432, height=240, seed=5, occluder="pinned")
    write_exr_sequence(clip, os.path.join(folder, "plate.####.exr"))
    result = ReferenceResult(frames, [432, 240], iterations)
    without = None
    try:
        for chosen in ([], [frames // 2], [frames // 3, 2 * frames // 3]):
            references = tuple(ReferenceSpec(FIRST + t, _write_truth(folder, clip, t)) for t in chosen)
            started = time.monotonic()
            out = os.path.join(folder, f"out{len(chosen)}")
            job = run_job(JobSpec(ShotSpec(os.path.join(folder, "plate.####.exr"), references=references),
                                  os.path.join(out, "c.####.exr"),
                                  preset_settings("standard", iterations=iterations, checkpoint_every=0),
                                  device="cpu"))
            filled = np.stack([read_frame(p).pixels[..., :3].astype(np.float32) for p in job.outputs])
            without = filled if not chosen else without
            score = _score(filled, without, clip, chosen, time.monotonic() - started)
            log(f"references {chosen or 'none'}: {score.psnr:.2f} dB in the hole, {score.hidden_psnr:.2f} where no "
                f"frame shows the background, by distance {score.by_distance}")
            result.scores.append(score)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def _write_truth(folder: str, clip, t: int) -> str:
    """Frame t's ground truth as a painted reference, in the plate's layout (RGBA half, the matte in A)."""
    spec = oiio.ImageSpec(clip.background.shape[2], clip.background.shape[1], 4, "half")
    spec.channelnames = ("R", "G", "B", "A")
    pixels = np.concatenate([clip.background[t], clip.mask[t][..., None].astype(np.float32)], axis=-1)
    path = os.path.join(folder, f"truth.{FIRST + t}.exr")
    write_frame(path, pixels.astype(np.float16), spec, overwrite=True)
    return path


def _score(filled: np.ndarray, without: np.ndarray, clip, chosen: list[int], seconds: float) -> ReferenceScore:
    """Scores of a fill, and per distance bucket the fill without references on the same frames beside it."""
    count = len(filled)
    scored = [t for t in range(count) if t not in chosen]
    by_distance = {}
    for low, high in BUCKETS:
        frames = [t for t in scored if chosen and low <= min(abs(t - r) for r in chosen) <= high]
        if frames:
            label = f"{low}-{high}" if high < 10**6 else f"{low}+"
            by_distance[label] = [round(psnr_in_mask(f[frames], clip.background[frames], clip.mask[frames]), 2)
                                  for f in (filled, without)]
    return ReferenceScore(list(chosen), round(psnr_in_mask(filled[scored], clip.background[scored],
                                                           clip.mask[scored]), 2),
                          round(psnr_in_mask(filled[scored], clip.background[scored], clip.hidden[scored]), 2),
                          by_distance, round(seconds, 1))

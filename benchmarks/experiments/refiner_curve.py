"""The refiner's learning curve on one benchmark clip: PSNR of its preview frame every 100 iterations.

A whole default-fill job (exact iteration count, no time budget) on the first N frames of a clip; the job's
progress previews (the frame with the largest hole, refined with the weights' average) are scored against the
truth. Shows whether longer training helps, stalls or collapses (section 9 of README.md):

    .venv/bin/python -m benchmarks.experiments.refiner_curve --clip blackswan --frames 40 --iterations 900
    .venv/bin/python -m benchmarks.experiments.refiner_curve --clip blackswan --frames 40 --iterations 900 --lr 1e-3
"""

from __future__ import annotations

import argparse
import os
import shutil
from dataclasses import replace

import numpy as np

from benchmarks.clips import build_clip, write_rgba_sequence
from inpaint_core.jobs import JobReporter, JobSpec, run_job
from inpaint_core.masks import ShotSpec
from inpaint_core.training.loop import Progress
from inpaint_core.training.presets import preset_settings
from inpaint_eval.metrics import psnr_in_mask

_EVERY = 100


class _Curve(JobReporter):
    def __init__(self, truth: np.ndarray, hole: np.ndarray) -> None:
        self.truth, self.hole, self.losses = truth, hole, []

    def warning(self, message: str) -> None:
        print(message, flush=True)  # the collapse guard's rollbacks

    def progress(self, progress: Progress) -> None:
        self.losses.append(progress.loss)
        if progress.preview is not None:
            psnr = psnr_in_mask(progress.preview[..., :3], self.truth, self.hole)
            print(f"iteration {progress.iteration}: loss (mean of the last 50) {np.mean(self.losses[-50:]):.5f}, "
                  f"preview {psnr:.2f} dB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", default="blackswan")
    parser.add_argument("--clip-frames", type=int, default=50, help="frames the clip is built with")
    parser.add_argument("--frames", type=int, default=40, help="the job's frames: the first N of the clip")
    parser.add_argument("--iterations", type=int, default=900)
    parser.add_argument("--lr", type=float, help="learning rate (default: the standard preset's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=os.path.join("benchmarks", ".cache", "refiner_curve"))
    args = parser.parse_args()
    clip = build_clip(args.clip, args.clip_frames, args.cache_dir)
    count = args.frames
    folder = os.path.join(args.cache_dir, "job")
    shutil.rmtree(folder, ignore_errors=True)
    pattern = os.path.join(folder, "plate.####.exr")
    os.makedirs(folder)
    write_rgba_sequence(pattern, clip.plate[:count], clip.hole[:count])
    largest = int(np.argmax(clip.hole[:count].reshape(count, -1).sum(axis=1)))
    settings = preset_settings("standard", iterations=args.iterations, checkpoint_every=0, seed=args.seed)
    if args.lr:
        settings = replace(settings, learning_rate=args.lr)
    spec = JobSpec(ShotSpec(pattern), os.path.join(folder, "out", "clean.####.exr"), settings, device="cpu",
                   work_dir=os.path.join(folder, "work"), warm_start="off")
    print(f"{args.clip}, first {count} frames, preview frame {largest}, lr {settings.learning_rate:g}, "
          f"seed {args.seed}")
    run_job(spec, _Curve(clip.truth[largest], clip.hole[largest]), preview_every=_EVERY)


if __name__ == "__main__":
    main()

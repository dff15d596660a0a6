"""Experiment harness for issue 17: run fill methods on the benchmark clips and score them in the hole.

Why a separate harness: ``python -m benchmarks`` takes hours; here one method runs on a few clips in
minutes. Clips come from ``benchmarks.clips.build_clip``; scoring reuses ``benchmarks.scoring`` (PSNR/SSIM
inside the hole, display sRGB); the frozen yardstick is ``benchmarks.flow_baseline.flow_guided_fill``,
called exactly as ``benchmarks.quality`` calls it: ``fill(clip.plate, clip.hole)``.

A method is any callable ``(plate, hole) -> filled`` on (T, H, W, 3) scene-linear float32 data; it gets
the plate (holes painted magenta) and the hole, never ``clip.truth``. Only ``score_fill`` touches the truth.

    OMP_NUM_THREADS=2 nice -n 19 .venv/bin/python -m benchmarks.experiments.harness --methods flow prop
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmarks.clips import BenchClip, build_clip
from benchmarks.flow_baseline import flow_guided_fill
from inpaint_eval.metrics import psnr_in_mask, ssim_in_mask

Method = Callable[[np.ndarray, np.ndarray], np.ndarray]

# Exploration clips (choose designs on these); tennis only confirms at the end.
CLIP_FRAMES = {"blackswan": 30, "tracking_blob": 24, "pan_pole": 24, "tennis": 30}
CACHE_DIR = os.environ.get("IIVI_EXP_CACHE", "/tmp/iivi_experiments")
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.jsonl")

_clips: dict[str, BenchClip] = {}


def get_clip(name: str) -> BenchClip:
    """Build a clip once per process (a few seconds; build_clip rebuilds its EXRs every call)."""
    if name not in _clips:
        _clips[name] = build_clip(name, CLIP_FRAMES[name], CACHE_DIR)
    return _clips[name]


@dataclass
class Row:
    clip: str
    method: str
    psnr: float
    ssim: float
    seconds: float
    extra: dict


def score_fill(filled: np.ndarray, clip: BenchClip) -> tuple[float, float]:
    """PSNR and SSIM inside the holes (the benchmark's metrics; the only place the truth is read)."""
    return psnr_in_mask(filled, clip.truth, clip.hole), ssim_in_mask(filled, clip.truth, clip.hole)


def run_method(name: str, method: Method, clip: BenchClip, record: bool = True, **extra) -> tuple[Row, np.ndarray]:
    """Run one method on one clip's plate (never its truth), score it, and append the row to results.jsonl."""
    start = time.perf_counter()
    filled = method(clip.plate.copy(), clip.hole.copy())
    seconds = time.perf_counter() - start
    psnr, ssim = score_fill(filled, clip)
    row = Row(clip.name, name, psnr, ssim, seconds, extra)
    if record:
        with open(RESULTS, "a") as handle:
            handle.write(json.dumps(row.__dict__) + "\n")
    print(f"{clip.name:14s} {name:40s} {psnr:6.2f} dB  SSIM {ssim:.3f}  {seconds:7.1f} s  {extra or ''}", flush=True)
    return row, filled


def table(rows: list[Row]) -> str:
    """Markdown table: one row per method, one column per clip, and the mean over the clips."""
    clips = list(dict.fromkeys(r.clip for r in rows))
    methods = list(dict.fromkeys(r.method for r in rows))
    lines = ["| method | " + " | ".join(clips) + " | mean |", "|---" * (len(clips) + 2) + "|"]
    for m in methods:
        values = [next((r.psnr for r in rows if r.clip == c and r.method == m), float("nan")) for c in clips]
        lines.append(f"| {m} | " + " | ".join(f"{v:.2f}" for v in values) + f" | {np.mean(values):.2f} |")
    return "\n".join(lines)


def _methods() -> dict[str, Method]:
    from benchmarks.experiments import propagation
    return {"flow": flow_guided_fill, "prop": propagation.propagate_fill}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", nargs="+", default=["blackswan", "tracking_blob"])
    parser.add_argument("--methods", nargs="+", default=["flow"])
    args = parser.parse_args()
    known = _methods()
    rows = [run_method(m, known[m], get_clip(c))[0] for c in args.clips for m in args.methods]
    print(table(rows))


if __name__ == "__main__":
    main()

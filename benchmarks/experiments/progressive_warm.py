"""Warm starts of a progressive (large-frame) job: the range re-press of benchmarks/warm.py, scale by scale.

A progressive job (two scales: the base at half size, one refine scale at full size; the paper fill, so that the
networks paint every hole pixel) first sees all but the last 10 frames of a clip; the re-press has them all. It runs
cold (the whole budget) and warm (seeded by the first job, a quarter of the budget), each with seeds 0 and 1, and
is scored by PSNR in the hole of every frame (section 10 of README.md):

    .venv/bin/python -m benchmarks.experiments.progressive_warm --clip blackswan --frames 24 --budget 120
"""

from __future__ import annotations

import argparse
import json
import os
import shutil

import numpy as np

from benchmarks.clips import FIRST_FRAME, build_clip, write_rgba_sequence
from benchmarks.warm import EXTRA_FRAMES, _job, _psnr

_SEEDS = (0, 1)
_WARM_SHARE = 0.25


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="blackswan")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--budget", type=float, default=120.0, help="the cold job's seconds")
    args = parser.parse_args()
    clip = build_clip(args.clip, args.frames, os.path.join("benchmarks", ".cache"))
    base = max(clip.size) // 2
    folder = os.path.join("benchmarks", ".cache", "progressive-warm")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    options = dict(progressive="on", progressive_base=base, fill="paper")
    try:
        write_rgba_sequence(os.path.join(folder, "plate-all.####.exr"), clip.plate, clip.hole)
        count = len(clip.plate)
        first, _ = _job(folder, "first", list(range(FIRST_FRAME, FIRST_FRAME + count - EXTRA_FRAMES)), args.budget,
                        "all", warm_start="off", **options)
        source = os.path.join(folder, "first", "work", "clean.scale0.ckpt")
        rows = []
        for kind, share in (("cold", 1.0), ("warm", _WARM_SHARE)):
            for seed in _SEEDS:
                warm = dict(warm_start=source) if kind == "warm" else dict(warm_start="off")
                run, filled = _job(folder, f"{kind}{seed}", None, args.budget, "all", share, seed=seed,
                                   **warm, **options)
                rows.append(dict(kind=kind, seed=seed, seconds=run.seconds, iterations=run.iterations,
                                 psnr=_psnr(filled, clip.truth, clip.hole), start=run.message))
                print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for kind in ("cold", "warm"):
        mine = [r for r in rows if r["kind"] == kind]
        print(f"{kind}: PSNR {' / '.join(str(r['psnr']) for r in mine)} (mean {np.mean([r['psnr'] for r in mine]):.2f})"
              f" in {np.mean([r['seconds'] for r in mine]):.0f} s")


if __name__ == "__main__":
    main()

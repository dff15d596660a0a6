"""Sweep propagation settings against the frozen baseline (the commands behind the README's tables).

    PYTHONPATH=. OMP_NUM_THREADS=2 nice -n 19 .venv/bin/python -m benchmarks.experiments.sweep_propagation \
        --clips blackswan tracking_blob --variants base chain k1 k3 seam
"""

from __future__ import annotations

import argparse

from benchmarks.experiments.harness import get_clip, run_method, table
from benchmarks.experiments.propagation import PropagationSettings, propagate
from benchmarks.flow_baseline import flow_guided_fill

VARIANTS: dict[str, dict] = {
    "base": {},
    "homog": {"completion": "homography"},
    "homog_k3": {"completion": "homography", "candidates": 3},
    "homog_r12": {"completion": "homography", "homography_ring": 12},
    "homog_r48": {"completion": "homography", "homography_ring": 48},
    "k3m0": {"candidates": 3},
    "k4m0": {"candidates": 4},
    "direct": {"direct": True},
    "k1m0": {"candidates": 1, "visible_margin": 0},
    "k1m1": {"candidates": 1, "visible_margin": 1},
    "k1m2": {"candidates": 1, "visible_margin": 2},
    "k2m0": {"candidates": 2, "visible_margin": 0},
    "fine": {"preset": 2},
    "fast": {"preset": 1},
    "chain": {"direct": False},
    "chain_m0": {"direct": False, "visible_margin": 0},
    "m0": {"visible_margin": 0},
    "m4": {"visible_margin": 4},
    "k1": {"candidates": 1},
    "k3": {"candidates": 3},
    "k4": {"candidates": 4},
    "seam": {"seam": True},
    "seam_r1": {"seam": True, "seam_ring": 1},
    "seam_r6": {"seam": True, "seam_ring": 6},
    "seam_k3": {"seam": True, "candidates": 3},
    "tw2": {"time_weight": 2.0},
    "tw0": {"time_weight": 0.0},
    "fm6": {"flow_margin": 6},
    "fm20": {"flow_margin": 20},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", nargs="+", default=["blackswan", "tracking_blob"])
    parser.add_argument("--variants", nargs="+", default=["base"])
    parser.add_argument("--baseline", action="store_true")
    args = parser.parse_args()
    rows = []
    for name in args.clips:
        clip = get_clip(name)
        if args.baseline:
            rows.append(run_method("flow baseline", flow_guided_fill, clip)[0])
        for variant in args.variants:
            settings = PropagationSettings(**VARIANTS[variant])
            stats = {}

            def method(plate, hole, settings=settings, stats=stats):
                result = propagate(plate, hole, settings)
                stats.update(result.stats)
                return result.filled

            row, _ = run_method(f"prop:{variant}", method, clip)
            print("   ", stats, flush=True)
            rows.append(row)
    print(table(rows))


if __name__ == "__main__":
    main()

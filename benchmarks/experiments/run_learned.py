"""Train the network stage per shot and score it (the commands behind the README's learned tables).

    PYTHONPATH=. OMP_NUM_THREADS=2 nice -n 19 .venv/bin/python -m benchmarks.experiments.run_learned \
        --clips blackswan tracking_blob --mode combined --budget 180 --seed 0
"""

from __future__ import annotations

import argparse

from benchmarks.experiments.harness import get_clip, run_method, table
from benchmarks.experiments.learned import LearnedSettings, train_and_fill


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", nargs="+", default=["blackswan", "tracking_blob"])
    parser.add_argument("--mode", default="combined")
    parser.add_argument("--loss", default="l2")
    parser.add_argument("--budget", type=float, default=180.0)
    parser.add_argument("--iterations", type=int, default=0, help="> 0: a step count instead of the budget")
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--configs", type=int, default=4)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--known-weight", type=float, default=0.1)
    parser.add_argument("--borrow", default="shifted", choices=["shifted", "path"])
    parser.add_argument("--library", action="store_true", help="candidates from inpaint_core.flow")
    parser.add_argument("--gate", action="store_true", help="hold one configuration out; fall back if the net loses")
    parser.add_argument("--trust", type=float, default=0.0)
    args = parser.parse_args()
    settings = LearnedSettings(mode=args.mode, loss=args.loss, budget_s=args.budget, seed=args.seed,
                               configs=args.configs, width=args.width, lr=args.lr,
                               iterations=args.iterations, crop=args.crop, batch=args.batch,
                               known_weight=args.known_weight, borrow=args.borrow, library=args.library,
                               gate=args.gate, trust=args.trust)
    label = (f"{args.mode}:{args.loss}:w{args.width}:c{args.configs}:lr{args.lr:g}:kw{args.known_weight:g}"
             f":{args.iterations or args.budget}{'it' if args.iterations else 's'}:crop{args.crop}:seed{args.seed}"
             f":{args.borrow}{':lib' if args.library else ''}{':gate' if args.gate else ''}"
             f"{f':trust{args.trust:g}' if args.trust else ''}")
    rows = []
    for name in args.clips:
        info = {}

        def method(plate, hole, info=info):
            filled, extra = train_and_fill(plate, hole, settings)
            info.update(extra)
            return filled

        row, _ = run_method(label, method, get_clip(name))
        row.extra.update(info)
        print("   ", info, flush=True)
        rows.append(row)
    print(table(rows))


if __name__ == "__main__":
    main()

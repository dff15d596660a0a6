"""Entry point: build the clips, measure quality and speed, write docs/benchmarks.md and docs/img/*.png.

    .venv/bin/python -m benchmarks --quick     # about 15 minutes on 2 CPU cores
    .venv/bin/python -m benchmarks             # the full suite (about 3 hours on 2 CPU cores)
    .venv/bin/python -m benchmarks --report-only   # redraw the report from the last run's results
    .venv/bin/python -m benchmarks --quick --clips blackswan --presets draft --budgets 10 --only quality --merge
                                                   # add one measurement to the last run's results

A run on a shared machine is slowed by anything else running on it: run it
alone for numbers worth comparing.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from dataclasses import dataclass, replace

import torch

from inpaint_core.device import select_device
from inpaint_core.training.mask_propagation import PropagationSettings

from . import features, highres, load, propagation, references, report, results, speed, transfer, warm, windows
from .clips import BenchClip, build_clip
from .quality import parse_variant, run_clip

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# draft, standard and final are one network stopped at 3, 10 and 30 minutes: the quality tables read them off
# the 'standard' rows at those budgets. 'wide' is the two-stage net.
PRESETS = ("standard", "wide")
REAL_CLIP = "blackswan"
SECTIONS = ("quality", "speed", "transfer", "windows", "highres", "propagation", "features", "load", "references",
            "warm")


@dataclass(frozen=True)
class ClipPlan:
    clip: str
    frames: int
    presets: tuple[str, ...]
    budgets_min: tuple[float, ...]


@dataclass(frozen=True)
class Suite:
    name: str
    plans: tuple[ClipPlan, ...]
    train_steps: dict[str, int]  # timed training steps per preset for the throughput table
    infer_frames: int
    hd_frames: int  # also time inference on this many 1920x1080 frames (tens of seconds each on a CPU); 0: skip
    io_frames: int  # frames per EXR I/O measurement
    io_repeats: int
    transfer_frames: int  # 2048x1080 RGBA half frames sent up and down through the gRPC service
    window_sizes: tuple[int, ...]  # windows whose memory is measured (frames of 2048x1080 RGBA half)
    highres_frames: int = 100  # frames of the generated 3840x2160 RGBA half shot of the highres section
    highres_iterations: int = 40  # base-scale iterations of its progressive job (a quarter per higher scale)
    propagation_iterations: int = 1000  # training iterations of single-frame mask propagation (its default)
    reference_frames: int = 30  # frames of the references section's procedural clip
    reference_iterations: int = 600  # refiner iterations of each of its jobs
    warm_budget_min: float = 3.0  # the cold jobs' budget in the warm-start section (draft; the warm ones get a quarter)
    load_clients: int = 64  # clients submitting and watching one small job each, at once (48 hold a watch)
    load_rounds: int = 3  # of them, to see whether the server's memory grows round after round
    load_iterations: int = 20  # training iterations of each load job


# Quick: blackswan at every preset, 1 and 3 minutes; tennis (which confirms, never tunes) and the long-occlusion
# clip at the standard preset.
QUICK = Suite(
    name="quick",
    plans=(
        ClipPlan("blackswan", 30, PRESETS, (1, 3)),
        ClipPlan("tennis", 30, ("standard",), (1, 3)),
        ClipPlan("tracking_blob", 24, ("standard",), (1,)),
    ),
    train_steps={"standard": 8, "wide": 2},
    infer_frames=4,
    hd_frames=0,
    io_frames=6,
    io_repeats=3,
    transfer_frames=8,
    window_sizes=(10, 20, 40),
)

# Full: all 50 frames of blackswan (up to 30 minutes), the first 30 of tennis and both procedural clips (up to 10).
FULL = Suite(
    name="full",
    plans=(
        ClipPlan("blackswan", 50, PRESETS, (1, 3, 10, 30)),
        ClipPlan("tennis", 30, PRESETS, (1, 3, 10)),
        ClipPlan("pan_pole", 24, PRESETS, (1, 3, 10)),
        ClipPlan("tracking_blob", 24, PRESETS, (1, 3, 10)),
    ),
    train_steps={"standard": 30, "wide": 4},
    infer_frames=10,
    hd_frames=3,
    io_frames=20,
    io_repeats=3,
    transfer_frames=24,
    window_sizes=(10, 20, 40, 80),
)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    cache = os.path.abspath(args.cache_dir)
    # The raw results live beside the report they make, committed with it: a later --merge or --report-only, in
    # another session or on another machine, extends or redraws the same figures instead of finding none.
    results_path = os.path.join(args.docs, "benchmark-results.json")
    markdown = os.path.join(args.docs, "benchmarks.md")
    images = os.path.join(args.docs, "img")
    if args.report_only:
        report.write_report(results.load(results_path), markdown, images)
        print(f"Rewrote {markdown} from {results_path}")
        return 0
    suite = _customise(QUICK if args.quick else FULL, args)
    device = select_device(args.device)
    command = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
    run = results.RunResults(suite.name, command.strip(), results.environment(device))
    if args.merge:
        run = _previous_results(results_path, run)
    started = time.monotonic() - run.seconds  # a merged run's time adds to the earlier one's
    os.makedirs(images, exist_ok=True)
    clips = _build_clips(suite, cache) if args.only & {"quality", "speed", "features", "warm"} else {}
    if "speed" in args.only:  # first, while the process is small: its memory figures are then the stages' own
        run.speed = _measure_speed(suite, clips[suite.plans[0].clip], cache, device)
        _save(run, started, results_path)
    if "transfer" in args.only:
        run.transfer = _measure_transfer(suite, cache, device)
        _save(run, started, results_path)
    if "windows" in args.only:
        run.windows = windows.window_memory(os.path.join(cache, "windows"), suite.window_sizes, _log)
        _save(run, started, results_path)
    if "propagation" in args.only:
        run.propagation = propagation.measure(PropagationSettings(iterations=suite.propagation_iterations), log=_log)
        _save(run, started, results_path)
    if "features" in args.only:
        real = clips.get(REAL_CLIP) or build_clip(REAL_CLIP, 30, cache)
        run.features = features.feature_choice(real, 200, _log)
        _save(run, started, results_path)
    if "load" in args.only:
        run.load = load.measure(suite.load_clients, suite.load_rounds, suite.load_iterations, _log)
        _save(run, started, results_path)
    if "references" in args.only:
        run.references = references.measure(os.path.join(cache, "references"), suite.reference_frames,
                                            suite.reference_iterations, _log)
        _save(run, started, results_path)
    if "warm" in args.only:
        measured = warm.measure([clips[plan.clip] for plan in suite.plans], os.path.join(cache, "warm"),
                                60.0 * suite.warm_budget_min, _log)
        run.warm = measured.merged_into(run.warm) if args.merge else measured
        _save(run, started, results_path)
    if "highres" in args.only:
        run.highres = highres.highres(args.highres_dir, suite.highres_frames, suite.highres_iterations, _log)
        _save(run, started, results_path)
    if "quality" in args.only:
        for plan in suite.plans:
            clip_result, showcase = run_clip(clips[plan.clip], list(plan.presets),
                                             [60.0 * m for m in plan.budgets_min], device, _log, not args.no_paper)
            report.write_strip(clips[plan.clip], showcase, os.path.join(images, f"strip_{plan.clip}.png"))
            results.merge_clip(run, clip_result)
            del showcase
            gc.collect()
            _save(run, started, results_path)
    _save(run, started, results_path)
    report.write_report(run, markdown, images)
    _log(f"Done in {run.seconds / 60:.1f} min: {markdown}, figures in {images}, raw results in {results_path}")
    return 0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the ~15-minute suite instead of the full one")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu: the benchmark of record)")
    parser.add_argument("--only", default=",".join(SECTIONS), type=lambda s: set(s.split(",")),
                        help=f"comma list of sections to run: {', '.join(SECTIONS)} (default all; highres "
                             "generates a 4K shot of about 5 GB under --highres-dir and takes about 20 minutes)")
    parser.add_argument("--highres-dir", default=os.path.join("/tmp", "internal_inpaint_highres"),
                        help="scratch folder for the highres section's 4K frames and outputs (deleted after)")
    parser.add_argument("--clips", type=lambda s: s.split(","), help="run only these clips of the suite")
    parser.add_argument("--presets", type=lambda s: tuple(s.split(",")), help="run only these presets")
    parser.add_argument("--budgets", type=lambda s: tuple(float(m) for m in s.split(",")),
                        help="training budgets in minutes, replacing the suite's (e.g. 1,3,10)")
    parser.add_argument("--docs", default=os.path.join(ROOT, "docs"),
                        help="where benchmarks.md, img/ and the raw results (benchmark-results.json) go")
    parser.add_argument("--cache-dir", default=os.path.join(ROOT, "benchmarks", ".cache"),
                        help="the built clips and scratch files (not committed)")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from the last results")
    parser.add_argument("--no-paper", action="store_true",
                        help="quality: skip the paper mode's readouts (with --merge the earlier ones stay)")
    parser.add_argument("--merge", action="store_true",
                        help="add this run's measurements to the last run's results (replacing the same "
                             "clip/method/budget and, if measured, the speed and transfer sections) instead of "
                             "starting afresh")
    args = parser.parse_args(argv)
    unknown = args.only - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) for --only: {', '.join(sorted(unknown))}")
    return args


def _customise(suite: Suite, args: argparse.Namespace) -> Suite:
    """The suite narrowed by --clips / --presets / --budgets, for targeted reruns."""
    plans = [p for p in suite.plans if not args.clips or p.clip in args.clips]
    if args.clips and not plans:
        raise SystemExit(f"None of {args.clips} is in the {suite.name} suite "
                         f"({', '.join(p.clip for p in suite.plans)}).")
    plans = [replace(p, presets=args.presets or p.presets, budgets_min=args.budgets or p.budgets_min) for p in plans]
    steps = dict(suite.train_steps)
    if args.presets:  # a variant ('standard+compile') is timed over as many steps as its preset
        steps = {p: suite.train_steps.get(parse_variant(p)[0], 8) for p in args.presets}
    return replace(suite, plans=tuple(plans), train_steps=steps)


def _previous_results(path: str, run: results.RunResults) -> results.RunResults:
    """The last run's results, to be extended by this one: its command and environment noted alongside."""
    if not os.path.exists(path):
        raise SystemExit(f"--merge: there are no earlier results at {path}; run the suite once without --merge.")
    previous = results.load(path)
    previous.command = f"{previous.command}; then {run.command}"
    previous.environment["merged"] = f"{run.environment['date']} at {run.environment['commit']}"
    return previous


def _build_clips(suite: Suite, cache: str) -> dict[str, BenchClip]:
    clips = {}
    for plan in suite.plans:
        clips[plan.clip] = build_clip(plan.clip, plan.frames, cache)
        clip = clips[plan.clip]
        _log(f"clip {clip.name}: {len(clip.frames)} frames {clip.size[0]}x{clip.size[1]}, "
             f"{100 * clip.hole_fraction:.1f}% hidden")
    return clips


def _measure_speed(suite: Suite, clip: BenchClip, cache: str, device: torch.device) -> speed.SpeedResult:
    first_peak = speed.matmul_peak_gflops(device)
    _log(f"matmul peak {first_peak:.1f} GFLOP/s")
    result = speed.SpeedResult(torch.get_num_threads(), first_peak, [first_peak])
    for preset, steps in suite.train_steps.items():
        train = speed.train_speed(clip, preset, steps, device)
        result.train.append(train)
        _log(f"train {preset}: {train.gflop_per_step:.1f} GFLOP/step, {train.seconds_per_step:.2f} s/step, "
             f"{train.gflops:.1f} GFLOP/s, peak RSS {train.peak_rss_mb:.0f} MB (from {train.base_rss_mb:.0f})")
    sizes = [(None, suite.infer_frames)] + ([(speed.HD, suite.hd_frames)] if suite.hd_frames else [])
    for size, frames in sizes:
        for preset in (p for p in suite.train_steps if "+" not in p):  # variants infer like their preset
            infer = speed.infer_speed(clip, preset, frames, size, device)
            result.infer.append(infer)
            _log(f"infer {preset} {infer.width}x{infer.height}: {infer.seconds_per_frame:.3f} s/frame")
    folder = os.path.join(cache, "io")
    for size in (None, speed.HD):
        frames = len(clip.frames) if size is None else suite.io_frames
        io = speed.io_speed(clip, folder, size, frames, suite.io_repeats)
        result.io.append(io)
        _log(f"io {io.label}: read {io.read_mbs:.0f} (raw {io.raw_read_mbs:.0f}) MB/s, "
             f"write {io.write_mbs:.0f} (raw {io.raw_write_mbs:.0f}) MB/s")
    # Measured again at the end: a CPU's clock and its neighbours vary, and the ratio needs the true peak.
    result.matmul_runs.append(speed.matmul_peak_gflops(device))
    result.matmul_gflops = max(result.matmul_runs)
    for train in result.train:
        train.peak_fraction = train.gflops / result.matmul_gflops
        _log(f"train {train.preset}: {train.peak_fraction:.0%} of the {result.matmul_gflops:.1f} GFLOP/s peak")
    return result


def _measure_transfer(suite: Suite, cache: str, device: torch.device) -> transfer.TransferSpeed:
    r = transfer.transfer_speed(suite.transfer_frames, os.path.join(cache, "transfer"), str(device), _log)
    _log(f"transfer upload: gRPC {r.upload_mbs:.0f} MB/s, raw TCP {r.raw_upload_mbs:.0f} MB/s "
         f"({r.upload_mbs / r.raw_upload_mbs:.0%}), bare gRPC {r.bare_upload_mbs:.0f} MB/s")
    _log(f"transfer download: gRPC {r.download_mbs:.0f} MB/s, raw TCP {r.raw_download_mbs:.0f} MB/s "
         f"({r.download_mbs / r.raw_download_mbs:.0%}), bare gRPC {r.bare_download_mbs:.0f} MB/s")
    return r


def _save(run: results.RunResults, started: float, path: str) -> None:
    run.seconds = time.monotonic() - started
    results.save(run, path)


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

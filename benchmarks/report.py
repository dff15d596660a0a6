"""docs/benchmarks.md and its figures, from a run's results."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

import cv2
import numpy as np

from inpaint_core.io.display import contact_sheet, to_display_uint8, write_png_rgb
from inpaint_core.jobs.windowed import DEFAULT_WINDOW_SIZE

from .clips import BenchClip
from .features import FeatureResult
from .highres import HighresResult
from .load import LoadResult
from .plot import PALETTE, Panel, Series, line_chart
from .propagation import PropagationResult
from .quality import BASELINES, NETWORK_OFF, PAPER, ClipResult, MethodScore, Showcase
from .references import BUCKETS, ReferenceResult
from .results import RunResults
from .speed import InferSpeed, TrainSpeed
from .transfer import TransferSpeed
from .warm import DILATE_PX, EXTRA_FRAMES, REACHED_DB, WARM_SHARES, WarmCase, WarmResult, WarmRun
from .windows import SIZE_4K, WindowMemory, scaled_per_frame_mb

REAL_CLIP = "blackswan"
TARGET_BUDGET_S = 600.0  # issue 3: the quality target is stated at a 10-minute CPU budget
TARGET_MARGIN_DB = 2.0
CONVERGED_BUDGET_S = 1800.0  # issue 6: 10 minutes must come within CONVERGED_MARGIN_DB of 30 minutes
CONVERGED_MARGIN_DB = 0.5
TARGET_PEAK_FRACTION = 0.6
TARGET_TRANSFER_FRACTION = 0.5  # gRPC upload and download against raw TCP over loopback
PRESET_ORDER = ("standard", "wide")
# The 'standard' preset as it was before the speed work of issue 6: the two-stage net at width 24 on 128 px crops,
# learning rate 1e-3, no weight averaging (the 'wide' preset with those settings, scored on its plain weights).
# The "before" of the time-to-PSNR comparison; run it with --presets wide+w24+crop128+lr0.001.
BEFORE_SPEED_WORK = "wide+ema0+w24+crop128+lr0.001"
SHIPPED_PRESET = "standard"
SECOND_SEED = "+seed1"  # the shipped preset's second run, for the mean of two seeds
# The regulariser ablation (issue 6): the shipped preset's plain weights (a weight average would blur the
# comparison), with neither, each and both terms, at the weights the method labels give.
# Measured with uniform crops (+focus0), before half the crops were placed over the holes' area by default.
ABLATION = (("neither", "standard+ema0+focus0"), ("stabilisation 0.2", "standard+ema0+stab0.2+focus0"),
            ("anti-ambiguity 0.003", "standard+ema0+aa0.003+focus0"),
            ("both", "standard+ema0+aa0.003+stab0.2+focus0"))
_METHOD_NAMES = {"telea": "Telea (per frame)", "flow": "flow-guided propagation (frozen baseline)",
                 NETWORK_OFF: "ours, propagation alone (the default with its network off)",
                 BEFORE_SPEED_WORK: "before the speed work: the former standard (two-stage, width 24, 128 px crops)"}
_BASELINE_COLOURS = {"telea": (150, 150, 150), "flow": (0, 0, 0), NETWORK_OFF: (200, 120, 0)}
# The opening table: the default at the presets' budgets (draft = 3 minutes, standard = 10), and the paper mode.
SUMMARY_BUDGETS = (("draft", 180.0), ("standard", 600.0))

# Pixels of context around a hole in the image strips.
_STRIP_MARGIN = 24

T = TypeVar("T")


def write_report(results: RunResults, markdown_path: str, image_dir: str) -> None:
    """The markdown report and the quality-against-time figure (strips are written during the run)."""
    os.makedirs(image_dir, exist_ok=True)
    figure = os.path.join(image_dir, "quality_vs_time.png")
    if results.clips:
        write_png_rgb(figure, quality_chart(results.clips))
    relative = os.path.relpath(image_dir, os.path.dirname(os.path.abspath(markdown_path)))
    sections = [
        _header(results),
        _summary(results.clips),
        _targets(results),
        _clips_table(results.clips),
        _quality(results.clips, relative),
        _speed(results),
        _window_memory(results.windows),
        _highres(results.highres),
        _propagation(results.propagation),
        _references(results.references),
        _warm(results.warm),
        _features(results.features),
        _load(results.load),
        _protocol(),
    ]
    with open(markdown_path, "w") as handle:
        handle.write("\n\n".join(s for s in sections if s).rstrip() + "\n")


def write_strip(clip: BenchClip, showcase: Showcase, path: str, rows: int = 3) -> None:
    """Input, both baselines, our best result and the truth, for a few frames, cropped around the holes."""
    count = len(clip.frames)
    spread = np.linspace(0, count - 1, rows + 2).round().astype(int)[1:-1]
    picks = [int(t) for t in spread if clip.hole[t].any()] or [int(np.argmax(clip.hole.sum(axis=(1, 2))))]
    columns: list[tuple[str, np.ndarray]] = [("input (hole)", clip.plate), ("Telea", showcase.telea),
                                             ("flow-guided", showcase.flow)]
    if showcase.ours is not None:
        columns.append((showcase.ours_label, showcase.ours))
    columns.append(("ground truth", clip.truth))
    size = _crop_size([clip.hole[t] for t in picks])
    tiles = []
    for t in picks:
        rows_slice, cols_slice = _crop_around(clip.hole[t], size)
        tiles.append([to_display_uint8(images[t][rows_slice, cols_slice]) for _, images in columns])
    write_png_rgb(path, contact_sheet(tiles, [label for label, _ in columns], max_width=1600))


def _crop_size(holes: list[np.ndarray]) -> tuple[int, int]:
    """One (height, width) for every tile: the largest hole's box plus a margin, at least 3:2 wide."""
    height, width = holes[0].shape
    boxes = [cv2.boundingRect(hole.astype(np.uint8)) for hole in holes]
    crop_w = min(width, max(w for _, _, w, _ in boxes) + 2 * _STRIP_MARGIN)
    crop_h = min(height, max(h for _, _, _, h in boxes) + 2 * _STRIP_MARGIN)
    # Room for the column labels, and a shape that reads as a frame rather than a sliver.
    crop_w = min(width, max(crop_w, (3 * crop_h) // 2, 220))
    return crop_h, crop_w


def _crop_around(hole: np.ndarray, size: tuple[int, int]) -> tuple[slice, slice]:
    """Slices of a ``size`` window centred on the hole's box, moved to stay inside the frame."""
    x, y, w, h = cv2.boundingRect(hole.astype(np.uint8))
    crop_h, crop_w = size
    top = int(np.clip(y + h // 2 - crop_h // 2, 0, hole.shape[0] - crop_h))
    left = int(np.clip(x + w // 2 - crop_w // 2, 0, hole.shape[1] - crop_w))
    return slice(top, top + crop_h), slice(left, left + crop_w)


def quality_chart(clips: list[ClipResult]) -> np.ndarray:
    panels = []
    for clip in clips:
        ours = _ours(clip)
        budgets = sorted({s.budget_s for s in ours})
        series = []
        for index, preset in enumerate(_presets(clip)):
            points = sorted((s.budget_s, s.psnr) for s in ours if s.method == preset)
            series.append(Series(preset, [b / 60 for b, _ in points], [p for _, p in points],
                                 PALETTE[index % len(PALETTE)]))
        for baseline in _fixed(clip):
            series.append(Series(_METHOD_NAMES[baseline.method], [], [baseline.psnr],
                                 _BASELINE_COLOURS[baseline.method], dashed=True))
        ticks = [b / 60 for b in budgets] or [1.0]
        if len(ticks) == 1:  # a log axis needs a span
            ticks = [ticks[0] / 2, ticks[0], ticks[0] * 2]
        panels.append(Panel(f"{clip.clip}: PSNR in the hole", series, ticks, "training budget (minutes, log scale)",
                            "PSNR (dB)"))
    return line_chart(panels)


# -- sections ---------------------------------------------------------------------


def _header(results: RunResults) -> str:
    env = results.environment
    rows = [
        ("Suite", f"{results.suite} (`{results.command}`), {results.seconds / 60:.1f} minutes"),
        ("Date", env["date"]),
        ("CPU", f"{env['cpu']}, {env['cpu_count']} logical cores, torch uses {env['torch_threads']} threads"),
        ("Device", env["device"]),
        ("Software", f"Python {env['python']}, torch {env['torch']}, numpy {env['numpy']}, OpenCV {env['opencv']}, "
                     f"OpenImageIO {env['openimageio']}"),
        ("Platform", env["platform"]),
        ("Code", f"commit {env['commit']}"),
    ]
    if "merged" in env:
        rows.append(("Merged", f"measurements added on {env['merged']}"))
    return "\n".join([
        "# Benchmarks",
        "",
        "Written by `benchmarks/` (see the protocol at the end). Do not edit by hand: rerun "
        "`.venv/bin/python -m benchmarks --quick` (about 15 minutes on 2 cores) or `.venv/bin/python -m benchmarks` "
        "(the full suite, hours).",
        "",
        _table(["", ""], rows),
    ])


def _summary(clips: list[ClipResult]) -> str:
    """Per clip: each preset's default fill against both baselines, propagation alone and the paper mode."""
    rows = []
    for clip in clips:
        fixed = {s.method: s for s in _fixed(clip)}
        if "flow" not in fixed:
            continue
        cells = [clip.clip, f"{100 * clip.hole_fraction:.1f}%"]
        cells += [_psnr_cell(fixed.get(m)) for m in ("telea", "flow", NETWORK_OFF)]
        for _, budget in SUMMARY_BUDGETS:
            cells.append(_psnr_cell(_at(clip, SHIPPED_PRESET, budget), fixed["flow"]))
        standard = _at(clip, SHIPPED_PRESET, SUMMARY_BUDGETS[-1][1])
        cells.append(_seeds_cell(standard, _at(clip, SHIPPED_PRESET + SECOND_SEED, SUMMARY_BUDGETS[-1][1]),
                                 fixed["flow"]))
        cells.append(_psnr_cell(_at(clip, SHIPPED_PRESET + PAPER, SUMMARY_BUDGETS[-1][1]), fixed["flow"]))
        cells.append("-" if standard is None else f"{fixed['flow'].flicker:.2f} / {standard.flicker:.2f}")
        cells.append("-" if standard is None else f"{_whole_frame(standard.psnr, clip.hole_fraction):.2f}")
        rows.append(cells)
    if not rows:
        return ""
    means = ["mean", ""]
    for column in range(2, len(rows[0]) - 1):
        cells_here = [r[column] for r in rows]
        if any("/" in c for c in cells_here):  # the flicker pair: no mean
            means.append("")
            continue
        values = [float(c.split()[0]) for c in cells_here if c != "-"]
        means.append(f"{np.mean(values):.2f}" if len(values) == len(rows) else "-")
    means.append("")
    headers = ["Clip", "Hole", "Telea", "flow baseline", "propagation alone", "draft (3 min)", "standard (10 min)",
               "standard, mean of 2 seeds", "paper mode, standard (10 min)", "flicker: baseline / standard",
               "standard, whole frame"]
    return "\n".join([
        "## Per clip", "",
        "PSNR in the hole (dB, display sRGB); in brackets the difference to the frozen flow baseline. draft and "
        "standard: the default fill (guided: propagation along flow tracks, corrected by a refiner network trained "
        "on the shot's borrowed holes) as a job with a 3- and a 10-minute budget, flow and every precomputation "
        "included; mean of 2 seeds: the standard job with seeds 0 and 1 (the floor is this against the baseline); "
        "paper mode: the network alone (the paper's method) after 10 minutes; propagation alone: the default with "
        "its network switched off. Flicker in 8-bit levels (lower is steadier). "
        "'whole frame': the standard fill's PSNR over every pixel of the frames (outside the hole they are the "
        "plate's own), which rises with a smaller hole. For scale only, on other clips and masks: ProPainter "
        "34.47 dB and E2FGVI 33.01 dB whole-frame on DAVIS at 432x240 (their papers); not a comparison we win.",
        "", _table(headers, rows + [means]),
    ])


def _seeds_cell(first: MethodScore | None, second: MethodScore | None, against: MethodScore) -> str:
    """The mean PSNR of two seeds' runs, with its difference to ``against``; '-' unless both were measured."""
    if first is None or second is None:
        return "-"
    mean = (first.psnr + second.psnr) / 2
    return f"{mean:.2f} ({mean - against.psnr:+.2f})"


def _at(clip: ClipResult, method: str, budget: float) -> MethodScore | None:
    """The method's row at that budget, or at the largest budget below it that was measured."""
    scores = [s for s in _ours(clip) if s.method == method and s.budget_s is not None and s.budget_s <= budget]
    return max(scores, key=lambda s: s.budget_s) if scores else None


def _psnr_cell(score: MethodScore | None, against: MethodScore | None = None) -> str:
    if score is None:
        return "-"
    text = f"{score.psnr:.2f}"
    if score.budget_s is not None and score.budget_s not in dict(SUMMARY_BUDGETS).values():
        text += f" at {score.budget_s / 60:g} min"
    if against is not None:
        text += f" ({score.psnr - against.psnr:+.2f})"
    return text


def _whole_frame(psnr_in_hole: float, hole_fraction: float) -> float:
    """Whole-frame PSNR from the hole's: outside the hole the error is zero, so the mean squared error is the
    hole's times the hole fraction."""
    return psnr_in_hole - 10.0 * np.log10(max(hole_fraction, 1e-12))


def _targets(results: RunResults) -> str:
    lines = ["## Targets", ""]
    rows = [*_quality_targets(results.clips), *_warm_targets(results.warm), *_speed_targets(results),
            *_transfer_targets(results.transfer)]
    if not rows:
        return ""
    lines.append(_table(["Target", "Measured", "Met"], rows))
    return "\n".join(lines)


def _quality_targets(clips: list[ClipResult]) -> list[tuple[str, str, str]]:
    """Issue 17's: the floor on every clip (standard, mean of two seeds, at least the frozen baseline with no more
    flicker), draft at least the baseline on every clip, the network worth 0.5 dB over propagation alone, and the
    goal (+2 dB over the baseline on the mean of the clips)."""
    scored = []  # (clip, baseline, propagation alone, [standard runs], draft)
    for clip in clips:
        fixed = {s.method: s for s in _fixed(clip)}
        runs = [_at(clip, m, TARGET_BUDGET_S) for m in (SHIPPED_PRESET, SHIPPED_PRESET + SECOND_SEED)]
        runs = [r for r in runs if r is not None and r.budget_s == TARGET_BUDGET_S]
        if "flow" in fixed and runs:
            scored.append((clip.clip, fixed["flow"], fixed.get(NETWORK_OFF), runs,
                           _at(clip, SHIPPED_PRESET, dict(SUMMARY_BUDGETS)["draft"])))
    if not scored:
        return []
    rows = []
    for name, flow, _, runs, _ in scored:
        psnr, flicker = np.mean([r.psnr for r in runs]), np.mean([r.flicker for r in runs])
        seeds = "mean of 2 seeds" if len(runs) == 2 else "one seed only"
        rows.append((f"{name}, 10 minutes: {SHIPPED_PRESET} ({seeds}) at least the frozen baseline in the hole, "
                     "with no more flicker (the floor)",
                     f"{psnr:.2f} against {flow.psnr:.2f} dB ({psnr - flow.psnr:+.2f}); flicker {flicker:.2f} "
                     f"against {flow.flicker:.2f}",
                     _yes_no(len(runs) == 2 and psnr >= flow.psnr and flicker <= flow.flicker)))
    drafts = [(name, flow, draft) for name, flow, _, _, draft in scored]
    if all(d is not None and d.budget_s == dict(SUMMARY_BUDGETS)["draft"] for _, _, d in drafts):
        rows.append(("draft (3 minutes) at least the frozen baseline on every clip",
                     ", ".join(f"{n} {d.psnr - f.psnr:+.2f} dB" for n, f, d in drafts),
                     _yes_no(all(d.psnr >= f.psnr for _, f, d in drafts))))
    mean = float(np.mean([np.mean([r.psnr for r in runs]) for _, _, _, runs, _ in scored]))
    baseline = float(np.mean([flow.psnr for _, flow, _, _, _ in scored]))
    alone = [off.psnr for _, _, off, _, _ in scored if off is not None]
    if len(alone) == len(scored):
        rows.append(("The network earns its place: the default at least 0.5 dB over propagation alone on the mean "
                     "of the clips", f"{mean:.2f} against {np.mean(alone):.2f} dB ({mean - np.mean(alone):+.2f})",
                     _yes_no(mean >= np.mean(alone) + 0.5)))
    rows.append((f"Goal: +{TARGET_MARGIN_DB:g} dB over the frozen baseline on the mean of the clips",
                 f"{mean:.2f} against {baseline:.2f} dB ({mean - baseline:+.2f})",
                 _yes_no(mean >= baseline + TARGET_MARGIN_DB)))
    real = next((c for c in clips if c.clip == REAL_CLIP), None)
    return rows + ([] if real is None else _convergence_targets(real))


def _convergence_targets(real: ClipResult) -> list[tuple[str, str, str]]:
    """Issue 6: at 10 minutes within 0.5 dB of the same method's 30-minute PSNR, and of the 30-minute PSNR the
    shipped preset's configuration reached before the speed work."""
    rows = []
    before = next((s for s in _ours(real) if s.method == BEFORE_SPEED_WORK and s.budget_s == CONVERGED_BUDGET_S), None)
    now = next((s for s in _ours(real) if s.method == SHIPPED_PRESET and s.budget_s == TARGET_BUDGET_S), None)
    if before is not None and now is not None:
        rows.append((f"{REAL_CLIP}, {SHIPPED_PRESET}: at 10 min within {CONVERGED_MARGIN_DB:g} dB of the "
                     "30-minute PSNR before the speed work (the former standard)",
                     f"{now.psnr:.2f} dB at 10 min, before: {before.psnr:.2f} dB at 30 min "
                     f"({now.psnr - before.psnr:+.2f})",
                     _yes_no(now.psnr >= before.psnr - CONVERGED_MARGIN_DB)))
    for method in sorted({s.method for s in _ours(real)} - {BEFORE_SPEED_WORK}):
        by_budget = {s.budget_s: s for s in _ours(real) if s.method == method}
        if TARGET_BUDGET_S in by_budget and CONVERGED_BUDGET_S in by_budget:
            ten, thirty = by_budget[TARGET_BUDGET_S], by_budget[CONVERGED_BUDGET_S]
            rows.append((f"{REAL_CLIP}, {method}: at 10 min within {CONVERGED_MARGIN_DB:g} dB of its 30-minute PSNR",
                         f"{ten.psnr:.2f} dB at 10 min, {thirty.psnr:.2f} dB at 30 min ({ten.psnr - thirty.psnr:+.2f})",
                         _yes_no(ten.psnr >= thirty.psnr - CONVERGED_MARGIN_DB)))
    return rows


def _warm_targets(w: WarmResult | None) -> list[tuple[str, str, str]]:
    """Issue 19's: a warm re-press reaches the cold job's PSNR in at most a quarter of its time, halo not back."""
    if w is None or not w.cases:
        return []
    ratios = []
    for c in w.cases:
        reached = c.reached()
        ratios.append(None if reached is None else reached / c.cold_seconds)
    text = ", ".join(f"{c.clip} {c.case} " + ("not reached" if r is None else f"{r:.2f}")
                     for c, r in zip(w.cases, ratios))
    halos = [(c, max(run.halo for run in c.warm)) for c in w.cases if c.case == "dilate"]
    seeds = "mean of 2 seeds" if all(len(c.colds) > 1 for c in w.cases) else "one seed"
    warm_seeds = ("the warm jobs' mean of 2 seeds" if all(len(c.warm_at(s)) > 1 for c in w.cases for s in c.shares)
                  else "one warm seed in some cases")
    rows = [(f"Warm start: the cold job's PSNR ({seeds}; {warm_seeds}; within {REACHED_DB:g} dB) in at most a "
             "quarter of its time, every case", text, _yes_no(all(r is not None and r <= 0.25 for r in ratios)))]
    if halos:
        # 'not back': the warm fill leaves no more of the halo than the cold one, to 0.01 of it
        rows.append(("Warm start after a 4 px dilation: the halo in the ring does not come back",
                     ", ".join(f"{c.clip} warm {h:.3f} / cold {c.cold_halo:.3f}" for c, h in halos),
                     _yes_no(all(h <= c.cold_halo + 0.01 for c, h in halos))))
    return rows


def _warm_cell(c: WarmCase, share: float, where: str) -> str:
    """A share's warm runs: each seed's PSNR, their mean against cold, mean seconds, seed 0's iterations."""
    runs = c.warm_at(share)
    psnr = " / ".join(f"{run.psnr:.2f}" for run in runs)
    psnr += f" (mean {c.warm_psnr(share):.2f})" if len(runs) > 1 else ""
    return (f"{psnr} ({c.warm_psnr(share) - c.cold_psnr:+.2f}) in {c.warm_seconds(share):.0f} s, "
            f"{runs[0].iterations} it ({where})")


def _cold_seeds(w: WarmResult) -> str:
    seeds = sorted({run.seed for c in w.cases for run in c.colds})
    if len(seeds) < 2:
        return f"seed {seeds[0]}"
    return (f"seeds {' and '.join(map(str, seeds))}: one cold job's PSNR varies from run to run by more than the "
            f"{REACHED_DB:g} dB allowed, so the warm jobs are held to the seeds' mean; the ring and halo columns are "
            f"seed {seeds[0]}'s")


def _speed_targets(results: RunResults) -> list[tuple[str, str, str]]:
    if results.speed is None or not results.speed.train:
        return []
    rows = []
    for t in _ordered(results.speed.train, lambda t: t.preset):
        rows.append((f"Training throughput >= {TARGET_PEAK_FRACTION:.0%} of the measured matmul peak ({t.preset})",
                     f"{t.gflops:.1f} of {results.speed.matmul_gflops:.1f} GFLOP/s ({t.peak_fraction:.0%})",
                     _yes_no(t.peak_fraction >= TARGET_PEAK_FRACTION)))
    return rows


def _transfer_targets(transfer: TransferSpeed | None) -> list[tuple[str, str, str]]:
    if transfer is None:
        return []
    rows = []
    for direction, mbs, raw_mbs in (("upload", transfer.upload_mbs, transfer.raw_upload_mbs),
                                    ("download", transfer.download_mbs, transfer.raw_download_mbs)):
        rows.append((f"gRPC {direction} >= {TARGET_TRANSFER_FRACTION:.0%} of raw TCP over loopback "
                     f"({transfer.width}x{transfer.height} RGBA half)",
                     f"{mbs:.0f} of {raw_mbs:.0f} MB/s ({mbs / raw_mbs:.0%})",
                     _yes_no(mbs >= TARGET_TRANSFER_FRACTION * raw_mbs)))
    return rows


def _clips_table(clips: list[ClipResult]) -> str:
    if not clips:
        return ""
    rows = [(c.clip, str(c.frames), f"{c.width}x{c.height}", f"{100 * c.hole_fraction:.1f}%", c.description)
            for c in clips]
    return "\n".join(["## Clips", "", _table(["Clip", "Frames", "Size", "Hole", "What"], rows)])


def _quality(clips: list[ClipResult], image_dir: str) -> str:
    if not clips:
        return ""
    parts = [
        "## Quality inside the holes",
        "",
        "PSNR and SSIM in display sRGB over every hole pixel of the clip. Flicker: mean absolute change of the "
        "filled pixels from one frame to the next after motion compensation with the ground truth's flow, in "
        "8-bit levels; \"excess\" is the flicker above the ground truth's own (the floor). Read flicker together "
        "with PSNR and SSIM: a flat, textureless fill barely flickers. Budget: for a preset's default fill (the "
        "rows named after the preset) the job's time budget, flow and borrowed-hole propagation included, its "
        "iterations the refiner's; for the paper mode (+paper) training time only. Fill time is inference on "
        "every frame, not counted in the budget. CPU: the share of the cores the training got "
        "(process CPU time over wall time and threads); well below the others, another process was competing. "
        "The presets draft, standard and final are the 'standard' network stopped at 3, 10 and 30 minutes; "
        "variants: +ema (fills with a moving average of the weights; the same run's plain weights are the row "
        "without it), +aa (anti-ambiguity term: each crop's fill over the whole hidden area against the same place "
        "in a nearby frame; +knownonly: only where the fill's truth is known, i.e. borrowed holes over plate; "
        "+pairnext: the first version, against the batch's next crop), +stab "
        "(stabilisation term), with their weights; +lr, +bs, +crop: learning rate, batch size and crop size "
        "changed; +decay: the learning rate falls to zero over that last fraction of the run (one run per budget); "
        "+focus: that share of the crops placed over the area the holes pass through (the presets' default is 0.5; "
        "+focus0: crops placed uniformly, the default before); +seed: another seed (run-to-run noise). "
        "'before the speed work': the standard preset as it was before issue 6.",
        "",
        f"![PSNR against training time]({image_dir}/quality_vs_time.png)",
    ]
    for clip in clips:
        parts += ["", f"### {clip.clip}", "", _clip_table(clip), "", _time_to_psnr(clip), "", _ablation(clip), "",
                  f"![{clip.clip}: input, baselines, ours, ground truth]({image_dir}/strip_{clip.clip}.png)"]
    return "\n".join(parts)


def _time_to_psnr(clip: ClipResult, levels: Sequence[float] = (21.0, 22.0, 22.5, 23.0)) -> str:
    """The first measured budget at which each method reaches a PSNR (budgets are the table's, so coarse)."""
    methods = sorted({s.method for s in _ours(clip)}, key=_preset_rank)
    rows = []
    for method in methods:
        scores = sorted((s for s in _ours(clip) if s.method == method), key=lambda s: s.budget_s)
        cells = [next((f"{s.budget_s / 60:g} min" for s in scores if s.psnr >= level), "not reached")
                 for level in levels]
        rows.append((_label(method), *cells))
    if not rows:
        return ""
    return "Training time to reach a PSNR in the hole (the first budget measured that reaches it):\n\n" + _table(
        ["Method", *(f"{level:g} dB" for level in levels)], rows)


def _ablation(clip: ClipResult) -> str:
    """The regularisers on and off, from the rows of the clip table that ABLATION names (the real clip's)."""
    rows = []
    if clip.clip != REAL_CLIP:
        return ""
    for name, method in ABLATION:
        for s in sorted((s for s in _ours(clip) if s.method == method), key=lambda s: s.budget_s):
            rows.append((name, f"{s.budget_s / 60:g} min", str(s.iterations), f"{s.psnr:.2f}", f"{s.ssim:.3f}",
                         f"{s.flicker:.2f}"))
    if not rows:
        return ""
    return ("Regularisers, on and off (the rows above of the shipped preset's plain weights: " +
            ", ".join(f"{name} = {method}" for name, method in ABLATION) + "):\n\n" +
            _table(["Regularisers", "Budget", "Iterations", "PSNR (dB)", "SSIM", "Flicker"], rows))


def _clip_table(clip: ClipResult) -> str:
    rows = []
    for s in _fixed(clip) + sorted(_ours(clip), key=lambda s: (_preset_rank(s.method), s.budget_s)):
        budget = "-" if s.budget_s is None else f"{s.budget_s / 60:g} min"
        iterations = "-" if s.budget_s is None else f"{s.iterations} ({s.run_s / max(s.iterations, 1):.2f} s/it)"
        cpu = "-" if s.budget_s is None else f"{s.cpu_share:.0%}"
        rows.append((_label(s.method), budget, iterations, cpu, f"{s.psnr:.2f}",
                     f"{s.ssim:.3f}", f"{s.flicker:.2f}", f"{s.flicker - clip.truth_flicker:+.2f}",
                     f"{s.fill_s:.1f} s"))
    rows.append(("ground truth", "-", "-", "-", "-", "1", f"{clip.truth_flicker:.2f}", "0", "-"))
    return _table(["Method", "Budget", "Iterations", "CPU", "PSNR (dB)", "SSIM", "Flicker", "Excess", "Fill time"],
                  rows)


def _speed(results: RunResults) -> str:
    speed = results.speed
    if speed is None:
        return "" if results.transfer is None else "\n".join(["## Speed", "", _transfer(results.transfer)])
    runs = " and ".join(f"{g:.1f}" for g in speed.matmul_runs)
    parts = ["## Speed", "",
             f"Measured fp32 matmul peak: **{speed.matmul_gflops:.1f} GFLOP/s** ({speed.threads} threads; best of 20 "
             f"timings of a 2048x2048 `torch.matmul`, measured at the start and at the end of this section: {runs}).",
             ""]
    if speed.train:
        parts += ["### Training", "",
                  "FLOPs of one step (forward and backward, `FlopCounterMode`: convolutions and matrix products; "
                  "element-wise work is not counted), time per step averaged after a warm-up step. "
                  "Memory: the process's resident high-water mark during the stage, and how much above the "
                  "resident size at its start that is (what the stage itself needed). Data wait: the share of "
                  "the timed steps' time spent waiting for the prefetch thread's next batch.", ""]
        rows = [(t.preset, f"{t.width}{', two-stage' if t.two_stage else ', one-stage'}", f"{t.batch} x {t.crop}^2",
                 f"{t.parameters / 1e6:.2f} M", f"{t.gflop_per_step:.1f}", f"{t.seconds_per_step:.2f}",
                 f"{1 / t.seconds_per_step:.2f}", f"{t.gflops:.1f}", f"{t.peak_fraction:.0%}",
                 f"{t.cpu_share:.0%}", _share(t.batch_wait_fraction), _memory(t))
                for t in _ordered(speed.train, lambda t: t.preset)]
        parts.append(_table(["Preset", "Width", "Batch", "Params", "GFLOP/step", "s/step", "steps/s", "GFLOP/s",
                             "of peak", "CPU", "Data wait", "Peak RSS MB (stage)"], rows))
    if speed.infer:
        parts += ["", "### Inference", "",
                  "`inpaint_frame` per frame (encode, network, decode, composite), after one warm-up frame.", ""]
        rows = [(i.preset, f"{i.width}x{i.height}", str(i.frames), f"{i.seconds_per_frame:.3f}",
                 f"{1 / i.seconds_per_frame:.2f}", _memory(i))
                for i in sorted(speed.infer, key=lambda i: (i.width * i.height, _preset_rank(i.preset)))]
        parts.append(_table(["Preset", "Frame", "Frames", "s/frame", "frames/s", "Peak RSS MB (stage)"], rows))
    if speed.io:
        parts += ["", "### EXR I/O", "",
                  "MB of decoded pixels per second, best of several passes over the same files (in the page "
                  "cache: decoding and encoding, not the disk). Library: `inpaint_core.io.image_files` "
                  "(`read_frame`, `write_frame` with its temp file and rename); raw: bare OpenImageIO "
                  "(`ImageInput.read_image`, `ImageOutput.write_image`).", ""]
        rows = [(i.label, str(i.frames), f"{i.mb_per_frame:.2f} / {i.file_mb_per_frame:.2f}",
                 f"{i.read_mbs:.0f}", f"{i.raw_read_mbs:.0f}", f"{i.read_mbs / i.raw_read_mbs:.0%}",
                 f"{i.write_mbs:.0f}", f"{i.raw_write_mbs:.0f}", f"{i.write_mbs / i.raw_write_mbs:.0%}")
                for i in speed.io]
        parts.append(_table(["Files", "Frames", "MB/frame (pixels / file)", "Read MB/s", "Raw read MB/s",
                             "Read vs raw", "Write MB/s", "Raw write MB/s", "Write vs raw"], rows))
    if results.transfer is not None:
        parts += ["", _transfer(results.transfer)]
    return "\n".join(parts)


def _window_memory(memory: WindowMemory | None) -> str:
    """Memory of one window of a windowed (farm) job, and what the default window size costs."""
    if memory is None:
        return ""
    rows = [(str(n), f"{peak:.0f}") for n, peak in zip(memory.frames, memory.peak_mb)]
    per_4k = scaled_per_frame_mb(memory, SIZE_4K)
    default = DEFAULT_WINDOW_SIZE
    return "\n".join([
        "## Windowed jobs: memory of one window", "",
        f"Peak resident memory of a fresh process that loads a window of N frames of {memory.width}x{memory.height} "
        f"RGBA half and takes a few draft training steps (`benchmarks/windows.py`); inference streams from disk and "
        "adds nothing that grows with N.", "",
        _table(["Frames in the window", "Peak RSS MB"], rows), "",
        f"Straight-line fit: {memory.per_frame_mb:.1f} MB per frame plus {memory.fixed_mb:.0f} MB fixed; scaled by "
        f"pixel count, {per_4k:.1f} MB per frame at 3840x2160. The default window of {default} frames "
        f"(`internal-inpaint plan --window-size`) therefore needs about "
        f"{(memory.fixed_mb + default * memory.per_frame_mb) / 1024:.1f} GB at 2K and "
        f"{(memory.fixed_mb + default * per_4k) / 1024:.1f} GB at 4K per farm task, so several tasks fit on an "
        f"ordinary render node; {default} frames are {default / 24:.1f} s at 24 fps, the span over which a window's "
        "network can propagate content. How the fill quality depends on the window length is not measured yet.",
    ])


def _features(f: FeatureResult | None) -> str:
    """Why the anti-ambiguity term compares the features it does."""
    if f is None:
        return ""
    rows = [(c.extractor, f"{100 * c.ranking_accuracy:.0f}%", f"{c.gap_sd:+.2f}",
             "-" if c.ms_per_step != c.ms_per_step else f"{c.ms_per_step:.0f} ms") for c in f.choices]
    return "\n".join([
        "## Anti-ambiguity: which features", "",
        f"The contextual loss must cost more for a fill that averages its sources (a blur) than for real texture. "
        f"On {f.crops} random known 64x64 crops of {f.clip}, each compared with the same place (+-16 px) three "
        "frames later: how often the crop blurred (Gaussian, sigma 2 px) costs more than the crop itself, and the "
        "mean difference in standard deviations (`benchmarks/features.py`). ImageNet VGG weights cannot be fetched "
        "here; every extractor below needs no download. Cost: the term's forward and backward on a draft batch "
        "(8 crops of 96x96).", "",
        _table(["Features", "Blur costs more", "Gap (sd)", "Cost / step"], rows),
    ])


def _references(r: ReferenceResult | None) -> str:
    """Reference frames: PSNR in the hole with none, one and two true clean frames, by distance from them."""
    if r is None:
        return ""
    labels = [f"{low}-{high}" if high < 10**6 else f"{low}+" for low, high in BUCKETS]
    rows = []
    for score in r.scores:
        cells = [", ".join(str(t) for t in score.references) or "none", f"{score.psnr:.2f}",
                 f"{score.hidden_psnr:.2f}"]
        for label in labels:
            pair = score.by_distance.get(label)
            cells.append("-" if pair is None else f"{pair[0]:.2f} ({pair[0] - pair[1]:+.2f})")
        rows.append(cells + [f"{score.seconds:.0f} s"])
    headers = ["References (frame indices)", "PSNR in the hole", "where no frame shows it"] + \
        [f"{label} frames away" for label in labels] + ["Job"]
    return "\n".join([
        "## Reference frames", "",
        f"A procedural clip ({r.frames} frames, {r.size[0]}x{r.size[1]}) with a box pinned to the background, so "
        "part of the background is hidden in every frame; a reference is a frame's ground truth, given as a "
        f"painted clean frame (`--reference`). The default fill, {r.iterations} refiner iterations, seed 0 "
        "(`benchmarks/references.py`). PSNR in the hole (dB, display sRGB) over every frame but the references; "
        "by distance: the frames that far from the nearest reference, in brackets the difference to the run "
        "without references on the same frames.",
        "", _table(headers, rows),
    ])


def _warm(w: WarmResult | None) -> str:
    """Warm starts: per clip and case the cold job, the warm jobs, and how soon a warm one reached the cold PSNR."""
    if w is None:
        return ""

    def where(run: WarmRun, case: str) -> str:
        if case == "dilate":
            return f"ring {run.ring_psnr:.2f}, halo {run.halo:.3f}"
        return f"new frames {run.new_psnr:.2f}"

    rows = []
    for c in w.cases:
        reached = c.reached()
        cold = " / ".join(f"{run.psnr:.2f}" for run in c.colds)
        if len(c.colds) > 1:
            cold += f" (mean {c.cold_psnr:.2f})"
        cells = [c.clip, c.case, f"{cold} in {c.cold_seconds:.0f} s ({where(c.cold, c.case)})"]
        cells += [_warm_cell(c, share, where(c.warm_at(share)[0], c.case)) for share in c.shares]
        cells.append(f"{reached / c.cold_seconds:.2f}" if reached else "not reached")
        cells.append("all" if all(r.message.startswith("Warm start") for r in c.warm) else
                     f"no: {next(r.message for r in c.warm if not r.message.startswith('Warm start'))}")
        rows.append(cells)
    shares = [f"warm, {share:g} of the budget" for share in WARM_SHARES]
    return "\n".join([
        "## Warm starts", "",
        f"A finished job (the default fill, {w.budget_s / 60:g} minutes) is pressed again on each clip: 'dilate' "
        f"with the matte grown by {DILATE_PX} px, 'range' with {EXTRA_FRAMES} more frames than it saw. Each "
        f"re-press runs cold (from scratch, {w.budget_s / 60:g} minutes, {_cold_seeds(w)}) and warm (seeded by the "
        "finished job, as the server offers it: warm_start auto, so only because the plate's colour is unchanged), "
        "with a share of the budget and each of the seeds; a warm job propagates one borrowed-hole configuration "
        "instead of four. Seconds "
        "are whole jobs (flow, training, the frames' fill and writing). PSNR in the new hole (dB, display sRGB), in "
        "brackets against cold. In 'dilate' the plate carries a magenta halo in the "
        f"{DILATE_PX} px ring (the object's edge, which the first job learned as known pixels): 'halo' is the "
        "fill's error along the painted halo as a share of it (1 = the halo came back whole, 0 = none of it); "
        "'ring' the PSNR there (seed 0's). 'Time to cold PSNR': the quickest share whose warm runs' mean is within "
        f"{REACHED_DB:g} dB of the cold runs' mean, their mean time as a share of the cold job's time "
        "(target: at most 0.25) "
        "(`benchmarks/warm.py`).",
        "", _table(["Clip", "Case", "Cold", *shares, "Time to cold PSNR", "Warm-started"], rows),
    ])


def _propagation(p: PropagationResult | None) -> str:
    """Single-frame mask propagation: IoU against the true masks, with the static-copy baseline for scale."""
    if p is None:
        return ""
    s = p.settings
    rows = [(str(r.annotated), r.method, f"{r.mean_iou:.3f}", f"{r.min_iou:.3f}",
             f"{r.far_iou:.3f} (frame {r.far_frame})",
             f"{r.seconds:.0f}" if r.iterations else "-", str(r.iterations) if r.iterations else "-") for r in p.scores]
    return "\n".join([
        "## Single-frame mask propagation", "",
        f"{p.clip}, {p.frames} frames at {p.size[0]}x{p.size[1]}: one frame's DAVIS mask is given, the net "
        f"(`inpaint_core/training/mask_propagation.py`: U-Net width {s['width']}, {s['crop_size']} px crops, batch "
        f"{s['batch_size']}, lr {s['learning_rate']:g}, working size {s['max_side']} px long side, seed {s['seed']}) "
        "is trained on the clip and predicts every other frame's mask; IoU against the true masks of the other "
        "frames (`benchmarks/propagation.py`). The baseline copies the annotated mask to every frame: the swan "
        "moves slowly, so it is a strong one here. Seconds: training and prediction on this machine's CPU with "
        "one torch thread (two threads per process stalled each other on the shared, loaded machine), so "
        "they are an upper bound. Fewer iterations cost accuracy: from frame 25, 200 iterations gave a mean IoU "
        "of 0.66 (below the copy), 600 gave 0.83; width 16 at 600 iterations 0.91 at 2.6x the time.", "",
        _table(["Annotated frame", "Method", "Mean IoU", "Min IoU", "IoU at the far end", "Seconds", "Iterations"],
               rows),
    ])


def _load(load: LoadResult | None) -> str:
    """Many clients at once: did every job finish, how late were the watchers, did the server's memory grow."""
    if load is None:
        return ""

    def spread(values: list[float]) -> str:
        return " / ".join(f"{v:.0f}" for v in values) if values else "-"

    rows = [
        ("jobs DONE", f"{load.jobs_done} of {load.jobs_total}"),
        ("errors", "; ".join(load.errors[:5]) or "none"),
        ("wall time per round (s)", " / ".join(f"{w:.1f}" for w in load.wall_s)),
        ("jobs per minute", f"{60 * load.jobs_total / max(sum(load.wall_s), 1e-9):.1f}"),
        ("watch latency, ms (p50 / p95 / max)", f"{spread(load.watch_ms)} over {load.events} events"),
        ("GetJob under load, ms (p50 / p95 / max)", f"{spread(load.get_job_ms)} over {load.get_job_calls} calls"),
        ("submit (create + upload), ms (p50 / p95 / max)", spread(load.submit_ms)),
        ("server RSS idle / after each round / peak, MB",
         f"{load.rss_idle_mb:.0f} / {' / '.join(f'{r:.0f}' for r in load.rss_after_round_mb)} / "
         f"{load.rss_peak_mb:.0f}"),
    ]
    return "\n".join([
        "## Load: many clients on loopback", "",
        f"{load.clients} clients (threads, one `InpaintClient` each) submit one small job each at once and watch it "
        f"to its end, {load.rounds} rounds; jobs: {load.frame_size}, draft preset, {load.iterations} iterations; the "
        "server (`serve` in a child process, CPU, fresh spool) runs one job at a time, so most watchers wait in the "
        "queue. A prober asks GetJob every 0.2 s throughout. Watch latency: time from the server stamping an event "
        "to a watcher receiving it, for events stamped after the watch began; the server lets at most 48 watches "
        "(three quarters of its 64 RPC threads) hold a thread, the other clients watch by polling "
        "(`benchmarks/load.py`; `tests/server/service/test_server_load.py` runs a smaller round in CI).",
        "", _table(["Measure", "Value"], rows),
    ])


def _highres(h: HighresResult | None) -> str:
    """Memory and iteration cost of a progressive job on a generated 4K shot."""
    if h is None:
        return ""
    scales = _table(["Scale", "Frame size", "Iterations", "s / iteration"],
                    [(str(i + 1), f"{s.width}x{s.height}", str(s.iterations), f"{s.seconds_per_iteration:.3f}")
                     for i, s in enumerate(h.scales)])
    sizes = _table(["Frame size", "Base scale", "Refine batch (B, C, h, w)", "Patch bank MB per scale",
                    "Base s / iteration", "Refine s / iteration"],
                   [(f"{c.width}x{c.height}", f"{c.base_width}x{c.base_height}",
                     "-" if not c.batch_shape else "x".join(map(str, c.batch_shape)), f"{c.bank_mb:.0f}",
                     f"{c.base_seconds_per_iteration:.3f}",
                     "-" if c.refine_seconds_per_iteration is None else f"{c.refine_seconds_per_iteration:.3f}")
                    for c in h.sizes])
    verdict = "under" if h.peak_rss_mb < 8 * 1024 else "OVER"
    psnr = "" if h.psnr_db is None else (
        f" PSNR inside the hole on {min(5, h.frames)} frames: {h.psnr_db:.1f} dB" + (
            f" (after {h.iterations} base iterations: a measure of memory and time, not of the quality a real run "
            "reaches)." if h.train_seconds > 0 else " (propagation alone: every hole pixel is shown by another "
            "frame, so nothing was trained; this is what a run of any length gives)."))
    return "\n".join([
        "## Large frames: progressive mode at 4K", "",
        f"A generated {h.width}x{h.height} RGBA half sequence of {h.frames} frames (a panning scene, a moving "
        f"ellipse of 3% of the frame in alpha; {h.plate_mb_on_disk / 1024:.1f} GB of zip EXRs, written frame by frame "
        f"in {h.generate_seconds / 60:.1f} minutes), inpainted by a whole `--progressive on` job ({h.preset} preset, "
        f"{h.iterations} iterations at the base scale, a quarter of that at each higher scale) in a fresh process "
        "(`benchmarks/highres.py`).", "",
        f"**Peak resident memory: {h.peak_rss_mb:.0f} MB ({h.peak_rss_mb / 1024:.2f} GB), {verdict} the 8 GB "
        f"limit.** The job took {h.job_seconds / 60:.1f} minutes: reading every frame once (base-scale shot and "
        f"patch banks) {h.read_seconds / 60:.1f}, propagation (flow at 1024 px through the shot and every frame's "
        f"candidates, the default fill's first step) and the steps between "
        f"{max(h.job_seconds - h.read_seconds - h.train_seconds - h.write_seconds, 0.0) / 60:.1f}, training "
        f"{h.train_seconds / 60:.1f}, filling and writing {h.write_seconds / 60:.1f}.{psnr} Stages: "
        + "; ".join(f"'{m}'" for m in h.stages if m.startswith(("Propagation done", "Every hole"))), "",
        "Time per iteration within the job (wall clock, so it includes whatever else the machine was running):", "",
        scales, "",
        "Cost of an iteration against the frame size (3 frames of the same shot reduced to each size, "
        f"{h.preset} preset; mean of 8 steps after 2 of warm-up): the base scale trains on crops "
        "of frames of at most 1024 px and each higher scale on a fixed batch of fixed-size patches, so neither "
        "grows with the frame.", "",
        sizes,
    ])


def _transfer(t: TransferSpeed) -> str:
    intro = (
        f"{t.frames} frames of {t.width}x{t.height} RGBA half (DCI 2K, {t.frame_mb:.1f} MB of pixels each) between "
        "`InpaintClient` and a server started in the same process (`start_server`, default settings, a fresh "
        f"spool) on 127.0.0.1, in the server's {t.chunk_bytes / 2**20:g} MiB chunks; MB of pixels per second, best "
        f"of {t.repeats} passes. Upload: `upload_frames` to a job waiting for them, including the server's SHA-256 "
        "check and storing each frame (raw bytes; the EXR the job reads is written when it starts). Download: "
        "`download` of a finished job, including the "
        "server's EXR read and both ends' SHA-256. Raw TCP, in the same run: the same bytes in the same chunks over a "
        "plain socket (`sendall`, `recv_into` a preallocated buffer). Bare gRPC: the same `FrameChunk` messages "
        "through a server that does nothing with them, what gRPC and protobuf cost in Python on their own."
    )
    rows = [(direction, f"{mbs:.0f}", f"{1e3 * t.frame_mb / mbs:.0f}", f"{raw:.0f}", f"{mbs / raw:.0%}",
             f"{bare:.0f}", f"{bare / raw:.0%}")
            for direction, mbs, raw, bare in (("upload", t.upload_mbs, t.raw_upload_mbs, t.bare_upload_mbs),
                                              ("download", t.download_mbs, t.raw_download_mbs, t.bare_download_mbs))]
    work = (
        f"The server's work per frame, timed alone on the same frames: SHA-256 {t.sha256_ms:.0f} ms (the client "
        f"and the server each hash every frame, either way), EXR write {t.exr_write_ms:.0f} ms (upload: each frame "
        f"becomes an uncompressed EXR on arrival), EXR read {t.exr_read_ms:.0f} ms (download). The download job "
        f"(one draft training step, one frame filled, the others copied through) ran {t.job_s:.0f} s, not counted."
    )
    return "\n".join(["### gRPC transfer (loopback)", "", intro, "",
                      _table(["Direction", "gRPC MB/s", "ms/frame", "Raw TCP MB/s", "gRPC vs raw", "Bare gRPC MB/s",
                              "Bare vs raw"], rows),
                      "", work])


def _protocol() -> str:
    return "\n".join([
        "## Protocol",
        "",
        "- Clips are built from scratch each run under `benchmarks/.cache/` (git-ignored) and written as RGBA "
        "half EXR sequences with the hole in alpha; hole pixels are painted flat magenta, so no method can see "
        "the truth under them. The real clip is DAVIS blackswan scaled to 432x240 in linear light; its holes "
        "are the swan's masks from other frames, scaled to 0.7x and moved on a smooth path that never touches "
        "the swan, so every hidden pixel is background with a known truth.",
        "- Ours, the default fill: a whole job (`inpaint_core.jobs.run_job`, fill 'guided') per preset and budget, "
        "the budget as the job's time budget, its output frames read back and scored. Ours, the paper mode: each "
        "preset's network trained from scratch (seed 0) with a loop around `Trainer.step()`, its iteration count "
        "replaced by training-time budgets; at each budget every frame is filled with `inpaint_frame` exactly as "
        "a job writes it, and scored. '+seed1' rows: the default job with seed 1; differences under about 0.3 dB "
        "are within run-to-run noise.",
        "- Telea: `inpaint_eval.baselines.telea_fill` per frame. Flow-guided: `benchmarks/flow_baseline.py` "
        "(DIS flow between neighbouring frames of the plate, flow completed smoothly inside the holes, each hole "
        "pixel copied from the nearest frame where its chained track is visible, Telea for the rest).",
        "- Flicker warps frame t+1 onto frame t with DIS flow computed on the ground truth; pixels whose flow "
        "leaves the frame or fails a forward-backward check are skipped, for every method alike.",
        "- Timings share the machine with whatever else runs on it; on a 2-core machine another process "
        "can slow a run noticeably.",
    ])


# -- helpers --------------------------------------------------------------------------


def _label(method: str) -> str:
    return _METHOD_NAMES.get(method, f"ours, {method}")


def _ours(clip: ClipResult) -> list[MethodScore]:
    """The trained methods' rows (every budget)."""
    return [s for s in clip.scores if s.method not in BASELINES and s.method != NETWORK_OFF]


def _baselines(clip: ClipResult) -> list[MethodScore]:
    return [s for s in clip.scores if s.method in BASELINES]


def _fixed(clip: ClipResult) -> list[MethodScore]:
    """The rows without training: both baselines, and propagation alone."""
    return [s for s in clip.scores if s.method in BASELINES or s.method == NETWORK_OFF]


def _presets(clip: ClipResult) -> list[str]:
    return sorted({s.method for s in _ours(clip)}, key=_preset_rank)


def _preset_rank(name: str) -> tuple[int, str]:
    preset = name.split("+")[0]  # variants ("draft+stab0.2") sort after their preset
    return (PRESET_ORDER.index(preset) if preset in PRESET_ORDER else len(PRESET_ORDER), name)


def _ordered(items: list[T], key: Callable[[T], str]) -> list[T]:
    return sorted(items, key=lambda item: _preset_rank(key(item)))


def _memory(stage: TrainSpeed | InferSpeed) -> str:
    return f"{stage.peak_rss_mb:.0f} (+{max(stage.peak_rss_mb - stage.base_rss_mb, 0.0):.0f})"


def _share(fraction: float) -> str:
    """A fraction as a percentage with a useful number of digits; '-' when not measured."""
    if fraction != fraction:  # NaN: older results
        return "-"
    return f"{fraction:.1%}" if fraction >= 0.001 else f"{fraction:.3%}"


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(headers), line(["---"] * len(headers)), *(line(r) for r in rows)])

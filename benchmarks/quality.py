"""Quality inside the holes: baselines and the learned inpainter at wall-clock budgets.

Each preset is scored in both fill modes. The default ("guided": the library's propagation, corrected by the
refiner trained on the shot; its label is the preset's) runs as a whole job with the budget as its time budget,
as a user's job would: flow, the borrowed-hole propagations and training all count in it. The paper's network
alone (label '<preset>+paper') is trained with a loop around ``Trainer.step()``, read out each time a budget is
reached: only its steps are timed, evaluation (inference on every frame and scoring) is not counted, and a
budget may be overrun by at most one step. 'propagation' is the default with its network switched off (Telea
where no frame shows a pixel): the ablation the network must beat.
"""

from __future__ import annotations

import gc
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from inpaint_core.flow.clip import propagate_clip
from inpaint_core.inference.fill import inpaint_frame
from inpaint_core.io.image_files import read_frame
from inpaint_core.jobs import JobReporter, JobSpec, run_job
from inpaint_core.masks.shot import Shot, ShotSpec
from inpaint_core.training.dataset import load_training_data
from inpaint_core.training.presets import preset_settings
from inpaint_core.training.trainer import Trainer
from inpaint_eval.baselines import telea_fill
from internal_inpaint_client.options import variants

from .clips import BenchClip
from .flow_baseline import flow_guided_fill
from .scoring import FlowReference, flow_reference, score

# The trainer wants an iteration count; the budgets stop the loop long before this.
_UNLIMITED_ITERATIONS = 10**9

BASELINES = ("telea", "flow")
NETWORK_OFF = "propagation"  # the default fill with its network switched off
PAPER = "+paper"  # label suffix of a preset's paper-mode readout


@dataclass
class MethodScore:
    method: str  # 'telea', 'flow' or a preset name
    budget_s: float | None  # training budget; None for the baselines
    run_s: float  # training seconds actually spent (ours) or the whole fill (baselines)
    iterations: int  # training steps done (0 for baselines)
    fill_s: float  # seconds to fill every frame once trained (ours: inference only)
    psnr: float
    ssim: float
    flicker: float
    # Process CPU time over wall time x torch threads while training: well under 1 means the
    # run did not have the cores to itself (another process competed) or waited on serial work.
    cpu_share: float = 1.0


@dataclass
class ClipResult:
    clip: str
    description: str
    frames: int
    width: int
    height: int
    hole_fraction: float
    truth_flicker: float
    scores: list[MethodScore] = field(default_factory=list)


@dataclass
class Showcase:
    """Results kept in memory for a clip's image strip."""

    telea: np.ndarray
    flow: np.ndarray
    ours: np.ndarray | None = None
    ours_label: str = ""
    ours_psnr: float = -np.inf


def run_clip(
    clip: BenchClip,
    presets: list[str],
    budgets_s: list[float],
    device: torch.device,
    log: Callable[[str], None],
    paper: bool = True,
) -> tuple[ClipResult, Showcase]:
    """Score both baselines and every preset at every budget on one clip (the paper mode's readouts too unless
    ``paper`` is False)."""
    reference = flow_reference(clip)
    width, height = clip.size
    result = ClipResult(clip.name, clip.description, len(clip.frames), width, height,
                        clip.hole_fraction, reference.truth_flicker)
    telea, telea_score = _run_baseline("telea", _telea_clip, clip, reference)
    flow, flow_score = _run_baseline("flow", flow_guided_fill, clip, reference)
    propagated = propagate_clip(clip.plate, clip.hole)
    filled_alone = _as_written(propagated.filled, clip)
    alone = score(filled_alone, clip, reference)
    alone_score = MethodScore(NETWORK_OFF, None, propagated.seconds, 0, propagated.seconds, alone.psnr, alone.ssim,
                              alone.flicker)
    result.scores += [telea_score, flow_score, alone_score]
    log(f"{clip.name}: propagation sees {100 * propagated.seen_fraction:.1f}% of the hole pixels in other frames")
    for baseline in (telea_score, flow_score, alone_score):
        log(f"{clip.name}: {baseline.method}: {baseline.psnr:.2f} dB, SSIM {baseline.ssim:.3f}, "
            f"flicker {baseline.flicker:.2f} ({baseline.run_s:.1f} s)")
    showcase = Showcase(telea, flow)
    for preset in presets:
        for method_score, filled in train_with_budgets(clip, preset, budgets_s, device, reference, paper):
            result.scores.append(method_score)
            log(f"{clip.name}: {method_score.method} at {method_score.budget_s / 60:g} min "
                f"({method_score.iterations} it): "
                f"{method_score.psnr:.2f} dB, SSIM {method_score.ssim:.3f}, flicker {method_score.flicker:.2f}")
            if method_score.psnr > showcase.ours_psnr:
                showcase.ours, showcase.ours_psnr = filled, method_score.psnr
                showcase.ours_label = f"ours: {method_score.method}, {method_score.budget_s / 60:g} min"
    return result, showcase


def _as_written(filled: np.ndarray, clip: BenchClip) -> np.ndarray:
    """A float32 fill as a job writes it: in the plate's pixel type (half), read back as float32."""
    plate = Shot(ShotSpec(plate=clip.plate_pattern))
    dtype = plate.read(plate.frames[0])[0].pixels.dtype
    return filled.astype(dtype).astype(np.float32)


def _telea_clip(plate: np.ndarray, hole: np.ndarray) -> np.ndarray:
    return np.stack([telea_fill(frame, mask) if mask.any() else frame for frame, mask in zip(plate, hole)])


def _run_baseline(
    name: str,
    fill: Callable[[np.ndarray, np.ndarray], np.ndarray],
    clip: BenchClip,
    reference: FlowReference,
) -> tuple[np.ndarray, MethodScore]:
    start = time.perf_counter()
    filled = fill(clip.plate, clip.hole)
    seconds = time.perf_counter() - start
    scores = score(filled, clip, reference)
    return filled, MethodScore(name, None, seconds, 0, seconds, scores.psnr, scores.ssim, scores.flicker)


def train_with_budgets(
    clip: BenchClip,
    preset: str,
    budgets_s: list[float],
    device: torch.device,
    reference: FlowReference,
    paper: bool = True,
) -> Iterator[tuple[MethodScore, np.ndarray]]:
    """One preset's scores (and fills) at every budget: the default fill as a job of that budget runs it (flow,
    borrowed-hole propagation and the refiner's training all inside the budget), then the paper's network alone.

    The paper readouts (none for a '+seed' variant) come from one training run read out at each budget, unless
    the learning rate decays towards the end of the run ('+decay' variants): then each budget is a run of its
    own, as a user's would be.
    """
    for budget in sorted(budgets_s):
        yield run_default_job(clip, preset, budget, device, reference)
    name, overrides = parse_variant(preset)
    if "seed" in overrides or not paper:  # another seed is the default's run-to-run check; paper mode: seed 0
        return
    if overrides.get("lr_decay"):
        for budget in sorted(budgets_s):
            yield from _train_paper(clip, preset, [budget], device, reference, budget)
    else:
        yield from _train_paper(clip, preset, budgets_s, device, reference, 0.0)


class _Warnings(JobReporter):
    """Prints a job's warnings (the refiner's collapse guard says there when it rolled the training back)."""

    def __init__(self, job: str) -> None:
        self.job = job

    def warning(self, message: str) -> None:
        print(f"{self.job}: {message}", flush=True)


def run_default_job(clip: BenchClip, preset: str, budget: float, device: torch.device,
                    reference: FlowReference) -> tuple[MethodScore, np.ndarray]:
    """The product's default fill: a whole job with the preset and a time budget of ``budget`` seconds."""
    name, overrides = parse_variant(preset)
    settings = replace(preset_settings(name, checkpoint_every=0, **overrides), time_budget=budget)
    folder = os.path.join(os.path.dirname(os.path.dirname(clip.plate_pattern)), f"job-{clip.name}")
    shutil.rmtree(folder, ignore_errors=True)
    spec = JobSpec(ShotSpec(plate=clip.plate_pattern), os.path.join(folder, "clean.####.exr"), settings,
                   device=str(device), work_dir=os.path.join(folder, "work"))
    start_cpu, start = time.process_time(), time.perf_counter()
    result = run_job(spec, _Warnings(f"{clip.name}, {preset}"))
    share = (time.process_time() - start_cpu) / max((time.perf_counter() - start) * torch.get_num_threads(), 1e-9)
    filled = np.stack([read_frame(path).pixels[..., :3].astype(np.float32) for path in result.outputs])
    shutil.rmtree(folder, ignore_errors=True)
    scores = score(filled, clip, reference)
    return MethodScore(preset, budget, result.train_seconds, result.iterations, result.fill_seconds, scores.psnr,
                       scores.ssim, scores.flicker, share), filled


def _train_paper(
    clip: BenchClip,
    preset: str,
    budgets_s: list[float],
    device: torch.device,
    reference: FlowReference,
    time_budget: float,
) -> Iterator[tuple[MethodScore, np.ndarray]]:
    shot = Shot(ShotSpec(plate=clip.plate_pattern))
    data = load_training_data(shot)
    name, overrides = parse_variant(preset)
    settings = preset_settings(name, iterations=_UNLIMITED_ITERATIONS, checkpoint_every=0, **overrides)
    trainer = Trainer(data, replace(settings, time_budget=time_budget), device)
    cpu = 0.0
    try:
        for budget in sorted(budgets_s):
            while trainer.trained_seconds < budget:
                start_cpu = time.process_time()
                trainer.step()
                cpu += time.process_time() - start_cpu
            trained = trainer.trained_seconds
            share = cpu / max(trained * torch.get_num_threads(), 1e-9)
            for label, model in _readouts(preset, trainer):
                filled, fill_s = fill_clip(trainer, shot, model)
                scores = score(filled, clip, reference)
                yield MethodScore(_paper_label(label), budget, trained, trainer.iteration, fill_s,
                                  scores.psnr, scores.ssim, scores.flicker, share), filled
    finally:
        trainer.stop_prefetching()
        del trainer, data
        gc.collect()  # the next preset's peak memory should not include this one's


# A variant of a preset, for ablations: "draft+stab0.2" is the draft preset with stabilisation weight 0.2,
# "draft+aa0.1+stab0.2" adds the anti-ambiguity term with weight 0.1; "standard+decay0.3" lowers the learning
# rate to zero over the last 30% of the run; "+seed1" draws another run's batches and initial weights (run-to-run
# noise). The prefixes, and the settings they set, are the options schema's (internal_inpaint_client/options.py).
_VARIANTS = variants()


def parse_variant(method: str) -> tuple[str, dict[str, float]]:
    """The preset name and the settings a method label like 'draft+stab0.2' overrides (in the library's names)."""
    name, *parts = method.split("+")
    overrides = {}
    for part in parts:
        if part == PAPER[1:]:  # a fill mode, not a training setting
            continue
        key = next((k for k in _VARIANTS if part.startswith(k)), None)
        if key is None:
            raise SystemExit(f"Unknown variant {part!r} in {method!r}; known: {', '.join(_VARIANTS)} "
                             "(e.g. draft+stab0.2).")
        value = float(part[len(key):] or 1)
        option = _VARIANTS[key]
        overrides[option.library] = option.to_library(option.kind(value))
    return name, overrides


def _paper_label(label: str) -> str:
    """'standard+ema0' -> 'standard+paper+ema0': the paper-mode readout of a preset (or variant)."""
    name, *parts = label.split("+")
    return "+".join([name, PAPER[1:], *parts])


def _readouts(preset: str, trainer: Trainer) -> list[tuple[str, torch.nn.Module]]:
    """The weights to score: a run with a weight average is also the run without one (the average does not
    change training), so both are scored, the plain weights under the label with '+ema0'."""
    if trainer.average is None:
        return [(preset, trainer.model)]
    name, *parts = preset.split("+")
    plain = "+".join([name, "ema0", *(p for p in parts if not p.startswith("ema"))])
    return [(preset, trainer.average), (plain, trainer.model)]


def fill_clip(trainer: Trainer, shot: Shot, model: torch.nn.Module | None = None) -> tuple[np.ndarray, float]:
    """Every frame filled by ``model`` (default: the trainer's) as the pipeline writes it; and the seconds inferring."""
    model = model or trainer.inference_model
    frames = []
    seconds = 0.0
    for frame in shot.frames:
        plate, hole = shot.read(frame)
        start = time.perf_counter()
        pixels = inpaint_frame(model, trainer.data.encoding, plate.pixels, shot.colour(plate), hole,
                               shot.colour_channels, trainer.device)
        synchronize(trainer.device)
        seconds += time.perf_counter() - start
        frames.append(pixels[..., shot.colour_channels].astype(np.float32))
    return np.stack(frames), seconds


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a timing measures the work and not its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)

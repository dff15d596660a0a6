"""Progressive multi-scale jobs for large frames (the paper's high-resolution mode).

A 4K shot does not fit in memory as a training set, and whole-frame steps at
4K would cost 16 times those at 1K. So the shot is solved at a base scale
(long side at most ``base_long_side``, 1024 by default) with the ordinary
Trainer, then refined at x2 steps up to full size: at each higher scale a small
one-stage generator gets the frame with its holes filled by the upsampled
lower-scale result (the prior) and learns, from patches near the hole edges
(boundary_sampling.py), to put back the detail. Frames are streamed from disk:
one pass reads every frame once to build the base-scale shot and each scale's
patch bank, a second one fills and writes them. What stays in memory is the
base-scale shot, one fixed-size patch bank per scale and one frame at a time;
the cost of a training step is fixed by the batch and patch size alone.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
import torch

from inpaint_core.training.boundary_sampling import BoundarySampler, PatchBank
from inpaint_core.io.colour import LogEncoding
from inpaint_core.training.dataset import _FIT_SAMPLES_PER_FRAME, TrainingData, _check_enough_known
from inpaint_core.errors import Cancelled, CheckpointError, InputError
from inpaint_core.inference.fill import composite, fill_encoded
from inpaint_core.model.losses import masked_l1
from inpaint_core.model.generator import InpaintGenerator
from inpaint_core.jobs.single import JobReporter, JobResult, JobSpec, _checkpoint_path, _warn_full_frames, _write_outputs, write_frames
from inpaint_core.masks.shot import Shot
from inpaint_core.training.trainer import Progress, Trainer, TrainSettings, save_atomically, to_device

MODES = ("auto", "on", "off")
DEFAULT_BASE_LONG_SIDE = 1024
# "auto" turns progressive mode on above this long side, or when the shot held in
# memory (float16 colour + a bool hole per pixel) would pass this many bytes.
AUTO_LONG_SIDE = 2048
AUTO_MEMORY_BUDGET = 4 * 1024**3
SCALE_STEP = 2
REFINE_CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class ProgressiveSettings:
    base_long_side: int = DEFAULT_BASE_LONG_SIDE
    # Base width of each refine generator (one stage). It runs over every hole pixel at every higher scale, so
    # its cost per pixel sets the time to fill a 4K frame: width 8 costs about a quarter of width 16.
    refine_width: int = 8
    refine_iterations: int | None = None  # per higher scale; None: a quarter of the base scale's
    bank_size: int = 512  # patches per higher scale held in memory
    tile: int = 384  # inference tile (core) side at the higher scales
    tile_margin: int = 32  # context around each tile, cut away again

    def __post_init__(self) -> None:
        for name, low in (("base_long_side", 16), ("refine_width", 2), ("bank_size", 1), ("tile", 16),
                          ("tile_margin", 0)):
            if getattr(self, name) < low:
                raise InputError(f"Progressive setting {name} must be at least {low} (got {getattr(self, name)}).")


@dataclass(frozen=True)
class Scale:
    index: int  # 0 = the base scale
    divisor: int  # full size / this scale's size
    width: int
    height: int

    @property
    def full(self) -> bool:
        return self.divisor == 1


def plan_scales(width: int, height: int, base_long_side: int = DEFAULT_BASE_LONG_SIDE) -> list[Scale]:
    """Base scale with long side <= ``base_long_side`` (a power-of-two reduction), then x2 steps to full size."""
    if base_long_side < 16:
        raise InputError(f"The progressive base size must be at least 16 px (got {base_long_side}).")
    steps = max(0, math.ceil(math.log2(max(width, height) / base_long_side)))
    divisors = [SCALE_STEP**k for k in range(steps, -1, -1)]
    return [Scale(i, d, max(1, round(width / d)), max(1, round(height / d))) for i, d in enumerate(divisors)]


def wants_progressive(mode: str, shot: Shot) -> bool:
    """Whether a job runs progressively: 'on', 'off', or 'auto' (large frames or a shot too big for memory)."""
    if mode not in MODES:
        raise InputError(f"Unknown progressive mode {mode!r}; choose one of {', '.join(MODES)}.")
    if mode != "auto":
        return mode == "on"
    in_memory = len(shot.frames) * shot.width * shot.height * (2 * len(shot.colour_channels) + 1)
    return max(shot.width, shot.height) > AUTO_LONG_SIDE or in_memory > AUTO_MEMORY_BUDGET


def resize_frame(colour: np.ndarray, hole: np.ndarray, scale: Scale) -> tuple[np.ndarray, np.ndarray]:
    """Colour (holes zeroed) and hole at ``scale``: area-averaged colour, and any pixel touching a hole is a hole."""
    if scale.full:
        return colour, hole
    size = (scale.width, scale.height)
    small = cv2.resize(colour, size, interpolation=cv2.INTER_AREA).reshape(scale.height, scale.width, -1)
    return small, cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0


# -- the job -------------------------------------------------------------------


def run_progressive(
    spec: JobSpec,
    shot: Shot,
    outputs: dict[int, str],
    device: torch.device,
    reporter: JobReporter,
    should_cancel: Callable[[], bool] | None = None,
    preview_every: int = 0,
    settings: ProgressiveSettings | None = None,
) -> JobResult:
    """run_job's progressive branch: read once, train scale by scale, then fill and write frame by frame."""
    started = time.monotonic()
    settings = settings or ProgressiveSettings(base_long_side=spec.progressive_base)
    scales = plan_scales(shot.width, shot.height, settings.base_long_side)
    sizes = " -> ".join(f"{s.width}x{s.height}" for s in scales)
    count = f"{len(scales)} scales" if len(scales) > 1 else "1 scale"
    reporter.stage(f"Progressive mode, {count} ({sizes}): reading {len(shot.frames)} frames of "
                   f"{spec.shot.plate} once")
    data, banks = read_shot(shot, scales, spec.train, settings, should_cancel)
    if not data.holes.any():
        reporter.warning("The matte is empty in every frame: nothing to remove, frames are copied through unchanged.")
        _write_outputs(shot, outputs, None, spec, reporter, should_cancel)
        return JobResult(shot.frames, list(outputs.values()), 0, len(shot.frames), 0, float("nan"),
                         0.0, str(device), None, 0.0, time.monotonic() - started)
    _warn_full_frames(data, reporter)
    checkpoint = _checkpoint_path(spec, outputs)
    train_started = time.monotonic()
    base = _train_base(spec, data, scales[0], device, checkpoint, reporter, should_cancel, preview_every)
    refiners = []
    for scale in scales[1:]:
        refiners.append(_train_refiner(spec, settings, banks.pop(scale.index), data.channels, scale, device,
                                       checkpoint, reporter, should_cancel))
    train_seconds = time.monotonic() - train_started
    reporter.stage(f"Writing {len(outputs)} frames to {spec.output}")
    fill = ProgressiveFill(base.inference_model, refiners, data, scales, shot.colour_channels, device, settings,
                           base_margin=spec.train.crop_size // 2)
    counts = write_frames(shot, outputs, fill.frame, spec, reporter, should_cancel)
    return JobResult(
        frames=shot.frames, outputs=list(outputs.values()), filled_frames=counts[0], copied_frames=counts[1],
        iterations=base.iteration + sum(r.iteration for r in refiners if r is not None), final_loss=base.last_loss,
        hole_fraction=data.hole_fraction, device=str(device), checkpoint=_scale_checkpoint(checkpoint, 0),
        train_seconds=train_seconds, total_seconds=time.monotonic() - started,
    )


def read_shot(
    shot: Shot,
    scales: list[Scale],
    train: TrainSettings,
    settings: ProgressiveSettings,
    should_cancel: Callable[[], bool] | None = None,
) -> tuple[TrainingData, dict[int, PatchBank]]:
    """One pass over the shot: the base scale in memory, and a patch bank for each higher scale."""
    base, count, channels = scales[0], len(shot.frames), len(shot.colour_channels)
    images = np.empty((count, base.height, base.width, channels), dtype=np.float16)
    holes = np.empty((count, base.height, base.width), dtype=bool)
    banks = {s.index: PatchBank(settings.bank_size, refine_crop(train.crop_size, s), channels, count,
                                np.random.default_rng([train.seed, s.index])) for s in scales[1:]}
    rng, samples = np.random.default_rng(train.seed), []
    for t, frame in enumerate(shot.frames):
        if should_cancel is not None and should_cancel():
            raise Cancelled(f"Cancelled while reading, after {t} of {count} frames.")
        plate, hole = shot.read(frame)
        colour = np.where(hole[..., None], 0.0, shot.colour(plate)).astype(np.float32)
        del plate
        samples.append(_known_samples(colour, hole, rng))
        for scale in scales:
            small, small_hole = resize_frame(colour, hole, scale)
            if scale.index == 0:
                images[t], holes[t] = np.clip(small, -65504, 65504), small_hole
            else:
                banks[scale.index].offer(small, small_hole)
    _check_enough_known(shot, holes)
    encoding = LogEncoding.fit(np.concatenate(samples))
    for t in range(count):  # in place, frame by frame, as load_training_data does
        images[t] = encoding.encode(images[t]) * ~holes[t][..., None]
    for bank in banks.values():
        bank.encode(encoding.encode)
    return TrainingData(frames=list(shot.frames), images=images, holes=holes, encoding=encoding), banks


def _known_samples(colour: np.ndarray, hole: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Up to _FIT_SAMPLES_PER_FRAME known pixels drawn at random, without a copy of every known pixel (4K)."""
    flat, holes = colour.reshape(-1, colour.shape[-1]), hole.ravel()
    picks = rng.integers(0, len(holes), 2 * _FIT_SAMPLES_PER_FRAME)
    picks = picks[~holes[picks]][:_FIT_SAMPLES_PER_FRAME]
    if len(picks) < _FIT_SAMPLES_PER_FRAME // 4:  # a frame mostly hole: draw among its known pixels
        known = np.flatnonzero(~holes)
        picks = known[rng.integers(0, len(known), min(len(known), _FIT_SAMPLES_PER_FRAME))] if len(known) else picks
    return flat[picks]


def refine_crop(crop_size: int, scale: Scale) -> int:
    """The patch side at a higher scale: the training crop, or less on a small frame; a multiple of 4."""
    side = min(crop_size, scale.width, scale.height)
    return max(4, side - side % 4)


def _scale_checkpoint(checkpoint: str, index: int) -> str:
    root, ext = os.path.splitext(checkpoint)
    return f"{root}.scale{index}{ext}"


def _train_base(spec, data, scale, device, checkpoint, reporter, should_cancel, preview_every) -> Trainer:
    path = _scale_checkpoint(checkpoint, 0)
    trainer = Trainer(data, spec.train, device, path)
    if spec.resume and trainer.resume():
        reporter.stage(f"Resuming scale 1 from {path} at iteration {trainer.iteration}")
    reporter.stage(f"Scale 1 ({scale.width}x{scale.height}): training on {device} for {spec.train.iterations} "
                   f"iterations ({100 * data.hole_fraction:.1f}% of pixels to fill)")
    trainer.train(reporter.progress, should_cancel, preview_every)
    trainer.sampler = None  # its anchors are not needed for filling; the base-scale shot is
    return trainer


def _train_refiner(spec, settings, bank, channels, scale, device, checkpoint, reporter,
                   should_cancel) -> "RefineTrainer | None":
    if bank.count == 0:  # only when every hole covers its whole frame: nothing near an edge to learn from
        reporter.warning(f"No hole edge to learn from at {scale.width}x{scale.height}: that scale is upsampled only.")
        return None
    iterations = settings.refine_iterations or max(1, math.ceil(spec.train.iterations / 4))
    trainer = RefineTrainer(bank, channels, spec.train, settings.refine_width, iterations, device,
                            _scale_checkpoint(checkpoint, scale.index), seed=spec.train.seed + scale.index)
    if spec.resume and trainer.resume():
        reporter.stage(f"Resuming scale {scale.index + 1} at iteration {trainer.iteration}")
    budget = spec.train.time_budget / 4
    length = f"up to {budget / 60:.1f} minutes" if budget > 0 else f"{iterations} iterations"
    reporter.stage(f"Scale {scale.index + 1} ({scale.width}x{scale.height}): refining for {length} "
                   f"on {bank.count} patches of {bank.crop} px near the hole edges")
    trainer.train(reporter.progress, should_cancel)
    trainer.release_bank()
    return trainer


# -- training at a higher scale ------------------------------------------------


class RefineTrainer:
    """Trains one scale's refine generator on its patch bank; checkpoints like Trainer."""

    def __init__(self, bank: PatchBank, channels: int, settings: TrainSettings, width: int, iterations: int,
                 device: torch.device, checkpoint_path: str | None = None, seed: int = 0):
        self.settings, self.width, self.iterations, self.device = settings, width, iterations, device
        self.checkpoint_path, self.seed = checkpoint_path, seed
        torch.manual_seed(seed)
        self.model = InpaintGenerator(channels, width, two_stage=False).to(device, memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=settings.learning_rate)
        self.rng = np.random.default_rng(seed)
        self.sampler: BoundarySampler | None = BoundarySampler(bank, settings.batch_size, SCALE_STEP, self.rng)
        self.crop = bank.crop
        self.iteration = 0
        self.last_loss = float("nan")

    def step(self) -> float:
        batch = self.sampler.sample()
        masked, hole, target, known, borrowed = (to_device(a, self.device) for a in (
            batch.masked, batch.hole, batch.target, batch.known, batch.borrowed))
        _, final = self.model(masked, hole)
        # L1 on the known pixels, plus the known pixels under the borrowed hole again: most known
        # pixels are shown to the net as they are, and copying them through teaches little.
        loss = masked_l1(final, target, known) + masked_l1(final, target, borrowed)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.iteration += 1
        return float(loss.detach())

    def train(self, on_progress: Callable[[Progress], None] | None = None,
              should_cancel: Callable[[], bool] | None = None) -> None:
        start, start_iteration = time.monotonic(), self.iteration
        self.model.train()
        # A time-budgeted run (the presets) stops on its budget: a quarter of the base scale's, like the iterations.
        budget = self.settings.time_budget / 4
        while self.iteration < self.iterations and not (budget > 0 and time.monotonic() - start >= budget):
            if should_cancel is not None and should_cancel():
                self.save_checkpoint()
                raise Cancelled(f"Refinement cancelled at iteration {self.iteration}; checkpoint saved.")
            self.last_loss = self.step()
            if self.settings.checkpoint_every and self.iteration % self.settings.checkpoint_every == 0:
                self.save_checkpoint()
            if on_progress is not None:
                elapsed = time.monotonic() - start
                pace = elapsed / max(self.iteration - start_iteration, 1)
                total = self.iterations
                if budget > 0:  # the last iteration the budget will reach, at this pace
                    total = min(total, self.iteration + int(max(budget - elapsed, 0.0) / pace))
                on_progress(Progress(self.iteration, total, self.last_loss, elapsed,
                                     pace * (total - self.iteration)))
        self.save_checkpoint()

    def release_bank(self) -> None:
        self.sampler = None

    def save_checkpoint(self) -> None:
        if not self.checkpoint_path:
            return
        state = {"version": REFINE_CHECKPOINT_VERSION, "kind": "refine", "shape": self._shape(),
                 "iteration": self.iteration, "model": self.model.state_dict(),
                 "optimizer": self.optimizer.state_dict(), "numpy_rng": self.rng.bit_generator.state,
                 "torch_rng": torch.get_rng_state(), "loss": self.last_loss}
        save_atomically(state, self.checkpoint_path)

    def resume(self) -> bool:
        if not self.checkpoint_path or not os.path.exists(self.checkpoint_path):
            return False
        state = _load_refine_checkpoint(self.checkpoint_path)
        if state.get("shape") != self._shape():
            raise CheckpointError(f"Checkpoint {self.checkpoint_path} was made with other settings "
                                  f"({state.get('shape')}); use the same settings, or delete it to start over.")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        self.iteration, self.last_loss = int(state["iteration"]), float(state["loss"])
        return True

    def _shape(self) -> dict:
        return {"width": self.width, "crop": self.crop, "batch_size": self.settings.batch_size, "seed": self.seed}


def _load_refine_checkpoint(path: str) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise CheckpointError(f"Cannot read checkpoint {path}: {exc.strerror or exc}.") from exc
    except Exception as exc:  # noqa: BLE001 - torch raises many types on a corrupt file, as in train.load_checkpoint
        raise CheckpointError(f"Checkpoint {path} is corrupt ({type(exc).__name__}); delete it to start over.") from exc
    if not isinstance(state, dict) or state.get("kind") != "refine" or state.get("version") != REFINE_CHECKPOINT_VERSION:
        raise CheckpointError(f"{path} is not a progressive refine checkpoint; delete it to start over.")
    return state


# -- filling -------------------------------------------------------------------


Box = tuple[int, int, int, int]  # y0, y1, x0, x1 of a frame at one scale


class ProgressiveFill:
    """Fills one frame scale by scale, working only in a box around the holes at every scale.

    The base net runs on the base-scale frame's hole box (with ``base_margin``
    pixels of context, about what it saw in its training crops), each refine
    net on tiles of its scale's hole box; colour is encoded and decoded in the
    box alone. So the cost of a frame follows the size of its holes, not of
    the frame.
    """

    def __init__(self, base: InpaintGenerator, refiners: list[RefineTrainer | None], data: TrainingData, scales: list[Scale],
                 channels: list[int], device: torch.device, settings: ProgressiveSettings, base_margin: int = 64):
        self.base, self.refiners, self.data, self.scales = base, refiners, data, scales
        self.channels, self.device, self.settings, self.base_margin = channels, device, settings, base_margin

    def frame(self, t: int, pixels: np.ndarray, colour: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """Frame ``t`` of the shot with its hole filled, in the plate's pixel type (like infer.inpaint_frame)."""
        encoding, margin = self.data.encoding, self.settings.tile_margin + 1
        small_hole = self.data.holes[t]
        box = hole_box(small_hole, self.base_margin)
        image, box_hole = self.data.images[t][_slices(box)].astype(np.float32), small_hole[_slices(box)]
        filled = np.where(box_hole[..., None], fill_encoded(self.base, image, box_hole, self.device), image)
        colour = np.where(hole[..., None], 0.0, colour).astype(np.float32)
        lower, lower_box = self.scales[0], box
        for scale, refiner in zip(self.scales[1:], self.refiners):
            scaled, scaled_hole = resize_frame(colour, hole, scale)
            box = hole_box(scaled_hole, margin)
            box_hole = scaled_hole[_slices(box)]
            encoded = encoding.encode(scaled[_slices(box)]) * ~box_hole[..., None]
            prior = upsample_box(filled, lower_box, lower, scale, box)
            if refiner is None:
                filled = np.where(box_hole[..., None], prior, encoded)
            else:
                filled = refine_with_prior(refiner.model, prior, encoded, box_hole, self.device,
                                           self.settings.tile, self.settings.tile_margin)
            lower, lower_box = scale, box
        out = pixels.copy()
        out[_slices(lower_box)] = composite(pixels[_slices(lower_box)], hole[_slices(lower_box)],
                                            encoding.decode(filled), self.channels)
        return out


def hole_box(hole: np.ndarray, margin: int) -> Box:
    """The holes' bounding box grown by ``margin`` pixels, inside the frame (the whole frame if there is no hole)."""
    height, width = hole.shape
    rows, cols = np.nonzero(hole.any(axis=1))[0], np.nonzero(hole.any(axis=0))[0]
    if not len(rows):
        return 0, height, 0, width
    return (max(int(rows[0]) - margin, 0), min(int(rows[-1]) + 1 + margin, height),
            max(int(cols[0]) - margin, 0), min(int(cols[-1]) + 1 + margin, width))


def _slices(box: Box) -> tuple[slice, slice]:
    return slice(box[0], box[1]), slice(box[2], box[3])


def upsample_box(values: np.ndarray, box: Box, scale: Scale, target: Scale, target_box: Box) -> np.ndarray:
    """``values`` (the box ``box`` of a frame at ``scale``) enlarged to ``target_box`` of the frame at ``target``.

    The same bilinear sampling as cv2.resize of the whole frame (pixel
    centres aligned), computed for the target box alone; beyond the source
    box the edge is repeated, which only ever reaches known pixels.
    """
    y0, y1, x0, x1 = target_box
    ys = (np.arange(y0, y1, dtype=np.float32) + 0.5) * (scale.height / target.height) - 0.5 - box[0]
    xs = (np.arange(x0, x1, dtype=np.float32) + 0.5) * (scale.width / target.width) - 0.5 - box[2]
    map_x = np.ascontiguousarray(np.broadcast_to(xs[None, :], (y1 - y0, x1 - x0)))
    map_y = np.ascontiguousarray(np.broadcast_to(ys[:, None], (y1 - y0, x1 - x0)))
    out = cv2.remap(np.ascontiguousarray(values, dtype=np.float32), map_x, map_y, cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(y1 - y0, x1 - x0, -1)


def refine_with_prior(model: InpaintGenerator, prior: np.ndarray, encoded: np.ndarray, hole: np.ndarray,
                      device: torch.device, tile: int = 384, margin: int = 32) -> np.ndarray:
    """``encoded`` ((H, W, C), this scale) with its hole filled by the refine net from ``prior`` (same size).

    The prior (the lower scale's result, enlarged) is pasted into the hole;
    the net runs on tiles (with ``margin`` pixels of context) that split the
    holes' bounding box evenly, so memory is bounded whatever the frame size.
    """
    result = np.where(hole[..., None], prior, encoded).astype(np.float32)
    y0, y1, x0, x1 = hole_box(hole, 0)
    if not hole.any():
        return result
    source = result.copy()  # every tile sees the prior, not its neighbours' refinements
    for ya, yb in _even_split(y0, y1, tile):
        for xa, xb in _even_split(x0, x1, tile):
            core = (slice(ya, yb), slice(xa, xb))
            if hole[core].any():
                _refine_tile(model, source, hole, result, core, margin, device)
    return result


def _even_split(start: int, stop: int, tile: int) -> list[tuple[int, int]]:
    """[start, stop) cut into the fewest pieces of at most ``tile``, of (nearly) equal length."""
    count = max(1, math.ceil((stop - start) / tile))
    edges = np.linspace(start, stop, count + 1).round().astype(int)
    return list(zip(edges[:-1].tolist(), edges[1:].tolist()))


@torch.no_grad()
def _refine_tile(model, source, hole, result, core, margin, device) -> None:
    height, width = hole.shape
    y0, y1 = max(core[0].start - margin, 0), min(core[0].stop + margin, height)
    x0, x1 = max(core[1].start - margin, 0), min(core[1].stop + margin, width)
    was_training = model.training
    model.eval()
    masked = np.ascontiguousarray(source[y0:y1, x0:x1].transpose(2, 0, 1))[None]
    hole_t = hole[y0:y1, x0:x1].astype(np.float32)[None, None]
    _, out = model(to_device(masked, device), to_device(hole_t, device))
    model.train(was_training)
    out = out[0].float().cpu().numpy().transpose(1, 2, 0)
    inner = (slice(core[0].start - y0, core[0].stop - y0), slice(core[1].start - x0, core[1].stop - x0))
    region = result[core]
    region[hole[core]] = out[inner][hole[core]]

"""The training loop: learn one shot from its own known pixels.

Reproducible from the seed: the model's initial weights come from torch's
generator, every batch from a numpy generator, and a checkpoint stores both
states, so a resumed run continues with exactly the batches an uninterrupted
run would have drawn.
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import asdict, dataclass, fields
from typing import Callable

import numpy as np
import torch

from inpaint_core.model.anti_ambiguity import AntiAmbiguityLoss
from inpaint_core.io.colour import LogEncoding
from inpaint_core.training.dataset import TrainingData
from inpaint_core.errors import Cancelled, CheckpointError, InputError
from inpaint_core.inference.fill import fill_encoded
from inpaint_core.model.losses import masked_l1
from inpaint_core.model.generator import InpaintGenerator
from inpaint_core.training.precision import PRECISION_CHOICES, autocast, gradient_scaler, resolve_precision
from inpaint_core.training.prefetch import BatchPrefetcher
from inpaint_core.training.sampling import Batch, PatchSampler
from inpaint_core.model.stabilisation import stabilisation_loss
from inpaint_core.io.storage import disk_full_note

CHECKPOINT_VERSION = 1
# Preview frames are computed at most at about this many pixels, to stay cheap.
_PREVIEW_PIXELS = 512 * 512


@dataclass
class TrainSettings:
    width: int = 24  # base channel count of the generator (the paper uses 48)
    two_stage: bool = True
    iterations: int = 3000
    batch_size: int = 8
    crop_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0
    checkpoint_every: int = 500  # iterations; a checkpoint is also written on cancel and at the end
    # Weight of the stabilisation regulariser (the paper's 0.2); 0 = off. It costs a second forward and
    # backward pass per step; its effect on quality and flicker is measured in docs/benchmarks.md.
    stabilisation: float = 0.0
    # Weight of the anti-ambiguity regulariser (contextual loss on fixed random features; the paper's 0.1
    # on VGG features); 0 = off. Its measured effect is in docs/benchmarks.md.
    anti_ambiguity: float = 0.0
    # Seconds of training after which the run stops even before ``iterations`` (0 = no limit). A time-budgeted
    # run is reproducible only up to the iteration it reached; give iterations alone for an exact re-run.
    time_budget: float = 0.0
    # 'auto': bfloat16 autocast on CUDA (float16 + loss scaling where bfloat16 is missing), float32 elsewhere.
    precision: str = "auto"
    # Compile the training step's network with torch.compile. Measured on 2 CPU cores it does not pay (0.31 s a
    # step against 0.29 s eager, docs/benchmarks.md), so it is off; falls back to eager when it cannot compile.
    compile: bool = False
    # Decay of an exponential moving average of the weights, used for filling (0 = off: the last weights).
    # A net trained with a high learning rate on a CPU budget jitters from step to step; the average does not.
    ema: float = 0.0
    # The last fraction of the run (of the time budget, or of the iterations without one) over which the
    # learning rate falls linearly to zero; 0 = a constant rate. A run that knows when it ends can settle into
    # a minimum instead of stopping mid-jitter; its effect is measured in docs/benchmarks.md.
    lr_decay: float = 0.0
    # The share of training crops placed over the area the holes pass through (0 = uniform over the frame);
    # its effect is measured in docs/benchmarks.md.
    hole_focus: float = 0.0

    def __post_init__(self) -> None:
        for name, low in (("iterations", 1), ("width", 2), ("batch_size", 1), ("crop_size", 8), ("checkpoint_every", 0)):
            if getattr(self, name) < low:
                raise InputError(f"Training setting {name} must be at least {low} (got {getattr(self, name)}).")
        if not 0.0 <= self.time_budget <= 1e7:
            raise InputError(f"Training setting time_budget must be between 0 and 1e7 seconds (got {self.time_budget}).")
        if self.precision not in PRECISION_CHOICES:
            raise InputError(f"Training setting precision must be one of {', '.join(PRECISION_CHOICES)} (got {self.precision!r}).")
        if not 0.0 <= self.ema < 1.0:
            raise InputError(f"Training setting ema must be at least 0 and below 1 (got {self.ema}).")
        for name in ("stabilisation", "anti_ambiguity"):
            if not 0.0 <= getattr(self, name) <= 10.0:
                raise InputError(f"Training setting {name} must be between 0 and 10 (got {getattr(self, name)}).")
        for name in ("lr_decay", "hole_focus"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(f"Training setting {name} must be between 0 and 1 (got {getattr(self, name)}).")
        if not self.learning_rate > 0:
            raise InputError(f"Training setting learning_rate must be positive (got {self.learning_rate}).")

    @classmethod
    def from_dict(cls, values: dict) -> "TrainSettings":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass
class Progress:
    iteration: int  # iterations done so far (counting a resumed run's earlier ones)
    iterations: int
    loss: float
    elapsed: float  # seconds in this run
    eta: float  # seconds left, from this run's pace
    preview: np.ndarray | None = None  # (h, w, C) float32 scene-linear, when one was made


# Settings that fix the shape of the weights or the batches: a checkpoint made
# with other values cannot be resumed.
_SHAPE_SETTINGS = ("width", "two_stage", "batch_size", "crop_size", "seed")


class Trainer:
    def __init__(self, data: TrainingData, settings: TrainSettings, device: torch.device, checkpoint_path: str | None = None):
        self.data = data
        self.settings = settings
        self.device = device
        self.checkpoint_path = checkpoint_path
        torch.manual_seed(settings.seed)
        # channels-last: the CPU's (oneDNN) and the GPU's fastest convolution layout; measured on 2 CPU cores,
        # 12-15% less time per step for the draft and final presets (docs/benchmarks.md).
        self.model = InpaintGenerator(data.channels, settings.width, settings.two_stage).to(
            device, memory_format=torch.channels_last)
        self.anti_ambiguity = None
        if settings.anti_ambiguity > 0:
            self.anti_ambiguity = AntiAmbiguityLoss(data.channels).to(device, memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=settings.learning_rate)
        # The weights that fill frames: an average of the trained ones, or the trained ones themselves.
        self.average = copy.deepcopy(self.model).requires_grad_(False) if settings.ema > 0 else None
        self.network = self.model  # what the training step calls: the model, or its compiled form
        self.compile_error: str | None = None  # why compiling failed, when it did (training goes on uncompiled)
        if settings.compile:
            self.network = torch.compile(self.model)
        self.autocast_dtype = resolve_precision(settings.precision, device)
        self.scaler = gradient_scaler(device, self.autocast_dtype)
        self.rng = np.random.default_rng(settings.seed)  # the batches' (drawn on the prefetch thread only)
        self.warp_rng = np.random.default_rng([settings.seed, 1])  # the stabilisation warps' (the training thread's)
        self.sampler = PatchSampler(data, settings.crop_size, settings.batch_size, self.rng,
                                    with_reference=settings.anti_ambiguity > 0, hole_focus=settings.hole_focus)
        self.prefetcher: BatchPrefetcher | None = None
        self.iteration = 0
        self.trained_seconds = 0.0  # over all runs of this training, resumed ones included
        self.last_loss = float("nan")
        # Seconds the steps of this process spent waiting for the prefetch thread's batches (0 when it keeps up).
        self.batch_wait_seconds = 0.0
        self._preview_frame = int(np.argmax(data.holes.reshape(len(data.frames), -1).sum(axis=1)))

    def train(
        self,
        on_progress: Callable[[Progress], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        preview_every: int = 0,
    ) -> None:
        """Run until ``settings.iterations`` or the time budget; raise Cancelled (after a checkpoint) when asked to stop."""
        start, start_iteration = time.monotonic(), self.iteration
        self.model.train()
        try:
            while not self.finished():
                if should_cancel is not None and should_cancel():
                    self.save_checkpoint()
                    raise Cancelled(f"Training cancelled at iteration {self.iteration}; checkpoint saved.")
                self.last_loss = self.step()
                if self.settings.checkpoint_every and self.iteration % self.settings.checkpoint_every == 0:
                    self.save_checkpoint()
                if on_progress is not None:
                    on_progress(self._progress(start, start_iteration, preview_every))
            self.save_checkpoint()
        finally:
            self.stop_prefetching()

    def finished(self) -> bool:
        """The iteration count is reached, or the time budget spent (after at least one step)."""
        if self.iteration >= self.settings.iterations:
            return True
        budget = self.settings.time_budget
        return budget > 0 and self.iteration > 0 and self.trained_seconds >= budget

    def run_fraction(self) -> float:
        """How much of the run is done, 0 to 1: the larger of the time budget's and the iterations' shares."""
        done = self.iteration / self.settings.iterations
        if self.settings.time_budget > 0:
            done = max(done, self.trained_seconds / self.settings.time_budget)
        return min(1.0, done)

    def learning_rate(self) -> float:
        """The rate for the next step: the settings' rate, falling linearly to zero over the last lr_decay of the run."""
        rate, tail = self.settings.learning_rate, self.settings.lr_decay
        if tail <= 0:
            return rate
        return rate * min(1.0, (1.0 - self.run_fraction()) / tail)

    def _progress(self, start: float, start_iteration: int, preview_every: int) -> Progress:
        elapsed = time.monotonic() - start
        pace = elapsed / max(self.iteration - start_iteration, 1)
        total = self.settings.iterations
        if self.settings.time_budget > 0:
            # The iteration the budget will end at, at this run's pace: progress bars and plugins that show
            # iteration / iterations then move with the time spent.
            left = max(0.0, self.settings.time_budget - self.trained_seconds)
            total = min(total, self.iteration + int(left / pace))
        if self.finished():
            total = self.iteration
        eta = pace * (total - self.iteration)
        want_preview = preview_every > 0 and (self.iteration % preview_every == 0 or total == self.iteration)
        return Progress(self.iteration, total, self.last_loss, elapsed, eta, self.preview() if want_preview else None)

    def step(self) -> float:
        """One optimisation step on one batch; returns the loss. Its time counts towards the time budget."""
        step_start = time.monotonic()
        if self.prefetcher is None:
            pin = self.device.type == "cuda"
            self.prefetcher = BatchPrefetcher(self.sampler, lambda batch: batch_tensors(batch, pin))
        wait_start = time.monotonic()
        batch = self.prefetcher.next()
        self.batch_wait_seconds += time.monotonic() - wait_start
        tensors = [t.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last) for t in batch]
        loss = self._forward(*tensors)
        self.optimizer.zero_grad(set_to_none=True)
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        self.iteration += 1
        self._update_average()
        value = float(loss.detach())  # waits for a GPU to finish the step, so the time below is the step's
        self.trained_seconds += time.monotonic() - step_start
        return value

    def _forward(self, *batch: torch.Tensor) -> torch.Tensor:
        try:
            with autocast(self.device, self.autocast_dtype):
                return self._loss(*batch)
        except Exception as exc:  # noqa: BLE001 - torch.compile fails in many ways (no C++ compiler, unsupported op)
            if self.network is self.model:
                raise
            # Compilation happens on the first call: fall back to the eager network, which computes the same.
            self.compile_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            self.network = self.model
            with autocast(self.device, self.autocast_dtype):
                return self._loss(*batch)

    def _loss(self, masked: torch.Tensor, hole: torch.Tensor, target: torch.Tensor, known: torch.Tensor,
              *reference: torch.Tensor) -> torch.Tensor:
        """The batch's loss; ``reference`` (the anti-ambiguity term's crops and their known pixels) when it is on."""
        coarse, final = self.network(masked, hole)
        loss = masked_l1(coarse.float(), target, known)
        if self.model.refine is not None:
            loss = loss + masked_l1(final.float(), target, known)
        if self.settings.stabilisation > 0:
            loss = loss + self.settings.stabilisation * stabilisation_loss(
                self.network, masked, hole, target, known, final, self.warp_rng)
        if self.anti_ambiguity is not None:
            loss = loss + self.settings.anti_ambiguity * self.anti_ambiguity(final.float(), target, hole, *reference)
        return loss

    @property
    def inference_model(self) -> InpaintGenerator:
        """The network to fill frames with: the weights' moving average when there is one."""
        return self.average if self.average is not None else self.model

    @torch.no_grad()
    def _update_average(self) -> None:
        if self.average is None:
            return
        # Warm-up (as in TensorFlow's ExponentialMovingAverage): early on the average follows the weights closely,
        # else it would hold the random initial weights for the first few hundred steps.
        decay = min(self.settings.ema, (1 + self.iteration) / (10 + self.iteration))
        for averaged, trained in zip(self.average.parameters(), self.model.parameters()):
            averaged.lerp_(trained, 1.0 - decay)

    def stop_prefetching(self) -> None:
        """Stop the batch thread; the generator is left where the last used batch left it."""
        if self.prefetcher is not None:
            self.prefetcher.close()
            self.prefetcher = None

    def preview(self) -> np.ndarray:
        """The frame with the largest hole, filled with the current weights, scene-linear."""
        t = self._preview_frame
        image = self.data.images[t].astype(np.float32)
        hole = self.data.holes[t]
        step = max(1, int(np.ceil(np.sqrt(hole.size / _PREVIEW_PIXELS))))
        image, hole = image[::step, ::step], hole[::step, ::step]
        filled = fill_encoded(self.inference_model, image, hole, self.device)
        return self.data.encoding.decode(np.where(hole[..., None], filled, image))

    def release_training_data(self) -> None:
        """Drop the in-memory shot (inference streams from disk); the encoding stays."""
        self.stop_prefetching()
        self.data = TrainingData(self.data.frames, self.data.images[:0], self.data.holes[:0], self.data.encoding)
        self.sampler = None

    # -- checkpoints ---------------------------------------------------------

    def save_checkpoint(self) -> None:
        """Write model, optimiser, iteration, settings and random states atomically."""
        if not self.checkpoint_path:
            return
        state = {
            "version": CHECKPOINT_VERSION,
            "settings": asdict(self.settings),
            "iteration": self.iteration,
            "model": self.model.state_dict(),
            "average": None if self.average is None else self.average.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "numpy_rng": self._batch_rng_state(),
            "warp_rng": self.warp_rng.bit_generator.state,
            "trained_seconds": self.trained_seconds,
            "torch_rng": torch.get_rng_state(),
            "encoding": self.data.encoding.to_dict(),
            "shot": self._shot_fingerprint(),
            "loss": self.last_loss,
        }
        save_atomically(state, self.checkpoint_path)

    def resume(self) -> bool:
        """Continue from the checkpoint at ``checkpoint_path``; False when there is none."""
        if not self.checkpoint_path or not os.path.exists(self.checkpoint_path):
            return False
        state = load_checkpoint(self.checkpoint_path)
        self._check_compatible(state)
        self.model.load_state_dict(state["model"])
        if self.average is not None:
            self.average.load_state_dict(state.get("average") or state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.stop_prefetching()
        self.rng.bit_generator.state = state["numpy_rng"]
        if "warp_rng" in state:
            self.warp_rng.bit_generator.state = state["warp_rng"]
        self.trained_seconds = float(state.get("trained_seconds", 0.0))
        torch.set_rng_state(state["torch_rng"])
        self.iteration = int(state["iteration"])
        self.last_loss = float(state.get("loss", float("nan")))
        return True

    def _batch_rng_state(self) -> dict:
        """The batch generator's state after the last batch used (the prefetch thread runs ahead of it)."""
        if self.prefetcher is not None:
            return self.prefetcher.state_after_last_used
        return self.rng.bit_generator.state

    def _shot_fingerprint(self) -> dict:
        count, height, width, channels = self.data.images.shape
        return {"frames": list(self.data.frames), "size": [width, height], "channels": channels}

    def _check_compatible(self, state: dict) -> None:
        path = self.checkpoint_path
        if state.get("shot") != self._shot_fingerprint():
            raise CheckpointError(f"Checkpoint {path} was made for another shot (frames, size or channels differ); delete it or drop --resume.")
        saved = state.get("settings", {})
        for name in _SHAPE_SETTINGS:
            if saved.get(name) != getattr(self.settings, name):
                raise CheckpointError(
                    f"Checkpoint {path} was made with {name}={saved.get(name)!r}, this run has "
                    f"{getattr(self.settings, name)!r}; use the same settings, or delete the checkpoint to start over."
                )
        if LogEncoding(**state["encoding"]) != self.data.encoding:
            raise CheckpointError(f"Checkpoint {path} was made from other plate pixels; delete it or drop --resume.")


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """An (N, C, H, W) batch on the device, channels-last like the model's weights."""
    return torch.from_numpy(array).to(device).contiguous(memory_format=torch.channels_last)


def batch_tensors(batch: Batch, pin: bool) -> tuple[torch.Tensor, ...]:
    """A batch's arrays as CPU tensors (masked, hole, target, known[, reference, reference_known]); pinned for an
    asynchronous copy to a GPU."""
    tensors = tuple(torch.from_numpy(a) for a in batch.arrays())
    return tuple(t.pin_memory() for t in tensors) if pin else tensors


def save_atomically(state: dict, path: str) -> None:
    """torch.save to a temporary file, then rename: a reader never sees half a checkpoint.

    A failed write (a full disk, mostly) raises CheckpointError and leaves the previous checkpoint as it was.
    """
    temp = f"{path}.partial-{os.getpid()}"
    try:
        # Our own handle: closed as the error leaves this block, so removing the file frees its space even while
        # the error (and torch's writer in its traceback) is still alive.
        with open(temp, "wb") as handle:
            torch.save(state, handle)
        os.replace(temp, path)
    except (OSError, RuntimeError) as exc:  # torch reports a failed write as RuntimeError
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "the write failed"
        raise CheckpointError(f"Cannot write checkpoint {path}: {reason}.{disk_full_note(temp, exc)}") from None
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def load_checkpoint(path: str) -> dict:
    """Read a checkpoint written by Trainer.save_checkpoint, with a clear error if it is not one."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise CheckpointError(f"Cannot read checkpoint {path}: {exc.strerror or exc}.") from exc
    except Exception as exc:  # noqa: BLE001 - torch raises many types on a corrupt file (UnpicklingError, EOFError, ...)
        # torch's own messages run over many lines and suggest weights_only=False: not for a user.
        raise CheckpointError(
            f"Checkpoint {path} is corrupt or not a checkpoint ({type(exc).__name__}); delete it to start over."
        ) from exc
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path} is not an InternalInpaint checkpoint of version {CHECKPOINT_VERSION}.")
    return state

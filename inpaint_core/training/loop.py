"""The one training loop: every trainer (plain, progressive refine, mask propagation) runs in it.

A trainer subclasses TrainingLoop and supplies what is its own: the model and
its optimiser, its batches (``next_batch``, or a ``sampler`` the loop draws
from on a background thread), its loss, what a checkpoint must match
(``compatibility``), its own random states (``extra_state``) and, where it has
phases, a hook after each step (``after_step``). Everything else lives here
once: the iteration count and the time budget, cancelling (a checkpoint first),
checkpoints and resuming, progress with its eta, previews, the moving average
of the weights, the learning-rate schedule, mixed precision with its gradient
scaler, torch.compile with its eager fallback, and batch prefetching.

Reproducible from the seed: a trainer seeds torch before building its model,
draws batches from its own numpy generators, and a checkpoint stores every
random state, the prefetch generator's as it stood after the last batch used;
a resumed run then gives exactly the weights of an uninterrupted one.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
import torch

from inpaint_core.device import run_flushing_subnormals
from inpaint_core.errors import Cancelled, InputError, WarmStartRefused
from inpaint_core.training.checkpoints import (
    CHECKPOINT_VERSION,
    check_compatible,
    load_checkpoint,
    save_atomically,
)
from inpaint_core.training.precision import (
    PRECISION_CHOICES,
    autocast,
    gradient_scaler,
    resolve_precision,
)
from inpaint_core.training.prefetch import BatchPrefetcher


@dataclass
class Progress:
    iteration: int  # iterations done so far (counting a resumed run's earlier ones)
    iterations: int
    loss: float
    elapsed: float  # seconds in this run
    eta: float  # seconds left, from this run's pace
    preview: np.ndarray | None = None  # (h, w, C) float32 scene-linear, when one was made


@dataclass(frozen=True)
class LoopSettings:
    """How long a run lasts and how it steps; each trainer derives these from its own settings."""

    iterations: int
    # Seconds of training (the steps' own time, over every resumed run) after which the run stops; 0 = no limit.
    time_budget: float = 0.0
    checkpoint_every: int = 0  # iterations; a checkpoint is also written on cancel and at the end
    learning_rate: float = 1e-3
    # The last fraction of the run over which the learning rate falls linearly to zero; 0 = a constant rate.
    lr_decay: float = 0.0
    ema: float = 0.0  # decay of the weights' moving average; 0 = no average, the last weights fill
    precision: str = "float32"
    compile: bool = False

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise InputError(f"A training run needs at least 1 iteration (got {self.iterations}).")
        if self.precision not in PRECISION_CHOICES:
            raise InputError(f"Unknown precision {self.precision!r}; choose one of {', '.join(PRECISION_CHOICES)}.")


@dataclass(frozen=True)
class WarmStart:
    """Where a warm start came from: the checkpoint, its iterations, the frames in common unchanged, those changed
    (only when forced)."""

    path: str
    iterations: int
    unchanged_frames: int
    changed_frames: list[int]


class BatchSampler(Protocol):
    """What the loop prefetches from: draws come from ``rng`` alone (its state goes into checkpoints)."""

    rng: np.random.Generator

    def sample(self) -> Any:
        """One batch, drawn from ``rng``."""
        ...


class TrainingLoop:
    """The loop; a trainer subclasses it, builds its model and optimiser, then calls ``__init__``.

    A subclass defines ``loss(batch)`` and either sets ``sampler`` (batches are then drawn on a thread and
    handed through ``prepare_batch`` there) or overrides ``next_batch()``.
    """

    kind: ClassVar[str] = "training"  # the checkpoint's kind: a checkpoint of another kind is refused
    label: ClassVar[str] = "Training"  # what the run is called in messages
    # Messages for compatibility keys whose values mean little to a user; '{path}' is the checkpoint.
    explain_mismatch: ClassVar[dict[str, str]] = {}
    # Kinds of checkpoint this trainer replaces at the same path (kind -> what wrote it): resuming one raises
    # SupersededCheckpoint, which jobs meet by starting over, instead of the error another kind gets.
    supersedes: ClassVar[dict[str, str]] = {}

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, loop: LoopSettings,
                 device: torch.device, checkpoint_path: str | None = None):
        self.model = model
        self.optimizer = optimizer
        self.loop = loop
        self.device = device
        self.checkpoint_path = checkpoint_path
        # The weights that fill frames: an average of the trained ones, or the trained ones themselves.
        self.average = copy.deepcopy(model).requires_grad_(False) if loop.ema > 0 else None
        self.network = torch.compile(model) if loop.compile else model  # what ``loss`` calls
        self.compile_error: str | None = None  # why compiling failed, when it did (training goes on uncompiled)
        self.autocast_dtype = resolve_precision(loop.precision, device)
        self.scaler = gradient_scaler(device, self.autocast_dtype)
        self.sampler: BatchSampler | None = None
        self.prefetcher: BatchPrefetcher | None = None
        self.iteration = 0
        self.trained_seconds = 0.0  # over all runs of this training, resumed ones included
        self.last_loss = float("nan")
        # Seconds the steps of this process spent waiting for their batches (0 when the prefetch thread keeps up).
        self.batch_wait_seconds = 0.0

    # -- what a trainer supplies ------------------------------------------------

    def loss(self, batch: Any) -> torch.Tensor:
        """The batch's loss, computed with ``self.network`` (the compiled model when compiling)."""
        raise NotImplementedError

    def next_batch(self) -> Any:
        """The next batch: by default drawn from ``sampler`` on a background thread."""
        if self.sampler is None:
            raise RuntimeError(f"{type(self).__name__} has no sampler (its training data were released).")
        if self.prefetcher is None:
            self.prefetcher = BatchPrefetcher(self.sampler, self.prepare_batch)
        return self.prefetcher.next()

    def prepare_batch(self, batch: Any) -> Any:
        """Runs on the prefetch thread: e.g. a batch's arrays as (pinned) tensors."""
        return batch

    def compatibility(self) -> dict:
        """Plain values a checkpoint must have been made with (weight shapes, the batches' seed, the shot)."""
        return {}

    def extra_state(self) -> dict:
        """The trainer's own state for a checkpoint, beyond the model's and the batches' generator."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        """Put back what ``extra_state`` returned."""

    def after_step(self, iteration: int) -> None:
        """Called after each step, ``iteration`` steps done (a trainer's phases, pseudo-label refreshes)."""

    def preview(self) -> np.ndarray | None:
        """A frame filled with the current weights, for progress reports; None when a trainer has none."""
        return None

    def fingerprints(self) -> dict[int, str]:
        """Per frame the plate's fingerprint (TrainingData.fingerprints), stored in checkpoints for warm starts;
        none: the trainer's checkpoints never seed another job."""
        return {}

    # -- the run -----------------------------------------------------------------

    def train(
        self,
        on_progress: Callable[[Progress], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        preview_every: int = 0,
    ) -> None:
        """Run until the iteration count or the time budget; raise Cancelled (after a checkpoint) when asked to stop.
        On the CPU the steps run on a thread that flushes subnormal floats (device.run_flushing_subnormals: up to
        ten times faster near convergence); ``on_progress`` and ``should_cancel`` are called from it."""
        def run() -> None:
            self._train(on_progress, should_cancel, preview_every)

        if self.device.type == "cpu":
            run_flushing_subnormals(run)
        else:
            run()

    def _train(self, on_progress: Callable[[Progress], None] | None, should_cancel: Callable[[], bool] | None,
               preview_every: int) -> None:
        start, start_iteration = time.monotonic(), self.iteration
        try:
            while not self.finished():
                if should_cancel is not None and should_cancel():
                    self.save_checkpoint()
                    saved = "; checkpoint saved" if self.checkpoint_path else ""
                    raise Cancelled(f"{self.label} cancelled at iteration {self.iteration}{saved}.")
                self.last_loss = self.step()
                if self.loop.checkpoint_every and self.iteration % self.loop.checkpoint_every == 0:
                    self.save_checkpoint()
                if on_progress is not None:
                    on_progress(self._progress(start, start_iteration, preview_every))
            self.save_checkpoint()
        finally:
            self.stop_prefetching()

    def step(self) -> float:
        """One optimisation step on one batch; returns the loss. Its time counts towards the time budget."""
        step_start = time.monotonic()
        self.model.train()  # a hook or a preview may have left it in eval mode
        wait_start = time.monotonic()
        batch = self.next_batch()
        self.batch_wait_seconds += time.monotonic() - wait_start
        loss = self._forward(batch)
        self.optimizer.zero_grad(set_to_none=True)
        rate = self.learning_rate()
        for group in self.optimizer.param_groups:
            group["lr"] = rate
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
        self.after_step(self.iteration)
        return value

    def finished(self) -> bool:
        """The iteration count is reached, or the time budget spent (after at least one step)."""
        if self.iteration >= self.loop.iterations:
            return True
        budget = self.loop.time_budget
        return budget > 0 and self.iteration > 0 and self.trained_seconds >= budget

    def run_fraction(self) -> float:
        """How much of the run is done, 0 to 1: the larger of the time budget's and the iterations' shares."""
        done = self.iteration / self.loop.iterations
        if self.loop.time_budget > 0:
            done = max(done, self.trained_seconds / self.loop.time_budget)
        return min(1.0, done)

    def learning_rate(self) -> float:
        """The rate for the next step: the set rate, falling linearly to zero over the last lr_decay of the run."""
        rate, tail = self.loop.learning_rate, self.loop.lr_decay
        if tail <= 0:
            return rate
        return rate * min(1.0, (1.0 - self.run_fraction()) / tail)

    @property
    def inference_model(self) -> torch.nn.Module:
        """The network to fill frames with: the weights' moving average when there is one."""
        return self.average if self.average is not None else self.model

    def stop_prefetching(self) -> None:
        """Stop the batch thread; the generator is left where the last used batch left it."""
        if self.prefetcher is not None:
            self.prefetcher.close()
            self.prefetcher = None

    def _forward(self, batch: Any) -> torch.Tensor:
        try:
            with autocast(self.device, self.autocast_dtype):
                return self.loss(batch)
        except Exception as exc:  # noqa: BLE001 - torch.compile fails in many ways (no C++ compiler, unsupported op)
            if self.network is self.model:
                raise
            # Compilation happens on the first call: fall back to the eager network, which computes the same.
            self.compile_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            self.network = self.model
            with autocast(self.device, self.autocast_dtype):
                return self.loss(batch)

    @torch.no_grad()
    def _update_average(self) -> None:
        if self.average is None:
            return
        # Warm-up (as in TensorFlow's ExponentialMovingAverage): early on the average follows the weights closely,
        # else it would hold the random initial weights for the first few hundred steps.
        decay = min(self.loop.ema, (1 + self.iteration) / (10 + self.iteration))
        for averaged, trained in zip(self.average.parameters(), self.model.parameters()):
            averaged.lerp_(trained, 1.0 - decay)

    def _progress(self, start: float, start_iteration: int, preview_every: int) -> Progress:
        elapsed = time.monotonic() - start
        pace = elapsed / max(self.iteration - start_iteration, 1)
        total = self.loop.iterations
        if self.loop.time_budget > 0:
            # The iteration the budget will end at, at this run's pace: progress bars and plugins that show
            # iteration / iterations then move with the time spent.
            left = max(0.0, self.loop.time_budget - self.trained_seconds)
            total = min(total, self.iteration + int(left / pace))
        if self.finished():
            total = self.iteration
        eta = pace * (total - self.iteration)
        want_preview = preview_every > 0 and (self.iteration % preview_every == 0 or total == self.iteration)
        return Progress(self.iteration, total, self.last_loss, elapsed, eta, self.preview() if want_preview else None)

    # -- checkpoints ----------------------------------------------------------------

    def save_checkpoint(self) -> None:
        """Write the whole state atomically (nothing without a checkpoint path)."""
        if not self.checkpoint_path:
            return
        state = {
            "version": CHECKPOINT_VERSION,
            "kind": self.kind,
            "compatibility": self.compatibility(),
            "iteration": self.iteration,
            "trained_seconds": self.trained_seconds,
            "loss": self.last_loss,
            "model": self.model.state_dict(),
            "average": None if self.average is None else self.average.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": None if self.scaler is None else self.scaler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "batch_rng": self._batch_rng_state(),
            "extra": self.extra_state(),
            "finished": self.finished(),  # a finished run's network may seed a later job (warm_start_from)
            "fingerprints": self.fingerprints(),
        }
        save_atomically(state, self.checkpoint_path)

    def resume(self) -> bool:
        """Continue from the checkpoint at ``checkpoint_path``; False when there is none.

        Raises CheckpointError for a checkpoint of another job or settings (nothing is changed then), and
        OutdatedCheckpoint for one of an earlier format or of a kind this trainer supersedes.
        """
        if not self.checkpoint_path or not os.path.exists(self.checkpoint_path):
            return False
        state = load_checkpoint(self.checkpoint_path, self.kind, self.supersedes)
        check_compatible(state["compatibility"], self.compatibility(), self.checkpoint_path, self.explain_mismatch)
        self.model.load_state_dict(state["model"])
        if self.average is not None:
            self.average.load_state_dict(state.get("average") or state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.stop_prefetching()
        if self.sampler is not None and state.get("batch_rng") is not None:
            self.sampler.rng.bit_generator.state = state["batch_rng"]
        torch.set_rng_state(state["torch_rng"])
        self.load_extra_state(state["extra"])
        self.iteration = int(state["iteration"])
        self.trained_seconds = float(state.get("trained_seconds", 0.0))
        self.last_loss = float(state.get("loss", float("nan")))
        return True

    def warm_start_from(self, path: str, force: bool = False) -> WarmStart:
        """Seed the weights (and their average) from a finished run's checkpoint: a warm start. The optimiser, the
        iteration count and the random states start fresh; the checkpoint's compatibility check is bypassed on
        purpose (another matte, other frames), and replaced by this one: same kind, frame size, channels and
        network, and (unless ``force``) the same plate pixels in every frame both runs have. Raises
        WarmStartRefused naming why not; nothing is changed then.
        """
        state = load_checkpoint(path)
        old, new = state.get("fingerprints") or {}, self.fingerprints()
        common = sorted(set(old) & set(new))
        changed = [f for f in common if old[f] != new[f]]
        related = len(changed) < len(common)  # some frame's pixels are the very same
        if state["kind"] != self.kind:
            raise WarmStartRefused(f"{path} is a {state['kind']!r} checkpoint; this job trains a {self.kind!r} one",
                                   related)
        if not state.get("finished"):
            raise WarmStartRefused(f"the run of {path} did not finish (it stopped at iteration {state['iteration']})",
                                   related)
        saved, current = state["compatibility"].get("shot", {}), self.compatibility().get("shot", {})
        for key in ("size", "channels"):
            if saved.get(key) != current.get(key):
                raise WarmStartRefused(f"{path} was trained on frames of {key} {saved.get(key)}, this shot has "
                                       f"{current.get(key)}", related)
        if not force and not common:
            raise WarmStartRefused(f"{path} was trained on none of this job's frames")
        if not force and changed:
            raise WarmStartRefused(f"the plate's pixels changed in {len(changed)} of the frames {path} was trained "
                                   f"on (first {changed[0]})", related)
        # Compared before loading: a failing load_state_dict has already copied the tensors that fit.
        shapes = {name: tuple(value.shape) for name, value in self.model.state_dict().items()}
        if {name: tuple(value.shape) for name, value in state["model"].items()} != shapes:
            raise WarmStartRefused(f"{path} holds another network (width, stages or channels differ)", related)
        self.model.load_state_dict(state["model"])
        if self.average is not None:
            self.average.load_state_dict(state.get("average") or state["model"])
        return WarmStart(path, int(state["iteration"]), len(common) - len(changed), changed)

    def _batch_rng_state(self) -> dict | None:
        """The batch generator's state after the last batch used (the prefetch thread runs ahead of it)."""
        if self.prefetcher is not None:
            return self.prefetcher.state_after_last_used
        return None if self.sampler is None else self.sampler.rng.bit_generator.state


def batch_tensors(arrays: tuple[np.ndarray, ...], pin: bool) -> tuple[torch.Tensor, ...]:
    """A batch's arrays as CPU tensors; pinned for an asynchronous copy to a GPU."""
    tensors = tuple(torch.from_numpy(a) for a in arrays)
    return tuple(t.pin_memory() for t in tensors) if pin else tensors


def on_device(tensors: tuple[torch.Tensor, ...], device: torch.device) -> list[torch.Tensor]:
    """A batch's tensors on the device, channels-last like the models' weights."""
    return [t.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last) for t in tensors]

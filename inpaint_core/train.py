"""The training loop: learn one shot from its own known pixels.

Reproducible from the seed: the model's initial weights come from torch's
generator, every batch from a numpy generator, and a checkpoint stores both
states, so a resumed run continues with exactly the batches an uninterrupted
run would have drawn.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, fields
from typing import Callable

import numpy as np
import torch

from .colour import LogEncoding
from .dataset import TrainingData
from .errors import Cancelled, CheckpointError, InputError
from .infer import fill_encoded
from .losses import masked_l1
from .model import InpaintGenerator
from .sampling import PatchSampler
from .stabilisation import stabilisation_loss

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

    def __post_init__(self) -> None:
        for name, low in (("iterations", 1), ("width", 2), ("batch_size", 1), ("crop_size", 8), ("checkpoint_every", 0)):
            if getattr(self, name) < low:
                raise InputError(f"Training setting {name} must be at least {low} (got {getattr(self, name)}).")
        if not 0.0 <= self.stabilisation <= 10.0:
            raise InputError(f"Training setting stabilisation must be between 0 and 10 (got {self.stabilisation}).")
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
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=settings.learning_rate)
        self.rng = np.random.default_rng(settings.seed)
        self.sampler = PatchSampler(data, settings.crop_size, settings.batch_size, self.rng)
        self.iteration = 0
        self.last_loss = float("nan")
        self._preview_frame = int(np.argmax(data.holes.reshape(len(data.frames), -1).sum(axis=1)))

    def train(
        self,
        on_progress: Callable[[Progress], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        preview_every: int = 0,
    ) -> None:
        """Run until ``settings.iterations``; raise Cancelled (after a checkpoint) when asked to stop."""
        start, start_iteration = time.monotonic(), self.iteration
        self.model.train()
        while self.iteration < self.settings.iterations:
            if should_cancel is not None and should_cancel():
                self.save_checkpoint()
                raise Cancelled(f"Training cancelled at iteration {self.iteration}; checkpoint saved.")
            self.last_loss = self.step()
            if self.settings.checkpoint_every and self.iteration % self.settings.checkpoint_every == 0:
                self.save_checkpoint()
            if on_progress is not None:
                elapsed = time.monotonic() - start
                pace = elapsed / max(self.iteration - start_iteration, 1)
                want_preview = preview_every > 0 and (self.iteration % preview_every == 0 or self.iteration == self.settings.iterations)
                on_progress(Progress(
                    self.iteration, self.settings.iterations, self.last_loss, elapsed,
                    pace * (self.settings.iterations - self.iteration),
                    self.preview() if want_preview else None,
                ))
        self.save_checkpoint()

    def step(self) -> float:
        """One optimisation step on one batch; returns the loss."""
        batch = self.sampler.sample()
        masked, hole, target, known = (to_device(a, self.device) for a in (batch.masked, batch.hole, batch.target, batch.known))
        coarse, final = self.model(masked, hole)
        loss = masked_l1(coarse, target, known)
        if self.model.refine is not None:
            loss = loss + masked_l1(final, target, known)
        if self.settings.stabilisation > 0:
            loss = loss + self.settings.stabilisation * stabilisation_loss(
                self.model, masked, hole, target, known, final, self.rng)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.iteration += 1
        return float(loss.detach())

    def preview(self) -> np.ndarray:
        """The frame with the largest hole, filled with the current weights, scene-linear."""
        t = self._preview_frame
        image = self.data.images[t].astype(np.float32)
        hole = self.data.holes[t]
        step = max(1, int(np.ceil(np.sqrt(hole.size / _PREVIEW_PIXELS))))
        image, hole = image[::step, ::step], hole[::step, ::step]
        filled = fill_encoded(self.model, image, hole, self.device)
        return self.data.encoding.decode(np.where(hole[..., None], filled, image))

    def release_training_data(self) -> None:
        """Drop the in-memory shot (inference streams from disk); the encoding stays."""
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
            "optimizer": self.optimizer.state_dict(),
            "numpy_rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "encoding": self.data.encoding.to_dict(),
            "shot": self._shot_fingerprint(),
            "loss": self.last_loss,
        }
        temp = f"{self.checkpoint_path}.partial-{os.getpid()}"
        try:
            torch.save(state, temp)
            os.replace(temp, self.checkpoint_path)
        finally:
            if os.path.exists(temp):
                os.remove(temp)

    def resume(self) -> bool:
        """Continue from the checkpoint at ``checkpoint_path``; False when there is none."""
        if not self.checkpoint_path or not os.path.exists(self.checkpoint_path):
            return False
        state = load_checkpoint(self.checkpoint_path)
        self._check_compatible(state)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        self.iteration = int(state["iteration"])
        self.last_loss = float(state.get("loss", float("nan")))
        return True

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

"""The plain trainer: learn one shot from its own known pixels (the paper's internal learning).

Its settings (TrainSettings) are the job's; the loop itself (time budget,
checkpoints, resuming, progress, the weights' average, precision) is
TrainingLoop's (loop.py). What is the trainer's own: the generator, the crops
it learns from (PatchSampler, on the loop's prefetch thread) and the loss with
its regularisers. Reproducible from the seed: the initial weights come from
torch's generator, the batches and the stabilisation warps from numpy
generators whose states go into every checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np
import torch

from inpaint_core.errors import InputError
from inpaint_core.inference.fill import fill_encoded
from inpaint_core.model.anti_ambiguity import AntiAmbiguityLoss
from inpaint_core.model.generator import InpaintGenerator
from inpaint_core.model.losses import masked_l1
from inpaint_core.model.stabilisation import stabilisation_loss
from inpaint_core.training.dataset import TrainingData
from inpaint_core.training.loop import (
    LoopSettings,
    TrainingLoop,
    batch_tensors,
    on_device,
)
from inpaint_core.training.precision import PRECISION_CHOICES
from inpaint_core.training.sampling import Batch, PatchSampler

# Preview frames are computed at most at about this many pixels, to stay cheap.
_PREVIEW_PIXELS = 512 * 512


@dataclass
class TrainSettings:
    """A job's training settings: the network, its batches, the run's length and the regularisers."""

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
    # Compile the training step's network with torch.compile. Off: on a CPU it does not pay (docs/benchmarks.md);
    # the loop falls back to eager when it cannot compile.
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
        for name, low in (("iterations", 1), ("width", 2), ("batch_size", 1), ("crop_size", 8),
                          ("checkpoint_every", 0)):
            if getattr(self, name) < low:
                raise InputError(f"Training setting {name} must be at least {low} (got {getattr(self, name)}).")
        if not 0.0 <= self.time_budget <= 1e7:
            raise InputError("Training setting time_budget must be between 0 and 1e7 seconds "
                             f"(got {self.time_budget}).")
        if self.precision not in PRECISION_CHOICES:
            raise InputError(f"Training setting precision must be one of {', '.join(PRECISION_CHOICES)} "
                             f"(got {self.precision!r}).")
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
    def from_dict(cls, values: dict) -> TrainSettings:
        """Settings from a plan or a request; keys of other versions are ignored, so old plans still load."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


# Settings that fix the shape of the weights or the batches: a checkpoint made
# with other values cannot be resumed.
_SHAPE_SETTINGS = ("width", "two_stage", "batch_size", "crop_size", "seed")


class Trainer(TrainingLoop):
    """The plain trainer: the generator learns one shot, held in memory, from crops of its known pixels."""

    kind = "plain"
    explain_mismatch: ClassVar[dict[str, str]] = {
        "shot": "Checkpoint {path} was made for another shot (frames, size or channels differ); delete it or drop "
                "--resume.",
        "encoding": "Checkpoint {path} was made from other plate pixels; delete it or drop --resume.",
    }

    def __init__(self, data: TrainingData, settings: TrainSettings, device: torch.device,
                 checkpoint_path: str | None = None):
        self.data = data
        self.settings = settings
        torch.manual_seed(settings.seed)
        # channels-last: the CPU's (oneDNN) and the GPU's fastest convolution layout; its measured gain is in
        # docs/benchmarks.md.
        model = InpaintGenerator(data.channels, settings.width, settings.two_stage).to(
            device, memory_format=torch.channels_last)
        self.anti_ambiguity = None
        if settings.anti_ambiguity > 0:
            self.anti_ambiguity = AntiAmbiguityLoss(data.channels).to(device, memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
        super().__init__(model, optimizer, loop_settings(settings), device, checkpoint_path)
        self.rng = np.random.default_rng(settings.seed)  # the batches' (drawn on the prefetch thread only)
        self.warp_rng = np.random.default_rng([settings.seed, 1])  # the stabilisation warps' (the training thread's)
        self.sampler = PatchSampler(data, settings.crop_size, settings.batch_size, self.rng,
                                    with_reference=settings.anti_ambiguity > 0, hole_focus=settings.hole_focus)
        self._preview_frame = int(np.argmax(data.holes.reshape(len(data.frames), -1).sum(axis=1)))

    def prepare_batch(self, batch: Batch) -> tuple[torch.Tensor, ...]:
        """On the prefetch thread: the batch's arrays as tensors, pinned for an asynchronous copy to a GPU."""
        return batch_tensors(batch.arrays(), pin=self.device.type == "cuda")

    def loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """L1 on the known pixels (both stages), plus the regularisers that are on.

        The batch: masked, hole, target, known[, reference, reference_known when the anti-ambiguity term is on].
        """
        masked, hole, target, known, *reference = on_device(batch, self.device)
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

    def compatibility(self) -> dict:
        """The shot first (the most telling difference), then the settings that shape weights and batches."""
        _, height, width, channels = self.data.images.shape
        return {"shot": {"frames": list(self.data.frames), "size": [width, height], "channels": channels},
                **{name: getattr(self.settings, name) for name in _SHAPE_SETTINGS},
                "encoding": self.data.encoding.to_dict()}

    def fingerprints(self) -> dict[int, str]:
        return dict(self.data.fingerprints)

    def extra_state(self) -> dict:
        """The stabilisation warps' generator (the batches' is the loop's)."""
        return {"warp_rng": self.warp_rng.bit_generator.state}

    def load_extra_state(self, state: dict) -> None:
        """Put back the stabilisation warps' generator."""
        self.warp_rng.bit_generator.state = state["warp_rng"]

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


def loop_settings(settings: TrainSettings) -> LoopSettings:
    """The loop's share of the training settings."""
    return LoopSettings(iterations=settings.iterations, time_budget=settings.time_budget,
                        checkpoint_every=settings.checkpoint_every, learning_rate=settings.learning_rate,
                        lr_decay=settings.lr_decay, ema=settings.ema, precision=settings.precision,
                        compile=settings.compile)

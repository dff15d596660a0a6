"""The progressive mode's refine trainer: one small generator per higher scale, learning detail at hole edges.

It learns from a fixed-size bank of patches near the holes' edges
(boundary_sampling.py): a patch with another patch's hole borrowed and a
lower scale's view pasted there, and the patch itself as the target. Its run
is the one training loop's (loop.py); its length is a quarter of the base
scale's, in iterations and in time: the base scale carries the content, a
refiner only the detail, and each higher scale would otherwise double the job.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from inpaint_core.inference.progressive import SCALE_STEP, Scale
from inpaint_core.model.generator import InpaintGenerator
from inpaint_core.model.losses import masked_l1
from inpaint_core.training.boundary_sampling import (
    BoundarySampler,
    PatchBank,
    RefineBatch,
)
from inpaint_core.training.loop import (
    LoopSettings,
    TrainingLoop,
    batch_tensors,
    on_device,
)
from inpaint_core.training.trainer import TrainSettings

# A refiner's share of the base scale's training, in iterations and in time.
REFINE_SHARE = 4


class RefineTrainer(TrainingLoop):
    """Trains one scale's refine generator on its patch bank."""

    kind = "refine"
    label = "Refinement"

    def __init__(self, bank: PatchBank, channels: int, settings: TrainSettings, width: int, iterations: int,
                 device: torch.device, checkpoint_path: str | None = None, seed: int = 0,
                 size: tuple[int, int] | None = None, fingerprints: dict[int, str] | None = None):
        """``settings``: the base scale's (batch size, learning rate, checkpoint cadence, time budget); ``size``:
        the scale's frame size (width, height) and ``fingerprints`` the shot's (TrainingData.fingerprints), which
        let a later job of the same shot warm-start this scale from this run's checkpoint."""
        self.settings, self.width, self.seed = settings, width, seed
        self.channels, self.size, self._fingerprints = channels, size, dict(fingerprints or {})
        torch.manual_seed(seed)
        model = InpaintGenerator(channels, width, two_stage=False).to(device, memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
        # float32, a constant rate and the last weights: what the refiners were tuned with; the base scale's
        # mixed precision, rate decay and weight averaging have not been tried on them.
        loop = LoopSettings(iterations=iterations, time_budget=settings.time_budget / REFINE_SHARE,
                            checkpoint_every=settings.checkpoint_every, learning_rate=settings.learning_rate)
        super().__init__(model, optimizer, loop, device, checkpoint_path)
        self.iterations = iterations
        self.rng = np.random.default_rng(seed)
        self.sampler = BoundarySampler(bank, settings.batch_size, SCALE_STEP, self.rng)
        self.crop = bank.crop

    def prepare_batch(self, batch: RefineBatch) -> tuple[torch.Tensor, ...]:
        """On the prefetch thread: the batch's arrays, the borrowed-hole mask included, as (pinned) tensors."""
        arrays = (batch.masked, batch.hole, batch.target, batch.known, batch.borrowed)
        return batch_tensors(arrays, pin=self.device.type == "cuda")

    def loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """L1 against the patch, counting the pixels hidden under the borrowed hole twice."""
        masked, hole, target, known, borrowed = on_device(batch, self.device)
        _, final = self.network(masked, hole)
        # L1 on the known pixels, plus the known pixels under the borrowed hole again: most known
        # pixels are shown to the net as they are, and copying them through teaches little.
        return masked_l1(final.float(), target, known) + masked_l1(final.float(), target, borrowed)

    def compatibility(self) -> dict:
        """The scale's frames first (a warm start checks them: every scale's generator has the same shapes), then
        the net's width and the patches' shape, which fix the weights and batches; the seed fixes their draws."""
        shot = {"size": list(self.size) if self.size else None, "channels": self.channels}
        return {"shot": shot, "width": self.width, "crop": self.crop, "batch_size": self.settings.batch_size,
                "seed": self.seed}

    def fingerprints(self) -> dict[int, str]:
        return dict(self._fingerprints)

    def release_bank(self) -> None:
        """Drop the patches once trained (filling needs the model alone)."""
        self.stop_prefetching()
        self.sampler = None


def refine_iterations(base_iterations: int, given: int | None = None) -> int:
    """A refiner's iteration count: ``given``, or a quarter of the base scale's."""
    return given or max(1, math.ceil(base_iterations / REFINE_SHARE))


def refine_crop(crop_size: int, scale: Scale) -> int:
    """The patch side at a higher scale: the training crop, or less on a small frame; a multiple of 4."""
    side = min(crop_size, scale.width, scale.height)
    return max(4, side - side % 4)

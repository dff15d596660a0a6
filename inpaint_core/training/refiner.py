"""The refiner's training: learn, from the shot's own known pixels, how propagation errs on this shot.

The default ("guided") fill propagates colour along flow tracks and then corrects it with a network trained per
shot. Its training data are holes borrowed along the object's path (inpaint_core.flow.borrowed), with
propagation re-run as at fill time with those holes hidden too: under a borrowed hole the truth is known, so the
refiner learns to turn propagation's candidate into the plate. Only borrowed pixels whose candidate errs by at
most the refiner's trust count in full (weight 1); what propagation gets wholly wrong there (a moving subject) is
not what real holes hold and counts not at all, the real hole not at all, the rest of the crop a little
(``KNOWN_WEIGHT``: the refiner must leave a good candidate as it is). L2: the errors it corrects are small and
unbiased, which L1 treats as noise (issue 17's first residual net learned nothing with L1).

Everything else (time budget, checkpoints, resume, progress, the weights' average) is the one loop's.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from inpaint_core.flow.borrowed import BorrowedHoles, UnionCandidates
from inpaint_core.inference.fill import refine_encoded
from inpaint_core.model.refiner import DEFAULT_TRUST, PropagationRefiner
from inpaint_core.training.collapse_guard import CollapseGuard
from inpaint_core.training.dataset import TrainingData
from inpaint_core.training.loop import TrainingLoop, batch_tensors, on_device
from inpaint_core.training.sampling import _spread_sample
from inpaint_core.training.trainer import TrainSettings, loop_settings

KNOWN_WEIGHT = 0.1  # of the loss on known pixels outside every hole, against 1 on trusted borrowed pixels
HELD_OUT_CROPS = 16  # the collapse guard's fixed batch (scored every CHECK_EVERY iterations: under 1% of the time)
_SHAPE_SETTINGS = ("width", "batch_size", "crop_size", "seed")


@dataclass
class RefinerData:
    """The shot in memory (encoded) with its borrowed-hole configurations and their candidates."""

    data: TrainingData
    configs: list[BorrowedHoles]
    candidates: list[list[UnionCandidates | None]]  # [config][frame]: encoded float16 candidates of the union
    preview_frame: int  # the frame with the largest hole, and its real candidates for previews
    preview_candidate: np.ndarray  # (H, W, C) float32 encoded
    preview_seen: np.ndarray  # (H, W) bool
    seconds: float = 0.0  # the borrowed-hole propagations took


@dataclass
class RefinerBatch:
    masked: np.ndarray  # (B, C, h, w) the crop with the union hole zeroed
    hole: np.ndarray  # (B, 1, h, w) the union hole
    candidate: np.ndarray  # (B, C, h, w) propagation's fill of the union
    seen: np.ndarray  # (B, 1, h, w)
    target: np.ndarray  # (B, C, h, w) the crop
    weight: np.ndarray  # (B, 1, h, w) the loss's weight per pixel

    def arrays(self) -> tuple[np.ndarray, ...]:
        return self.masked, self.hole, self.candidate, self.seen, self.target, self.weight


class RefinerSampler:
    """Crops centred (with jitter) on borrowed-hole pixels; every draw comes from ``rng``."""

    def __init__(self, shot: RefinerData, crop_size: int, batch_size: int, trust: float,
                 rng: np.random.Generator) -> None:
        self.shot, self.batch_size, self.trust, self.rng = shot, batch_size, trust, rng
        images, holes = shot.data.images, shot.data.holes
        _, height, width, _ = images.shape
        self.crop_h, self.crop_w = min(crop_size, height), min(crop_size, width)
        # Per configuration and frame: a sample of the pixels a borrowed hole hides over known plate.
        self.anchors = [[_spread_sample(np.argwhere(config.hole(t, holes) & ~holes[t]), seed=1000 * n + t)
                         for t in range(len(holes))] for n, config in enumerate(shot.configs)]

    def sample(self) -> RefinerBatch:
        parts = [self._sample_one() for _ in range(self.batch_size)]
        return RefinerBatch(*(np.stack(p) for p in zip(*parts)))

    def held_out(self, count: int, rng: np.random.Generator) -> RefinerBatch:
        """``count`` crops drawn as training draws them, from ``rng`` (this sampler's generator is not touched)."""
        other = copy.copy(self)
        other.rng, other.batch_size = rng, count
        return other.sample()

    def _sample_one(self) -> tuple[np.ndarray, ...]:
        rng, data = self.rng, self.shot.data
        count, height, width, _ = data.images.shape
        n, t = int(rng.integers(len(self.shot.configs))), int(rng.integers(count))
        y, x = self._place(self.anchors[n][t], height, width)
        window = (slice(y, y + self.crop_h), slice(x, x + self.crop_w))
        own = data.holes[t][window]
        union = self.shot.configs[n].union(t, data.holes)[window]
        target = data.images[t][window].astype(np.float32)
        candidate, seen = target.copy(), np.zeros(own.shape, np.float32)
        stored = self.shot.candidates[n][t]
        if stored is not None and union.any():
            values, flags = stored.crop(union, y, x, width)
            candidate[union], seen[union] = values, flags
        weight = np.where(own, 0.0, np.where(union, 1.0, KNOWN_WEIGHT)).astype(np.float32)
        if self.trust > 0:
            wrong = np.abs(candidate - target).max(axis=-1) > self.trust
            weight[wrong & union] = 0.0
        masked = target * ~union[..., None]
        return (masked.transpose(2, 0, 1), union[None].astype(np.float32), candidate.transpose(2, 0, 1),
                seen[None], target.transpose(2, 0, 1), weight[None])

    def _place(self, anchors: np.ndarray, height: int, width: int) -> tuple[int, int]:
        """Top-left corner of a crop around a random anchor, jittered by up to a quarter crop; uniform without."""
        rng, ch, cw = self.rng, self.crop_h, self.crop_w
        if not len(anchors):
            return int(rng.integers(height - ch + 1)), int(rng.integers(width - cw + 1))
        cy, cx = anchors[int(rng.integers(len(anchors)))]
        y = int(np.clip(cy - ch // 2 + rng.integers(-(ch // 4), ch // 4 + 1), 0, height - ch))
        x = int(np.clip(cx - cw // 2 + rng.integers(-(cw // 4), cw // 4 + 1), 0, width - cw))
        return y, x


class RefinerTrainer(TrainingLoop):
    """Trains a PropagationRefiner on the shot's borrowed holes; the job's TrainSettings size and time it."""

    kind = "refiner"
    label = "Refiner training"
    # A job's checkpoint of the guided fill before the refiner (a network for unseen pixels only).
    supersedes: ClassVar[dict[str, str]] = {"plain": "the guided fill before the propagation refiner"}
    explain_mismatch: ClassVar[dict[str, str]] = {
        "shot": "Checkpoint {path} was made for another shot (frames, size or channels differ); delete it or drop "
                "--resume.",
        "encoding": "Checkpoint {path} was made from other plate pixels; delete it or drop --resume.",
    }

    def __init__(self, shot: RefinerData, settings: TrainSettings, device: torch.device,
                 checkpoint_path: str | None = None, trust: float = DEFAULT_TRUST) -> None:
        self.shot, self.settings, self.trust = shot, settings, trust
        torch.manual_seed(settings.seed)
        model = PropagationRefiner(shot.data.channels, settings.width, trust).to(
            device, memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
        super().__init__(model, optimizer, loop_settings(settings), device, checkpoint_path)
        self.rng = np.random.default_rng([settings.seed, 17])  # the batches' (the prefetch thread's)
        self.sampler = RefinerSampler(shot, settings.crop_size, settings.batch_size, trust, self.rng)
        self.on_notice: Callable[[str], None] | None = None  # told of a collapse the guard rolled back
        self.guard = self._collapse_guard()

    def _collapse_guard(self) -> CollapseGuard:
        """The guard's fixed batch, from a generator of its own; its baseline is propagation alone (no correction)."""
        held = self.sampler.held_out(HELD_OUT_CROPS, np.random.default_rng([self.settings.seed, 29]))
        tensors = on_device(batch_tensors(held.arrays(), pin=False), self.device)
        baseline = float(_weighted_l2(tensors[2], tensors[4], tensors[5]))

        @torch.no_grad()
        def held_out_loss() -> float:
            masked, hole, candidate, seen, target, weight = tensors
            return float(_weighted_l2(self.model(masked, hole, candidate, seen).float(), target, weight))

        return CollapseGuard(held_out_loss, baseline)

    def after_step(self, iteration: int) -> None:
        started = time.monotonic()
        rollback = self.guard.check(iteration, self.model, self.average, self.optimizer)
        self.trained_seconds += time.monotonic() - started  # the guard's time is training time
        if rollback is not None and self.on_notice is not None:
            self.on_notice(rollback.message(self.label))

    def learning_rate(self) -> float:
        return super().learning_rate() * self.guard.learning_rate_scale

    def extra_state(self) -> dict:
        return {"guard": self.guard.state_dict()}

    def load_extra_state(self, state: dict) -> None:
        if "guard" in state:  # a checkpoint from before the guard resumes with a fresh one
            self.guard.load_state_dict(state["guard"])

    def prepare_batch(self, batch: RefinerBatch) -> tuple[torch.Tensor, ...]:
        return batch_tensors(batch.arrays(), pin=self.device.type == "cuda")

    def loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Weighted L2 between the refined crop and the plate."""
        masked, hole, candidate, seen, target, weight = on_device(batch, self.device)
        return _weighted_l2(self.network(masked, hole, candidate, seen).float(), target, weight)

    def compatibility(self) -> dict:
        _, height, width, channels = self.shot.data.images.shape
        return {"shot": {"frames": list(self.shot.data.frames), "size": [width, height], "channels": channels},
                **{name: getattr(self.settings, name) for name in _SHAPE_SETTINGS},
                "configs": len(self.shot.configs), "trust": self.trust,
                "encoding": self.shot.data.encoding.to_dict()}

    def fingerprints(self) -> dict[int, str]:
        return dict(self.shot.data.fingerprints)

    @torch.no_grad()
    def preview(self) -> np.ndarray:
        """The frame with the largest hole, refined with the current weights, scene-linear."""
        shot = self.shot
        image = shot.data.images[shot.preview_frame].astype(np.float32)
        hole = shot.data.holes[shot.preview_frame]
        refined = refine_encoded(self.inference_model, image, hole, shot.preview_candidate, shot.preview_seen,
                                 self.device)
        return shot.data.encoding.decode(np.where(hole[..., None], refined, image))

    def release_training_data(self) -> None:
        """Drop the shot and its candidates (filling streams from disk); the encoding stays."""
        self.stop_prefetching()
        data = self.shot.data
        self.shot = RefinerData(TrainingData(data.frames, data.images[:0], data.holes[:0], data.encoding), [], [],
                                0, self.shot.preview_candidate[:0], self.shot.preview_seen[:0])
        self.sampler = None
        self.guard.every = 0  # its batch stays, its checks end with the training


def _weighted_l2(out: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return ((out - target) ** 2 * weight).sum() / (weight.sum() * out.shape[1] + 1e-6)


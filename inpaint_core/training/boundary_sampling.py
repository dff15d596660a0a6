"""Boundary-aware training patches for the higher scales of a progressive job.

At a high scale the low-resolution result already says what goes in a hole;
what is left to learn is the detail, and the detail that matters is where the
fill meets the plate. So training patches are centred in a band around the
holes' edges, and kept in a bank of fixed size (float16) that is filled while
the shot streams from disk one frame at a time: memory and the cost of a
training step do not depend on the frame size or the shot's length.

A training sample hides another patch's hole (shifted circularly, as the paper
shifts another frame's mask), puts there what a lower scale would give (the
patch reduced by the scale step and enlarged again) and asks for the patch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from inpaint_core.training.sampling import Batch

# Candidates offered per frame, as a multiple of the bank's share of each frame:
# reservoir sampling then keeps a uniform selection of all of them.
_OVERSAMPLE = 2


def boundary_band(hole: np.ndarray, radius: float) -> np.ndarray:
    """Pixels within ``radius`` of the hole's edge, on either side (bool, like ``hole``)."""
    if not hole.any() or hole.all():
        return np.zeros_like(hole, dtype=bool)
    # distanceTransform measures to the nearest zero pixel: known pixels to the hole, hole pixels to the plate.
    to_hole = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 3)
    to_known = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)
    return np.where(hole, to_known, to_hole) <= radius


class PatchBank:
    """A fixed number of square patches (encoded colour as float16, own hole as bool).

    ``offer`` streams frames in; a reservoir keeps a uniform sample of every
    candidate patch offered, so the bank never grows past ``capacity``.
    """

    def __init__(self, capacity: int, crop: int, channels: int, frames: int, rng: np.random.Generator):
        self.capacity, self.crop = capacity, crop
        self.images = np.zeros((capacity, crop, crop, channels), dtype=np.float16)
        self.holes = np.zeros((capacity, crop, crop), dtype=bool)
        self.centres = np.zeros((capacity, 2), dtype=np.int64)  # (y, x) in the frame it came from
        self.count = 0  # patches held
        self.offered = 0  # candidates seen
        self.per_frame = max(1, int(np.ceil(_OVERSAMPLE * capacity / max(frames, 1))))
        self.rng = rng

    @property
    def nbytes(self) -> int:
        return self.images.nbytes + self.holes.nbytes + self.centres.nbytes

    def offer(self, image: np.ndarray, hole: np.ndarray) -> None:
        """Offer patches of one frame (image (H, W, C) float32, hole (H, W) bool), centred near its holes' edges."""
        height, width = hole.shape
        if height < self.crop or width < self.crop:
            raise ValueError(f"A {width}x{height} frame is smaller than the {self.crop} px patches of this bank.")
        band = np.flatnonzero(boundary_band(hole, self.crop / 4))
        if not len(band):
            return
        for index in band[self.rng.integers(0, len(band), self.per_frame)]:
            slot = self._slot()
            if slot is None:
                continue
            cy, cx = divmod(int(index), width)
            y = min(max(cy - self.crop // 2, 0), height - self.crop)
            x = min(max(cx - self.crop // 2, 0), width - self.crop)
            self.images[slot] = np.clip(image[y : y + self.crop, x : x + self.crop], -65504, 65504)
            self.holes[slot] = hole[y : y + self.crop, x : x + self.crop]
            self.centres[slot] = (cy, cx)

    def encode(self, encode: Callable[[np.ndarray], np.ndarray]) -> None:
        """Replace the held linear colour by its encoding, in place, holes zeroed."""
        for i in range(self.count):
            self.images[i] = encode(self.images[i]) * ~self.holes[i][..., None]

    def _slot(self) -> int | None:
        self.offered += 1
        if self.count < self.capacity:
            self.count += 1
            return self.count - 1
        pick = int(self.rng.integers(self.offered))
        return pick if pick < self.capacity else None


@dataclass
class RefineBatch(Batch):
    """A ``Batch`` whose ``masked`` holds the lower-scale prior inside the hole instead of zeros."""

    borrowed: np.ndarray  # (B, 1, h, w) float32, 1 = hidden known pixel (where the prior is all there is)


class BoundarySampler:
    """Batches of a fixed shape from a PatchBank: the cost of a step is independent of the frame size."""

    def __init__(self, bank: PatchBank, batch_size: int, scale_step: int, rng: np.random.Generator):
        if bank.count == 0:
            raise ValueError("The patch bank is empty: no frame has a hole edge to learn from.")
        self.bank, self.batch_size, self.scale_step, self.rng = bank, batch_size, scale_step, rng

    def sample(self) -> RefineBatch:
        samples = [self._sample_one() for _ in range(self.batch_size)]
        return RefineBatch(*(np.stack(parts) for parts in zip(*samples)))

    def _sample_one(self) -> tuple[np.ndarray, ...]:
        bank, rng = self.bank, self.rng
        i = int(rng.integers(bank.count))
        target = bank.images[i].astype(np.float32)
        own = bank.holes[i]
        hole = own | self._borrowed_hole(i)
        prior = lower_scale_prior(target, own, self.scale_step)
        masked = np.where(hole[..., None], prior, target)
        known = ~own
        return (masked.transpose(2, 0, 1), hole[None].astype(np.float32), target.transpose(2, 0, 1),
                known[None].astype(np.float32), (hole & known)[None].astype(np.float32))

    def _borrowed_hole(self, i: int) -> np.ndarray:
        """Another patch's hole, circularly shifted and perhaps mirrored (the paper's shifted mask)."""
        bank, rng = self.bank, self.rng
        j = int(rng.integers(bank.count - 1)) if bank.count > 1 else 0
        j += int(bank.count > 1 and j >= i)  # any patch but this one
        donor = bank.holes[j]
        if rng.random() < 0.5:
            donor = donor[:, ::-1]
        return np.roll(donor, (int(rng.integers(bank.crop)), int(rng.integers(bank.crop))), axis=(0, 1))


def lower_scale_prior(image: np.ndarray, own_hole: np.ndarray, step: int) -> np.ndarray:
    """What a scale ``step`` times coarser would give: the image reduced and enlarged again.

    Reduction averages known pixels only (normalised convolution), so the
    patch's own unknown pixels do not bleed into the prior; where a coarse
    pixel sees no known pixel the prior is 0 (mid-range of the encoding).
    """
    height, width = own_hole.shape
    small = (max(1, width // step), max(1, height // step))
    known = (~own_hole).astype(np.float32)
    weight = cv2.resize(known, small, interpolation=cv2.INTER_AREA)
    total = cv2.resize(image * known[..., None], small, interpolation=cv2.INTER_AREA).reshape(small[1], small[0], -1)
    low = np.where(weight[..., None] > 1e-3, total / np.maximum(weight[..., None], 1e-3), 0.0).astype(np.float32)
    return cv2.resize(low, (width, height), interpolation=cv2.INTER_LINEAR).reshape(height, width, -1)

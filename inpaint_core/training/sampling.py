"""Training batches: random crops with holes borrowed from other frames.

The network is taught to fill holes where the answer is known: each sample
takes a frame's own hole, adds another frame's hole shifted to a random place
(a circular shift, as in the paper), hides both, and asks for the frame back.
The loss counts only pixels outside the frame's own hole, the pixels we know.
Crops make the cost of an iteration independent of the frame size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from inpaint_core.training.dataset import TrainingData

# Per frame, this many hole pixels are kept as anchors for placing a borrowed hole.
_ANCHORS_PER_FRAME = 4096
_HOLE_AREA_SEED = 1_000_003  # not a frame index: the hole area's sample differs from every frame's anchors


# The anti-ambiguity term's reference crop comes from a frame at most this far from the sample's.
REFERENCE_REACH = 3


@dataclass
class Batch:
    masked: np.ndarray  # (B, C, h, w) float32, holes zeroed
    hole: np.ndarray  # (B, 1, h, w) float32, 1 = hidden from the network
    target: np.ndarray  # (B, C, h, w) float32, the frame
    known: np.ndarray  # (B, 1, h, w) float32, 1 = pixel counts in the loss
    # Only when asked for (the anti-ambiguity term): the same place in a nearby frame, and its known pixels.
    # Keyword-only, so that subclasses (the progressive refine batch) can add fields of their own.
    reference: np.ndarray | None = field(default=None, kw_only=True)  # (B, C, h, w) float32
    reference_known: np.ndarray | None = field(default=None, kw_only=True)  # (B, 1, h, w) float32

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The arrays there are, in field order."""
        parts = (self.masked, self.hole, self.target, self.known, self.reference, self.reference_known)
        return tuple(a for a in parts if a is not None)


class PatchSampler:
    """Draws batches of crops; all randomness comes from the given generator."""

    def __init__(self, data: TrainingData, crop_size: int, batch_size: int, rng: np.random.Generator,
                 with_reference: bool = False, hole_focus: float = 0.0):
        self.data = data
        self.with_reference = with_reference
        self.hole_focus = hole_focus  # the share of crops placed over the area the shot's holes cover
        self.batch_size = batch_size
        _, height, width, _ = data.images.shape
        self.crop_h, self.crop_w = min(crop_size, height), min(crop_size, width)
        self.rng = rng
        self.donors = [t for t in range(len(data.frames)) if data.holes[t].any()]
        self.anchors = [self._anchors(t) for t in self.donors]
        self.hole_area = None
        if hole_focus > 0:
            self.hole_area = _spread_sample(np.argwhere(data.holes.any(axis=0)), seed=_HOLE_AREA_SEED)

    def sample(self) -> Batch:
        samples = [self._sample_one() for _ in range(self.batch_size)]
        masked, hole, target, known, *reference = (np.stack(parts) for parts in zip(*samples))
        return Batch(masked, hole, target, known, **dict(zip(("reference", "reference_known"), reference)))

    def _sample_one(self) -> tuple[np.ndarray, ...]:
        data, rng = self.data, self.rng
        t = int(rng.integers(len(data.frames)))
        y, x = self._place(rng)
        rows, cols = np.arange(y, y + self.crop_h), np.arange(x, x + self.crop_w)
        own = data.holes[t, y : y + self.crop_h, x : x + self.crop_w]
        hole = own | self._borrowed_hole(t, rows, cols)
        target = data.images[t, y : y + self.crop_h, x : x + self.crop_w].astype(np.float32).transpose(2, 0, 1)
        masked = target * ~hole
        sample = (masked, hole[None].astype(np.float32), target, (~own)[None].astype(np.float32))
        if self.with_reference:
            sample += self._reference(t, y, x)
        return sample

    def _place(self, rng: np.random.Generator) -> tuple[int, int]:
        """A crop's top-left corner: uniform over the frame, or (a hole_focus share of crops) anywhere such that
        the crop covers a random pixel of the area the holes pass through: in another frame that area is
        plate to learn from, and the content the fills need is most likely near it."""
        _, height, width, _ = self.data.images.shape
        if self.hole_area is not None and len(self.hole_area) and rng.random() < self.hole_focus:
            cy, cx = self.hole_area[int(rng.integers(len(self.hole_area)))]
            y = int(rng.integers(max(0, cy - self.crop_h + 1), min(cy, height - self.crop_h) + 1))
            x = int(rng.integers(max(0, cx - self.crop_w + 1), min(cx, width - self.crop_w) + 1))
            return y, x
        return int(rng.integers(height - self.crop_h + 1)), int(rng.integers(width - self.crop_w + 1))

    def _reference(self, t: int, y: int, x: int) -> tuple[np.ndarray, np.ndarray]:
        """The crop at the same place in a frame 1 to REFERENCE_REACH away, and its known pixels.

        The offset is derived from the crop's place rather than drawn: the batch stream then stays the same
        with the term on or off (a fair comparison, and checkpoints hold one generator's state).
        """
        count = len(self.data.frames)
        if count < 2:
            other = t
        else:
            step = 1 + (31 * y + 17 * x) % min(REFERENCE_REACH, count - 1)
            other = t + step if (y + x) % 2 == 0 else t - step
            if not 0 <= other < count:
                other = t - step if other >= count else t + step
            other = min(max(other, 0), count - 1)
        window = (slice(y, y + self.crop_h), slice(x, x + self.crop_w))
        reference = self.data.images[other][window].astype(np.float32).transpose(2, 0, 1)
        return reference, (~self.data.holes[other][window])[None].astype(np.float32)

    def _borrowed_hole(self, t: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Another frame's hole, circularly shifted so that it lands in this crop."""
        if not self.donors:
            return np.zeros((len(rows), len(cols)), dtype=bool)
        rng = self.rng
        choices = [i for i, d in enumerate(self.donors) if d != t] or list(range(len(self.donors)))
        pick = choices[int(rng.integers(len(choices)))]
        donor, anchors = self.donors[pick], self.anchors[pick]
        _, height, width, _ = self.data.images.shape
        # Shift so a random hole pixel of the donor lands on a random pixel of the
        # crop: still a uniform circular shift of the donor's hole, but one
        # that is never wasted outside the crop.
        ay, ax = anchors[int(rng.integers(len(anchors)))]
        dy = int(rows[int(rng.integers(len(rows)))]) - ay
        dx = int(cols[int(rng.integers(len(cols)))]) - ax
        return self.data.holes[donor][np.ix_((rows - dy) % height, (cols - dx) % width)]

    def _anchors(self, t: int) -> np.ndarray:
        return _spread_sample(np.argwhere(self.data.holes[t]), seed=t)


def _spread_sample(coords: np.ndarray, seed: int) -> np.ndarray:
    """At most _ANCHORS_PER_FRAME of the coordinates, chosen at random."""
    if len(coords) > _ANCHORS_PER_FRAME:
        # A generator of its own: the batch stream's state stays a function of the seed alone.
        coords = coords[np.random.default_rng(seed).choice(len(coords), _ANCHORS_PER_FRAME, replace=False)]
    return coords

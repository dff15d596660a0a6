"""The shot held in memory for training: encoded colour as float16, holes as bool.

Half precision halves the memory of a long shot (a 2K frame is 13 MB instead
of 26 MB) and is ample for an encoding whose range is [-1, 1].
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from inpaint_core.errors import MaskError
from inpaint_core.io.colour import LogEncoding
from inpaint_core.masks.shot import Shot

# The encoding is fitted on a random sample of known pixels of each frame.
_FIT_SAMPLES_PER_FRAME = 20000
# Fewer known pixels than this fraction of the shot leaves nothing to learn from.
MIN_KNOWN_FRACTION = 0.01


@dataclass
class TrainingData:
    frames: list[int]
    images: np.ndarray  # (T, H, W, C) float16, encoded
    holes: np.ndarray  # (T, H, W) bool, True = unknown
    encoding: LogEncoding
    # SHA-256 of each frame's colour channels as read (references painted in; not the matte), by frame number:
    # what a later job of the same shot compares to decide whether this network may seed it (a warm start).
    fingerprints: dict[int, str] = field(default_factory=dict)

    @property
    def channels(self) -> int:
        return self.images.shape[-1]

    @property
    def hole_fraction(self) -> float:
        return float(self.holes.mean())


def plate_fingerprint(plate_colour: np.ndarray) -> str:
    """A frame's fingerprint: SHA-256 of its colour channels as read, at full size (TrainingData.fingerprints)."""
    return hashlib.sha256(np.ascontiguousarray(plate_colour).tobytes()).hexdigest()


def load_training_data(shot: Shot, on_frame: Callable[[int], None] | None = None, seed: int = 0) -> TrainingData:
    """Read every frame once, check it, fit the colour encoding and encode."""
    rng = np.random.default_rng(seed)
    count, height, width = len(shot.frames), shot.height, shot.width
    images = np.empty((count, height, width, len(shot.colour_channels)), dtype=np.float16)
    holes = np.empty((count, height, width), dtype=bool)
    samples = []
    fingerprints = {}
    for t, frame in enumerate(shot.frames):
        plate, hole = shot.read(frame)
        plate_colour = shot.colour(plate)
        # Of the colour channels alone, what the network learns from: a matte grown in the plate's alpha (a
        # re-press in Nuke) leaves the frame's fingerprint as it was, and a warm start possible.
        fingerprints[frame] = plate_fingerprint(plate_colour)
        colour = np.where(hole[..., None], 0.0, plate_colour).astype(np.float32)
        known = colour[~hole]
        if len(known):
            samples.append(known[rng.integers(0, len(known), min(len(known), _FIT_SAMPLES_PER_FRAME))])
        images[t], holes[t] = np.clip(colour, -65504, 65504), hole
        if on_frame is not None:
            on_frame(frame)
    _check_enough_known(shot, holes)
    encoding = LogEncoding.fit(np.concatenate(samples))
    for t in range(count):  # in place, frame by frame: no float32 copy of the shot
        images[t] = encoding.encode(images[t]) * ~holes[t][..., None]
    return TrainingData(frames=list(shot.frames), images=images, holes=holes, encoding=encoding,
                        fingerprints=fingerprints)


def _check_enough_known(shot: Shot, holes: np.ndarray) -> None:
    known_fraction = 1.0 - float(holes.mean())
    if known_fraction < MIN_KNOWN_FRACTION:
        raise MaskError(
            f"The matte covers {100 * (1 - known_fraction):.1f}% of the shot ({shot.spec.plate}); "
            "internal learning needs known pixels to learn from. Check the matte channel and threshold "
            "(is the matte inverted?)."
        )

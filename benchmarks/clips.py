"""The benchmark clips: plates with known ground truth, written as half-float EXR sequences.

Every method is scored on the same clip: the learned inpainter reads the EXRs
through the library (as a compositor's job would), the baselines get the same
plate in memory. The plate's holes are painted flat magenta before writing, so
no method can see the ground truth under a hole, even by a bug.

- ``blackswan``: real footage (DAVIS 2017), downscaled to 432x240 and converted
  from 8-bit sRGB to scene-linear half, with holes that hide parts of the
  background only (the video-completion protocol: the hidden content is known).
  The holes are the swan's own object masks taken from other frames (played
  backwards, so the shape animates), scaled down, and moved along a smooth path
  that never touches the swan of the frame they are put in.
- ``tennis``: real footage (DAVIS tennis, the first 30 frames of a hand-held
  shot following a player), with holes made the same way from the player's
  masks. Defaults are chosen on the other clips; tennis confirms them.
- ``pan_pole``: procedural camera pan with parallax and a thin pole crossing
  fast (short occlusions).
- ``tracking_blob``: procedural pan that nearly follows a large blob, so the
  blob hides the same piece of the scene for about half of the clip (a long
  occlusion that nearby frames cannot fill).
"""

from __future__ import annotations

import glob
import math
import os
import shutil
from dataclasses import dataclass

import cv2
import numpy as np
import OpenImageIO as oiio

from inpaint_core.io.image_files import write_frame
from inpaint_core.io.sequence import SequencePattern
from inpaint_eval.synthetic import make_clip

# The project's real footage lies in shared/data beside the checkout (CI has it only there);
# INTERNAL_INPAINT_DATA names another folder holding davis-blackswan/ and davis-tennis/.
DATA_DIR = os.environ.get("INTERNAL_INPAINT_DATA") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "shared", "data")
DAVIS_DIR = os.path.join(DATA_DIR, "davis-blackswan")
TENNIS_DIR = os.path.join(DATA_DIR, "davis-tennis")
CLIP_WIDTH, CLIP_HEIGHT = 432, 240
FIRST_FRAME = 1001
# A hue no clip contains: a hole that leaks into a result shows at once.
HOLE_COLOUR = np.float32([0.6, 0.04, 0.4])

# Donor masks are scaled to this fraction of the swan's size: about 6% of the frame.
_DONOR_SCALE = 0.7
# Hole pixels stay this far (px at 432x240) from the swan's own mask.
_SWAN_MARGIN = 4
# Largest move of a hole between frames (px) while it can follow its path.
_MAX_STEP = 8
# Candidate placements are tried on a grid of this pitch (px).
_GRID = 2


@dataclass
class BenchClip:
    """A plate to fill, the ground truth under its holes, and where its EXRs are."""

    name: str
    description: str
    plate_pattern: str  # RGBA half EXR, the hole in alpha
    frames: list[int]
    truth: np.ndarray  # (T, H, W, 3) float32 scene-linear, as representable in half
    plate: np.ndarray  # (T, H, W, 3) float32, truth with the holes painted over
    hole: np.ndarray  # (T, H, W) bool, True = hidden

    @property
    def hole_fraction(self) -> float:
        return float(self.hole.mean())

    @property
    def size(self) -> tuple[int, int]:
        return self.truth.shape[2], self.truth.shape[1]


def build_clip(name: str, frames: int, cache_dir: str) -> BenchClip:
    """Build one named clip from scratch (a few seconds) and write its EXRs under ``cache_dir``."""
    builders = {"blackswan": _blackswan, "tennis": _tennis, "pan_pole": _pan_pole, "tracking_blob": _tracking_blob}
    if name not in builders:
        raise ValueError(f"Unknown benchmark clip {name!r}; choose one of {', '.join(builders)}.")
    description, truth, hole = builders[name](frames)
    folder = os.path.join(cache_dir, "clips", name)
    # Rebuilt every run: a stale cache can never disagree with the code.
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    truth = _as_half(truth)
    plate = np.where(hole[..., None], HOLE_COLOUR, truth).astype(np.float32)
    pattern = os.path.join(folder, "plate.####.exr")
    numbers = write_rgba_sequence(pattern, plate, hole)
    return BenchClip(name, description, pattern, numbers, truth, plate, hole)


# -- the DAVIS clips -------------------------------------------------------------


def _blackswan(frames: int) -> tuple[str, np.ndarray, np.ndarray]:
    return _davis("blackswan", DAVIS_DIR, "jpg", "swan", frames)


def _tennis(frames: int) -> tuple[str, np.ndarray, np.ndarray]:
    return _davis("tennis", TENNIS_DIR, "png", "player", frames)


def _davis(name: str, folder: str, extension: str, subject: str, frames: int) -> tuple[str, np.ndarray, np.ndarray]:
    """A DAVIS clip as truth, with holes of its subject's shape moving over the background only."""
    frame_folder = os.path.join(folder, "frames")
    if not os.path.isdir(frame_folder):
        raise FileNotFoundError(f"The DAVIS {name} clip is not in {folder} (set INTERNAL_INPAINT_DATA to the folder "
                                f"that holds davis-{name}/).")
    count = min(frames, len(glob.glob(os.path.join(frame_folder, f"*.{extension}"))))
    truth = np.stack([_read_davis_frame(folder, t, extension) for t in range(count)])
    subjects = [_read_davis_mask(folder, t) for t in range(count)]
    hole = _background_holes(subjects)
    text = (f"DAVIS {name}, frames 0-{count - 1}, {CLIP_WIDTH}x{CLIP_HEIGHT}, sRGB {extension.upper()} to linear "
            f"half; holes: other frames' {subject} masks at 0.7x moving over the background")
    return text, truth, hole


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """The inverse of the sRGB curve: display values in [0, 1] to scene-linear."""
    srgb = srgb.astype(np.float32)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _read_davis_frame(folder: str, t: int, extension: str) -> np.ndarray:
    path = os.path.join(folder, "frames", f"{t:05d}.{extension}")
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"Cannot read {path}")
    linear = srgb_to_linear(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0)
    # Downscale in linear light: averaging display values would darken edges.
    return cv2.resize(linear, (CLIP_WIDTH, CLIP_HEIGHT), interpolation=cv2.INTER_AREA)


def _read_davis_mask(folder: str, t: int) -> np.ndarray:
    path = os.path.join(folder, "object_masks", f"{t:05d}.png")
    mask = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise FileNotFoundError(f"Cannot read {path}")
    return cv2.resize(mask, (CLIP_WIDTH, CLIP_HEIGHT), interpolation=cv2.INTER_AREA) > 127


def _background_holes(subjects: list[np.ndarray]) -> np.ndarray:
    """Per frame: another frame's subject shape, placed near a smooth path, never on this frame's subject."""
    count = len(subjects)
    size = 2 * _SWAN_MARGIN + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    holes = np.zeros((count, CLIP_HEIGHT, CLIP_WIDTH), dtype=bool)
    previous: tuple[int, int] | None = None
    for t in range(count):
        shape = _donor_shape(subjects[count - 1 - t])
        protected = cv2.dilate(subjects[t].astype(np.uint8), kernel) > 0
        # The path: up and down the right of the frame, where the water and bank are free.
        centre = (0.78 * CLIP_WIDTH, CLIP_HEIGHT * (0.5 + 0.25 * math.sin(2 * math.pi * t / 30)))
        previous = _place(shape, protected, centre, previous)
        y, x = previous[1], previous[0]
        holes[t, y : y + shape.shape[0], x : x + shape.shape[1]] = shape
    return holes


def _donor_shape(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    crop = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.uint8)
    return cv2.resize(crop, None, fx=_DONOR_SCALE, fy=_DONOR_SCALE, interpolation=cv2.INTER_NEAREST) > 0


def _place(
    shape: np.ndarray, protected: np.ndarray, centre: tuple[float, float], previous: tuple[int, int] | None
) -> tuple[int, int]:
    """Top-left corner nearest the path point that keeps ``shape`` in the frame and off ``protected``.

    Within ``_MAX_STEP`` of the previous corner when possible, so the hole
    moves smoothly; otherwise anywhere (a jump) rather than over the swan.
    """
    h, w = shape.shape
    target = np.array([centre[0] - w / 2, centre[1] - h / 2])
    xs, ys = np.meshgrid(np.arange(0, CLIP_WIDTH - w + 1, _GRID), np.arange(0, CLIP_HEIGHT - h + 1, _GRID))
    corners = np.stack([xs.ravel(), ys.ravel()], axis=1)
    order = np.argsort(((corners - target) ** 2).sum(axis=1), kind="stable")
    corners = corners[order]
    if previous is not None:
        near = np.abs(corners - np.array(previous)).max(axis=1) <= _MAX_STEP
        corners = np.concatenate([corners[near], corners[~near]])
    for x, y in corners:
        if not (protected[y : y + h, x : x + w] & shape).any():
            return int(x), int(y)
    raise RuntimeError("No place for a background hole that misses the swan")


# -- procedural clips -------------------------------------------------------------


def _pan_pole(frames: int) -> tuple[str, np.ndarray, np.ndarray]:
    clip = make_clip(frames=frames, width=CLIP_WIDTH, height=CLIP_HEIGHT, seed=3, pan_px_per_frame=3.0, occluder="pole")
    text = f"make_clip: {frames} frames, pan 3 px/frame with parallax, a pole crossing fast (short occlusions)"
    return text, clip.background, clip.mask


def _tracking_blob(frames: int) -> tuple[str, np.ndarray, np.ndarray]:
    """A pan at half the blob's own speed: a hidden point stays hidden for about 60% of the clip."""
    speed = 0.7 * CLIP_WIDTH / max(frames - 1, 1)  # the occluder's speed across the frame (synthetic.py)
    for seed in range(32):
        for pan in (0.5 * speed, -0.5 * speed):
            clip = make_clip(frames=frames, width=CLIP_WIDTH, height=CLIP_HEIGHT, seed=seed,
                             pan_px_per_frame=pan, occluder="blob")
            # The blob's direction depends on the seed: keep the pan that follows it.
            drift = _centroid_x(clip.mask[-1]) - _centroid_x(clip.mask[0])
            if drift * pan < 0:
                text = (f"make_clip: {frames} frames, pan {abs(pan):.1f} px/frame following a large blob "
                        "(long occlusions), parallax")
                return text, clip.background, clip.mask
    raise RuntimeError("make_clip never produced a blob moving against the pan")


def _centroid_x(mask: np.ndarray) -> float:
    return float(np.nonzero(mask)[1].mean())


# -- writing ----------------------------------------------------------------------


def _as_half(linear: np.ndarray) -> np.ndarray:
    """Round to what a half EXR holds, so truth and plate agree bit for bit outside the holes."""
    return np.clip(linear, -65504, 65504).astype(np.float16).astype(np.float32)


def write_rgba_sequence(pattern: str, plate: np.ndarray, hole: np.ndarray) -> list[int]:
    """The plate as RGBA half EXRs from frame FIRST_FRAME, the hole in A; returns the frame numbers."""
    sequence = SequencePattern.parse(pattern)
    frames = list(range(FIRST_FRAME, FIRST_FRAME + len(plate)))
    for t, frame in enumerate(frames):
        spec = oiio.ImageSpec(plate.shape[2], plate.shape[1], 4, "half")
        spec.channelnames = ("R", "G", "B", "A")
        spec.attribute("compression", "zip")
        pixels = np.concatenate([plate[t], hole[t][..., None].astype(np.float32)], axis=-1).astype(np.float16)
        write_frame(sequence.path(frame), pixels, spec, overwrite=True)
    return frames

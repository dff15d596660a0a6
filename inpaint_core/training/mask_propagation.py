"""Single-frame mask propagation by internal learning (the paper's "single-frame mask" extension).

The user masks the object on one frame. A small U-Net is trained on the shot
itself: the object's pixels are cut from the annotated frame and pasted, at a
random shift, scale and flip, into random crops of the shot's frames, and the
net learns to segment the pasted copy (binary cross-entropy). Where the
frame's own object is known, its area carries no weight: it is the object but
is not labelled so. Known means the user's mask on the annotated frame and,
after a first phase on the annotated frame alone, the net's own (dilated)
predictions on the other frames, refreshed during training, so that the real
object in other frames is not taught as background. The net's predictions on
every frame become the mattes; the annotated frame keeps the user's mask.

Deterministic from the seed: weights from torch's generator, every batch from
a numpy generator.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import cv2
import numpy as np
import OpenImageIO as oiio
import torch
import torch.nn.functional as F

from inpaint_core.io.colour import LogEncoding
from inpaint_core.device import select_device
from inpaint_core.errors import Cancelled, InputError, MaskError
from inpaint_core.io.image_files import read_frame, write_frame
from inpaint_core.masks.mattes import dilate_hole
from inpaint_core.model.segmenter import SIZE_MULTIPLE, SegmentUNet
from inpaint_core.io.sequence import SequencePattern, format_frame_list
from inpaint_core.training.trainer import Progress

if TYPE_CHECKING:
    from inpaint_core.masks.shot import Shot

MATTE_PATTERN = "matte.####.exr"
# The object is pasted at a scale between 1/_SCALE_RANGE and _SCALE_RANGE: mild, the shot's own motion.
_SCALE_RANGE = 1.25
# Share of samples with no pasted object: pure negatives, so the net does not learn "every crop has one".
_EMPTY_SAMPLES = 0.1
# The annotated frame alone is the background for this share of training, before the first pseudo-labels.
_FIRST_PHASE = 1 / 3
# Pseudo-labelled objects are ignored with this margin (fraction of the frame's diagonal), covering
# what the prediction missed at the object's edges.
_IGNORE_MARGIN = 0.02
_FIT_SAMPLES = 200_000


@dataclass
class PropagationSettings:
    # Measured on blackswan from frame 25 (docs/benchmarks.md): mean IoU 0.66 after 200 iterations, 0.83 after
    # 600, 0.94 after 1000 (a static copy of the annotation: 0.74); width 16 at 600 iterations: 0.91, 2.6x the time.
    iterations: int = 1000
    width: int = 8  # base channel count of the U-Net
    crop_size: int = 96
    batch_size: int = 6  # the paper's
    learning_rate: float = 2e-3  # the paper uses 1e-4 over 4k-20k iterations; far fewer here
    # Train and predict with the long side at most this many pixels (0: full size); the masks are scaled
    # back up. The net's cost per frame grows with its area: a 2K plate at full size is out of a CPU's reach.
    max_side: int = 320
    seed: int = 0
    threshold: float = 0.5  # probability above which a pixel is the object
    dilate: int = 0  # grow predicted masks (not the user's) by this many pixels

    def __post_init__(self) -> None:
        for name, low in (("iterations", 1), ("width", 2), ("crop_size", SIZE_MULTIPLE), ("batch_size", 1), ("dilate", 0),
                          ("max_side", 0)):
            if getattr(self, name) < low:
                raise InputError(f"Mask propagation setting {name} must be at least {low} (got {getattr(self, name)}).")
        if not 0.0 < self.threshold < 1.0:
            raise InputError(f"Mask propagation threshold must be between 0 and 1 (got {self.threshold}).")
        if not self.learning_rate > 0:
            raise InputError(f"Mask propagation learning_rate must be positive (got {self.learning_rate}).")


def check_annotation(mask: np.ndarray, frame: int, frames: list[int]) -> None:
    """Refuse an annotation that cannot be propagated, saying what to fix."""
    if frame not in frames:
        raise InputError(f"The mask frame {frame} is not among the shot's frames ({format_frame_list(frames)}); "
                         "choose one of them with --mask-frame.")
    if not mask.any():
        raise MaskError(f"The matte of the mask frame {frame} is empty: there is no object to propagate. "
                        "Check the matte channel and threshold, or annotate another frame.")
    if mask.all():
        raise MaskError(f"The matte of the mask frame {frame} covers the whole frame: nothing tells the object "
                        "from its surroundings. Check the matte (is it inverted?).")


class MaskPropagator:
    """Trains the segmentation net on one shot and predicts its masks."""

    def __init__(self, images: np.ndarray, annotated: int, mask: np.ndarray, settings: PropagationSettings,
                 device: torch.device | None = None):
        """``images``: (T, H, W, C) float, the shot's colour; ``annotated``: index of the masked frame."""
        self.settings = settings
        self.device = device or select_device("auto")  # CUDA when there is one, else the CPU
        self.annotated = annotated
        self.mask = mask.astype(bool)
        self.full_size = mask.shape
        images, small_mask = _working_size(images, self.mask, settings.max_side)
        self.height, self.width = small_mask.shape
        self.images = _pad(_encode(images, settings.seed))  # (T, Hp, Wp, C) float32
        self.ignore = np.zeros(self.images.shape[:3], dtype=bool)
        self.ignore[annotated, : self.height, : self.width] = small_mask
        self.patch, self.alpha = _object_patch(self.images[annotated], small_mask)
        torch.manual_seed(settings.seed)
        self.model = SegmentUNet(self.images.shape[-1], settings.width).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=settings.learning_rate)
        self.rng = np.random.default_rng(settings.seed)
        self.iteration = 0
        self.last_loss = float("nan")

    def train(self, on_progress: Callable[[Progress], None] | None = None,
              should_cancel: Callable[[], bool] | None = None) -> None:
        """Train for ``settings.iterations``; raises Cancelled when asked to stop."""
        total = self.settings.iterations
        refresh = {int(total * _FIRST_PHASE), int(total * 2 * _FIRST_PHASE)} - {0}
        start = time.monotonic()
        while self.iteration < total:
            if should_cancel is not None and should_cancel():
                raise Cancelled(f"Mask propagation cancelled at iteration {self.iteration} of {total}.")
            if self.iteration in refresh and len(self.images) > 1:
                self._refresh_ignore()
            self.last_loss = self.step(everywhere=bool(self.iteration >= min(refresh, default=0)))
            if on_progress is not None:
                elapsed = time.monotonic() - start
                on_progress(Progress(self.iteration, total, self.last_loss, elapsed,
                                     elapsed / self.iteration * (total - self.iteration)))

    def step(self, everywhere: bool = True) -> float:
        """One optimisation step; ``everywhere``: backgrounds from every frame, else the annotated one only."""
        self.model.train()
        x, label, weight = self._batch(everywhere)
        x, label, weight = (torch.from_numpy(a).to(self.device) for a in (x, label, weight))
        logits = self.model(x)
        loss = F.binary_cross_entropy_with_logits(logits, label, weight, reduction="sum") / weight.sum().clamp(min=1.0)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.iteration += 1
        return float(loss.detach())

    @torch.no_grad()
    def probabilities(self, index: int) -> np.ndarray:
        """The object's probability per pixel of one frame, (h, w) float32 at the working size."""
        self.model.eval()
        x = torch.from_numpy(np.ascontiguousarray(self.images[index].transpose(2, 0, 1)[None])).to(self.device)
        return torch.sigmoid(self.model(x))[0, 0, : self.height, : self.width].cpu().numpy()

    def predict(self) -> np.ndarray:
        """(T, H, W) bool masks: the net's on every frame, the user's exactly on the annotated one."""
        height, width = self.full_size
        masks = np.stack([
            dilate_hole(cv2.resize(self.probabilities(t), (width, height), interpolation=cv2.INTER_LINEAR)
                        > self.settings.threshold, self.settings.dilate)
            for t in range(len(self.images))])
        masks[self.annotated] = self.mask
        return masks

    def _refresh_ignore(self) -> None:
        margin = max(1, round(_IGNORE_MARGIN * float(np.hypot(self.height, self.width))))
        for t in range(len(self.images)):
            if t != self.annotated:
                self.ignore[t, : self.height, : self.width] = dilate_hole(
                    self.probabilities(t) > self.settings.threshold, margin)

    def _batch(self, everywhere: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s, rng = self.settings, self.rng
        count, height, width = self.images.shape[:3]
        ch, cw = min(s.crop_size, height) // SIZE_MULTIPLE * SIZE_MULTIPLE, min(s.crop_size, width) // SIZE_MULTIPLE * SIZE_MULTIPLE
        xs = np.empty((s.batch_size, self.images.shape[-1], ch, cw), np.float32)
        labels = np.zeros((s.batch_size, 1, ch, cw), np.float32)
        weights = np.empty((s.batch_size, 1, ch, cw), np.float32)
        for i in range(s.batch_size):
            t = int(rng.integers(count)) if everywhere else self.annotated
            y0, x0 = int(rng.integers(height - ch + 1)), int(rng.integers(width - cw + 1))
            crop = self.images[t, y0 : y0 + ch, x0 : x0 + cw].copy()
            pasted = np.zeros((ch, cw), bool)
            if rng.random() >= _EMPTY_SAMPLES:
                self._paste(crop, pasted, rng)
            xs[i] = crop.transpose(2, 0, 1)
            labels[i, 0] = pasted
            weights[i, 0] = ~(self.ignore[t, y0 : y0 + ch, x0 : x0 + cw] & ~pasted)
        return xs, labels, weights

    def _paste(self, crop: np.ndarray, pasted: np.ndarray, rng: np.random.Generator) -> None:
        """Paste the object, scaled and maybe flipped, with its centre somewhere in the crop."""
        scale = float(np.exp(rng.uniform(-np.log(_SCALE_RANGE), np.log(_SCALE_RANGE))))
        ph, pw = (max(1, round(n * scale)) for n in self.alpha.shape)
        patch = cv2.resize(self.patch, (pw, ph), interpolation=cv2.INTER_LINEAR).reshape(ph, pw, -1)
        alpha = cv2.resize(self.alpha.astype(np.uint8), (pw, ph), interpolation=cv2.INTER_NEAREST).astype(bool)
        if rng.random() < 0.5:
            patch, alpha = patch[:, ::-1], alpha[:, ::-1]
        ch, cw = pasted.shape
        top, left = int(rng.integers(ch)) - ph // 2, int(rng.integers(cw)) - pw // 2
        y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + ph, ch), min(left + pw, cw)
        if y1 <= y0 or x1 <= x0:
            return
        region = alpha[y0 - top : y1 - top, x0 - left : x1 - left]
        crop[y0:y1, x0:x1][region] = patch[y0 - top : y1 - top, x0 - left : x1 - left][region]
        pasted[y0:y1, x0:x1] |= region


def propagate_masks(
    images: np.ndarray,
    annotated: int,
    mask: np.ndarray,
    settings: PropagationSettings | None = None,
    device: torch.device | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> np.ndarray:
    """Train on the shot and return (T, H, W) bool masks; frame ``annotated`` keeps ``mask`` exactly."""
    propagator = MaskPropagator(images, annotated, mask, settings or PropagationSettings(), device)
    propagator.train(on_progress, should_cancel)
    return propagator.predict()


def propagate_shot_mask(
    shot: "Shot",
    folder: str,
    settings: PropagationSettings | None = None,
    device: torch.device | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> str:
    """Propagate the matte of ``shot.spec.mask_frame`` through the shot; write the mattes in ``folder``.

    Returns the mattes' pattern (single-channel 'A' EXRs, 1 = remove). The annotated frame's matte is the
    user's, thresholded; dilation is left to the job, which applies it to every frame alike.
    """
    annotated_frame = shot.spec.mask_frame
    plate, mask = shot.read_annotation()
    check_annotation(mask, annotated_frame, shot.frames)
    images = np.empty((len(shot.frames), shot.height, shot.width, len(shot.colour_channels)), np.float32)
    for t, frame in enumerate(shot.frames):
        if should_cancel is not None and should_cancel():
            raise Cancelled(f"Mask propagation cancelled while reading frame {frame}.")
        images[t] = shot.colour(plate if frame == annotated_frame else read_frame(shot.plate_paths[frame]))
    masks = propagate_masks(images, shot.frames.index(annotated_frame), mask, settings, device, on_progress,
                            should_cancel)
    return write_mattes(masks, shot.frames, plate.spec, folder)


def write_mattes(masks: np.ndarray, frames: list[int], plate_spec: oiio.ImageSpec, folder: str) -> str:
    """Write the masks as single-channel ('A') half EXRs, atomically, in the plate's windows; returns the pattern.

    ``masks`` are in the plate's data window; every file replaces an earlier one of the same name.
    """
    os.makedirs(folder, exist_ok=True)
    pattern = os.path.join(folder, MATTE_PATTERN)
    sequence = SequencePattern.parse(pattern)
    spec = oiio.ImageSpec(plate_spec.width, plate_spec.height, 1, oiio.HALF)
    spec.x, spec.y = plate_spec.x, plate_spec.y
    spec.full_x, spec.full_y = plate_spec.full_x, plate_spec.full_y
    spec.full_width, spec.full_height = plate_spec.full_width, plate_spec.full_height
    spec.channelnames = ("A",)
    spec.attribute("compression", "zip")
    for frame, mask in zip(frames, masks):
        write_frame(sequence.path(frame), mask.astype(np.float16)[..., None], spec, overwrite=True)
    return pattern


def _encode(images: np.ndarray, seed: int) -> np.ndarray:
    """The shot in the network's range, with the inpainting net's encoding (HDR-safe)."""
    flat = images.reshape(-1, images.shape[-1])
    rng = np.random.default_rng(seed)
    sample = flat[rng.integers(0, len(flat), min(len(flat), _FIT_SAMPLES))]
    encoding = LogEncoding.fit(sample[np.all(np.isfinite(sample), axis=1)])
    return np.nan_to_num(encoding.encode(images), nan=0.0, posinf=1.0, neginf=-1.0)


def _working_size(images: np.ndarray, mask: np.ndarray, max_side: int) -> tuple[np.ndarray, np.ndarray]:
    """The shot and the annotation scaled down so the long side is at most ``max_side`` (area filter)."""
    height, width = mask.shape
    scale = max_side / max(height, width) if max_side else 1.0
    if scale >= 1.0:
        return images, mask
    size = (max(SIZE_MULTIPLE, round(width * scale)), max(SIZE_MULTIPLE, round(height * scale)))
    small = np.stack([cv2.resize(np.ascontiguousarray(f, np.float32), size, interpolation=cv2.INTER_AREA)
                      .reshape(size[1], size[0], -1) for f in images])
    small_mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
    if not small_mask.any():  # a sliver thinner than a working pixel: keep its trace
        small_mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    return small, small_mask


def _pad(images: np.ndarray) -> np.ndarray:
    """Edge-pad height and width up to the net's size multiple."""
    height, width = images.shape[1:3]
    ph, pw = -height % SIZE_MULTIPLE, -width % SIZE_MULTIPLE
    if ph or pw:
        images = np.pad(images, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
    return np.ascontiguousarray(images, dtype=np.float32)


def _object_patch(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The object's bounding box: its colour and its mask."""
    rows, cols = np.nonzero(mask)
    y0, y1, x0, x1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    return np.ascontiguousarray(image[y0:y1, x0:x1]), mask[y0:y1, x0:x1].copy()

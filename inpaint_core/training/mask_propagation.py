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

Its run is the one training loop's (loop.py); what is its own here is the
net, the pasted-object batches, the loss and the phases (``after_step``
refreshes the pseudo-labels). Deterministic from the seed: weights from
torch's generator, every batch from a numpy generator; a checkpoint holds that
generator and the pseudo-labels, so a resumed run ends with the same weights.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from inpaint_core.device import select_device
from inpaint_core.errors import Cancelled, InputError
from inpaint_core.io.image_files import read_frame
from inpaint_core.masks.mattes import dilate_hole
from inpaint_core.masks.propagation import (
    check_annotation,
    encode_for_network,
    object_patch,
    pad_to_multiple,
    paste_object,
    working_size,
    write_mattes,
)
from inpaint_core.model.segmenter import SIZE_MULTIPLE, SegmentUNet
from inpaint_core.training.loop import LoopSettings, Progress, TrainingLoop

if TYPE_CHECKING:
    from inpaint_core.masks.shot import Shot

# Share of samples with no pasted object: pure negatives, so the net does not learn "every crop has one".
_EMPTY_SAMPLES = 0.1
# The annotated frame alone is the background for this share of training, before the first pseudo-labels.
_FIRST_PHASE = 1 / 3
# Pseudo-labelled objects are ignored with this margin (fraction of the frame's diagonal), covering
# what the prediction missed at the object's edges.
_IGNORE_MARGIN = 0.02


@dataclass
class PropagationSettings:
    # Where the IoU on real footage levels off; the measurements are in docs/benchmarks.md.
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
        for name, low in (("iterations", 1), ("width", 2), ("crop_size", SIZE_MULTIPLE), ("batch_size", 1),
                          ("dilate", 0), ("max_side", 0)):
            if getattr(self, name) < low:
                raise InputError(f"Mask propagation setting {name} must be at least {low} (got {getattr(self, name)}).")
        if not 0.0 < self.threshold < 1.0:
            raise InputError(f"Mask propagation threshold must be between 0 and 1 (got {self.threshold}).")
        if not self.learning_rate > 0:
            raise InputError(f"Mask propagation learning_rate must be positive (got {self.learning_rate}).")


class MaskPropagator(TrainingLoop):
    """Trains the segmentation net on one shot and predicts its masks."""

    kind = "propagation"
    label = "Mask propagation"

    def __init__(self, images: np.ndarray, annotated: int, mask: np.ndarray, settings: PropagationSettings,
                 device: torch.device | None = None, checkpoint_path: str | None = None):
        """``images``: (T, H, W, C) float, the shot's colour; ``annotated``: index of the masked frame."""
        self.settings = settings
        device = device or select_device("auto")  # CUDA when there is one, else the CPU
        self.annotated = annotated
        self.mask = mask.astype(bool)
        self.full_size = mask.shape
        images, small_mask = working_size(images, self.mask, settings.max_side, SIZE_MULTIPLE)
        self.height, self.width = small_mask.shape
        self.images = pad_to_multiple(encode_for_network(images, settings.seed), SIZE_MULTIPLE)  # (T, Hp, Wp, C)
        self.ignore = np.zeros(self.images.shape[:3], dtype=bool)
        self.ignore[annotated, : self.height, : self.width] = small_mask
        self.patch, self.alpha = object_patch(self.images[annotated], small_mask)
        torch.manual_seed(settings.seed)
        model = SegmentUNet(self.images.shape[-1], settings.width).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
        super().__init__(model, optimizer, LoopSettings(settings.iterations, learning_rate=settings.learning_rate),
                         device, checkpoint_path)
        self.rng = np.random.default_rng(settings.seed)
        total = settings.iterations
        # Pseudo-labels are refreshed after a third and two thirds of the run; from the first refresh on,
        # backgrounds come from every frame.
        self._refresh_at = {int(total * _FIRST_PHASE), int(total * 2 * _FIRST_PHASE)} - {0}
        self._everywhere_from = min(self._refresh_at, default=0)

    def next_batch(self) -> tuple[torch.Tensor, ...]:
        """Drawn here, not on a thread: a batch depends on the phase and on the pseudo-labels of the moment."""
        x, label, weight = self._batch(everywhere=self.iteration >= self._everywhere_from)
        return tuple(torch.from_numpy(a).to(self.device) for a in (x, label, weight))

    def loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Binary cross-entropy of the pasted object, averaged over the pixels that carry weight."""
        x, label, weight = batch
        logits = self.network(x)
        return F.binary_cross_entropy_with_logits(logits, label, weight, reduction="sum") / weight.sum().clamp(min=1.0)

    def after_step(self, iteration: int) -> None:
        """The phases: at each refresh point the net's own predictions become the other frames' known objects."""
        if iteration in self._refresh_at and len(self.images) > 1:
            self._refresh_ignore()

    def compatibility(self) -> dict:
        """The shot's working shape, the annotation, and the settings that fix the weights, batches and phases."""
        count, height, width, channels = self.images.shape
        return {"shot": {"frames": count, "size": [width, height], "channels": channels},
                "annotation": [self.annotated, zlib.crc32(np.packbits(self.mask).tobytes())],
                "width": self.settings.width, "crop_size": self.settings.crop_size,
                "batch_size": self.settings.batch_size, "seed": self.settings.seed,
                "iterations": self.settings.iterations}

    def extra_state(self) -> dict:
        """The batches' generator and the pseudo-labels: both steer every later batch."""
        return {"rng": self.rng.bit_generator.state, "ignore": torch.from_numpy(self.ignore)}

    def load_extra_state(self, state: dict) -> None:
        """Put back the batches' generator and the pseudo-labels."""
        self.rng.bit_generator.state = state["rng"]
        self.ignore = state["ignore"].numpy().copy()

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
        """Crops with the object pasted in (its pixels labelled 1), and where the loss looks (not at known objects)."""
        s, rng = self.settings, self.rng
        count, height, width = self.images.shape[:3]
        ch = min(s.crop_size, height) // SIZE_MULTIPLE * SIZE_MULTIPLE
        cw = min(s.crop_size, width) // SIZE_MULTIPLE * SIZE_MULTIPLE
        xs = np.empty((s.batch_size, self.images.shape[-1], ch, cw), np.float32)
        labels = np.zeros((s.batch_size, 1, ch, cw), np.float32)
        weights = np.empty((s.batch_size, 1, ch, cw), np.float32)
        for i in range(s.batch_size):
            t = int(rng.integers(count)) if everywhere else self.annotated
            y0, x0 = int(rng.integers(height - ch + 1)), int(rng.integers(width - cw + 1))
            crop = self.images[t, y0 : y0 + ch, x0 : x0 + cw].copy()
            pasted = np.zeros((ch, cw), bool)
            if rng.random() >= _EMPTY_SAMPLES:
                paste_object(crop, pasted, self.patch, self.alpha, rng)
            xs[i] = crop.transpose(2, 0, 1)
            labels[i, 0] = pasted
            weights[i, 0] = ~(self.ignore[t, y0 : y0 + ch, x0 : x0 + cw] & ~pasted)
        return xs, labels, weights


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
    shot: Shot,
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

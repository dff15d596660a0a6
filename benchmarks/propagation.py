"""Single-frame mask propagation on real footage: IoU against the DAVIS masks of blackswan.

Every frame's mask is known; only one (the annotated frame) is given to the
propagation, the others score it. The clip is downscaled for the CPU (masks
with nearest-neighbour, so they stay binary). For scale, the baseline copies
the annotated mask to every frame: what a propagation that learned nothing
would score on this slow-moving object.

    .venv/bin/python -m benchmarks.propagation          # print the table
"""

from __future__ import annotations

import glob
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from inpaint_core.training.mask_propagation import PropagationSettings, propagate_masks

from .clips import CLIP_HEIGHT, CLIP_WIDTH, DAVIS_DIR

ANNOTATED_FRAMES = (0, 25)
COPY_METHOD = "copy annotated mask"
NET_METHOD = "propagation (U-Net)"


@dataclass
class PropagationScore:
    method: str
    annotated: int
    mean_iou: float  # over every frame but the annotated one
    min_iou: float
    far_iou: float  # on the frame furthest from the annotated one
    far_frame: int
    seconds: float = 0.0
    iterations: int = 0


@dataclass
class PropagationResult:
    clip: str
    frames: int
    size: list[int]
    settings: dict = field(default_factory=dict)
    scores: list[PropagationScore] = field(default_factory=list)

    @classmethod
    def from_dict(cls, values: dict) -> "PropagationResult":
        return cls(**{**values, "scores": [PropagationScore(**s) for s in values["scores"]]})


def load_davis(frames: int = 50, size: tuple[int, int] = (CLIP_WIDTH, CLIP_HEIGHT)) -> tuple[np.ndarray, np.ndarray]:
    """(T, H, W, 3) float32 sRGB in [0, 1] and (T, H, W) bool object masks, downscaled."""
    image_paths = sorted(glob.glob(os.path.join(DAVIS_DIR, "frames", "*.jpg")))[:frames]
    mask_paths = sorted(glob.glob(os.path.join(DAVIS_DIR, "object_masks", "*.png")))[:frames]
    if not image_paths or len(image_paths) != len(mask_paths):
        raise SystemExit(f"The DAVIS blackswan frames and masks are not in {DAVIS_DIR}.")
    images = [cv2.resize(cv2.imread(p)[..., ::-1], size, interpolation=cv2.INTER_AREA) for p in image_paths]
    masks = [cv2.resize(cv2.imread(p, cv2.IMREAD_GRAYSCALE), size, interpolation=cv2.INTER_NEAREST) > 127
             for p in mask_paths]
    return np.stack(images).astype(np.float32) / 255.0, np.stack(masks)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def score(method: str, predicted: np.ndarray, truth: np.ndarray, annotated: int, seconds: float = 0.0,
          iterations: int = 0) -> PropagationScore:
    others = [t for t in range(len(truth)) if t != annotated]
    ious = {t: iou(predicted[t], truth[t]) for t in others}
    far = max(others, key=lambda t: abs(t - annotated))
    return PropagationScore(method, annotated, float(np.mean(list(ious.values()))), min(ious.values()), ious[far],
                            far, seconds, iterations)


def measure(settings: PropagationSettings, frames: int = 50, annotated_frames: tuple[int, ...] = ANNOTATED_FRAMES,
            log=print) -> PropagationResult:
    images, truth = load_davis(frames)
    result = PropagationResult("blackswan", len(images), [images.shape[2], images.shape[1]], vars(settings).copy())
    for annotated in annotated_frames:
        copied = np.repeat(truth[annotated][None], len(truth), axis=0)
        result.scores.append(score(COPY_METHOD, copied, truth, annotated))
        started = time.monotonic()
        with _one_thread():
            predicted = propagate_masks(images, annotated, truth[annotated], settings,
                                        on_progress=lambda p: _log_every(p, 50, log))
        seconds = time.monotonic() - started
        result.scores.append(score(NET_METHOD, predicted, truth, annotated, seconds, settings.iterations))
        for s in result.scores[-2:]:
            log(f"propagation from frame {annotated}: {s.method}: mean IoU {s.mean_iou:.3f}, min {s.min_iou:.3f}, "
                f"frame {s.far_frame} {s.far_iou:.3f}" + (f", {s.seconds:.0f} s" if s.seconds else ""))
    return result


@contextmanager
def _one_thread():
    """One torch thread: the net and its crops are too small to gain from a second one, and on a shared
    machine two threads per process stall each other (measured: 10x slower steps under a load of 8)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _log_every(progress, every: int, log) -> None:
    if progress.iteration % every == 0:
        log(f"propagation: iteration {progress.iteration}/{progress.iterations}, loss {progress.loss:.4f}, "
            f"{progress.elapsed:.0f} s")


if __name__ == "__main__":
    measure(PropagationSettings())

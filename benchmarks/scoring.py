"""Scores of a filled clip against its ground truth, inside the holes only.

PSNR and SSIM come from ``inpaint_eval.metrics`` (display sRGB of the linear
data), pooled over every hole pixel of the clip.

Flicker: how much the filled region changes from one frame to the next
beyond what the camera and scene motion explain. Frame t+1 of the result is
warped back onto frame t with the optical flow of the ground truth (OpenCV
DIS), and the mean absolute difference is taken over the hole pixels of frame
t whose flow stays in the frame and passes a forward-backward consistency
check (pixels that become occluded have no counterpart to compare with).
The same measurement on the ground truth is the floor (warping blurs a
little, light changes a little): the excess over it is the flicker that the
fill adds. Values are in 8-bit display code values (0-255).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from inpaint_core.io.display import linear_to_srgb
from inpaint_eval.metrics import psnr_in_mask, ssim_in_mask

from .clips import BenchClip
from .flow_baseline import dis_flow, display_grey

# Forward-backward check (Sundaram et al. 2010): |fw + bw|^2 < a (|fw|^2 + |bw|^2) + b.
_FB_RELATIVE = 0.01
_FB_ABSOLUTE = 0.5


@dataclass
class Scores:
    psnr: float  # dB, inside the holes
    ssim: float  # inside the holes
    flicker: float  # 8-bit levels, motion-compensated change of the filled region between frames


@dataclass
class FlowReference:
    """Ground-truth motion of a clip, computed once and used to score every method."""

    maps: list[np.ndarray]  # per t < T-1: (H, W, 2) float32 position in frame t+1 of each pixel of frame t
    valid: list[np.ndarray]  # per t < T-1: (H, W) bool, hole pixels of t that have a reliable counterpart
    truth_flicker: float


def flow_reference(clip: BenchClip) -> FlowReference:
    """Flows of the ground truth between consecutive frames, and the truth's own flicker."""
    grey = [display_grey(frame) for frame in clip.truth]
    height, width = grey[0].shape
    grid = np.stack(np.meshgrid(np.arange(width), np.arange(height)), axis=-1).astype(np.float32)
    maps, valid = [], []
    for t in range(len(grey) - 1):
        forward = dis_flow(grey[t], grey[t + 1])
        backward = dis_flow(grey[t + 1], grey[t])
        position = grid + forward
        maps.append(position)
        valid.append(clip.hole[t] & _inside(position, width, height) & _consistent(forward, backward, position))
    reference = FlowReference(maps, valid, 0.0)
    reference.truth_flicker = flicker(clip.truth, reference)
    return reference


def score(result: np.ndarray, clip: BenchClip, reference: FlowReference) -> Scores:
    """PSNR, SSIM and flicker of a (T, H, W, 3) scene-linear result inside the clip's holes."""
    return Scores(
        psnr=psnr_in_mask(result, clip.truth, clip.hole),
        ssim=ssim_in_mask(result, clip.truth, clip.hole),
        flicker=flicker(result, reference),
    )


def flicker(result: np.ndarray, reference: FlowReference) -> float:
    """Mean |result_t - warp(result_t+1)| over the reference's valid pixels, in 8-bit levels."""
    display = linear_to_srgb(result)
    total, count = 0.0, 0
    for t, (position, valid) in enumerate(zip(reference.maps, reference.valid)):
        if not valid.any():
            continue
        warped = cv2.remap(display[t + 1], position[..., 0], position[..., 1], cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        total += float(np.abs(display[t] - warped)[valid].sum())
        count += int(valid.sum()) * 3
    return 255.0 * total / max(count, 1)


def _inside(position: np.ndarray, width: int, height: int) -> np.ndarray:
    x, y = position[..., 0], position[..., 1]
    return (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)


def _consistent(forward: np.ndarray, backward: np.ndarray, position: np.ndarray) -> np.ndarray:
    back = cv2.remap(backward, position[..., 0], position[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    loop = forward + back
    bound = _FB_RELATIVE * ((forward**2).sum(-1) + (back**2).sum(-1)) + _FB_ABSOLUTE
    return (loop**2).sum(-1) < bound

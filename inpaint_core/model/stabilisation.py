"""The stabilisation regulariser (the paper's answer to "deficiency"): outputs move only as the input moves.

For each sample a small random affine warp T is drawn (translation +-2 px,
rotation +-1 degree, zoom 0.97-1.03, shear +-1 degree, the public
implementation's ranges). The network runs on T(input) with T(hole); the
change of its output must equal the change of the frame itself:
``|(out(T x) - out(x)) - (T(frame) - frame)|``, on pixels known in both the
frame and its warp. Regions hidden for a long time then cannot wander from
frame to frame (flicker), because nothing in the input says they should.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from inpaint_core.model.losses import masked_l1

MAX_SHIFT_PX = 2.0
MAX_ROTATION_DEG = 1.0
ZOOM_RANGE = (0.97, 1.03)
MAX_SHEAR_DEG = 1.0


def random_affines(count: int, height: int, width: int, rng: np.random.Generator) -> torch.Tensor:
    """(count, 2, 3) affine matrices in ``F.affine_grid``'s normalised coordinates."""
    thetas = []
    for _ in range(count):
        angle = math.radians(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG))
        shear = math.radians(rng.uniform(-MAX_SHEAR_DEG, MAX_SHEAR_DEG))
        zoom = rng.uniform(*ZOOM_RANGE)
        # Pixel shifts in normalised units: the grid spans 2 over the width (height).
        shift_x = rng.uniform(-MAX_SHIFT_PX, MAX_SHIFT_PX) * 2.0 / width
        shift_y = rng.uniform(-MAX_SHIFT_PX, MAX_SHIFT_PX) * 2.0 / height
        cos, sin = math.cos(angle), math.sin(angle)
        linear = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1.0, math.tan(shear)], [0.0, 1.0]]) / zoom
        thetas.append(np.hstack([linear, [[shift_x], [shift_y]]]))
    return torch.tensor(np.array(thetas), dtype=torch.float32)


def warp(images: torch.Tensor, theta: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    grid = F.affine_grid(theta.to(images.device), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode=mode, padding_mode="zeros", align_corners=False)


def stabilisation_loss(model: torch.nn.Module, masked: torch.Tensor, hole: torch.Tensor, target: torch.Tensor,
                       known: torch.Tensor, output: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """The regulariser for one batch, given the network's ``output`` on the unwarped ``masked``."""
    count, _, height, width = masked.shape
    theta = random_affines(count, height, width, rng)
    inside = warp(torch.ones_like(hole), theta) > 0.999  # pixels whose warp source lies in the crop
    warped_hole = (warp(hole, theta, mode="nearest") > 0.5).to(hole.dtype)
    warped_target = warp(target, theta)
    warped_masked = warped_target * (1 - warped_hole)
    _, warped_output = model(warped_masked.contiguous(memory_format=torch.channels_last),
                             warped_hole.contiguous(memory_format=torch.channels_last))
    known_both = known * (warp(known, theta, mode="nearest") > 0.5).to(known.dtype) * inside.to(known.dtype)
    return masked_l1(warped_output - output, warped_target - target, known_both)

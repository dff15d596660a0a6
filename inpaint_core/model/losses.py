"""Training losses."""

from __future__ import annotations

import torch


def masked_l1(prediction: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the pixels where ``weight`` is 1.

    ``weight`` is (B, 1, H, W), broadcast over channels. Pixels of weight 0
    (the frame's own hole, whose true content is unknown) add nothing to the
    loss or its gradient.
    """
    # where(), not a product: a NaN under the hole must not leak into the sum.
    error = torch.where(weight > 0, torch.abs(prediction - target) * weight, torch.zeros_like(prediction))
    total = error.sum()
    count = weight.sum() * prediction.shape[1]
    return total / count.clamp_min(1.0)

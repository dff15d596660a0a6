"""The segmentation network of single-frame mask propagation: a small U-Net.

Input: a frame in the network's [-1, 1] encoding. Output: one logit per pixel
(object vs. not). Three stride-2 stages, so sides must be multiples of
SIZE_MULTIPLE (callers pad). No normalisation layers: batches are small and
the same weights must behave identically in training and prediction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SIZE_MULTIPLE = 8


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1), nn.LeakyReLU(0.2, inplace=True),
    )


class SegmentUNet(nn.Module):
    """Encoder c, 2c, 4c, bottleneck 8c; decoder with skip connections; 1-channel logits."""

    def __init__(self, channels: int = 3, width: int = 16):
        super().__init__()
        c = width
        self.enc1 = _block(channels, c)
        self.enc2 = _block(c, 2 * c)
        self.enc3 = _block(2 * c, 4 * c)
        self.bottleneck = _block(4 * c, 8 * c)
        self.dec3 = _block(8 * c + 4 * c, 4 * c)
        self.dec2 = _block(4 * c + 2 * c, 2 * c)
        self.dec1 = _block(2 * c + c, c)
        self.head = nn.Conv2d(c, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        b = self.bottleneck(F.max_pool2d(e3, 2))
        d3 = self.dec3(torch.cat([_up(b), e3], dim=1))
        d2 = self.dec2(torch.cat([_up(d3), e2], dim=1))
        d1 = self.dec1(torch.cat([_up(d2), e1], dim=1))
        return self.head(d1)


def _up(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)

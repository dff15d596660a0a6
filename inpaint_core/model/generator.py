"""The generator: a two-stage gated-convolution network (the paper's "RefineModel").

Input: a frame with its holes zeroed, in the network's [-1, 1] encoding,
concatenated with the hole mask. Output: the coarse stage's and the refine
stage's reconstructions, both tanh, both supervised during training.
Gated convolutions (DeepFill v2) let every layer learn which pixels to trust,
which a plain convolution over zeroed holes cannot.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# The two stride-2 stages need sides divisible by 4; other sizes are padded.
SIZE_MULTIPLE = 4


class GatedConv(nn.Module):
    """conv -> split into features and gate -> ELU(features) * sigmoid(gate)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, dilation: int = 1):
        super().__init__()
        padding = dilation * (kernel - 1) // 2
        self.conv = nn.Conv2d(cin, 2 * cout, kernel, stride, padding, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, gate = self.conv(x).chunk(2, dim=1)
        return F.elu(features) * torch.sigmoid(gate)


class GatedUpConv(GatedConv):
    """Nearest-neighbour x2 upsampling, then a gated conv (no checkerboard artefacts)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.interpolate(x, scale_factor=2, mode="nearest"))


def _encoder(cin: int, c: int, dilated: bool) -> nn.Sequential:
    layers = [
        GatedConv(cin, c, 5),
        GatedConv(c, 2 * c, 3, stride=2),
        GatedConv(2 * c, 2 * c),
        GatedConv(2 * c, 4 * c, 3, stride=2),
        GatedConv(4 * c, 4 * c),
        GatedConv(4 * c, 4 * c),
    ]
    if dilated:
        layers += [GatedConv(4 * c, 4 * c, dilation=rate) for rate in (2, 4, 8, 16)]
    return nn.Sequential(*layers)


def _decoder(cin: int, c: int, channels: int) -> nn.Sequential:
    return nn.Sequential(
        GatedConv(cin, 4 * c),
        GatedConv(4 * c, 4 * c),
        GatedUpConv(4 * c, 2 * c),
        GatedConv(2 * c, 2 * c),
        GatedUpConv(2 * c, c),
        GatedConv(c, max(c // 2, 1)),
        nn.Conv2d(max(c // 2, 1), channels, 3, padding=1),  # no gate, no activation: tanh follows
    )


class CoarseNet(nn.Module):
    def __init__(self, channels: int, width: int):
        super().__init__()
        self.encoder = _encoder(channels + 1, width, dilated=True)
        self.decoder = _decoder(4 * width, width, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.decoder(self.encoder(x)))


class RefineNet(nn.Module):
    """Two encoder branches (dilated and plain) joined by one decoder."""

    def __init__(self, channels: int, width: int):
        super().__init__()
        self.dilated = _encoder(channels + 1, width, dilated=True)
        self.plain = _encoder(channels + 1, width, dilated=False)
        self.decoder = _decoder(8 * width, width, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = torch.cat([self.dilated(x), self.plain(x)], dim=1)
        return torch.tanh(self.decoder(features))


class InpaintGenerator(nn.Module):
    """Coarse net, then (optionally) a refine net on the coarse result pasted into the holes."""

    def __init__(self, channels: int = 3, width: int = 32, two_stage: bool = True):
        super().__init__()
        self.channels = channels
        self.coarse = CoarseNet(channels, width)
        self.refine = RefineNet(channels, width) if two_stage else None

    def forward(self, masked: torch.Tensor, hole: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """masked: (B, C, H, W) with holes zeroed; hole: (B, 1, H, W), 1 = unknown.

        Returns (coarse, final); final is the refine output, or coarse again
        for a one-stage net.
        """
        height, width = masked.shape[-2:]
        masked, hole = _pad_to_multiple(masked), _pad_to_multiple(hole)
        coarse = self.coarse(torch.cat([masked, hole], dim=1))
        final = coarse
        if self.refine is not None:
            pasted = coarse * hole + masked * (1 - hole)
            final = self.refine(torch.cat([pasted, hole], dim=1))
        return coarse[..., :height, :width], final[..., :height, :width]


def _pad_to_multiple(x: torch.Tensor) -> torch.Tensor:
    pad_h = -x.shape[-2] % SIZE_MULTIPLE
    pad_w = -x.shape[-1] % SIZE_MULTIPLE
    if pad_h == 0 and pad_w == 0:
        return x
    return F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")

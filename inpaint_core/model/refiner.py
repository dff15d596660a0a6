"""The propagation refiner: a small gated-conv network that corrects propagation's fill of a hole.

Input: the frame with its holes zeroed, the hole mask, propagation's candidate frame (the frame with every hole
pixel set to the colour other frames show, Telea where none does) and the "seen" plane, all in the network's
[-1, 1] encoding. Output: the candidate plus a learned correction. The last layer starts at zero, so an
untrained refiner is propagation alone, and the correction is clamped to ``trust``: the refiner may move a pixel
only as far as it was trained to (the pixels whose candidate erred by more are left out of its loss). The
candidate itself is never clamped: an encoded highlight beyond 1 (the encoding fits 99.9% of the plate into
[-0.9, 0.9]) passes through as propagation found it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from inpaint_core.model.generator import SIZE_MULTIPLE, GatedConv, GatedUpConv

DEFAULT_TRUST = 0.5  # in the encoding's units; measured in benchmarks/experiments/README.md, section 7


class PropagationRefiner(nn.Module):
    """Encoder-decoder with dilated middle layers and skips at full and half size."""

    def __init__(self, channels: int = 3, width: int = 16, trust: float = DEFAULT_TRUST):
        super().__init__()
        self.channels, self.trust = channels, trust
        c = width
        self.e1 = GatedConv(2 * channels + 2, c, 5)
        self.e2 = GatedConv(c, 2 * c, 3, stride=2)
        self.e3 = GatedConv(2 * c, 4 * c, 3, stride=2)
        self.middle = nn.Sequential(*[GatedConv(4 * c, 4 * c, dilation=rate) for rate in (1, 2, 4, 8)])
        self.u2 = GatedUpConv(4 * c, 2 * c)
        self.d2 = GatedConv(4 * c, 2 * c)
        self.u1 = GatedUpConv(2 * c, c)
        self.d1 = GatedConv(2 * c, c)
        self.out = nn.Conv2d(c, channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)  # step 0 is propagation alone
        nn.init.zeros_(self.out.bias)

    def forward(self, masked: torch.Tensor, hole: torch.Tensor, candidate: torch.Tensor,
                seen: torch.Tensor) -> torch.Tensor:
        """masked, candidate: (B, C, H, W); hole, seen: (B, 1, H, W). Returns the refined frame (B, C, H, W)."""
        height, width = masked.shape[-2:]
        x = _pad(torch.cat([masked, hole, candidate, seen], dim=1))
        f1 = self.e1(x)
        f2 = self.e2(f1)
        f = self.middle(self.e3(f2))
        f = self.d2(torch.cat([self.u2(f), f2], dim=1))
        f = self.d1(torch.cat([self.u1(f), f1], dim=1))
        correction = self.out(f)[..., :height, :width]
        if self.trust > 0:
            correction = correction.clamp(-self.trust, self.trust)
        return candidate + correction  # no clamp to [-1, 1]: a highlight beyond the fitted range stays


def _pad(x: torch.Tensor) -> torch.Tensor:
    pad_h, pad_w = -x.shape[-2] % SIZE_MULTIPLE, -x.shape[-1] % SIZE_MULTIPLE
    return F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x

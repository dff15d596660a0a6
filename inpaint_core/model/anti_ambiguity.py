"""The anti-ambiguity regulariser: a contextual loss that brings back detail lost to averaging.

Where several frames offer different content for a hole, an L1-trained net
averages them and the fill goes soft. The paper adds a contextual loss
(Mechrez et al. 2018) between the fill of one frame and the known content of
another frame: every feature of the fill should have a close match among the
other frame's features, whatever their position, so the fill is pushed
towards real texture rather than towards a blur.

The paper compares features of an ImageNet-trained VGG19, whose weights cannot
be fetched here. We use one fixed layer of random, zero-mean 3x3 filters at
stride 2 with ReLU (random conv features capture texture statistics:
Ustyuzhaninov et al., ICLR 2017). The depth was chosen by measurement
(benchmarks/features.py, docs/benchmarks.md): on the real clip, the term must
cost more for a blurred crop than for the crop itself when both are compared
with another frame. One such layer ranks every crop right; deeper random
stages (1/4, 1/8 of the size) pool the high frequencies away and end up
preferring the blur; zero-mean filters (which answer to texture, not to
brightness) separate the two more clearly than plain ones. The bank is fixed, never
trained, so it cannot collapse the way the generator's own encoder features
could when the loss pulls on them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# The contextual loss's bandwidth and stabiliser, as in Mechrez et al.
BANDWIDTH = 0.5
EPSILON = 1e-5
# At most this many feature positions per side enter the (N x M) similarity matrix.
MAX_POSITIONS = 1024
# Seed of the random bank: the features are the same in every run and every job.
BANK_SEED = 1234


class RandomFeatureBank(nn.Module):
    """``depth`` stride-2 stages of random 3x3 convolutions + ReLU; the last stage's features.

    The default (one stage, zero-mean filters) is what the loss uses; the other
    forms exist for the benchmark that justifies it.
    """

    def __init__(self, channels: int, depth: int = 1, zero_mean: bool = True, seed: int = BANK_SEED, width: int = 32):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        # The global random state (which drew the generator's weights and is saved in checkpoints) must
        # not depend on whether the term is on: build the layers without touching it.
        with torch.random.fork_rng(devices=[]):
            widths = [channels] + [width * min(2, 1 + i) for i in range(depth)]
            self.stages = nn.ModuleList([nn.Conv2d(cin, cout, 3, stride=2, padding=1)
                                         for cin, cout in zip(widths, widths[1:])])
        for conv in self.stages:
            # He-style initialisation from the bank's own generator: the same features in every job.
            weight = torch.randn(conv.weight.shape, generator=generator) * (2.0 / (conv.in_channels * 9)) ** 0.5
            if zero_mean:  # a filter that sums to zero answers to texture, not to brightness
                weight = weight - weight.mean(dim=(1, 2, 3), keepdim=True)
            conv.weight.data = weight
            conv.bias.data.zero_()
        self.requires_grad_(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images
        for conv in self.stages:
            x = F.relu(conv(x))
        return x


def contextual_loss(features: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """-log CX(X, Y) for feature sets X (N, D) and Y (M, D) (Mechrez et al. 2018).

    For each reference feature, the fill feature that matches it best, with
    similarities normalised per fill feature so that only clear matches count.
    """
    y_mean = reference.mean(dim=0, keepdim=True)
    x = F.normalize(features - y_mean, dim=1)
    y = F.normalize(reference - y_mean, dim=1)
    distance = (1.0 - x @ y.t()).clamp_min(0.0)  # (N, M) cosine distances
    relative = distance / (distance.min(dim=1, keepdim=True).values + EPSILON)
    weights = torch.exp((1.0 - relative) / BANDWIDTH)
    context = weights / weights.sum(dim=1, keepdim=True)
    similarity = context.max(dim=0).values.mean()
    return -torch.log(similarity + EPSILON)


class AntiAmbiguityLoss(nn.Module):
    """Contextual loss between each sample's fill and the known content of the same place in a nearby frame.

    In a shot the camera or the object moves little from frame to frame, so the
    same crop a few frames away holds the textures the hole should have, in
    other places (as the paper's "another frame"). Only feature positions inside
    the hidden area count on the fill's side, and only positions fully known on
    the reference side. A first version compared with the next crop of the batch
    (a random place): unrelated content, which pulled fills towards the wrong
    textures (docs/benchmarks.md). Counting only the hidden positions whose truth
    is known (borrowed holes over plate) was measured too, and was worse still.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.bank = RandomFeatureBank(channels)

    def forward(self, output: torch.Tensor, target: torch.Tensor, hole: torch.Tensor,
                reference: torch.Tensor, reference_known: torch.Tensor) -> torch.Tensor:
        composite = output * hole + target * (1 - hole)
        fill_features = self.bank(composite)
        with torch.no_grad():
            reference_features = self.bank(reference)
        size = fill_features.shape[-2:]
        # A feature position is "in the hole" if any of its pixels was hidden, "known" if all of them are.
        in_hole = F.adaptive_max_pool2d(hole, size) > 0.5
        fully_known = -F.adaptive_max_pool2d(-reference_known, size) > 0.5
        losses = []
        for b in range(output.shape[0]):
            x = _positions(fill_features[b], in_hole[b, 0])
            y = _positions(reference_features[b], fully_known[b, 0])
            if len(x) and len(y) > 1:
                losses.append(contextual_loss(x, y))
        if not losses:
            return output.new_zeros(())
        return torch.stack(losses).mean()


def _positions(feature_map: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """(N, D) features at the positions where ``where`` is true, at most MAX_POSITIONS evenly spaced."""
    selected = feature_map.flatten(1)[:, where.flatten()].t()
    if len(selected) > MAX_POSITIONS:
        step = -(-len(selected) // MAX_POSITIONS)
        selected = selected[::step]
    return selected

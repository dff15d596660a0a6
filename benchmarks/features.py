"""Which features the anti-ambiguity term compares: does a feature space tell a blurred fill from real texture?

ImageNet VGG weights cannot be fetched here, so the choice is between feature
extractors that need no download. The property the contextual loss needs is
that a fill which averages its sources (a blur) matches another frame's real
content *worse* than real content does. Measured on the real clip: for random
known crops of one frame, the contextual loss against the same place in a
frame a few frames away, once for the crop itself and once for the crop
blurred; the extractor is useful when the blur costs more, for most crops
(ranking accuracy) and by a clear margin (the gap in standard deviations).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from inpaint_core.io.colour import LogEncoding
from inpaint_core.model.anti_ambiguity import AntiAmbiguityLoss, RandomFeatureBank, contextual_loss
from inpaint_core.model.generator import InpaintGenerator

from .clips import BenchClip

CROP = 64
SEARCH = 16  # the reference crop is this much larger on every side: the content may have moved
FRAME_GAP = 3
BLUR_SIGMA = 2.0


@dataclass
class FeatureChoice:
    extractor: str
    ranking_accuracy: float  # share of crops where the blurred crop costs more than the real one
    gap_sd: float  # mean (blur - real) cost over its standard deviation
    ms_per_step: float  # the term's forward + backward on a draft batch (8 x 96 x 96); NaN where not measured


@dataclass
class FeatureResult:
    clip: str
    crops: int
    choices: list[FeatureChoice]

    @classmethod
    def from_dict(cls, raw: dict) -> "FeatureResult":
        return cls(raw["clip"], raw["crops"], [FeatureChoice(**c) for c in raw["choices"]])


def feature_choice(clip: BenchClip, crops: int, log: Callable[[str], None]) -> FeatureResult:
    encoded = _encode(clip.truth)
    pairs = _crop_pairs(encoded, clip.hole, crops, np.random.default_rng(0))
    extractors = _extractors(encoded.shape[-1])
    choices = []
    for name, extract in extractors.items():
        gaps = np.array([_cost(extract, _blur(a), b) - _cost(extract, a, b) for a, b in pairs])
        cost = _step_ms(encoded.shape[-1]) if name.endswith("(ours)") else float("nan")
        choice = FeatureChoice(name, float((gaps > 0).mean()), float(gaps.mean() / (gaps.std() + 1e-12)), cost)
        log(f"features: {name}: blur costs more in {100 * choice.ranking_accuracy:.0f}% of crops, "
            f"gap {choice.gap_sd:.2f} sd")
        choices.append(choice)
    return FeatureResult(clip.name, len(pairs), choices)


def _encode(truth: np.ndarray) -> np.ndarray:
    encoding = LogEncoding.fit(truth.reshape(-1, truth.shape[-1])[::97])
    return encoding.encode(truth).astype(np.float32)


def _crop_pairs(images: np.ndarray, holes: np.ndarray, count: int, rng: np.random.Generator):
    """(crop of frame t, larger crop around the same place in frame t + FRAME_GAP), both free of holes."""
    frames, height, width, _ = images.shape
    pairs = []
    for _ in range(count * 50):
        if len(pairs) == count:
            break
        t = int(rng.integers(frames - FRAME_GAP))
        y = int(rng.integers(SEARCH, height - CROP - SEARCH))
        x = int(rng.integers(SEARCH, width - CROP - SEARCH))
        ref = (slice(y - SEARCH, y + CROP + SEARCH), slice(x - SEARCH, x + CROP + SEARCH))
        if holes[t, y:y + CROP, x:x + CROP].any() or holes[t + FRAME_GAP][ref].any():
            continue
        pairs.append((images[t, y:y + CROP, x:x + CROP], images[t + FRAME_GAP][ref]))
    return pairs


def _blur(image: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), BLUR_SIGMA)


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]


@torch.no_grad()
def _cost(extract, crop: np.ndarray, reference: np.ndarray) -> float:
    x, y = extract(_tensor(crop)), extract(_tensor(reference))
    return float(contextual_loss(x[0].flatten(1).t(), y[0].flatten(1).t()))


def _extractors(channels: int) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    torch.manual_seed(0)
    generator = InpaintGenerator(channels, 16, two_stage=False).eval()
    encoder = generator.coarse.encoder[:4]  # down to 1/4 of the size, as the bank's first output

    def generator_features(image: torch.Tensor) -> torch.Tensor:
        return encoder(torch.cat([image, torch.zeros_like(image[:, :1])], dim=1))

    def pixel_patches(image: torch.Tensor) -> torch.Tensor:
        return F.unfold(image, 8, stride=4).view(1, -1, *_grid(image, 8, 4))

    return {
        "random conv bank, 1 zero-mean stage (ours)": RandomFeatureBank(channels),
        "the same, another seed": RandomFeatureBank(channels, seed=99),
        "random conv bank, 2 zero-mean stages": RandomFeatureBank(channels, depth=2),
        "random conv bank, 3 zero-mean stages": RandomFeatureBank(channels, depth=3),
        "random conv bank, 1 stage, plain filters": RandomFeatureBank(channels, zero_mean=False),
        "random conv bank, 3 stages, plain filters": RandomFeatureBank(channels, depth=3, zero_mean=False),
        "generator's encoder at initialisation": generator_features,
        "raw 8x8 pixel patches": pixel_patches,
    }


def _grid(image: torch.Tensor, size: int, stride: int) -> tuple[int, int]:
    return ((image.shape[-2] - size) // stride + 1, (image.shape[-1] - size) // stride + 1)


def _step_ms(channels: int, repeats: int = 5) -> float:
    """The term's cost on a draft batch: forward and backward through the fill."""
    loss = AntiAmbiguityLoss(channels)
    rng = np.random.default_rng(0)
    target = torch.tensor(rng.uniform(-1, 1, (8, channels, 96, 96)), dtype=torch.float32)
    hole = torch.zeros(8, 1, 96, 96)
    hole[:, :, 24:72, 24:72] = 1
    known = torch.ones_like(hole)
    best = float("inf")
    for _ in range(repeats):
        output = target.clone().requires_grad_(True)
        start = time.perf_counter()
        loss(output, target, hole, torch.roll(target, 8, dims=-1), known).backward()
        best = min(best, time.perf_counter() - start)
    return 1000 * best

"""Running a trained generator on whole frames and compositing into the plate."""

from __future__ import annotations

import numpy as np
import torch

from inpaint_core.io.colour import LogEncoding, from_float32
from inpaint_core.model.generator import InpaintGenerator


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """An (N, C, H, W) array on the device, channels-last like the models' weights."""
    return torch.from_numpy(array).to(device).contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def fill_encoded(model: InpaintGenerator, encoded: np.ndarray, hole: np.ndarray, device: torch.device) -> np.ndarray:
    """The network's reconstruction of one frame, in the encoding: (H, W, C) float32."""
    was_training = model.training
    model.eval()
    masked = torch.from_numpy(np.ascontiguousarray(encoded.transpose(2, 0, 1), dtype=np.float32))[None]
    hole_t = torch.from_numpy(hole.astype(np.float32))[None, None]
    hole_t = hole_t.to(device).contiguous(memory_format=torch.channels_last)
    masked = masked.to(device).contiguous(memory_format=torch.channels_last) * (1 - hole_t)
    _, final = model(masked, hole_t)
    model.train(was_training)
    return final[0].float().cpu().numpy().transpose(1, 2, 0)


def composite(original: np.ndarray, hole: np.ndarray, filled: np.ndarray, channels: list[int]) -> np.ndarray:
    """The plate with ``filled`` (float32, one plane per entry of ``channels``) inside the hole.

    Everything else, every channel outside the hole and every channel not in
    ``channels``, is the plate's own bits in the plate's own pixel type.
    """
    out = original.copy()
    values = from_float32(filled, original.dtype)
    for plane, channel in enumerate(channels):
        out[..., channel][hole] = values[..., plane][hole]
    return out


def inpaint_frame(
    model: InpaintGenerator,
    encoding: LogEncoding,
    pixels: np.ndarray,
    colour: np.ndarray,
    hole: np.ndarray,
    channels: list[int],
    device: torch.device,
) -> np.ndarray:
    """One plate frame with its hole filled, in the plate's pixel type.

    ``colour`` is the float32 view of ``pixels[..., channels]``; non-finite
    values under the hole are ignored (the network never sees hole pixels).
    """
    if not hole.any():
        return pixels.copy()
    encoded = encoding.encode(np.where(hole[..., None], 0.0, colour))
    filled = encoding.decode(fill_encoded(model, encoded, hole, device))
    return composite(pixels, hole, filled, channels)

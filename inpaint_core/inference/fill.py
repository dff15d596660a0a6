"""Running a trained generator on whole frames and compositing into the plate."""

from __future__ import annotations

import numpy as np
import torch

from inpaint_core.io.colour import LogEncoding, from_float32
from inpaint_core.model.generator import SIZE_MULTIPLE, InpaintGenerator
from inpaint_core.model.refiner import PropagationRefiner


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


# The refiner runs on the hole's bounding box and this much of the frame around it: more than its receptive field
# reaches (about 70 px) and than the 96 px crops it trains on show, so the fill is that of the whole frame at a
# fraction of the cost (an HD frame with a small hole: seconds instead of ten).
REFINE_MARGIN = 96


@torch.no_grad()
def refine_encoded(model: PropagationRefiner, encoded: np.ndarray, hole: np.ndarray, candidate: np.ndarray,
                   seen: np.ndarray, device: torch.device) -> np.ndarray:
    """One frame through the refiner, in the encoding: (H, W, C) float32; the candidate away from the hole."""
    out = np.array(candidate, dtype=np.float32, copy=True)
    if not hole.any():
        return out
    ys, xs = np.nonzero(hole)
    # Corners on the stride grid (a multiple of 4), so the strided layers sample as they do on the whole frame.
    top, left = (max(0, int(v) - REFINE_MARGIN) // SIZE_MULTIPLE * SIZE_MULTIPLE for v in (ys.min(), xs.min()))
    window = (slice(top, ys.max() + 1 + REFINE_MARGIN), slice(left, xs.max() + 1 + REFINE_MARGIN))
    was_training = model.training
    model.eval()

    def tensor(array: np.ndarray) -> torch.Tensor:
        planes = array[window].transpose(2, 0, 1) if array.ndim == 3 else array[window][None]
        t = torch.from_numpy(np.ascontiguousarray(planes, dtype=np.float32))[None]
        return t.to(device).contiguous(memory_format=torch.channels_last)

    hole_t = tensor(hole.astype(np.float32))
    refined = model(tensor(encoded) * (1 - hole_t), hole_t, tensor(candidate), tensor(seen.astype(np.float32)))
    model.train(was_training)
    out[window] = refined[0].float().cpu().numpy().transpose(1, 2, 0)
    return out


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

"""The pure parts of single-frame mask propagation: the annotation's checks, the working size, the object
patch and its pasting, and the mattes written from the propagated masks.

The trainer that learns to segment the pasted object (training/mask_propagation.py)
builds on these; none of them needs a network.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import OpenImageIO as oiio

from inpaint_core.errors import InputError, MaskError
from inpaint_core.io.colour import LogEncoding
from inpaint_core.io.image_files import write_frame
from inpaint_core.io.sequence import SequencePattern, format_frame_list

MATTE_PATTERN = "matte.####.exr"
# The object is pasted at a scale between 1/PASTE_SCALE_RANGE and PASTE_SCALE_RANGE: mild, the shot's own motion.
PASTE_SCALE_RANGE = 1.25
# Pixels the colour encoding is fitted on: enough for stable percentiles, a bounded cost on a long shot.
_FIT_SAMPLES = 200_000


def check_annotation(mask: np.ndarray, frame: int, frames: list[int]) -> None:
    """Refuse an annotation that cannot be propagated, saying what to fix."""
    if frame not in frames:
        raise InputError(f"The mask frame {frame} is not among the shot's frames ({format_frame_list(frames)}); "
                         "choose one of them with --mask-frame.")
    if not mask.any():
        raise MaskError(f"The matte of the mask frame {frame} is empty: there is no object to propagate. "
                        "Check the matte channel and threshold, or annotate another frame.")
    if mask.all():
        raise MaskError(f"The matte of the mask frame {frame} covers the whole frame: nothing tells the object "
                        "from its surroundings. Check the matte (is it inverted?).")


def encode_for_network(images: np.ndarray, seed: int) -> np.ndarray:
    """The shot in a network's range, with the inpainting net's encoding (HDR-safe); non-finite values cleared."""
    flat = images.reshape(-1, images.shape[-1])
    rng = np.random.default_rng(seed)
    sample = flat[rng.integers(0, len(flat), min(len(flat), _FIT_SAMPLES))]
    encoding = LogEncoding.fit(sample[np.all(np.isfinite(sample), axis=1)])
    return np.nan_to_num(encoding.encode(images), nan=0.0, posinf=1.0, neginf=-1.0)


def working_size(images: np.ndarray, mask: np.ndarray, max_side: int, multiple: int) -> tuple[np.ndarray, np.ndarray]:
    """The shot and the annotation scaled down so the long side is at most ``max_side`` (area filter).

    Neither side goes below ``multiple`` (the network's size multiple); ``max_side`` 0 keeps the full size.
    """
    height, width = mask.shape
    scale = max_side / max(height, width) if max_side else 1.0
    if scale >= 1.0:
        return images, mask
    size = (max(multiple, round(width * scale)), max(multiple, round(height * scale)))
    small = np.stack([cv2.resize(np.ascontiguousarray(f, np.float32), size, interpolation=cv2.INTER_AREA)
                      .reshape(size[1], size[0], -1) for f in images])
    small_mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
    if not small_mask.any():  # a sliver thinner than a working pixel: keep its trace
        small_mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    return small, small_mask


def pad_to_multiple(images: np.ndarray, multiple: int) -> np.ndarray:
    """(T, H, W, C) edge-padded in height and width up to ``multiple``, as float32."""
    height, width = images.shape[1:3]
    ph, pw = -height % multiple, -width % multiple
    if ph or pw:
        images = np.pad(images, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
    return np.ascontiguousarray(images, dtype=np.float32)


def object_patch(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The object's bounding box: its colour and its mask."""
    rows, cols = np.nonzero(mask)
    y0, y1, x0, x1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    return np.ascontiguousarray(image[y0:y1, x0:x1]), mask[y0:y1, x0:x1].copy()


def paste_object(crop: np.ndarray, pasted: np.ndarray, patch: np.ndarray, alpha: np.ndarray,
                 rng: np.random.Generator) -> None:
    """Paste the object (``patch`` where ``alpha``), scaled and maybe flipped, centred somewhere in ``crop``.

    ``crop`` (h, w, C) and ``pasted`` (h, w) bool, the pasted object's pixels, are changed in place.
    """
    scale = float(np.exp(rng.uniform(-np.log(PASTE_SCALE_RANGE), np.log(PASTE_SCALE_RANGE))))
    ph, pw = (max(1, round(n * scale)) for n in alpha.shape)
    patch = cv2.resize(patch, (pw, ph), interpolation=cv2.INTER_LINEAR).reshape(ph, pw, -1)
    alpha = cv2.resize(alpha.astype(np.uint8), (pw, ph), interpolation=cv2.INTER_NEAREST).astype(bool)
    if rng.random() < 0.5:
        patch, alpha = patch[:, ::-1], alpha[:, ::-1]
    ch, cw = pasted.shape
    top, left = int(rng.integers(ch)) - ph // 2, int(rng.integers(cw)) - pw // 2
    y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + ph, ch), min(left + pw, cw)
    if y1 <= y0 or x1 <= x0:
        return
    region = alpha[y0 - top : y1 - top, x0 - left : x1 - left]
    crop[y0:y1, x0:x1][region] = patch[y0 - top : y1 - top, x0 - left : x1 - left][region]
    pasted[y0:y1, x0:x1] |= region


def write_mattes(masks: np.ndarray, frames: list[int], plate_spec: oiio.ImageSpec, folder: str) -> str:
    """Write the masks as single-channel ('A') half EXRs, atomically, in the plate's windows; returns the pattern.

    ``masks`` are in the plate's data window; every file replaces an earlier one of the same name.
    """
    os.makedirs(folder, exist_ok=True)
    pattern = os.path.join(folder, MATTE_PATTERN)
    sequence = SequencePattern.parse(pattern)
    spec = oiio.ImageSpec(plate_spec.width, plate_spec.height, 1, oiio.HALF)
    spec.x, spec.y = plate_spec.x, plate_spec.y
    spec.full_x, spec.full_y = plate_spec.full_x, plate_spec.full_y
    spec.full_width, spec.full_height = plate_spec.full_width, plate_spec.full_height
    spec.channelnames = ("A",)
    spec.attribute("compression", "zip")
    for frame, mask in zip(frames, masks):
        write_frame(sequence.path(frame), mask.astype(np.float16)[..., None], spec, overwrite=True)
    return pattern

"""Procedural test clips: a camera pan across an HDR scene with an occluder to remove.

Tests and demos need a shot whose ground truth is known and that needs no
downloads. The scene is built so that internal-learning inpainting has
something to learn: the camera pans, so what the occluder hides in one frame is
seen in others; the content is structured (buildings, windows, stripes, tiles),
not noise, so it can be remembered; a foreground layer moves faster than the
background (parallax), so a single global shift does not explain the motion.
Values are scene-linear like a real plate: a sun far above 1.0, emissive
windows above 1.0, and grain that pushes a few black pixels slightly negative.

Everything is a pure function of the arguments, the seed included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from inpaint_core.errors import InputError

# "pinned": the pole, plus a box pinned to the background (a sign on a wall): the background behind the box is
# hidden in every frame, so no frame of the shot shows it (``SyntheticClip.hidden``).
OCCLUDERS = ("pole", "blob", "pinned")

# The world is rendered at this multiple of the output resolution and reduced
# with area averaging, so edges are anti-aliased and sub-pixel pans look smooth.
_SUPERSAMPLE = 2
# The foreground layer moves this much faster than the background (parallax).
_FOREGROUND_SPEED = 1.6
# Extra world pixels on each side so bilinear sampling never reads the border.
_MARGIN = 4
_MIN_SIZE = 32
# The occluder covers about this fraction of the frame before the 1 px dilation.
_OCCLUDER_AREA = 0.08

_BUILDING_COLOURS = np.array(
    [
        [0.32, 0.08, 0.05],  # brick red
        [0.55, 0.48, 0.32],  # cream
        [0.04, 0.22, 0.24],  # teal
        [0.45, 0.28, 0.03],  # ochre
        [0.14, 0.17, 0.30],  # slate blue
        [0.30, 0.30, 0.30],  # concrete
    ],
    dtype=np.float32,
)


@dataclass
class SyntheticClip:
    """A clip with its ground truth: remove ``mask`` from ``plate`` to get ``background``."""

    background: np.ndarray  # (T, H, W, 3) float32 scene-linear, without the occluder
    plate: np.ndarray  # (T, H, W, 3) float32 scene-linear, with the occluder
    mask: np.ndarray  # (T, H, W) bool, True where the occluder is
    # (T, H, W) bool: the hole pixels whose background no frame of the clip shows (the pinned box); else none
    hidden: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.hidden is None:
            self.hidden = np.zeros(self.mask.shape, bool)


def make_clip(
    frames: int = 24,
    width: int = 256,
    height: int = 144,
    seed: int = 0,
    pan_px_per_frame: float = 3.0,
    occluder: str = "pole",
) -> SyntheticClip:
    """Render a deterministic panning clip with a moving opaque occluder."""
    _check_arguments(frames, width, height, pan_px_per_frame, occluder)
    rng = np.random.default_rng(seed)
    back_offsets = _offsets(frames, pan_px_per_frame)
    front_offsets = _offsets(frames, pan_px_per_frame * _FOREGROUND_SPEED)
    back_world = _render_background(rng, height, _world_width(width, back_offsets), back_offsets[0], width)
    front_world = _render_foreground(rng, height, _world_width(width, front_offsets))
    clean = np.empty((frames, height, width, 3), np.float32)
    for t in range(frames):
        back = _window(back_world, back_offsets[t], width)
        front = _window(front_world, front_offsets[t], width)
        # Premultiplied "over": the foreground's colour is already scaled by its alpha.
        clean[t] = front[..., :3] + back * (1.0 - front[..., 3:4])
    background = clean + _grain(rng, clean)
    if occluder == "pinned":
        box = _pinned_box(back_offsets, height, width)
        coverage = np.maximum(_occluder_coverage(rng, "pole", frames, height, width), box)
        return SyntheticClip(background, _composite(background, coverage, "pinned"), _dilated_mask(coverage),
                             hidden=_dilated_mask(box))
    coverage = _occluder_coverage(rng, occluder, frames, height, width)
    return SyntheticClip(background, _composite(background, coverage, occluder), _dilated_mask(coverage))


def _check_arguments(frames: int, width: int, height: int, pan: float, occluder: str) -> None:
    if frames < 1:
        raise InputError(f"make_clip: frames must be at least 1, got {frames}")
    if width < _MIN_SIZE or height < _MIN_SIZE:
        raise InputError(f"make_clip: frame size {width}x{height} is below the minimum {_MIN_SIZE}x{_MIN_SIZE}")
    if not math.isfinite(pan):
        raise InputError(f"make_clip: pan_px_per_frame must be finite, got {pan}")
    if occluder not in OCCLUDERS:
        raise InputError(f"make_clip: unknown occluder {occluder!r}; choose one of {', '.join(OCCLUDERS)}")


def _offsets(frames: int, speed: float) -> np.ndarray:
    """World x of each frame's left edge; a negative pan starts at the right end."""
    travel = speed * (frames - 1)
    start = _MARGIN + max(0.0, -travel)
    return start + speed * np.arange(frames, dtype=np.float64)


def _world_width(width: int, offsets: np.ndarray) -> int:
    return int(math.ceil(offsets.max())) + width + _MARGIN


def _window(world: np.ndarray, x0: float, width: int) -> np.ndarray:
    """The frame seen with its left edge at world x ``x0`` (sub-pixel, bilinear)."""
    shift = np.float32([[1.0, 0.0, -x0], [0.0, 1.0, 0.0]])
    return cv2.warpAffine(world, shift, (width, world.shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Supersampled pixel-centre coordinates, in output-pixel units."""
    ys = (np.arange(height * _SUPERSAMPLE, dtype=np.float32) + 0.5) / _SUPERSAMPLE
    xs = (np.arange(width * _SUPERSAMPLE, dtype=np.float32) + 0.5) / _SUPERSAMPLE
    return ys[:, None], xs[None, :]


def _reduce(image: np.ndarray, height: int, width: int) -> np.ndarray:
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Low-frequency noise in [0, 1]: coarse random values upsampled smoothly (clouds)."""
    coarse = rng.random((max(2, int(shape[0] / cell) + 2), max(2, int(shape[1] / cell) + 2))).astype(np.float32)
    return np.clip(cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def _render_background(
    rng: np.random.Generator, height: int, world_width: int, first_x0: float, width: int
) -> np.ndarray:
    """Sky, sun, hills, buildings and street, far enough away to move with the pan."""
    ys, xs = _grid(height, world_width)
    shape = (ys.shape[0], xs.shape[1])
    image = _sky(rng, ys, shape, height)
    # The sun sits inside the first frame so every clip has highlights above 1.0.
    sun_x = first_x0 + width * rng.uniform(0.2, 0.8)
    _paint_sun(image, ys, xs, sun_x, height * 0.2, height * 0.05 + 2.0)
    _paint_hills(rng, image, ys, xs, height)
    _paint_buildings(rng, image, height, world_width)
    _paint_street(image, ys, xs, height)
    return _reduce(image, height, world_width)


def _sky(rng: np.random.Generator, ys: np.ndarray, shape: tuple[int, int], height: int) -> np.ndarray:
    zenith = np.float32([0.10, 0.22, 0.65])
    horizon = np.float32([0.65, 0.75, 0.95])
    t = np.clip(ys / (0.6 * height), 0.0, 1.0) ** 0.7
    sky = np.broadcast_to(zenith + (horizon - zenith) * t[..., None], shape + (3,)).copy()
    clouds = np.clip(_smooth_noise(rng, shape, 14.0 * _SUPERSAMPLE) - 0.6, 0.0, None) * 1.2
    sky += clouds[..., None] * np.float32([1.1, 1.1, 1.05])
    return sky


def _paint_sun(image: np.ndarray, ys: np.ndarray, xs: np.ndarray, cx: float, cy: float, radius: float) -> None:
    distance = np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2)
    glow = 0.8 * np.exp(-distance / (1.5 * radius))
    image += glow[..., None] * np.float32([1.0, 0.85, 0.6])
    disc = distance <= radius
    image[disc] = np.float32([8.0, 7.4, 6.0])


def _paint_hills(rng: np.random.Generator, image: np.ndarray, ys: np.ndarray, xs: np.ndarray, height: int) -> None:
    ridge = np.full_like(xs, 0.48 * height)
    for wavelength, amplitude in ((0.9, 0.06), (0.37, 0.03), (0.15, 0.012)):
        ridge += amplitude * height * np.sin(xs / (wavelength * height) * 2 * np.pi + rng.uniform(0, 2 * np.pi))
    hills = ys >= ridge
    # Diagonal field stripes give the hills texture an inpainter has to continue.
    stripes = np.sin((xs + 2.0 * ys) * (2 * np.pi / 7.0)) > 0
    colour = np.where(stripes[..., None], np.float32([0.10, 0.16, 0.12]), np.float32([0.06, 0.11, 0.10]))
    image[hills] = np.broadcast_to(colour, image.shape)[hills]


def _paint_buildings(rng: np.random.Generator, image: np.ndarray, height: int, world_width: int) -> None:
    s = _SUPERSAMPLE
    ground = int(0.74 * height * s)
    x = int(rng.uniform(0, 0.1) * height * s)
    while x < world_width * s:
        w = int(rng.uniform(0.16, 0.32) * height * s)
        top = ground - int(rng.uniform(0.22, 0.5) * height * s)
        colour = _BUILDING_COLOURS[rng.integers(len(_BUILDING_COLOURS))]
        _paint_building(rng, image[top:ground, x : x + w], colour, height * s)
        x += w + int(rng.uniform(0.0, 0.12) * height * s)


def _paint_building(rng: np.random.Generator, block: np.ndarray, colour: np.ndarray, scale: float) -> None:
    """A facade with a lit/unlit window grid or vertical cladding stripes, and a black door."""
    block[:] = colour
    bh, bw = block.shape[:2]
    if rng.random() < 0.3:
        stripe = max(2, int(0.025 * scale))
        for x in range(stripe, bw, 2 * stripe):
            block[:, x : x + stripe] = colour * 0.45
    else:
        win, gap = max(2, int(0.035 * scale)), max(2, int(0.03 * scale))
        for y in range(gap, bh - win - int(0.1 * scale), win + gap):
            for x in range(gap, bw - win, win + gap):
                lit = rng.random() < 0.4
                block[y : y + win, x : x + win] = rng.uniform(1.2, 3.0) * np.float32([1.0, 0.8, 0.45]) if lit else 0.02
    door_w, door_h = max(2, int(0.05 * scale)), max(2, int(0.09 * scale))
    door_x = bw // 2 - door_w // 2
    block[bh - door_h :, door_x : door_x + door_w] = 0.001  # near black: grain takes it below zero


def _paint_street(image: np.ndarray, ys: np.ndarray, xs: np.ndarray, height: int) -> None:
    """Checker pavement, a dark curb shadow, asphalt with a dashed centre line."""
    pavement = np.broadcast_to((ys >= 0.74 * height) & (ys < 0.82 * height), image.shape[:2])
    tile = 0.06 * height
    checker = ((np.floor(xs / tile) + np.floor(ys / tile)) % 2 == 0)
    colour = np.where(checker[..., None], np.float32([0.30, 0.25, 0.18]), np.float32([0.14, 0.12, 0.10]))
    full = np.broadcast_to(colour, image.shape)
    image[pavement] = full[pavement]
    curb = (ys >= 0.82 * height) & (ys < 0.835 * height)
    image[np.broadcast_to(curb, image.shape[:2])] = 0.001
    road = np.broadcast_to(ys >= 0.835 * height, image.shape[:2])
    image[road] = np.float32([0.07, 0.07, 0.075])
    dash = (np.abs(ys - 0.92 * height) < 0.012 * height) & ((xs % (0.3 * height)) < 0.16 * height)
    image[dash] = np.float32([0.75, 0.72, 0.6])


def _render_foreground(rng: np.random.Generator, height: int, world_width: int) -> np.ndarray:
    """Premultiplied RGBA near layer: fence posts, bushes and road signs."""
    ys, xs = _grid(height, world_width)
    layer = np.zeros((ys.shape[0], xs.shape[1], 4), np.float32)
    spacing = 0.45 * height
    phase = rng.uniform(0, spacing)
    post = (((xs - phase) % spacing) < 0.04 * height) & (ys >= 0.68 * height)
    highlight = (((xs - phase) % spacing) < 0.012 * height) & post
    _paint_rgba(layer, post, [0.30, 0.10, 0.04])
    _paint_rgba(layer, highlight, [0.75, 0.35, 0.15])
    rail = (np.abs(ys - 0.78 * height) < 0.015 * height) & np.ones_like(xs, dtype=bool)
    _paint_rgba(layer, rail, [0.22, 0.07, 0.03])
    for _ in range(max(1, int(world_width / (0.5 * height)))):
        _paint_bush_or_sign(rng, layer, ys, xs, height, world_width)
    return _reduce(layer, height, world_width)


def _paint_bush_or_sign(
    rng: np.random.Generator, layer: np.ndarray, ys: np.ndarray, xs: np.ndarray, height: int, world_width: int
) -> None:
    cx = rng.uniform(0, world_width)
    if rng.random() < 0.6:
        radius = rng.uniform(0.07, 0.12) * height
        inside = (xs - cx) ** 2 + (ys - 0.95 * height) ** 2 <= radius**2
        leaves = np.sin(xs * 1.7) * np.sin(ys * 1.9) > 0.1
        _paint_rgba(layer, inside & ~leaves, [0.04, 0.20, 0.03])
        _paint_rgba(layer, inside & leaves, [0.10, 0.38, 0.05])
    else:
        cy, size = 0.58 * height, 0.07 * height
        pole = (np.abs(xs - cx) < 0.012 * height) & (ys > cy)
        diamond = np.abs(xs - cx) + np.abs(ys - cy) <= size
        _paint_rgba(layer, pole, [0.25, 0.25, 0.27])
        _paint_rgba(layer, diamond, [0.85, 0.60, 0.02])


def _paint_rgba(layer: np.ndarray, where: np.ndarray, colour: list[float]) -> None:
    where = np.broadcast_to(where, layer.shape[:2])
    layer[where] = np.float32(colour + [1.0])


def _grain(rng: np.random.Generator, clean: np.ndarray) -> np.ndarray:
    """Signal-dependent grain: a floor so blacks dip below zero, plus photon-like noise."""
    sigma = 0.002 + 0.006 * np.sqrt(np.maximum(clean, 0.0))
    return (rng.standard_normal(clean.shape, dtype=np.float32) * sigma).astype(np.float32)


def _occluder_coverage(rng: np.random.Generator, kind: str, frames: int, height: int, width: int) -> np.ndarray:
    """Per-frame (T, H, W) coverage in [0, 1] of an occluder crossing the frame."""
    t = np.linspace(0.0, 1.0, frames) if frames > 1 else np.array([0.5])
    if rng.random() < 0.5:  # the direction of travel varies with the seed
        t = 1.0 - t
    centres = 0.15 * width + 0.7 * width * t
    ys = np.arange(height, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(width, dtype=np.float32)[None, :] + 0.5
    if kind == "pole":
        return np.stack([_pole(xs, ys, cx, width) for cx in centres])
    wobble = 0.5 * height + 0.18 * height * np.sin(2 * np.pi * t)
    return np.stack([_ellipse(xs, ys, cx, cy, width, height) for cx, cy in zip(centres, wobble)])


def _pinned_box(offsets: np.ndarray, height: int, width: int) -> np.ndarray:
    """A box that moves with the background, whole pixels only, inside every frame: (T, H, W) coverage 0 or 1.

    The pan is rounded to whole pixels, so the box covers exactly the same background pixels in every frame.
    """
    top, bottom = height // 5, height // 5 + max(4, height // 6)
    left = width // 2 + int(round(offsets[0]))
    size = max(4, width // 10)
    coverage = np.zeros((len(offsets), height, width), np.float32)
    for t, offset in enumerate(offsets):
        x = int(round(left - offset))
        x = min(max(x, 0), width - size)
        coverage[t, top:bottom, x:x + size] = 1.0
    return coverage


def _pole(xs: np.ndarray, ys: np.ndarray, cx: float, width: int) -> np.ndarray:
    """Exact box-filtered coverage of a full-height vertical rod centred at ``cx``."""
    half = 0.5 * _OCCLUDER_AREA * width
    covered = np.clip(np.minimum(xs + 0.5, cx + half) - np.maximum(xs - 0.5, cx - half), 0.0, 1.0)
    return np.broadcast_to(covered, (ys.shape[0], xs.shape[1])).astype(np.float32)


def _ellipse(xs: np.ndarray, ys: np.ndarray, cx: float, cy: float, width: int, height: int) -> np.ndarray:
    """Approximately anti-aliased ellipse with area ``_OCCLUDER_AREA`` of the frame."""
    b = 0.22 * height
    a = _OCCLUDER_AREA * width * height / (math.pi * b)
    radius = np.sqrt(((xs - cx) / a) ** 2 + ((ys - cy) / b) ** 2)
    return np.clip(0.5 - (radius - 1.0) * min(a, b), 0.0, 1.0).astype(np.float32)


def _composite(background: np.ndarray, coverage: np.ndarray, kind: str) -> np.ndarray:
    """Lay the opaque occluder over the background; pixels it misses stay bit-identical."""
    if kind == "pinned":  # a flat grey sign
        colour = np.broadcast_to(np.float32([0.18, 0.18, 0.18]), background.shape)
    elif kind == "pole":  # dark anodised rod with a specular stripe
        width = background.shape[2]
        xs = np.arange(width, dtype=np.float32)
        colour = np.zeros(background.shape, np.float32) + np.float32([0.025, 0.025, 0.03])
        for t in range(background.shape[0]):
            cols = np.nonzero(coverage[t].max(axis=0) > 0)[0]
            shine = np.abs(xs - (cols.min() + 0.3 * (cols.max() - cols.min()))) < 1.0
            colour[t][:, shine] = np.float32([0.5, 0.5, 0.55])
    else:  # saturated magenta: a colour the scene never uses
        colour = np.broadcast_to(np.float32([0.6, 0.04, 0.4]), background.shape)
    alpha = coverage[..., None]
    mixed = background * (1.0 - alpha) + colour * alpha
    return np.where(alpha > 0, mixed, background).astype(np.float32)


def _dilated_mask(coverage: np.ndarray) -> np.ndarray:
    """Coverage > 0 grown by one pixel so soft edges lie wholly inside the hole."""
    kernel = np.ones((3, 3), np.uint8)
    return np.stack([cv2.dilate((c > 0).astype(np.uint8), kernel) > 0 for c in coverage])


def write_exr_sequence(
    clip: SyntheticClip, pattern: str, first_frame: int = 1001, pixel_type: str = "half", matte_in_alpha: bool = True
) -> list[int]:
    """Write the plate as an EXR sequence, the matte in its alpha (RGBA) or none (RGB).

    Returns the frame numbers written. Used by the demo and the tests, so they
    work from the same kind of files a compositor hands over.
    """
    import OpenImageIO as oiio

    from inpaint_core.io.image_files import write_frame  # local: synthetic clips need no I/O otherwise
    from inpaint_core.io.sequence import SequencePattern

    sequence = SequencePattern.parse(pattern)
    channels = ("R", "G", "B", "A") if matte_in_alpha else ("R", "G", "B")
    frames = list(range(first_frame, first_frame + len(clip.plate)))
    dtype = np.float16 if pixel_type == "half" else np.float32
    for t, frame in enumerate(frames):
        spec = oiio.ImageSpec(clip.plate.shape[2], clip.plate.shape[1], len(channels), pixel_type)
        spec.channelnames = channels
        spec.attribute("compression", "zip")
        planes = [clip.plate[t]] + ([clip.mask[t][..., None].astype(np.float32)] if matte_in_alpha else [])
        write_frame(sequence.path(frame), np.concatenate(planes, axis=-1).astype(dtype), spec, overwrite=True)
    return frames

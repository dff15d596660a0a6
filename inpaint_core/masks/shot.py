"""A shot: the plate sequence and its matte, checked before any work starts.

Opening a shot reads every header (not the pixels), so a missing frame, a
frame of another size or a matte of another format is reported at once,
naming the file, instead of after an hour of training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import OpenImageIO as oiio

from inpaint_core.errors import FrameMismatchError, InputError, MaskError, NonFiniteError
from inpaint_core.io.colour import to_float32
from inpaint_core.io.image_files import Frame, read_frame, read_spec
from inpaint_core.io.sequence import format_frame_list, resolve_sequence
from inpaint_core.masks.mattes import DEFAULT_THRESHOLD, choose_mask_channel, hole_from_frame
from inpaint_core.masks.references import ReferenceSpec, check_references, paint_reference

NONFINITE_POLICIES = ("error", "inpaint")
_COLOUR_SETS = (("R", "G", "B"), ("r", "g", "b"), ("Y",))


@dataclass
class ShotSpec:
    """Where a shot's plate and matte are, and how to turn the matte into holes."""

    plate: str  # pattern, e.g. 'plate.####.exr'
    frames: list[int] | None = None  # None: every frame on disk
    mask: str | None = None  # matte pattern; None: a channel of the plate
    mask_channel: str | None = None  # None: alpha
    mask_threshold: float = DEFAULT_THRESHOLD
    mask_dilate: int = 0
    # 'error': refuse a plate with NaN/Inf in its colour channels;
    # 'inpaint': treat those pixels as holes, so they are filled (and changed).
    nonfinite: str = "error"
    # Single-frame mask: only this frame's matte is read (only it need exist); the others are
    # propagated from it by inpaint_core.training.mask_propagation before the job runs. None: every frame's matte.
    mask_frame: int | None = None
    # Clean frames an artist painted (masks/references.py): their painted pixels are known pixels of their frame.
    references: tuple[ReferenceSpec, ...] = ()

    def __post_init__(self) -> None:
        # A plan read back from JSON (or a dataclasses.asdict copy) holds the references as dicts in a list.
        self.references = tuple(r if isinstance(r, ReferenceSpec) else ReferenceSpec(**r) for r in self.references)


class Shot:
    """A validated plate/matte pair; frames are read on demand."""

    def __init__(self, spec: ShotSpec):
        if spec.nonfinite not in NONFINITE_POLICIES:
            raise InputError(f"Unknown non-finite policy {spec.nonfinite!r}; "
                             f"choose one of {', '.join(NONFINITE_POLICIES)}.")
        if spec.mask_dilate < 0:
            raise InputError(f"Mask dilation must be 0 or more pixels (got {spec.mask_dilate}).")
        self.spec = spec
        self.plate_paths = resolve_sequence(spec.plate, spec.frames)
        self.frames = list(self.plate_paths)
        self.mask_paths = resolve_sequence(spec.mask, self._matte_frames()) if spec.mask else None
        self.header = self._check_plate_headers()
        self._check_mask_headers()
        self.colour_channels = self._colour_channels()
        self.references = check_references(tuple(spec.references), self.frames, self.header)
        for frame in self.references:  # the pixels too, now: a bad reference must not wait for the fill
            if spec.mask_frame is None:
                self.read(frame)

    @property
    def width(self) -> int:
        return self.header.width

    @property
    def height(self) -> int:
        return self.header.height

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(self.header.channelnames)

    def read(self, frame: int) -> tuple[Frame, np.ndarray]:
        """One frame of the plate in its own pixel type, and its hole (True = remove)."""
        if self.spec.mask_frame is not None and frame != self.spec.mask_frame:
            raise InputError(f"Frame {frame} has no matte: only frame {self.spec.mask_frame} is annotated; "
                             "propagate its mask first (inpaint_core.training.mask_propagation).")
        plate = read_frame(self.plate_paths[frame])
        if self.mask_paths is None:
            matte = plate
        else:
            matte = read_frame(self.mask_paths[frame])
        hole = hole_from_frame(matte, self.spec.mask_channel, plate, self.spec.mask_threshold, self.spec.mask_dilate)
        if frame in self.references:
            plate, hole = paint_reference(self.references[frame], plate, hole, self.colour_channels)
        return plate, hole | self._nonfinite_pixels(frame, plate)

    @property
    def reference_paths(self) -> list[str]:
        """Every file of the references (images and mattes): inputs, never overwritten."""
        return [p for r in self.references.values() for p in (r.image, r.matte) if p is not None]

    def read_annotation(self) -> tuple[Frame, np.ndarray]:
        """The annotated frame (``spec.mask_frame``) and its object mask, thresholded but not dilated."""
        frame = self.spec.mask_frame
        plate = read_frame(self.plate_paths[frame])
        matte = plate if self.mask_paths is None else read_frame(self.mask_paths[frame])
        return plate, hole_from_frame(matte, self.spec.mask_channel, plate, self.spec.mask_threshold, 0)

    def _matte_frames(self) -> list[int]:
        """The frames whose matte must exist: all, or only the annotated one."""
        if self.spec.mask_frame is None:
            return self.frames
        if self.spec.mask_frame not in self.plate_paths:
            raise InputError(
                f"The mask frame {self.spec.mask_frame} is not among the shot's frames "
                f"({format_frame_list(self.frames)}); choose one of them with --mask-frame."
            )
        return [self.spec.mask_frame]

    def colour(self, plate: Frame) -> np.ndarray:
        """The channels the network sees, as float32 (H, W, C)."""
        return to_float32(plate.pixels[..., self.colour_channels])

    def _nonfinite_pixels(self, frame: int, plate: Frame) -> np.ndarray:
        """Pixels whose colour is NaN/Inf: refused, or added to the hole, by policy."""
        bad = ~np.all(np.isfinite(plate.pixels[..., self.colour_channels]), axis=-1)
        count = int(bad.sum())
        if count and self.spec.nonfinite == "error":
            y, x = np.argwhere(bad)[0]
            raise NonFiniteError(
                f"Frame {frame} ({plate.path}) has {count} pixels with NaN or infinite values "
                f"(first at x={x}, y={y} of the data window); fix the plate, or pass "
                "--nonfinite inpaint to fill them like holes."
            )
        return bad

    def _check_plate_headers(self) -> oiio.ImageSpec:
        first_frame = self.frames[0]
        first = read_spec(self.plate_paths[first_frame])
        for frame in self.frames[1:]:
            path = self.plate_paths[frame]
            spec = read_spec(path)
            if (spec.width, spec.height) != (first.width, first.height):
                raise FrameMismatchError(
                    f"Frame {frame} ({path}) is {spec.width}x{spec.height} but frame {first_frame} is "
                    f"{first.width}x{first.height}; every frame of a shot must have the same size."
                )
            if tuple(spec.channelnames) != tuple(first.channelnames):
                raise FrameMismatchError(
                    f"Frame {frame} ({path}) has channels {','.join(spec.channelnames)} but frame "
                    f"{first_frame} has {','.join(first.channelnames)}."
                )
            if _windows(spec) != _windows(first):
                raise FrameMismatchError(
                    f"Frame {frame} ({path}) has other data/display windows than frame {first_frame}."
                )
        return first

    def _check_mask_headers(self) -> None:
        if self.mask_paths is None:
            try:
                choose_mask_channel(self.channel_names, self.spec.mask_channel, self.plate_paths[self.frames[0]])
            except MaskError as exc:
                raise MaskError(f"{exc} Or give a separate matte sequence with --mask.") from exc
            return
        plate_display = _windows(self.header)[1]
        for frame, path in self.mask_paths.items():
            spec = read_spec(path)
            choose_mask_channel(tuple(spec.channelnames), self.spec.mask_channel, path)
            if _windows(spec)[1] != plate_display:
                raise MaskError(
                    f"Matte frame {frame} ({path}) is {spec.full_width}x{spec.full_height} but the plate is "
                    f"{self.header.full_width}x{self.header.full_height}; render the matte at the plate's format."
                )

    def _colour_channels(self) -> list[int]:
        """The channels the network fills: RGB (or Y); others pass through untouched."""
        names = self.channel_names
        for colour_set in _COLOUR_SETS:
            if all(c in names for c in colour_set):
                return [names.index(c) for c in colour_set]
        skip = set()
        if self.mask_paths is None:
            skip.add(choose_mask_channel(names, self.spec.mask_channel, self.plate_paths[self.frames[0]]))
        candidates = [i for i, n in enumerate(names) if i not in skip and n not in ("A", "a", "alpha")]
        if not candidates:
            raise MaskError(f"The plate's only channel ({','.join(names)}) is the matte; there is no image to fill.")
        return candidates[:3]


def _windows(spec: oiio.ImageSpec) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    data = (spec.x, spec.y, spec.width, spec.height)
    display = (spec.full_x, spec.full_y, spec.full_width, spec.full_height)
    return data, display

"""Reference frames: clean frames an artist painted (a clean plate) for frames where the automatic fill fails.

A reference is an image in the plate's format (size, windows, channels, pixel type) for one frame of the shot,
optionally with a matte of what was painted (white = painted; default: all of the frame's hole). The shot reads
that frame with the painted pixels' colour channels taken from the reference and those pixels removed from the
hole: training, propagation and the fill then treat them as known pixels of that frame, as they are, and the
output keeps them exactly. Other channels (alpha, depth) stay the plate's.

Everything that can be checked is checked when the shot opens: the file, its header, the frame, that the frame has
a hole the reference paints, and NaN/Inf in the painted pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import OpenImageIO as oiio

from inpaint_core.errors import FrameMismatchError, InputError, MaskError, NonFiniteError
from inpaint_core.io.image_files import Frame, read_frame, read_spec
from inpaint_core.io.sequence import format_frame_list
from inpaint_core.masks.mattes import DEFAULT_THRESHOLD, choose_mask_channel, hole_from_frame


@dataclass(frozen=True)
class ReferenceSpec:
    """One painted frame: the shot's frame number, the image, and optionally the matte of what was painted."""

    frame: int
    image: str
    matte: str | None = None  # white = painted; None: all of the frame's hole
    matte_channel: str | None = None  # the matte's channel; None: its alpha, or its only channel

    @classmethod
    def parse(cls, text: str) -> ReferenceSpec:
        """'1012=painted.1012.exr' or '1012=painted.1012.exr,painted_matte.1012.exr' (the command line's form)."""
        number, sep, files = text.partition("=")
        try:
            frame = int(number)
        except ValueError:
            frame = None
        if not sep or frame is None or not files:
            raise InputError(f"A reference is FRAME=IMAGE or FRAME=IMAGE,MATTE (e.g. 1012=painted.1012.exr); "
                             f"got {text!r}.")
        image, _, matte = files.partition(",")
        return cls(frame, image, matte or None)


def check_references(references: tuple[ReferenceSpec, ...], frames: list[int],
                     plate: oiio.ImageSpec) -> dict[int, ReferenceSpec]:
    """The references by frame, their headers checked against the plate's (``plate``); raises naming the file."""
    by_frame: dict[int, ReferenceSpec] = {}
    for reference in references:
        if reference.frame not in frames:
            raise InputError(f"Reference {reference.image} is for frame {reference.frame}, which is not among the "
                             f"shot's frames ({format_frame_list(frames)}).")
        if reference.frame in by_frame:
            raise InputError(f"Frame {reference.frame} has two references ({by_frame[reference.frame].image} and "
                             f"{reference.image}); give one per frame.")
        _check_image_header(reference, read_spec(reference.image), plate)
        if reference.matte is not None:
            matte = read_spec(reference.matte)
            choose_mask_channel(tuple(matte.channelnames), reference.matte_channel, reference.matte)
            if (matte.full_width, matte.full_height) != (plate.full_width, plate.full_height):
                raise MaskError(f"Reference matte {reference.matte} is {matte.full_width}x{matte.full_height} but "
                                f"the plate is {plate.full_width}x{plate.full_height}; render it at the plate's "
                                "format.")
        by_frame[reference.frame] = reference
    return by_frame


def _check_image_header(reference: ReferenceSpec, spec: oiio.ImageSpec, plate: oiio.ImageSpec) -> None:
    path = reference.image
    if (spec.width, spec.height, spec.x, spec.y) != (plate.width, plate.height, plate.x, plate.y) or \
            (spec.full_width, spec.full_height) != (plate.full_width, plate.full_height):
        raise FrameMismatchError(f"Reference {path} is {spec.width}x{spec.height} (data window at {spec.x},{spec.y}) "
                                 f"but the plate is {plate.width}x{plate.height} (at {plate.x},{plate.y}); render "
                                 "the painted frame at the plate's format.")
    if tuple(spec.channelnames) != tuple(plate.channelnames):
        raise FrameMismatchError(f"Reference {path} has channels {','.join(spec.channelnames)} but the plate has "
                                 f"{','.join(plate.channelnames)}; render it with the plate's channels.")
    if spec.format != plate.format:
        raise FrameMismatchError(f"Reference {path} is {spec.format} but the plate is {plate.format}; render it in "
                                 "the plate's pixel type.")


def paint_reference(reference: ReferenceSpec, plate: Frame, hole: np.ndarray,
                    colour_channels: list[int]) -> tuple[Frame, np.ndarray]:
    """The frame with the painted pixels' colour from the reference, and the hole that is left.

    Raises when the frame has no hole, the matte paints none of it, or a painted pixel is NaN/Inf.
    """
    if not hole.any():
        raise InputError(f"Reference {reference.image} is for frame {reference.frame}, which has no hole: there is "
                         "nothing to paint; drop the reference or check the matte.")
    image = read_frame(reference.image)
    painted = hole.copy()
    if reference.matte is not None:
        painted &= hole_from_frame(read_frame(reference.matte), reference.matte_channel, plate, DEFAULT_THRESHOLD)
        if not painted.any():
            raise MaskError(f"Reference matte {reference.matte} covers none of frame {reference.frame}'s hole; "
                            "nothing would be painted.")
    values = image.pixels[..., colour_channels][painted]
    if not np.isfinite(values).all():
        raise NonFiniteError(f"Reference {reference.image} has NaN or infinite values in "
                             f"{int((~np.isfinite(values).all(axis=-1)).sum())} painted pixels; fix the painted "
                             "frame.")
    pixels = plate.pixels.copy()
    for channel in colour_channels:
        pixels[..., channel][painted] = image.pixels[..., channel][painted]
    return Frame(pixels, plate.spec, plate.path), hole & ~painted

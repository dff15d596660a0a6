"""Frames in and out: sequence patterns, EXR and image files, colour encoding, display transforms."""

from inpaint_core.io.colour import NETWORK_RANGE, LogEncoding, from_float32, to_float32
from inpaint_core.io.image_files import MAX_SIDE, Frame, pixel_dtype, read_frame, read_spec, write_frame
from inpaint_core.io.sequence import SequencePattern, format_frame_list, parse_frame_range, resolve_sequence

__all__ = [
    "MAX_SIDE", "NETWORK_RANGE", "Frame", "LogEncoding", "SequencePattern", "format_frame_list", "from_float32",
    "parse_frame_range", "pixel_dtype", "read_frame", "read_spec", "resolve_sequence", "to_float32", "write_frame",
]

"""Receiving an upload job's frames: chunks in, checked, raw frame files out; EXRs when the job starts.

A frame's bytes go to ``upload/<frame>.<call>.partial`` as they arrive (one
file per call, so two calls sending the same frame never mix their bytes);
when the last chunk is in and its SHA-256 matches, the file is linked to
``upload/<frame>.raw`` (never replacing one: the first complete copy wins).
An interrupted call leaves only its .partial, removed at once. Encoding the
EXRs the job reads waits until the job starts (``write_input_exrs``): it is
the slowest part of receiving a frame (benchmarks: OpenImageIO writes about
300 MB/s), and the upload should run at the speed of the network.
"""

from __future__ import annotations

import hashlib
import os
import uuid

import numpy as np
import OpenImageIO as oiio

from inpaint_core.io import SequencePattern, write_frame
from internal_inpaint.v1 import inpaint_pb2 as pb

from .errors import InvalidRequest, LimitExceeded, OutputExists
from .specs import PLATE_NAME, REFERENCE_NAME, frame_bytes, pixel_dtype


def raw_path(job_dir: str, frame: int, reference: bool = False) -> str:
    return os.path.join(job_dir, "upload", f"{frame}.reference.raw" if reference else f"{frame}.raw")


def input_pattern(job_dir: str, reference: bool = False) -> SequencePattern:
    """The EXR sequence the job reads: its plate, or its references."""
    return SequencePattern.parse(os.path.join(job_dir, "input", REFERENCE_NAME if reference else PLATE_NAME))


def received_frames(job_dir: str, frames: list[int], reference: bool = False) -> list[int]:
    """The frames of the job (or of its references) that have arrived whole (raw, or already the job's EXR)."""
    exr = input_pattern(job_dir, reference)
    return [f for f in frames if os.path.exists(raw_path(job_dir, f, reference)) or os.path.exists(exr.path(f))]


def write_input_exrs(job_dir: str, layout: pb.FrameLayout, frames: list[int], reference: bool = False) -> None:
    """Turn the received raw frames (or references) into the EXR sequence the job reads (resumable: done frames
    are skipped)."""
    pattern = input_pattern(job_dir, reference)
    spec = _exr_spec(layout)
    for frame in frames:
        raw, exr = raw_path(job_dir, frame, reference), pattern.path(frame)
        if not os.path.exists(exr):
            pixels = np.fromfile(raw, dtype=pixel_dtype(layout))
            write_frame(exr, pixels.reshape(layout.height, layout.width, len(layout.channels)), spec)
        if os.path.exists(raw):
            os.remove(raw)


def _exr_spec(layout: pb.FrameLayout) -> oiio.ImageSpec:
    type_desc = oiio.HALF if layout.pixel_type == pb.HALF else oiio.FLOAT
    spec = oiio.ImageSpec(layout.width, layout.height, len(layout.channels), type_desc)
    spec.channelnames = tuple(layout.channels)
    spec.attribute("compression", "none")  # the spool is scratch space: speed over size
    alpha = [i for i, name in enumerate(layout.channels) if name in ("A", "a")]
    spec.alpha_channel = alpha[0] if alpha else -1
    return spec


class FrameReceiver:
    """One UploadFrames call of one job: validates chunks and assembles frames."""

    def __init__(self, job_id: str, job_dir: str, layout: pb.FrameLayout, frames: list[int], max_chunk_bytes: int,
                 references: list[int] | None = None):
        self.job_id = job_id
        self.job_dir = job_dir
        self.layout = layout
        self.expected = set(frames)
        self.references = set(references or ())
        self.max_chunk_bytes = max_chunk_bytes
        self.frame_size = frame_bytes(layout)
        self.completed: list[int] = []
        self._frame: int | None = None  # the frame being received
        self._reference = False  # ... and whether it is the frame's reference
        self._received = 0
        self._hash = hashlib.sha256()
        self._partial = None
        self._call = uuid.uuid4().hex[:8]

    def add(self, chunk: pb.FrameChunk) -> None:
        """Take one chunk; raises InvalidRequest/LimitExceeded/OutputExists naming the problem."""
        if chunk.job_id != self.job_id:
            raise InvalidRequest(f"A chunk names job {chunk.job_id!r} in an upload of job {self.job_id}; "
                                 "send one job's frames per call.")
        data = chunk.data  # each access of a bytes field makes a new Python object: take it once
        if len(data) > self.max_chunk_bytes:
            raise LimitExceeded(f"Chunk of {len(data)} bytes for frame {chunk.frame}; "
                                f"at most {self.max_chunk_bytes} per chunk.")
        if chunk.frame != self._frame or chunk.reference != self._reference:
            self._start(chunk)
        if chunk.offset != self._received:
            raise InvalidRequest(f"Frame {chunk.frame}: chunk at byte {chunk.offset}, expected byte {self._received} "
                                 "(chunks of a frame must come in order, without gaps or repeats).")
        if chunk.frame_size != self.frame_size:
            raise InvalidRequest(f"Frame {chunk.frame}: frame_size changed to {chunk.frame_size} mid-frame.")
        if self._received + len(data) > self.frame_size:
            raise InvalidRequest(f"Frame {chunk.frame}: more bytes than its {self.frame_size}.")
        self._partial.write(data)
        self._hash.update(data)
        self._received += len(data)
        if self._received == self.frame_size:
            self._finish(chunk)

    def abort(self) -> None:
        """Forget a frame left incomplete (client gone, or an error): its partial file goes."""
        if self._partial is not None:
            self._partial.close()
            os.remove(self._partial.name)
            self._partial = None
        self._frame = None

    def check_complete(self) -> None:
        if self._frame is not None:
            frame, got = self._frame, self._received
            self.abort()
            raise InvalidRequest(f"Frame {frame} ended after {got} of {self.frame_size} bytes; send it again whole.")

    def _start(self, chunk: pb.FrameChunk) -> None:
        self.check_complete()
        frame, reference = chunk.frame, chunk.reference
        if frame not in self.expected:
            raise InvalidRequest(f"Frame {frame} is not in this job's frame list.")
        if reference and frame not in self.references:
            raise InvalidRequest(f"Frame {frame} has no reference in this job (upload.reference_frames); send its "
                                 "plate without the reference flag.")
        if chunk.frame_size != self.frame_size:
            layout = self.layout
            raise InvalidRequest(
                f"Frame {frame} is {chunk.frame_size} bytes; the job's {layout.width}x{layout.height}x"
                f"{len(layout.channels)} {pb.PixelType.Name(layout.pixel_type).lower()} frames are {self.frame_size}."
            )
        what = f"The reference of frame {frame}" if reference else f"Frame {frame}"
        if received_frames(self.job_dir, [frame], reference):
            raise OutputExists(f"{what} was uploaded already; frames cannot be replaced.")
        self._frame, self._reference, self._received, self._hash = frame, reference, 0, hashlib.sha256()
        kind = "reference." if reference else ""
        self._partial = open(os.path.join(self.job_dir, "upload", f"{frame}.{kind}{self._call}.partial"), "wb")

    def _finish(self, chunk: pb.FrameChunk) -> None:
        frame = self._frame
        if not chunk.sha256:
            self.abort()
            raise InvalidRequest(f"Frame {frame}: the last chunk carries no sha256 of the frame.")
        if chunk.sha256.lower() != self._hash.hexdigest():
            self.abort()
            raise InvalidRequest(f"Frame {frame}: SHA-256 mismatch (data damaged in transit?); send it again.")
        self._partial.close()
        partial, self._partial, self._frame = self._partial.name, None, None
        try:
            os.link(partial, raw_path(self.job_dir, frame, self._reference))  # atomic, and never replaces
        except FileExistsError:
            what = f"The reference of frame {frame}" if self._reference else f"Frame {frame}"
            raise OutputExists(f"{what} was uploaded already (by another call); frames cannot be replaced.") from None
        finally:
            os.remove(partial)
        if not self._reference:
            self.completed.append(frame)

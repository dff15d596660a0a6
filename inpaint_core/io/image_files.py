"""Reading and writing single frames through OpenImageIO.

A frame keeps what the file said: its pixel type (half stays half), channel
names, metadata and data/display windows. Writing copies the source frame's
header, so what leaves the tool looks like what came in; it goes to a
temporary file beside the target and is renamed into place, so a reader (or a
crash) never sees half a frame. A writer killed mid-frame leaves only its
hidden temporary file, which the next write of that frame removes.
"""

from __future__ import annotations

import glob
import os
import socket
import uuid
from dataclasses import dataclass

import numpy as np
import OpenImageIO as oiio

from inpaint_core.errors import ImageReadError, OutputError
from inpaint_core.io.storage import disk_full_note

# Refuse headers that declare absurd sizes before allocating anything: a
# corrupt or hostile file must not take the machine's memory down.
MAX_SIDE = 65536
MAX_FRAME_BYTES = 8 * 1024**3

_NUMPY_TYPES = {
    oiio.HALF: np.float16,
    oiio.FLOAT: np.float32,
    oiio.DOUBLE: np.float64,
    oiio.UINT8: np.uint8,
    oiio.UINT16: np.uint16,
}


@dataclass
class Frame:
    """One image: pixels in the file's own type plus the header they came with."""

    pixels: np.ndarray  # (height, width, channels) of the data window
    spec: oiio.ImageSpec
    path: str = ""

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(self.spec.channelnames)

    @property
    def data_window(self) -> tuple[int, int, int, int]:
        """(x, y, width, height) of the stored pixels."""
        s = self.spec
        return (s.x, s.y, s.width, s.height)

    @property
    def display_window(self) -> tuple[int, int, int, int]:
        """(x, y, width, height) of the frame as a compositor sees it."""
        s = self.spec
        return (s.full_x, s.full_y, s.full_width, s.full_height)


def with_channel(frame: Frame, pixels: np.ndarray, name: str, values: np.ndarray) -> Frame:
    """``pixels`` (in the frame's layout) with one more channel ``name`` holding ``values`` (H, W), after the others.

    The new channel takes the pixels' type; every other channel, the header's metadata and windows are the frame's.
    """
    if name in frame.channel_names:
        raise OutputError(f"{frame.path or 'The frame'} has a channel {name!r} already; it cannot be added again.")
    spec = oiio.ImageSpec(frame.spec)
    spec.nchannels = frame.spec.nchannels + 1
    spec.channelnames = (*frame.channel_names, name)
    if len(frame.spec.channelformats):  # per-channel types: the new one is the pixels' type
        spec.channelformats = (*frame.spec.channelformats, oiio.TypeDesc(_typedesc_name(pixels.dtype)))
    extra = values.astype(pixels.dtype)[..., None]
    return Frame(np.concatenate([pixels, extra], axis=-1), spec, frame.path)


def pixel_dtype(spec: oiio.ImageSpec) -> np.dtype:
    """The numpy type that holds the file's pixels without loss.

    Files whose channels differ in type (half colour with a float depth, say)
    are held as float32, which every such channel converts to and back from
    exactly.
    """
    if len(set(str(t) for t in spec.channelformats)) > 1:
        return np.dtype(np.float32)
    base = spec.format.basetype
    if base not in _NUMPY_TYPES:
        return np.dtype(np.float32)
    return np.dtype(_NUMPY_TYPES[base])


def read_spec(path: str) -> oiio.ImageSpec:
    """Read and check a file's header without decoding pixels."""
    inp = _open(path)
    try:
        spec = oiio.ImageSpec(inp.spec())
    finally:
        inp.close()
    _check_spec(path, spec)
    return spec


def read_frame(path: str) -> Frame:
    """Decode the first subimage of a file, in its own pixel type."""
    inp = _open(path)
    try:
        spec = oiio.ImageSpec(inp.spec())
        _check_spec(path, spec)
        dtype = pixel_dtype(spec)
        pixels = inp.read_image(0, 0, 0, spec.nchannels, oiio.TypeDesc(_typedesc_name(dtype)))
        if pixels is None or not isinstance(pixels, np.ndarray):
            detail = _one_line(inp.geterror() or oiio.geterror()) or "truncated or corrupt file"
            raise ImageReadError(f"Cannot decode {path}: {detail}.")
    finally:
        inp.close()
    pixels = pixels.reshape(spec.height, spec.width, spec.nchannels)
    return Frame(pixels=pixels, spec=spec, path=path)


def write_frame(path: str, pixels: np.ndarray, spec: oiio.ImageSpec, *, overwrite: bool = False) -> None:
    """Write pixels with the given header, atomically (temp file + rename).

    ``spec`` is normally the source frame's, so metadata, channel names,
    windows and pixel type carry over. Without ``overwrite`` an existing file
    is never replaced.
    """
    if not overwrite and os.path.exists(path):
        raise OutputError(f"{path} exists; pass overwrite to replace it.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OutputError(f"Output folder {folder} does not exist.")
    expected = (spec.height, spec.width, spec.nchannels)
    if pixels.shape != expected:
        raise OutputError(f"Pixels of shape {pixels.shape} do not fit the header of {path} {expected}.")
    remove_abandoned_temp_files(path)
    temp = _temp_path(path, os.getpid())
    try:
        _write(temp, np.ascontiguousarray(pixels), spec, target=path)
        _move_into_place(temp, path, overwrite)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def _temp_path(path: str, pid: int) -> str:
    """Hidden, beside the target (a rename within one filesystem is atomic), named by host and process so
    that a leftover can be told from another process's write in progress."""
    folder, name = os.path.split(os.path.abspath(path))
    base, ext = os.path.splitext(name)
    host = socket.gethostname().replace("-", "_")
    return os.path.join(folder, f".{base}.partial-{host}-{pid}-{uuid.uuid4().hex[:8]}{ext}")


def remove_abandoned_temp_files(path: str) -> list[str]:
    """Remove the temporary files of earlier writes of ``path`` whose writer died (SIGKILL, power cut).

    Only this host's files of processes that no longer run: on a shared filesystem another machine's write
    in progress is left alone. Returns the paths removed.
    """
    folder, name = os.path.split(os.path.abspath(path))
    base, ext = os.path.splitext(name)
    host = socket.gethostname().replace("-", "_")
    removed = []
    for temp in glob.glob(
        os.path.join(glob.escape(folder), f".{glob.escape(base)}.partial-{glob.escape(host)}-*{glob.escape(ext)}")
    ):
        pid_text = temp[len(os.path.join(folder, f".{base}.partial-{host}-")):].split("-", 1)[0]
        if pid_text.isdigit() and not _process_alive(int(pid_text)):
            try:
                os.remove(temp)
                removed.append(temp)
            except FileNotFoundError:
                pass  # another writer of this frame cleaned it first
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True


def _move_into_place(temp: str, path: str, overwrite: bool) -> None:
    if overwrite:
        os.replace(temp, path)
        return
    # A hard link fails if the target appeared since the check above, so a
    # file created meanwhile (another job, say) is never replaced.
    try:
        os.link(temp, path)
    except FileExistsError:
        raise OutputError(f"{path} exists; pass overwrite to replace it.") from None
    except OSError:  # a filesystem without hard links: the earlier check has to do
        os.replace(temp, path)


def _write(path: str, pixels: np.ndarray, spec: oiio.ImageSpec, target: str) -> None:
    # Messages name the target the caller asked for, not the hidden temp file
    # (which is removed again and would send the user looking for nothing).
    def fail(what: str, detail: str) -> OutputError:
        return OutputError(f"{what} {target}: {detail.replace(path, target)}{disk_full_note(path)}")

    out = oiio.ImageOutput.create(path)
    if out is None:
        raise fail("No image writer for", oiio.geterror())
    try:
        if not out.open(path, spec):
            raise fail("Cannot create", out.geterror())
        if not out.write_image(pixels):
            raise fail("Cannot write", out.geterror())
    finally:
        out.close()


def _open(path: str) -> "oiio.ImageInput":
    if not os.path.isfile(path):
        raise ImageReadError(f"{path} does not exist or is not a file.")
    inp = oiio.ImageInput.open(path)
    if inp is None:
        raise ImageReadError(f"Cannot read {path}: {_one_line(oiio.geterror()) or 'unknown image format'}.")
    return inp


def _one_line(detail: str) -> str:
    """OpenImageIO's error text on one line: it may hold several, often repeated, lines."""
    lines = dict.fromkeys(line.strip().rstrip(".") for line in detail.splitlines())
    return "; ".join(line for line in lines if line)


def _check_spec(path: str, spec: oiio.ImageSpec) -> None:
    if spec.deep:
        raise ImageReadError(f"{path} is a deep image; flatten it first (deep data is not supported).")
    if spec.width <= 0 or spec.height <= 0 or spec.nchannels <= 0:
        raise ImageReadError(f"{path} declares an empty image ({spec.width}x{spec.height}, {spec.nchannels} channels).")
    if spec.width > MAX_SIDE or spec.height > MAX_SIDE:
        raise ImageReadError(f"{path} declares {spec.width}x{spec.height} pixels, over the {MAX_SIDE} limit per side.")
    size = spec.width * spec.height * spec.nchannels * pixel_dtype(spec).itemsize
    if size > MAX_FRAME_BYTES:
        raise ImageReadError(f"{path} declares {size / 1024**3:.1f} GiB of pixels, "
                             f"over the {MAX_FRAME_BYTES // 1024**3} GiB limit.")


def _typedesc_name(dtype: np.dtype) -> str:
    return {
        np.float16: "half",
        np.float32: "float",
        np.float64: "double",
        np.uint8: "uint8",
        np.uint16: "uint16",
    }[np.dtype(dtype).type]

"""Reading and writing single frames (inpaint_core.io.image_files) on tiny real files."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import cv2
import numpy as np
import OpenImageIO as oiio
import pytest

from inpaint_core.errors import ImageReadError, InputError, OutputError
from inpaint_core.io import image_files as image_io
from inpaint_core.io.image_files import Frame, pixel_dtype, read_frame, read_spec, write_frame

W, H = 7, 5  # deliberately not square, so a transposed read cannot pass


def _half_pixels(channels: int = 4, seed: int = 0) -> np.ndarray:
    """Random half pixels plus the values that lossy paths tend to break."""
    rng = np.random.default_rng(seed)
    px = (rng.standard_normal((H, W, channels)) * 4.0).astype(np.float16)
    flat = px.reshape(-1)
    specials = np.array(
        [
            1.5,
            60000.0,  # near the half maximum
            65504.0,  # the half maximum
            -3.25,
            -0.0,  # sign of zero must survive
            2.0**-24,  # smallest denormal
            -(2.0**-24),
            3 * 2.0**-20,  # another denormal
            2.0**-14,  # smallest normal
            0.1,
        ],
        dtype=np.float16,
    )
    flat[: specials.size] = specials
    return px


def _float_pixels(channels: int = 4, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    px = (rng.standard_normal((H, W, channels)) * 1000.0).astype(np.float32)
    flat = px.reshape(-1)
    specials = np.array(
        [1e30, -1e-30, -0.0, 1e-45, 1.17e-40, np.pi, 1.0 + 2.0**-23, 123456.789],
        dtype=np.float32,
    )
    flat[: specials.size] = specials
    return px


def _spec(channels: int = 4, fmt: str = "half", names=None) -> oiio.ImageSpec:
    spec = oiio.ImageSpec(W, H, channels, fmt)
    if names is not None:
        spec.channelnames = tuple(names)
    return spec


def _leftovers(folder) -> list[str]:
    return [n for n in os.listdir(folder) if "partial" in n]


# --------------------------------------------------------------------------
# Bit-exact round trips
# --------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["zip", "piz", "none"])
def test_half_rgba_exr_round_trip_is_bit_exact(tmp_path, compression):
    px = _half_pixels()
    assert (px.view(np.uint16) == np.float16(2.0**-24).view(np.uint16)).any()  # the data holds denormals
    spec = _spec(4, "half")
    spec.attribute("compression", compression)
    path = str(tmp_path / "plate.1001.exr")
    write_frame(path, px, spec)

    frame = read_frame(path)
    assert isinstance(frame, Frame)
    assert frame.path == path
    assert frame.pixels.dtype == np.float16
    assert frame.pixels.shape == (H, W, 4)
    np.testing.assert_array_equal(frame.pixels.view(np.uint16), px.view(np.uint16))
    assert frame.pixels.max() > 1.0 and frame.pixels.min() < 0.0
    assert frame.channel_names == ("R", "G", "B", "A")
    assert frame.spec.getattribute("compression") == compression


def test_float32_exr_round_trip_is_bit_exact(tmp_path):
    px = _float_pixels()
    path = str(tmp_path / "plate.exr")
    write_frame(path, px, _spec(4, "float"))

    frame = read_frame(path)
    assert frame.pixels.dtype == np.float32
    np.testing.assert_array_equal(frame.pixels.view(np.uint32), px.view(np.uint32))


def test_single_channel_exr_keeps_its_channel_axis(tmp_path):
    px = _half_pixels(1)
    path = str(tmp_path / "depth.exr")
    write_frame(path, px, _spec(1, "half", ["Z"]))
    frame = read_frame(path)
    assert frame.pixels.shape == (H, W, 1)
    assert frame.channel_names == ("Z",)
    np.testing.assert_array_equal(frame.pixels.view(np.uint16), px.view(np.uint16))


def test_rewriting_a_read_frame_keeps_every_bit(tmp_path):
    """The normal use: read a plate, write a result with the plate's header."""
    px = _half_pixels()
    first = str(tmp_path / "in.exr")
    write_frame(first, px, _spec(4, "half"))
    frame = read_frame(first)
    second = str(tmp_path / "out.exr")
    write_frame(second, frame.pixels, frame.spec)
    again = read_frame(second)
    assert again.pixels.dtype == np.float16
    np.testing.assert_array_equal(again.pixels.view(np.uint16), px.view(np.uint16))


# --------------------------------------------------------------------------
# Header: metadata, channels, windows, per-channel formats
# --------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["piz", "zip"])
def test_metadata_and_channel_names_survive(tmp_path, compression):
    names = ("R", "G", "B", "A", "Z", "mask.A")
    px = _half_pixels(len(names))
    spec = _spec(len(names), "half", names)
    spec.attribute("compression", compression)
    spec.attribute("shot:name", "sh010_comp_v003")
    spec.attribute("shot:exposure", 1.75)
    spec.attribute("shot:take", 7)
    spec.attribute("Software", "InternalInpaint test")
    path = str(tmp_path / "meta.exr")
    write_frame(path, px, spec)

    frame = read_frame(path)
    assert frame.channel_names == names
    assert frame.spec.getattribute("compression") == compression
    assert frame.spec.getattribute("shot:name") == "sh010_comp_v003"
    assert frame.spec.getattribute("shot:exposure") == pytest.approx(1.75)
    take = frame.spec.getattribute("shot:take")
    assert take == 7 and isinstance(take, int)
    assert frame.spec.getattribute("Software") == "InternalInpaint test"
    # Each named channel kept its own pixels (not just the names).
    np.testing.assert_array_equal(frame.pixels.view(np.uint16), px.view(np.uint16))
    np.testing.assert_array_equal(frame.pixels[..., names.index("mask.A")].view(np.uint16), px[..., 5].view(np.uint16))

    # And a second generation written with the read header keeps them all too.
    copy = str(tmp_path / "meta_copy.exr")
    write_frame(copy, frame.pixels, frame.spec)
    again = read_spec(copy)
    assert tuple(again.channelnames) == names
    assert again.getattribute("shot:name") == "sh010_comp_v003"
    assert again.getattribute("shot:take") == 7
    assert again.getattribute("compression") == compression


@pytest.mark.parametrize("origin", [(3, 2), (-2, -1)])  # inside the frame, and overscan
def test_data_and_display_windows_survive(tmp_path, origin):
    px = _half_pixels()
    spec = _spec(4, "half")
    spec.x, spec.y = origin
    spec.full_x, spec.full_y = 0, 0
    spec.full_width, spec.full_height = 20, 12
    path = str(tmp_path / "window.exr")
    write_frame(path, px, spec)

    frame = read_frame(path)
    assert frame.data_window == (origin[0], origin[1], W, H)
    assert frame.display_window == (0, 0, 20, 12)
    assert frame.pixels.shape == (H, W, 4)  # the data window only
    np.testing.assert_array_equal(frame.pixels.view(np.uint16), px.view(np.uint16))
    assert read_spec(path).full_width == 20


def test_frame_properties_read_the_spec():
    spec = _spec(3, "half", ["R", "G", "B"])
    spec.x, spec.y, spec.full_x, spec.full_y, spec.full_width, spec.full_height = 1, 2, -4, -3, 30, 40
    frame = Frame(pixels=np.zeros((H, W, 3), np.float16), spec=spec)
    assert frame.channel_names == ("R", "G", "B")
    assert frame.data_window == (1, 2, W, H)
    assert frame.display_window == (-4, -3, 30, 40)


def test_mixed_channel_formats_keep_every_bit(tmp_path):
    names = ("R", "G", "B", "Z")
    spec = _spec(4, "half", names)
    spec.channelformats = (oiio.TypeDesc("half"),) * 3 + (oiio.TypeDesc("float"),)
    assert pixel_dtype(spec) == np.float32

    rgb = _half_pixels(3)
    z = _float_pixels(1)[..., 0]  # values half cannot hold
    px = np.empty((H, W, 4), np.float32)
    px[..., :3] = rgb.astype(np.float32)
    px[..., 3] = z
    first = str(tmp_path / "mixed.exr")
    write_frame(first, px, spec)

    frame = read_frame(first)
    assert frame.pixels.dtype == np.float32
    assert frame.channel_names == names
    assert [str(t) for t in frame.spec.channelformats] == ["half", "half", "half", "float"]
    np.testing.assert_array_equal(frame.pixels[..., :3].astype(np.float16).view(np.uint16), rgb.view(np.uint16))
    np.testing.assert_array_equal(frame.pixels[..., 3].view(np.uint32), z.view(np.uint32))

    second = str(tmp_path / "mixed_again.exr")
    write_frame(second, frame.pixels, frame.spec)
    again = read_frame(second)
    assert [str(t) for t in again.spec.channelformats] == ["half", "half", "half", "float"]
    np.testing.assert_array_equal(again.pixels.view(np.uint32), frame.pixels.view(np.uint32))
    np.testing.assert_array_equal(again.pixels[..., :3].astype(np.float16).view(np.uint16), rgb.view(np.uint16))


@pytest.mark.parametrize(
    "fmt, expected",
    [("half", np.float16), ("float", np.float32), ("uint8", np.uint8), ("uint16", np.uint16), ("double", np.float64)],
)
def test_pixel_dtype_follows_the_file(fmt, expected):
    assert pixel_dtype(_spec(3, fmt)) == np.dtype(expected)


# --------------------------------------------------------------------------
# Other formats
# --------------------------------------------------------------------------


def _gradient(dtype, channels=3) -> np.ndarray:
    top = np.iinfo(dtype).max
    values = np.arange(H * W * channels, dtype=np.int64).reshape(H, W, channels)
    return (values * (top // (H * W * channels)) % (top + 1)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_written_by_another_tool_is_readable(tmp_path, dtype):
    rgb = _gradient(dtype)
    path = str(tmp_path / f"plate_{np.dtype(dtype).name}.png")
    assert cv2.imwrite(path, rgb[..., ::-1])  # OpenCV writes BGR
    frame = read_frame(path)
    assert frame.pixels.dtype == dtype
    assert frame.pixels.shape == (H, W, 3)
    np.testing.assert_array_equal(frame.pixels, rgb)


def test_tiff_8bit_is_readable(tmp_path):
    rgb = _gradient(np.uint8)
    path = str(tmp_path / "plate.tif")
    assert cv2.imwrite(path, rgb[..., ::-1])
    frame = read_frame(path)
    assert frame.pixels.dtype == np.uint8
    np.testing.assert_array_equal(frame.pixels, rgb)


def test_jpeg_is_readable(tmp_path):
    rgb = np.full((H, W, 3), (200, 100, 30), np.uint8)
    path = str(tmp_path / "plate.jpg")
    assert cv2.imwrite(path, rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 100])
    frame = read_frame(path)
    assert frame.pixels.dtype == np.uint8
    assert frame.pixels.shape == (H, W, 3)
    assert np.abs(frame.pixels.astype(int) - rgb).max() <= 3  # lossy, but the right colour in RGB order


@pytest.mark.parametrize("ext, fmt", [(".png", "uint8"), (".png", "uint16"), (".tif", "uint8"), (".tif", "uint16")])
def test_integer_formats_round_trip_through_write_frame(tmp_path, ext, fmt):
    dtype = np.uint8 if fmt == "uint8" else np.uint16
    px = _gradient(dtype, 4)
    path = str(tmp_path / f"rgba{ext}")
    write_frame(path, px, _spec(4, fmt))
    frame = read_frame(path)
    assert frame.pixels.dtype == dtype
    np.testing.assert_array_equal(frame.pixels, px)


# --------------------------------------------------------------------------
# Writing safely
# --------------------------------------------------------------------------


def test_write_refuses_to_overwrite_by_default(tmp_path):
    path = str(tmp_path / "out.exr")
    original = _half_pixels(seed=3)
    write_frame(path, original, _spec())
    before = open(path, "rb").read()

    with pytest.raises(OutputError) as info:
        write_frame(path, _half_pixels(seed=4), _spec())
    assert path in str(info.value)
    assert "overwrite" in str(info.value)
    assert open(path, "rb").read() == before
    np.testing.assert_array_equal(read_frame(path).pixels.view(np.uint16), original.view(np.uint16))
    assert _leftovers(tmp_path) == []
    assert os.listdir(tmp_path) == ["out.exr"]


def test_write_replaces_with_overwrite(tmp_path):
    path = str(tmp_path / "out.exr")
    write_frame(path, _half_pixels(seed=3), _spec())
    replacement = _half_pixels(seed=4)
    write_frame(path, replacement, _spec(), overwrite=True)
    np.testing.assert_array_equal(read_frame(path).pixels.view(np.uint16), replacement.view(np.uint16))
    assert _leftovers(tmp_path) == []
    assert os.listdir(tmp_path) == ["out.exr"]


def test_write_into_a_missing_folder_raises(tmp_path):
    path = str(tmp_path / "no" / "such" / "folder" / "out.exr")
    with pytest.raises(OutputError) as info:
        write_frame(path, _half_pixels(), _spec())
    assert "does not exist" in str(info.value)
    assert str(tmp_path / "no" / "such" / "folder") in str(info.value)
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize(
    "shape",
    [(W, H, 4), (H, W, 3), (H, W), (H, W, 4, 1), (H + 1, W, 4)],
)
def test_write_with_pixels_of_the_wrong_shape_raises(tmp_path, shape):
    path = str(tmp_path / "out.exr")
    with pytest.raises(OutputError) as info:
        write_frame(path, np.zeros(shape, np.float16), _spec(4))
    assert path in str(info.value)
    assert str(shape) in str(info.value)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "name, channels, fmt, dtype",
    [
        ("out.unknownext", 4, "half", np.float16),  # no writer for the name
        ("out.png", 6, "uint8", np.uint8),  # the format refuses the header
        ("out.exr", 4, "half", np.bool_),  # the temp file is open when the pixels are refused
    ],
)
def test_failed_write_names_the_target_and_leaves_nothing(tmp_path, name, channels, fmt, dtype):
    path = str(tmp_path / name)
    with pytest.raises(OutputError) as info:
        write_frame(path, np.zeros((H, W, channels), dtype), _spec(channels, fmt))
    message = str(info.value)
    assert path in message
    assert "partial" not in message  # never the hidden temp file's name
    assert os.listdir(tmp_path) == []


def test_failed_overwrite_keeps_the_original(tmp_path):
    path = str(tmp_path / "out.exr")
    original = _half_pixels(seed=5)
    write_frame(path, original, _spec())
    before = open(path, "rb").read()
    with pytest.raises(OutputError):
        write_frame(path, np.zeros((H, W, 4), np.bool_), _spec(), overwrite=True)
    assert open(path, "rb").read() == before
    assert os.listdir(tmp_path) == ["out.exr"]


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_writers_temp_file_is_removed_by_the_next_write(tmp_path):
    path = str(tmp_path / "out.0001.exr")
    # What a writer killed mid-frame leaves: its hidden temp file, cut short.
    abandoned = image_io._temp_path(path, _dead_pid())
    with open(abandoned, "wb") as handle:
        handle.write(b"\x76\x2f\x31\x01" + bytes(100))
    alive = image_io._temp_path(path, os.getpid())  # a write in progress in a running process
    open(alive, "wb").close()
    other_host = str(tmp_path / ".out.0001.partial-otherhost-1-abcdef12.exr")  # a farm node's, on a shared disk
    open(other_host, "wb").close()
    other_frame = image_io._temp_path(str(tmp_path / "out.0002.exr"), _dead_pid())
    open(other_frame, "wb").close()

    write_frame(path, _half_pixels(), _spec())
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["out.0001.exr", os.path.basename(alive), os.path.basename(other_host), os.path.basename(other_frame)])


def test_temp_files_are_hidden_and_named_by_host_and_process(tmp_path):
    temp = os.path.basename(image_io._temp_path(str(tmp_path / "clean.1001.exr"), 4321))
    assert temp.startswith(".clean.1001.partial-") and temp.endswith(".exr")
    assert "-4321-" in temp and socket.gethostname().replace("-", "_") in temp


def test_write_accepts_a_non_contiguous_array(tmp_path):
    px = _half_pixels(8)[..., ::2]  # a strided view of 4 channels
    assert not px.flags["C_CONTIGUOUS"]
    path = str(tmp_path / "strided.exr")
    write_frame(path, px, _spec(4))
    np.testing.assert_array_equal(read_frame(path).pixels.view(np.uint16), np.ascontiguousarray(px).view(np.uint16))


# --------------------------------------------------------------------------
# Reading errors
# --------------------------------------------------------------------------


def _real_exr(tmp_path, name="real.exr") -> str:
    path = str(tmp_path / name)
    spec = _spec(4, "half")
    spec.attribute("compression", "none")
    write_frame(path, _half_pixels(), spec)
    return path


def test_missing_file_raises(tmp_path):
    path = str(tmp_path / "plate.1001.exr")
    with pytest.raises(ImageReadError) as info:
        read_frame(path)
    assert path in str(info.value)
    with pytest.raises(ImageReadError, match="does not exist"):
        read_spec(path)


def test_folder_is_not_a_file(tmp_path):
    folder = tmp_path / "plate.exr"
    folder.mkdir()
    with pytest.raises(ImageReadError) as info:
        read_frame(str(folder))
    assert str(folder) in str(info.value)


@pytest.mark.parametrize("keep", [0.5, 0.97])
def test_truncated_exr_raises(tmp_path, keep):
    path = _real_exr(tmp_path)
    data = open(path, "rb").read()
    cut = str(tmp_path / "cut.exr")
    with open(cut, "wb") as f:
        f.write(data[: int(len(data) * keep)])
    with pytest.raises(ImageReadError) as info:
        read_frame(cut)
    assert cut in str(info.value)


def test_garbage_with_an_exr_name_raises(tmp_path):
    path = str(tmp_path / "garbage.exr")
    with open(path, "wb") as f:
        f.write(b"this is not an image at all " * 20)
    with pytest.raises(ImageReadError) as info:
        read_frame(path)
    assert path in str(info.value)
    with pytest.raises(ImageReadError):
        read_spec(path)


def test_zero_byte_file_raises(tmp_path):
    path = str(tmp_path / "empty.exr")
    open(path, "wb").close()
    with pytest.raises(ImageReadError) as info:
        read_frame(path)
    assert path in str(info.value)


def test_read_errors_are_input_errors(tmp_path):
    with pytest.raises(InputError):
        read_frame(str(tmp_path / "nothing.exr"))


def test_header_over_the_side_limit_is_refused(tmp_path, monkeypatch):
    path = _real_exr(tmp_path)
    monkeypatch.setattr(image_io, "MAX_SIDE", W - 1)  # 7 wide is now too wide
    with pytest.raises(ImageReadError) as info:
        read_frame(path)
    assert path in str(info.value)
    assert f"{W}x{H}" in str(info.value)
    assert str(W - 1) in str(info.value)
    with pytest.raises(ImageReadError):
        read_spec(path)

    monkeypatch.setattr(image_io, "MAX_SIDE", W)  # exactly at the limit is fine
    assert read_frame(path).pixels.shape == (H, W, 4)

    # A tall frame (5 wide, 7 high): the height alone is over a limit of 6.
    tall = str(tmp_path / "tall.exr")
    write_frame(tall, np.zeros((W, H, 3), np.float16), oiio.ImageSpec(H, W, 3, "half"))
    monkeypatch.setattr(image_io, "MAX_SIDE", W - 1)
    with pytest.raises(ImageReadError) as info:
        read_frame(tall)
    assert f"{H}x{W}" in str(info.value)


def test_header_over_the_byte_limit_is_refused(tmp_path, monkeypatch):
    path = _real_exr(tmp_path)
    size = W * H * 4 * 2  # half RGBA
    monkeypatch.setattr(image_io, "MAX_FRAME_BYTES", size - 1)
    with pytest.raises(ImageReadError) as info:
        read_frame(path)
    assert path in str(info.value)
    monkeypatch.setattr(image_io, "MAX_FRAME_BYTES", size)
    assert read_frame(path).pixels.shape == (H, W, 4)


def test_check_spec_refuses_empty_and_deep_headers():
    empty = oiio.ImageSpec(0, 5, 3, "half")
    with pytest.raises(ImageReadError, match="empty image"):
        image_io._check_spec("x.exr", empty)
    deep = _spec(4)
    deep.deep = True
    with pytest.raises(ImageReadError, match="deep"):
        image_io._check_spec("x.exr", deep)
    image_io._check_spec("x.exr", _spec(4))  # a normal header passes


# --------------------------------------------------------------------------
# read_spec
# --------------------------------------------------------------------------


def test_read_spec_returns_the_header(tmp_path):
    names = ("R", "G", "B", "A", "Z")
    spec = _spec(len(names), "half", names)
    spec.x, spec.y, spec.full_width, spec.full_height = 1, 2, 16, 9
    spec.attribute("shot:name", "sh020")
    path = str(tmp_path / "hdr.exr")
    write_frame(path, _half_pixels(len(names)), spec)

    got = read_spec(path)
    assert isinstance(got, oiio.ImageSpec)
    assert (got.width, got.height, got.nchannels) == (W, H, len(names))
    assert (got.x, got.y, got.full_width, got.full_height) == (1, 2, 16, 9)
    assert tuple(got.channelnames) == names
    assert got.format == oiio.TypeDesc("half")
    assert got.getattribute("shot:name") == "sh020"


def test_read_spec_does_not_decode_pixels(tmp_path):
    # A file whose header is whole but whose pixel data is cut off: the header
    # reads, the pixels do not. So read_spec never touched the pixels.
    path = _real_exr(tmp_path)
    data = open(path, "rb").read()
    cut = str(tmp_path / "cut.exr")
    with open(cut, "wb") as f:
        f.write(data[:-20])
    spec = read_spec(cut)
    assert (spec.width, spec.height, spec.nchannels) == (W, H, 4)
    with pytest.raises(ImageReadError):
        read_frame(cut)

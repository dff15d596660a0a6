"""Holes from mattes (inpaint_core.masks.mattes): channel choice, threshold, dilation, windows."""

from __future__ import annotations

import numpy as np
import OpenImageIO as oiio
import pytest

from inpaint_core.errors import MaskError
from inpaint_core.io.image_files import Frame
from inpaint_core.masks.mattes import choose_mask_channel, dilate_hole, hole_from_frame

FULL_W, FULL_H = 30, 20


def _frame(
    pixels: np.ndarray, names: tuple[str, ...], window=None, display=(0, 0, FULL_W, FULL_H), path="f.exr"
) -> Frame:
    """A Frame whose data window is ``window`` = (x, y) (default: the display window's origin)."""
    h, w, c = pixels.shape
    assert c == len(names)
    spec = oiio.ImageSpec(w, h, c, oiio.HALF if pixels.dtype == np.float16 else oiio.FLOAT)
    spec.channelnames = names
    spec.full_x, spec.full_y, spec.full_width, spec.full_height = display
    spec.x, spec.y = window if window is not None else display[:2]
    return Frame(pixels, spec, path)


def _plate() -> Frame:
    return _frame(np.zeros((FULL_H, FULL_W, 3), np.float16), ("R", "G", "B"), path="plate.0001.exr")


# -- channel choice ----------------------------------------------------------


def test_requested_channel_wins_over_alpha():
    assert choose_mask_channel(("R", "G", "B", "A", "matte"), "matte", "m.exr") == 4
    assert choose_mask_channel(("R", "G", "B", "A"), "G", "m.exr") == 1


@pytest.mark.parametrize("names, index", [(("R", "G", "B", "A"), 3), (("Y", "a"), 1), (("alpha", "R"), 0)])
def test_alpha_is_the_default(names, index):
    assert choose_mask_channel(names, None, "m.exr") == index


def test_a_lone_channel_is_used():
    assert choose_mask_channel(("Y",), None, "m.exr") == 0


def test_missing_requested_channel_lists_the_channels():
    with pytest.raises(MaskError) as info:
        choose_mask_channel(("R", "G", "B", "A"), "mask", "shots/m.0001.exr")
    text = str(info.value)
    assert "shots/m.0001.exr" in text and "'mask'" in text
    assert "R, G, B, A" in text


def test_no_alpha_and_several_channels_is_an_error_naming_them():
    with pytest.raises(MaskError) as info:
        choose_mask_channel(("R", "G", "B"), None, "m.exr")
    assert "R, G, B" in str(info.value) and "--mask-channel" in str(info.value)


# -- threshold and dilation ----------------------------------------------------


def test_threshold_is_strictly_greater():
    values = np.zeros((FULL_H, FULL_W, 1), np.float32)
    values[0, :6, 0] = [0.0, 0.25, 0.5, 0.5001, 0.75, 1.0]
    matte = _frame(values, ("A",))
    hole = hole_from_frame(matte, None, _plate())
    assert hole.shape == (FULL_H, FULL_W) and hole.dtype == bool
    np.testing.assert_array_equal(hole[0, :6], [False, False, False, True, True, True])
    assert hole.sum() == 3
    low = hole_from_frame(matte, None, _plate(), threshold=0.1)
    np.testing.assert_array_equal(low[0, :6], [False, True, True, True, True, True])


def test_chosen_channel_is_the_one_thresholded():
    values = np.zeros((FULL_H, FULL_W, 2), np.float32)
    values[2, 3, 0] = 1.0  # in R
    values[5, 7, 1] = 1.0  # in A
    matte = _frame(values, ("R", "A"))
    assert list(zip(*np.nonzero(hole_from_frame(matte, None, _plate())))) == [(5, 7)]
    assert list(zip(*np.nonzero(hole_from_frame(matte, "R", _plate())))) == [(2, 3)]


@pytest.mark.parametrize("radius", [1, 2, 4])
def test_dilation_grows_by_the_radius(radius):
    values = np.zeros((FULL_H, FULL_W, 1), np.float32)
    values[10, 15, 0] = 1.0
    hole = hole_from_frame(_frame(values, ("A",)), None, _plate(), dilate=radius)
    rows, cols = np.nonzero(hole)
    assert rows.min() == 10 - radius and rows.max() == 10 + radius
    assert cols.min() == 15 - radius and cols.max() == 15 + radius
    # Round, not square: the corners of the box stay outside.
    if radius >= 2:
        assert not hole[10 - radius, 15 - radius]
    assert hole[10, 15] and hole[10, 15 + radius] and hole[10 - radius, 15]


def test_dilation_of_zero_is_a_no_op():
    rng = np.random.default_rng(1)
    values = (rng.random((FULL_H, FULL_W, 1)) > 0.8).astype(np.float32)
    plain = hole_from_frame(_frame(values, ("A",)), None, _plate())
    np.testing.assert_array_equal(hole_from_frame(_frame(values, ("A",)), None, _plate(), dilate=0), plain)
    np.testing.assert_array_equal(dilate_hole(plain, 0), plain)
    assert dilate_hole(plain, 1).sum() > plain.sum()


# -- windows ---------------------------------------------------------------------


def test_tight_matte_is_placed_by_its_coordinates():
    # A 6x4 matte whose data window starts at (x=12, y=5), inside a 30x20 format.
    values = np.zeros((4, 6, 1), np.float32)
    values[1, 2, 0] = 1.0  # display pixel (x=14, y=6)
    values[3, 5, 0] = 1.0  # display pixel (x=17, y=8)
    matte = _frame(values, ("A",), window=(12, 5))
    assert matte.data_window == (12, 5, 6, 4)
    hole = hole_from_frame(matte, None, _plate())
    assert hole.shape == (FULL_H, FULL_W)
    assert sorted(zip(*np.nonzero(hole))) == [(6, 14), (8, 17)]


def test_matte_placed_into_a_plate_with_an_offset_data_window():
    # Plate data window: 10x8 at (x=4, y=3); matte covers the whole format.
    plate = _frame(np.zeros((8, 10, 3), np.float16), ("R", "G", "B"), window=(4, 3))
    values = np.zeros((FULL_H, FULL_W, 1), np.float32)
    values[3, 4, 0] = 1.0  # the plate's first pixel
    values[10, 13, 0] = 1.0  # the plate's last pixel (y=3+7, x=4+9)
    values[0, 0, 0] = 1.0  # outside the plate's data: dropped
    hole = hole_from_frame(_frame(values, ("A",)), None, plate)
    assert hole.shape == (8, 10)
    assert sorted(zip(*np.nonzero(hole))) == [(0, 0), (7, 9)]


def test_matte_partly_outside_the_plate_data_window():
    # Matte data 6x6 at (-2, -3): only its lower-right part overlaps the plate.
    values = np.ones((6, 6, 1), np.float32)
    matte = _frame(values, ("A",), window=(-2, -3))
    hole = hole_from_frame(matte, None, _plate())
    expected = np.zeros((FULL_H, FULL_W), bool)
    expected[0:3, 0:4] = True
    np.testing.assert_array_equal(hole, expected)


def test_display_window_mismatch_raises():
    matte = _frame(np.zeros((FULL_H, FULL_W * 2, 1), np.float32), ("A",), display=(0, 0, FULL_W * 2, FULL_H),
                   path="matte.0001.exr")
    with pytest.raises(MaskError) as info:
        hole_from_frame(matte, None, _plate())
    assert "matte.0001.exr" in str(info.value) and "plate.0001.exr" in str(info.value)
    assert f"{FULL_W * 2}x{FULL_H}" in str(info.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_matte_raises(bad):
    values = np.zeros((FULL_H, FULL_W, 1), np.float32)
    values[4, 4, 0] = bad
    with pytest.raises(MaskError, match="NaN or infinite"):
        hole_from_frame(_frame(values, ("A",), path="matte.0007.exr"), None, _plate())


def test_half_and_integer_mattes():
    values = np.zeros((FULL_H, FULL_W, 1), np.float16)
    values[1, 1, 0] = 1.0
    assert hole_from_frame(_frame(values, ("A",)), None, _plate()).sum() == 1
    spec = oiio.ImageSpec(FULL_W, FULL_H, 1, oiio.UINT8)
    spec.channelnames = ("A",)
    u8 = np.zeros((FULL_H, FULL_W, 1), np.uint8)
    u8[2, 2, 0] = 200  # 0.78 after normalising: a hole
    u8[3, 3, 0] = 100  # 0.39: not a hole
    hole = hole_from_frame(Frame(u8, spec, "m.png"), None, _plate())
    assert sorted(zip(*np.nonzero(hole))) == [(2, 2)]

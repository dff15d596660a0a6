"""Display transforms, hole metrics and the Telea baseline."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from inpaint_core.errors import InputError
from inpaint_core.io.display import contact_sheet, linear_to_srgb, mask_overlay, to_display_uint8, write_png_rgb
from inpaint_eval.baselines import telea_fill
from inpaint_eval.metrics import MAX_PSNR_DB, psnr_in_mask, ssim_in_mask


def _hole(shape: tuple[int, int] = (32, 32)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[10:20, 12:22] = True
    return mask


# --- display -----------------------------------------------------------------


def test_linear_to_srgb_known_values() -> None:
    x = np.array([-0.5, 0.0, 0.002, 0.18, 1.0, 8.0, np.nan, np.inf], np.float32)
    y = linear_to_srgb(x)
    expected = [0.0, 0.0, 12.92 * 0.002, 1.055 * 0.18 ** (1 / 2.4) - 0.055, 1.0, 1.0, 0.0, 1.0]
    np.testing.assert_allclose(y, expected, atol=1e-6)
    assert y.dtype == np.float32


def test_to_display_uint8_rounds_and_keeps_rgb_order() -> None:
    image = np.zeros((2, 2, 3), np.float32)
    image[0, 0] = [1.0, 0.0, 0.0]
    image[1, 1] = [0.18, 0.18, 0.18]
    out = to_display_uint8(image)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    assert out[0, 0].tolist() == [255, 0, 0]
    assert out[1, 1].tolist() == [118, 118, 118]
    with pytest.raises(InputError):
        to_display_uint8(np.zeros((2, 2), np.float32))


def test_mask_overlay_tints_only_the_mask() -> None:
    image = np.full((8, 8, 3), 100, np.uint8)
    mask = np.zeros((8, 8), bool)
    mask[2:4, 2:4] = True
    out = mask_overlay(image, mask, colour=(200, 0, 0), opacity=0.5)
    assert np.array_equal(out[~mask], image[~mask])
    assert out[2, 2].tolist() == [150, 50, 50]
    assert image[2, 2].tolist() == [100, 100, 100]  # input untouched


def test_contact_sheet_layout_and_labels() -> None:
    rows = [[np.full((40, 60, 3), 200, np.uint8)] * 3, [np.full((30, 60, 3), 50, np.uint8)] * 2]
    plain = contact_sheet(rows)
    assert plain.dtype == np.uint8 and plain.shape == (4 + 40 + 4 + 30 + 4, 4 + 3 * (60 + 4), 3)
    labelled = contact_sheet(rows, labels=["plate", "fill", "truth"])
    assert labelled.shape[1] == plain.shape[1] and labelled.shape[0] > plain.shape[0]
    header = labelled[: labelled.shape[0] - plain.shape[0]]
    assert header.max() > 150  # text was drawn


def test_contact_sheet_scales_down_to_max_width() -> None:
    rows = [[np.zeros((100, 400, 3), np.uint8)] * 4]
    sheet = contact_sheet(rows, labels=["a", "b"], max_width=500)
    assert sheet.shape[1] <= 500 and sheet.shape[1] > 450
    assert sheet.shape[0] < 100  # aspect kept: the tiles shrank by ~3.3x


def test_contact_sheet_rejects_mixed_sizes_and_too_many_labels() -> None:
    with pytest.raises(InputError):
        contact_sheet([[np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)]])
    with pytest.raises(InputError):
        contact_sheet([[np.zeros((4, 4, 3), np.uint8)]], labels=["a", "b"])
    with pytest.raises(InputError):
        contact_sheet([[np.zeros((4, 4, 3), np.float32)]])


def test_write_png_rgb_round_trip(tmp_path: Path) -> None:
    image = np.zeros((5, 7, 3), np.uint8)
    image[..., 0] = 255  # pure red
    path = tmp_path / "red.png"
    write_png_rgb(str(path), image)
    back = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert np.array_equal(back[..., ::-1], image)


def test_write_png_rgb_failures(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_png_rgb(str(tmp_path / "missing" / "x.png"), np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(InputError):
        write_png_rgb(str(tmp_path / "x.png"), np.zeros((2, 2, 3), np.float32))


# --- metrics -----------------------------------------------------------------


def test_psnr_hand_computed() -> None:
    """In sRGB's linear toe, 0.002 linear is exactly 0.02584 display: a known PSNR."""
    truth = np.zeros((16, 16, 3), np.float32)
    result = np.full_like(truth, 0.002)
    mask = _hole((16, 16))
    assert psnr_in_mask(result, truth, mask) == pytest.approx(-20 * math.log10(12.92 * 0.002), abs=1e-4)


def test_psnr_ignores_pixels_outside_the_mask() -> None:
    truth = np.full((32, 32, 3), 0.2, np.float32)
    result = truth.copy()
    mask = _hole()
    result[mask] = 0.25
    base = psnr_in_mask(result, truth, mask)
    result[~mask] = 50.0  # wildly wrong, but outside the hole
    assert psnr_in_mask(result, truth, mask) == pytest.approx(base)
    assert psnr_in_mask(result, truth, ~mask) < base


def test_psnr_identical_is_finite_and_video_shapes_work() -> None:
    truth = np.random.default_rng(0).random((3, 16, 16, 3)).astype(np.float32)
    mask = np.stack([_hole((16, 16))] * 3)
    assert psnr_in_mask(truth, truth, mask) == MAX_PSNR_DB
    noisy = truth + 0.05
    assert 10.0 < psnr_in_mask(noisy, truth, mask) < 50.0


def test_metrics_reject_empty_mask_and_shape_mismatch() -> None:
    image = np.zeros((16, 16, 3), np.float32)
    for metric in (psnr_in_mask, ssim_in_mask):
        with pytest.raises(InputError):
            metric(image, image, np.zeros((16, 16), bool))
        with pytest.raises(InputError):
            metric(image, np.zeros((16, 17, 3), np.float32), np.ones((16, 16), bool))
        with pytest.raises(InputError):
            metric(image, image, np.ones((8, 8), bool))


def test_ssim_identical_is_one_noise_is_lower() -> None:
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:48, 0:48].astype(np.float32)
    truth = np.stack([0.1 + 0.4 * np.sin(xx / 5) ** 2, 0.2 + 0.002 * yy, np.full_like(xx, 0.3)], axis=-1)
    mask = _hole((48, 48))
    assert ssim_in_mask(truth, truth, mask) == pytest.approx(1.0, abs=1e-9)
    noisy = truth + rng.normal(0, 0.1, truth.shape).astype(np.float32)
    assert ssim_in_mask(noisy, truth, mask) < 0.7


def test_ssim_only_averages_inside_the_mask() -> None:
    truth = np.full((48, 48, 3), 0.2, np.float32)
    result = truth.copy()
    result[:, 36:] = np.random.default_rng(2).random((48, 12, 3))  # far from the hole
    mask = _hole((48, 48))
    assert ssim_in_mask(result, truth, mask) == pytest.approx(1.0, abs=1e-6)
    assert ssim_in_mask(result, truth, ~mask) < 0.9


# --- Telea baseline ----------------------------------------------------------


def _hdr_ramp() -> np.ndarray:
    yy, xx = np.mgrid[0:40, 0:48].astype(np.float32)
    frame = np.stack([0.05 + 0.08 * xx, 0.2 + 0.01 * yy, np.full_like(xx, 0.5)], axis=-1)
    frame[0, 0] = [-0.01, -0.005, 0.0]  # a real plate's slightly negative black
    return frame.astype(np.float32)


def test_telea_keeps_outside_pixels_and_fills_smoothly() -> None:
    frame = _hdr_ramp()
    mask = np.zeros((40, 48), bool)
    mask[14:24, 18:28] = True
    holed = frame.copy()
    holed[mask] = 100.0  # the occluder; must not leak into the result
    out = telea_fill(holed, mask)
    assert out.dtype == np.float32 and out.shape == frame.shape
    assert np.array_equal(out[~mask], holed[~mask])
    assert np.isfinite(out).all()
    relative = np.abs(out[mask] - frame[mask]) / frame[mask]
    # Telea follows the ramp: better than filling with the hole's true mean (0.059 / 0.24).
    assert relative.mean() < 0.04 and relative.max() < 0.15
    assert out[..., 0].max() > 3.0  # HDR values survive (no 8-bit clip)


def test_telea_reproduces_a_flat_hdr_surround() -> None:
    flat = np.full((40, 48, 3), [4.0, 0.3, 0.01], np.float32)
    out = telea_fill(flat, _hole((40, 48)))
    np.testing.assert_allclose(out, flat, rtol=1e-3)


def test_telea_empty_mask_is_identity_and_bad_inputs_raise() -> None:
    frame = _hdr_ramp()
    assert np.array_equal(telea_fill(frame, np.zeros((40, 48), bool)), frame)
    with pytest.raises(InputError):
        telea_fill(frame, np.ones((40, 48), bool))
    with pytest.raises(InputError):
        telea_fill(frame, np.zeros((40, 40), bool))
    bad = frame.copy()
    bad[5, 5, 1] = np.nan
    with pytest.raises(InputError):
        telea_fill(bad, _hole((40, 48)))

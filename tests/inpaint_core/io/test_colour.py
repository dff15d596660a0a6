"""Pixel values between the file and the network (inpaint_core.io.colour)."""

from __future__ import annotations

import numpy as np
import pytest

from inpaint_core.io.colour import NETWORK_RANGE, LogEncoding, from_float32, to_float32

HALF_MAX = 65504.0


def _linear_values() -> np.ndarray:
    """Scene-linear values from small negatives to bright highlights, incl. exact 0."""
    rng = np.random.default_rng(3)
    ramp = np.concatenate([np.linspace(-0.5, 1.0, 301), np.geomspace(1.0, 1e4, 200)])
    specials = np.array([0.0, -0.0, -0.5, -1e-3, 1e-4, 0.18, 1.0, 16.0, 1e4])
    noisy = rng.uniform(-0.5, 1e4, 500)
    return np.concatenate([ramp, specials, noisy]).astype(np.float32)


@pytest.mark.parametrize(
    "encoding",
    [
        LogEncoding(),
        LogEncoding.fit(np.geomspace(1e-3, 50.0, 1000)),  # centre and gain far from 0 and 1
        LogEncoding(softness=0.2, centre=-1.5, gain=0.3),
    ],
    ids=["default", "fitted", "explicit"],
)
def test_encode_decode_round_trip(encoding):
    x = _linear_values()
    encoded = encoding.encode(x)
    back = encoding.decode(encoded)
    assert encoded.dtype == np.float32 and back.dtype == np.float32
    assert np.all(np.isfinite(encoded))
    # Relative 1e-5; the tiny absolute floor covers exact zero (float32 rounding
    # of the affine step leaves ~1e-8 there).
    np.testing.assert_allclose(back, x, rtol=1e-5, atol=1e-7)
    # Negatives stay negative: no clipping at black.
    assert np.all(back[x < -1e-6] < 0)


def test_encoding_is_monotonic_and_compresses_highlights():
    enc = LogEncoding()
    x = np.array([-0.5, -0.01, 0.0, 0.01, 1.0, 100.0, 1e4], dtype=np.float32)
    e = enc.encode(x)
    assert np.all(np.diff(e) > 0)
    assert e[2] == 0.0
    # Logarithmic above the softness: each 100x of light costs the same code
    # range, ln(100), instead of 100x more as it would in linear.
    assert e[-1] - e[-2] == pytest.approx(np.log(100.0), abs=1e-3)
    assert e[-2] - e[-3] == pytest.approx(np.log(100.0), abs=1e-3)


def test_fit_maps_the_extreme_percentiles_to_the_network_range():
    rng = np.random.default_rng(0)
    samples = np.concatenate([rng.lognormal(-1.5, 1.5, 100_000), rng.normal(0, 0.01, 5000)])
    enc = LogEncoding.fit(samples)
    low, high = np.percentile(samples, [0.1, 99.9])
    e_low, e_high = enc.encode(np.array([low, high]))
    assert e_low == pytest.approx(-NETWORK_RANGE, abs=1e-3)
    assert e_high == pytest.approx(NETWORK_RANGE, abs=1e-3)
    # Almost everything lands in [-0.9, 0.9]: well inside tanh's reach.
    encoded = enc.encode(samples)
    inside = np.mean((encoded >= -NETWORK_RANGE - 1e-4) & (encoded <= NETWORK_RANGE + 1e-4))
    assert inside > 0.997


def test_fit_on_a_flat_plate_does_not_divide_by_zero():
    with np.errstate(all="raise"):  # a division by zero would raise here
        enc = LogEncoding.fit(np.full(1000, 0.18))
    assert np.isfinite(enc.gain) and enc.gain > 0 and np.isfinite(enc.centre)
    value = enc.encode(np.array([0.18], dtype=np.float32))
    assert np.all(np.abs(value) <= 1.0)
    np.testing.assert_allclose(enc.decode(value), [0.18], rtol=1e-5)


def test_fit_on_no_samples_is_usable():
    enc = LogEncoding.fit(np.array([], dtype=np.float32))
    assert np.isfinite(enc.gain) and enc.gain > 0


def test_to_dict_round_trips():
    enc = LogEncoding.fit(np.linspace(0, 4, 100))
    assert LogEncoding(**enc.to_dict()) == enc


def test_uint8_and_uint16_are_normalised():
    u8 = np.array([0, 1, 128, 255], dtype=np.uint8)
    u16 = np.array([0, 1, 32768, 65535], dtype=np.uint16)
    f8, f16 = to_float32(u8), to_float32(u16)
    assert f8.dtype == np.float32 and f16.dtype == np.float32
    np.testing.assert_allclose(f8, [0, 1 / 255, 128 / 255, 1.0], rtol=1e-7)
    np.testing.assert_allclose(f16, [0, 1 / 65535, 32768 / 65535, 1.0], rtol=1e-7)
    # Every integer code survives the round trip exactly.
    all8 = np.arange(256, dtype=np.uint8)
    all16 = np.arange(65536, dtype=np.uint16)
    np.testing.assert_array_equal(from_float32(to_float32(all8), np.uint8), all8)
    np.testing.assert_array_equal(from_float32(to_float32(all16), np.uint16), all16)


@pytest.mark.parametrize("dtype, top", [(np.uint8, 255), (np.uint16, 65535)])
def test_integer_output_rounds_and_clamps(dtype, top):
    values = np.array([-0.5, -1e-9, 0.4 / top, 0.6 / top, 1.4 / top, 0.5, 1.0, 1.2, 1e6], dtype=np.float32)
    out = from_float32(values, dtype)
    assert out.dtype == np.dtype(dtype)
    expected = [0, 0, 0, 1, 1, round(0.5 * top), top, top, top]
    np.testing.assert_array_equal(out, np.array(expected, dtype=dtype))


def test_float16_output_clamps_to_half_max_not_inf():
    values = np.array([70000.0, 65520.0, 1e30, np.inf, -1e30, -np.inf, 65504.0, 1.5, -2.25], dtype=np.float32)
    out = from_float32(values, np.float16)
    assert out.dtype == np.float16
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(
        out,
        np.array([HALF_MAX, HALF_MAX, HALF_MAX, HALF_MAX, -HALF_MAX, -HALF_MAX, HALF_MAX, 1.5, -2.25],
                 dtype=np.float16),
    )


def test_float_types_pass_through_unscaled():
    half = np.array([-3.0, 0.0, 0.5, 60000.0], dtype=np.float16)
    f = to_float32(half)
    assert f.dtype == np.float32
    np.testing.assert_array_equal(f, half.astype(np.float32))
    np.testing.assert_array_equal(from_float32(f, np.float16).view(np.uint16), half.view(np.uint16))
    big = np.array([1e10, -1e10], dtype=np.float32)
    np.testing.assert_array_equal(from_float32(big, np.float32), big)

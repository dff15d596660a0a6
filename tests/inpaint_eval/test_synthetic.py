"""The synthetic clip must be a fair, known-answer inpainting problem."""

from __future__ import annotations

import time

import numpy as np
import pytest

from inpaint_core.errors import InputError
from inpaint_eval.synthetic import SyntheticClip, make_clip

SMALL = dict(frames=10, width=128, height=72)
# Rows above every foreground (parallax) element: only the panning background.
FAR_ROWS = slice(0, int(0.45 * 72))


@pytest.fixture(scope="module")
def clip() -> SyntheticClip:
    return make_clip(seed=3, pan_px_per_frame=4.0, **SMALL)


def test_shapes_and_types(clip: SyntheticClip) -> None:
    assert clip.background.shape == (10, 72, 128, 3) and clip.background.dtype == np.float32
    assert clip.plate.shape == clip.background.shape and clip.plate.dtype == np.float32
    assert clip.mask.shape == (10, 72, 128) and clip.mask.dtype == np.bool_


def test_deterministic_per_seed_and_different_across_seeds(clip: SyntheticClip) -> None:
    again = make_clip(seed=3, pan_px_per_frame=4.0, **SMALL)
    other = make_clip(seed=4, pan_px_per_frame=4.0, **SMALL)
    assert np.array_equal(clip.plate, again.plate) and np.array_equal(clip.mask, again.mask)
    assert np.array_equal(clip.background, again.background)
    assert np.abs(clip.background - other.background).mean() > 0.01


def test_plate_equals_background_outside_mask_and_differs_inside(clip: SyntheticClip) -> None:
    outside = ~clip.mask
    assert np.array_equal(clip.plate[outside], clip.background[outside])
    inside_diff = np.abs(clip.plate[clip.mask] - clip.background[clip.mask]).mean()
    assert inside_diff > 0.05  # opaque and a different colour from what it hides


@pytest.mark.parametrize("occluder", ["pole", "blob"])
def test_mask_is_partial_and_moves(occluder: str) -> None:
    c = make_clip(seed=1, occluder=occluder, **SMALL)
    coverage = c.mask.mean(axis=(1, 2))
    assert (coverage > 0.04).all() and (coverage < 0.2).all()
    centroid_x = [np.nonzero(m)[1].mean() for m in c.mask]
    assert abs(centroid_x[-1] - centroid_x[0]) > 0.4 * 128
    assert not np.array_equal(c.mask[0], c.mask[1])


def test_background_pans_by_the_requested_amount(clip: SyntheticClip) -> None:
    pan = 4
    now, later = clip.background[3, FAR_ROWS], clip.background[4, FAR_ROWS]
    shifted = np.abs(now[:, pan:] - later[:, :-pan]).mean()
    static = np.abs(now[:, pan:] - later[:, pan:]).mean()
    assert shifted < 0.02 and shifted < 0.2 * static


def test_foreground_moves_with_parallax(clip: SyntheticClip) -> None:
    """Near rows do not follow the background pan: a single global shift is not enough."""
    pan, near = 4, slice(int(0.7 * 72), 72)
    now, later = clip.background[3], clip.background[4]
    far_err = np.abs(now[FAR_ROWS, pan:] - later[FAR_ROWS, :-pan]).mean()
    near_err = np.abs(now[near, pan:] - later[near, :-pan]).mean()
    assert near_err > 3 * far_err


def test_hidden_content_is_visible_in_other_frames(clip: SyntheticClip) -> None:
    """What the occluder hides in frame 0 appears unoccluded, unchanged, in a later frame."""
    pan, width = 4, clip.plate.shape[2]
    ys, xs = np.nonzero(clip.mask[0, FAR_ROWS])
    found, errors = 0, []
    for y, x in zip(ys, xs):
        for t in range(1, clip.plate.shape[0]):
            x_t = x - t * pan
            if 0 <= x_t < width and not clip.mask[t, y, x_t]:
                errors.append(np.abs(clip.plate[t, y, x_t] - clip.background[0, y, x]).max())
                found += 1
                break
    assert found >= 0.9 * len(ys)
    hidden = clip.background[0, FAR_ROWS][clip.mask[0, FAR_ROWS]]
    assert np.median(errors) < 0.05 * max(float(np.median(hidden)), 0.1)  # only grain differs


def test_scene_is_hdr_with_slight_negatives(clip: SyntheticClip) -> None:
    assert clip.plate.max() > 2.0 and clip.plate.max() < 10.0
    assert clip.background.min() < 0.0 and clip.background.min() > -0.05
    assert np.isfinite(clip.plate).all()


def test_scene_is_structured_not_noise(clip: SyntheticClip) -> None:
    """Neighbouring pixels are strongly correlated (an inpainter can learn the scene)."""
    frame = clip.background[0].mean(axis=2)
    a, b = frame[:, :-1].ravel(), frame[:, 1:].ravel()
    assert np.corrcoef(a, b)[0, 1] > 0.8
    assert frame.std() > 0.1


def test_negative_pan_and_fractional_pan_work() -> None:
    left = make_clip(pan_px_per_frame=-2.5, **SMALL)
    assert np.isfinite(left.plate).all() and left.mask.any(axis=(1, 2)).all()
    # Content moves right by 2.5 px a frame, so frame 2 is frame 0 moved by exactly 5 px.
    first, third = left.background[0, FAR_ROWS], left.background[2, FAR_ROWS]
    assert np.abs(third[:, 5:] - first[:, :-5]).mean() < 0.2 * np.abs(third - first).mean()


def test_single_frame_clip() -> None:
    one = make_clip(frames=1, width=64, height=48)
    assert one.plate.shape == (1, 48, 64, 3) and 0 < one.mask.mean() < 1


@pytest.mark.parametrize(
    "kwargs", [dict(frames=0), dict(width=8), dict(occluder="tree"), dict(pan_px_per_frame=float("nan"))]
)
def test_bad_arguments_raise(kwargs: dict) -> None:
    with pytest.raises(InputError):
        make_clip(**kwargs)


def test_default_clip_is_fast() -> None:
    best = min(_timed_default_clip() for _ in range(2))
    assert best < 1.0


def _timed_default_clip() -> float:
    start = time.perf_counter()
    make_clip()
    return time.perf_counter() - start

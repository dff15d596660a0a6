"""Holes borrowed along the object's path, and the lookup of their candidates inside a crop."""

from __future__ import annotations

import numpy as np

from inpaint_core.flow.borrowed import UnionCandidates, borrow_along_path


def _moving_box_holes(count: int = 6, height: int = 40, width: int = 64) -> np.ndarray:
    holes = np.zeros((count, height, width), bool)
    for t in range(count):
        holes[t, 10:22, 4 + 8 * t : 16 + 8 * t] = True
    return holes


def test_a_frame_borrows_another_frames_hole_near_where_it_was() -> None:
    holes = _moving_box_holes()
    config = borrow_along_path(holes, np.random.default_rng(0))
    for t in range(len(holes)):
        donor = config.donors[t]
        assert donor is not None and donor != t
        assert (holes[donor] & holes[t]).sum() < 0.5 * holes[donor].sum()  # mostly off the frame's own hole
        dy, dx = config.shifts[t]
        assert abs(dy) <= 3 and abs(dx) <= 3  # a quarter of the 12-pixel box
        assert np.array_equal(config.hole(t, holes), np.roll(holes[donor], (dy, dx), axis=(0, 1)))
        assert np.array_equal(config.union(t, holes), holes[t] | config.hole(t, holes))


def test_borrowing_is_a_function_of_the_generator_and_skips_a_shot_without_holes() -> None:
    holes = _moving_box_holes()
    assert borrow_along_path(holes, np.random.default_rng(3)) == borrow_along_path(holes, np.random.default_rng(3))
    empty = borrow_along_path(np.zeros((3, 8, 8), bool), np.random.default_rng(0))
    assert empty.donors == (None, None, None)
    assert not empty.hole(1, np.zeros((3, 8, 8), bool)).any()


def test_a_crop_finds_the_candidates_of_its_own_union_pixels() -> None:
    height, width = 10, 12
    union = np.zeros((height, width), bool)
    union[2:5, 3:9] = True
    union[7, 1] = True
    flat = np.flatnonzero(union)
    # Each stored value is its pixel's (row, column): the lookup must return the crop's pixels' own.
    values = np.stack([flat // width, flat % width], axis=-1).astype(np.float32)
    stored = UnionCandidates(flat, values, (flat // width) % 2 == 0)
    y, x = 3, 4
    crop = union[y : y + 5, x : x + 6]
    got, seen = stored.crop(crop, y, x, width)
    ys, xs = np.nonzero(crop)
    assert np.array_equal(got, np.stack([ys + y, xs + x], axis=-1).astype(np.float32))
    assert np.array_equal(seen, (ys + y) % 2 == 0)

"""Training batches (inpaint_core.training.sampling): crops and borrowed-hole mask augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from inpaint_core.io.colour import LogEncoding
from inpaint_core.training.dataset import TrainingData
from inpaint_core.training.sampling import PatchSampler

T, H, W, C = 5, 40, 56, 3


def _data(frames: int = T, holes: np.ndarray | None = None, seed: int = 0) -> TrainingData:
    """Random encoded frames; by default each frame has a rectangle hole moving right."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(-0.9, 0.9, (frames, H, W, C)).astype(np.float16)
    if holes is None:
        holes = np.zeros((frames, H, W), bool)
        for t in range(frames):
            holes[t, 10:22, 5 + 8 * t : 15 + 8 * t] = True
    images = images * ~holes[..., None]  # as load_training_data leaves them
    return TrainingData(frames=list(range(1001, 1001 + frames)), images=images.astype(np.float16), holes=holes,
                        encoding=LogEncoding())


def _sampler(data: TrainingData, crop: int = 24, batch: int = 8, seed: int = 0) -> PatchSampler:
    return PatchSampler(data, crop, batch, np.random.default_rng(seed))


def _locate(data: TrainingData, target: np.ndarray) -> tuple[int, int, int]:
    """(t, y, x) of the crop ``target`` (C, h, w) in the shot; the random pixels make it unique."""
    _, h, w = target.shape
    found = []
    images = data.images.astype(np.float32)
    for t in range(len(data.frames)):
        for y in range(H - h + 1):
            for x in range(W - w + 1):
                if np.array_equal(images[t, y : y + h, x : x + w].transpose(2, 0, 1), target):
                    found.append((t, y, x))
    assert len(found) == 1, found
    return found[0]


def _all_shifts(hole: np.ndarray, h: int, w: int) -> np.ndarray:
    """Every circular shift of ``hole``, cropped to its top-left (h, w): (H*W, h, w).

    A crop at (y, x) of a shifted hole equals the top-left crop of another
    shift, so this covers every placement in every crop.
    """
    return np.stack([np.roll(hole, (dy, dx), axis=(0, 1))[:h, :w] for dy in range(H) for dx in range(W)])


def test_batch_shapes_and_types():
    batch = _sampler(_data(), crop=24, batch=6).sample()
    for name in ("masked", "target"):
        assert getattr(batch, name).shape == (6, C, 24, 24)
    for name in ("hole", "known"):
        assert getattr(batch, name).shape == (6, 1, 24, 24)
    for name in ("masked", "hole", "target", "known"):
        assert getattr(batch, name).dtype == np.float32
    assert set(np.unique(batch.hole)) <= {0.0, 1.0} and set(np.unique(batch.known)) <= {0.0, 1.0}


def test_crop_is_a_window_of_one_frame_with_its_own_hole_as_unknown():
    data = _data()
    batch = _sampler(data, crop=24, batch=8, seed=5).sample()
    for b in range(8):
        t, y, x = _locate(data, batch.target[b])
        own = data.holes[t, y : y + 24, x : x + 24]
        np.testing.assert_array_equal(batch.known[b, 0], (~own).astype(np.float32))
        hole = batch.hole[b, 0] > 0
        assert np.all(hole[own]), "the frame's own hole must stay hidden"


def test_masked_input_is_zero_in_the_hole_and_the_frame_elsewhere():
    batch = _sampler(_data(), crop=32, batch=8, seed=2).sample()
    hole = np.broadcast_to(batch.hole > 0, batch.masked.shape)
    assert np.all(batch.masked[hole] == 0.0)
    np.testing.assert_array_equal(batch.masked[~hole], batch.target[~hole])
    # The borrowed hole really hides pixels that are known (non-zero) in the target.
    assert np.any(batch.target[hole & np.broadcast_to(batch.known > 0, hole.shape)] != 0.0)


def test_borrowed_hole_is_added_over_many_samples():
    data = _data()
    sampler = _sampler(data, crop=24, batch=16, seed=1)
    added_total = 0
    for _ in range(4):
        batch = sampler.sample()
        hole, own = batch.hole[:, 0] > 0, batch.known[:, 0] == 0
        assert np.all(hole | ~own), "hole must be a superset of the own hole"
        added = hole & ~own
        added_total += int(added.sum())
        # Every sample whose crop has no own hole still gets some hole to learn from.
        for b in range(len(hole)):
            if not own[b].any():
                assert added[b].any()
    assert added_total > 0


def test_borrowed_hole_is_another_frames_hole_shifted():
    # Only frame 3 has a hole, an asymmetric shape no shift of anything else makes.
    holes = np.zeros((T, H, W), bool)
    holes[3, 8:20, 10:14] = True  # a vertical bar ...
    holes[3, 17:20, 14:25] = True  # ... with a foot: an L
    holes[3, 30, 40] = True  # and a lone pixel away from it
    data = _data(holes=holes)
    shifts = _all_shifts(holes[3], H, W)  # full-frame crops start at (0, 0)
    batch = _sampler(data, crop=max(H, W), batch=24, seed=4).sample()
    assert batch.target.shape[-2:] == (H, W)
    others = 0
    for b in range(24):
        t = _locate(data, batch.target[b])[0]
        own = data.holes[t]
        hole = batch.hole[b, 0] > 0
        matches = np.all((shifts | own) == hole, axis=(1, 2))
        assert matches.any(), f"sample {b} (frame {t}): hole is not the own hole plus a shift of frame 3's"
        if t != 3:
            others += 1
            assert hole.sum() == holes[3].sum()  # the whole shape, wrapped circularly
    assert others > 0


def test_borrowed_hole_comes_from_a_different_frame_when_there_is_one():
    # Each frame's hole has its own size, so the donor can be told from the shape.
    holes = np.zeros((T, H, W), bool)
    sizes = [(3, 5), (4, 9), (7, 2), (5, 11), (9, 6)]
    for t, (h, w) in enumerate(sizes):
        holes[t, 2 + 5 * t : 2 + 5 * t + h, 3 + 9 * t : 3 + 9 * t + w] = True
    data = _data(holes=holes)
    shifts = [_all_shifts(holes[d], H, W) for d in range(T)]
    batch = _sampler(data, crop=max(H, W), batch=20, seed=9).sample()
    donors_seen = set()
    for b in range(20):
        t = _locate(data, batch.target[b])[0]
        hole = batch.hole[b, 0] > 0
        donors = [d for d in range(T) if np.any(np.all((shifts[d] | holes[t]) == hole, axis=(1, 2)))]
        assert donors, f"sample {b}: no frame's shifted hole explains the added pixels"
        assert any(d != t for d in donors), f"sample {b} borrowed its own hole although others exist"
        donors_seen.update(d for d in donors if d != t)
    assert len(donors_seen) >= 3  # donors are drawn across the shot, not one fixed frame


def test_same_seed_same_batches_other_seed_other_batches():
    data = _data()
    a, b, c = (_sampler(data, seed=s) for s in (7, 7, 8))
    for _ in range(3):
        ba, bb, bc = a.sample(), b.sample(), c.sample()
        for name in ("masked", "hole", "target", "known"):
            np.testing.assert_array_equal(getattr(ba, name), getattr(bb, name))
    assert not np.array_equal(ba.target, bc.target) or not np.array_equal(ba.hole, bc.hole)


def test_crop_larger_than_the_frame_is_clamped_per_side():
    batch = _sampler(_data(), crop=48, batch=3).sample()  # taller than H=40, narrower than W=56
    assert batch.target.shape == (3, C, H, 48)


def test_shot_without_holes_samples_without_borrowed_holes():
    data = _data(holes=np.zeros((T, H, W), bool))
    batch = _sampler(data, crop=24, batch=8).sample()
    assert not batch.hole.any()
    assert np.all(batch.known == 1.0)
    np.testing.assert_array_equal(batch.masked, batch.target)


@pytest.mark.parametrize("with_hole", [True, False])
def test_single_frame_shot(with_hole):
    holes = np.zeros((1, H, W), bool)
    if with_hole:
        holes[0, 5:15, 20:30] = True
    data = _data(frames=1, holes=holes)
    batch = _sampler(data, crop=24, batch=4).sample()
    assert batch.target.shape == (4, C, 24, 24)
    if with_hole:
        # The only donor is the frame itself: its shape lands in every crop.
        assert np.all(batch.hole.reshape(4, -1).sum(axis=1) > 0)
    else:
        assert not batch.hole.any()


@pytest.mark.slow
def test_hole_focus_places_that_share_of_crops_over_the_hole_area():
    # One small hole, always in the same place: with focus 1 every crop covers part of it; without, few do.
    holes = np.zeros((T, H, W), bool)
    holes[:, 2:6, 2:6] = True
    data = _data(holes=holes)
    area = holes.any(axis=0)

    def share_over_area(focus: float) -> float:
        sampler = PatchSampler(data, 12, 8, np.random.default_rng(0), hole_focus=focus)
        batches = [sampler.sample() for _ in range(8)]
        hits = []
        for batch in batches:
            for target in batch.target:
                t, y, x = _locate(data, target)
                hits.append(area[y:y + 12, x:x + 12].any())
        return float(np.mean(hits))

    assert share_over_area(1.0) == 1.0
    assert share_over_area(0.0) < 0.2  # uniform: a corner region is rarely covered
    assert 0.3 < share_over_area(0.5) < 0.8


def test_without_focus_the_batches_are_those_of_a_plain_sampler():
    data = _data()
    plain = PatchSampler(data, 24, 8, np.random.default_rng(5)).sample()
    unfocused = PatchSampler(data, 24, 8, np.random.default_rng(5), hole_focus=0.0).sample()
    np.testing.assert_array_equal(plain.target, unfocused.target)

"""The flow layer: flow never reads under a hole, candidates follow the motion, unseen pixels are said to be."""

from __future__ import annotations

import numpy as np
import pytest

from inpaint_core.errors import InputError
from inpaint_core.flow.candidates import FrameCache, frame_candidates
from inpaint_core.flow.clip import propagate_clip
from inpaint_core.flow.estimate import FlowSettings, complete_flow, estimate_shot_flow, working_size
from inpaint_core.flow.prefill import telea_prefill
from inpaint_eval.synthetic import make_clip


def _texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth random texture (scene-linear, 0.05-0.8): DIS can track it to a fraction of a pixel."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.random((height // 4, width // 4, 3)).astype(np.float32)
    return (0.05 + 0.75 * cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1)).astype(
        np.float32)


def _pan(frames: int = 7, shift: int = 3, height: int = 64, width: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A camera pan by ``shift`` whole pixels a frame across a wider texture; a box hole in the middle frame."""
    world = _texture(height, width + shift * frames)
    clip = np.stack([world[:, t * shift:t * shift + width] for t in range(frames)])
    hole = np.zeros(clip.shape[:3], bool)
    hole[frames // 2, 20:44, 36:60] = True
    return clip, hole


def _read(colour: np.ndarray, hole: np.ndarray):
    return lambda index: (colour[index], hole[index])


@pytest.mark.parametrize("content", ["nan", "zeros", "truth"])
def test_flow_and_candidates_do_not_depend_on_what_lies_under_the_hole(content: str) -> None:
    clip = make_clip(frames=6, width=96, height=64, occluder="blob")
    reference = propagate_clip(clip.background, clip.mask)  # the truth under the holes
    colour = clip.background.copy()
    colour[clip.mask] = {"nan": np.nan, "zeros": 0.0, "truth": clip.background[clip.mask]}[content]
    flow = estimate_shot_flow(_read(colour, clip.mask), len(colour))
    truth_flow = estimate_shot_flow(_read(clip.background, clip.mask), len(colour))
    for mine, theirs in zip(flow.forward + flow.backward, truth_flow.forward + truth_flow.backward):
        assert np.array_equal(mine, theirs)
    found = propagate_clip(colour, clip.mask)
    assert np.array_equal(found.filled, reference.filled)
    assert np.array_equal(found.seen, reference.seen)
    assert np.isfinite(found.filled).all()


def test_candidates_on_a_pan_come_from_the_shifted_pixels_of_the_nearest_frames() -> None:
    colour, hole = _pan()
    t = len(colour) // 2
    flow = estimate_shot_flow(_read(colour, hole), len(colour))
    # Inside the hole the completed flow is the camera's shift (a homography fitted on the ring around it).
    inside = hole[t]
    assert np.abs(flow.forward[t][inside] - [-3, 0]).max() < 0.05
    assert np.abs(flow.backward[t - 1][inside] - [3, 0]).max() < 0.05
    found = frame_candidates(t, hole[t], flow, _read(colour, hole))
    assert found.seen.all()
    assert set(found.distance.tolist()) == {1}  # the neighbours show every pixel
    truth = colour[t][hole[t]]  # the pan is whole pixels: the neighbours hold exactly the hidden values
    assert np.abs(found.values - truth).max() < 0.02
    assert found.values.dtype == np.float32


def test_a_pixel_no_frame_shows_is_unseen_and_a_hole_covered_elsewhere_is_skipped() -> None:
    colour, hole = _pan(frames=5)
    hole[:, 20:30, 40:50] = True  # the same screen spot in every frame, but the camera pans: others show it
    hole[1] |= hole[2]  # frame 1 also hides what frame 2 hides: the nearest source for 2's hole is then 3
    flow = estimate_shot_flow(_read(colour, hole), len(colour))
    found = frame_candidates(2, hole[2], flow, _read(colour, hole), FlowSettings(candidates=1))
    assert found.seen.mean() > 0.99
    ys, xs = np.nonzero(hole[2])
    # Pixels whose track lands on frame 1's grown hole come from frame 3 (distance 1) or further.
    assert found.distance.min() >= 1
    static = np.zeros(colour.shape[:3], bool)
    static[:, 10:30, 10:30] = True
    still = np.repeat(colour[:1], len(colour), axis=0)  # no motion: the hidden spot is in no frame
    found = frame_candidates(2, static[2], estimate_shot_flow(_read(still, static), len(still)), _read(still, static))
    assert not found.seen.any()
    assert np.array_equal(found.values, np.zeros_like(found.values))


def test_a_region_hidden_in_every_frame_is_unseen_and_the_rest_is_seen() -> None:
    clip = make_clip(frames=12, width=128, height=72, occluder="pinned")
    assert clip.hidden.any() and (clip.mask & ~clip.hidden).any()
    result = propagate_clip(clip.plate, clip.mask)
    assert result.seen[clip.hidden].mean() < 0.1
    assert result.seen[clip.mask & ~clip.hidden].mean() > 0.95
    assert not result.seen[~clip.mask].any()


def test_flow_at_a_working_size_finds_the_same_candidates_at_full_size() -> None:
    colour, hole = _pan(height=96, width=128)
    t = len(colour) // 2
    flow = estimate_shot_flow(_read(colour, hole), len(colour), FlowSettings(long_side=64))
    assert (flow.flow_width, flow.flow_height) == working_size(128, 96, 64) == (64, 48)
    found = frame_candidates(t, hole[t], flow, _read(colour, hole))
    assert found.seen.all()
    assert np.abs(found.values - colour[t][hole[t]]).mean() < 0.02


def test_homography_completion_continues_a_zoom_where_telea_flattens_it() -> None:
    height, width = 80, 80
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    zoom = np.stack([(xs - 40) * 0.05, (ys - 40) * 0.05], -1).astype(np.float32)  # 5 % zoom about the centre
    hole = np.zeros((height, width), bool)
    hole[25:55, 45:70] = True
    broken = np.where(hole[..., None], np.float32(100.0), zoom)
    homography = complete_flow(broken, hole, FlowSettings(flow_margin=2))
    telea = complete_flow(broken, hole, FlowSettings(flow_margin=2, completion="telea"))
    assert np.abs(homography - zoom)[hole].max() < 0.01
    assert np.abs(telea - zoom)[hole].max() > 0.2
    assert np.array_equal(homography[~hole & (np.abs(xs - 57) > 20)], zoom[~hole & (np.abs(xs - 57) > 20)])


def test_frame_cache_reads_each_frame_once_within_its_budget_and_zeroes_holes() -> None:
    colour, hole = _pan(frames=4)
    colour[hole] = np.nan
    reads = []

    def read(index: int):
        reads.append(index)
        return colour[index], hole[index]

    cache = FrameCache(read, budget_bytes=2 * (colour[0].nbytes + hole[0].nbytes))
    for index in (0, 1, 0, 1, 2, 0):
        frame, _ = cache(index)
        assert np.isfinite(frame).all()
    assert reads == [0, 1, 2, 0]  # 0 fell out when 2 came in


def test_a_half_plate_is_cached_as_half_and_gives_the_candidates_of_its_float32_copy() -> None:
    colour, hole = _pan()
    half = colour.astype(np.float16)
    cache = FrameCache(_read(half, hole))
    assert cache(0)[0].dtype == np.float16  # twice the frames in the budget: a 4K walk stays cached
    flow = estimate_shot_flow(_read(half, hole), len(half))
    t = len(half) // 2
    from_half = frame_candidates(t, hole[t], flow, cache)
    from_float = frame_candidates(t, hole[t], flow, FrameCache(_read(half.astype(np.float32), hole)))
    assert np.array_equal(from_half.values, from_float.values) and np.array_equal(from_half.seen, from_float.seen)


def test_prefill_never_reads_the_hole_and_keeps_the_rest() -> None:
    colour, hole = _pan(frames=1)
    noisy = colour[0].copy()
    noisy[hole[0]] = np.inf
    filled = telea_prefill(noisy, hole[0])
    assert np.isfinite(filled).all()
    assert np.array_equal(filled[~hole[0]], colour[0][~hole[0]])


@pytest.mark.parametrize("field, value", [("completion", "poisson"), ("candidates", 0), ("long_side", 4)])
def test_bad_flow_settings_name_the_setting(field: str, value: object) -> None:
    with pytest.raises(InputError, match=field):
        FlowSettings(**{field: value})

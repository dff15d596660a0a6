"""Progressive multi-scale jobs: the scale plan, boundary-aware patches, fixed step cost, whole jobs."""

from __future__ import annotations

import time
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from inpaint_core.errors import Cancelled, InputError
from inpaint_core.inference.progressive import (
    Scale,
    hole_box,
    plan_scales,
    refine_with_prior,
    resize_frame,
    upsample_box,
)
from inpaint_core.io.image_files import read_frame
from inpaint_core.jobs import JobReporter, JobSpec, run_job
from inpaint_core.jobs.progressive import ProgressiveSettings, wants_progressive
from inpaint_core.masks.shot import Shot, ShotSpec
from inpaint_core.training.boundary_sampling import BoundarySampler, PatchBank, boundary_band
from inpaint_core.training.refine import RefineTrainer, refine_crop
from inpaint_core.training.trainer import TrainSettings
from inpaint_eval.metrics import psnr_in_mask
from inpaint_eval.synthetic import make_clip, write_exr_sequence

SMALL = TrainSettings(width=8, two_stage=False, iterations=40, batch_size=4, crop_size=32, learning_rate=3e-3,
                      checkpoint_every=0)


@pytest.mark.parametrize("size,expected", [
    ((3840, 2160), [(960, 540), (1920, 1080), (3840, 2160)]),
    ((4096, 2160), [(1024, 540), (2048, 1080), (4096, 2160)]),
    ((2048, 1080), [(1024, 540), (2048, 1080)]),
    ((1920, 1080), [(960, 540), (1920, 1080)]),
    ((1024, 576), [(1024, 576)]),
    ((640, 360), [(640, 360)]),
    ((7680, 4320), [(960, 540), (1920, 1080), (3840, 2160), (7680, 4320)]),
])
def test_scale_plan_halves_down_to_the_base_size(size, expected):
    scales = plan_scales(*size, base_long_side=1024)
    assert [(s.width, s.height) for s in scales] == expected
    assert scales[-1].full and [s.index for s in scales] == list(range(len(expected)))
    assert max(scales[0].width, scales[0].height) <= 1024


def test_scale_plan_refuses_a_tiny_base():
    with pytest.raises(InputError, match="at least 16"):
        plan_scales(256, 144, base_long_side=8)


def test_downscaled_hole_keeps_every_touched_pixel():
    hole = np.zeros((64, 96), dtype=bool)
    hole[10, 33] = True  # a single pixel: its coarse pixel must still be a hole
    colour = np.ones((64, 96, 3), np.float32)
    small, small_hole = resize_frame(colour, hole, Scale(0, 4, 24, 16))
    assert small.shape == (16, 24, 3) and small_hole.shape == (16, 24)
    assert small_hole[2, 8] and small_hole.sum() == 1


def _disc_hole(height: int, width: int, cy: int, cx: int, radius: int) -> np.ndarray:
    ys, xs = np.mgrid[:height, :width]
    return (ys - cy) ** 2 + (xs - cx) ** 2 <= radius**2


def test_boundary_band_lies_around_the_hole_edge():
    hole = _disc_hole(120, 160, 60, 80, 30)
    band = boundary_band(hole, 6)
    ys, xs = np.nonzero(band)
    distance = np.hypot(ys - 60, xs - 80)
    assert band.any() and np.all(np.abs(distance - 30) <= 6 + 1.5)
    assert not boundary_band(np.zeros_like(hole), 6).any() and not boundary_band(np.ones_like(hole), 6).any()


def test_bank_centres_patches_near_hole_edges_and_never_grows():
    rng = np.random.default_rng(0)
    bank = PatchBank(capacity=40, crop=32, channels=3, frames=10, rng=rng)
    size_before = bank.nbytes
    for t in range(10):
        hole = _disc_hole(120, 160, 60, 40 + 8 * t, 25)
        bank.offer(rng.random((120, 160, 3), dtype=np.float32), hole)
        ys, xs = bank.centres[: bank.count].T
        assert bank.count <= 40
    assert bank.count == 40 and bank.offered > 40 and bank.nbytes == size_before
    # Each kept centre is within crop/4 of the edge of the disc it was drawn from (any of the ten).
    distances = np.min([np.abs(np.hypot(ys - 60, xs - (40 + 8 * t)) - 25) for t in range(10)], axis=0)
    assert np.all(distances <= 8 + 1.5)
    assert all(bank.holes[i].any() for i in range(bank.count))  # every patch holds some hole


def _bank_from_frames(width: int, height: int, crop: int = 32, capacity: int = 24) -> PatchBank:
    rng = np.random.default_rng(1)
    bank = PatchBank(capacity, crop, 3, 4, rng)
    for t in range(4):
        hole = _disc_hole(height, width, height // 2, width // 3 + 5 * t, height // 5)
        bank.offer(rng.standard_normal((height, width, 3), dtype=np.float32) * 0.3, hole)
    return bank


def test_batch_shape_and_bank_size_do_not_depend_on_the_frame_size():
    shapes, sizes = set(), set()
    for width, height in ((160, 90), (640, 360), (1280, 720)):
        scale = Scale(1, 1, width, height)
        bank = _bank_from_frames(width, height, crop=refine_crop(32, scale))
        batch = BoundarySampler(bank, 4, 2, np.random.default_rng(0)).sample()
        shapes.add(tuple(a.shape for a in (batch.masked, batch.hole, batch.target, batch.known, batch.borrowed)))
        sizes.add(bank.nbytes)
    assert shapes == {((4, 3, 32, 32), (4, 1, 32, 32), (4, 3, 32, 32), (4, 1, 32, 32), (4, 1, 32, 32))}
    assert len(sizes) == 1


def test_training_sample_hides_a_borrowed_hole_and_shows_a_prior_there():
    bank = _bank_from_frames(160, 90)
    batch = BoundarySampler(bank, 6, 2, np.random.default_rng(3)).sample()
    hidden = batch.hole[:, 0] > 0
    own = batch.known[:, 0] == 0
    assert np.all(hidden[own])  # the own hole is always hidden
    assert np.all(batch.borrowed[:, 0][~hidden] == 0)  # borrowed = hidden known pixels only
    shown = ~hidden[:, None].repeat(3, axis=1)
    assert np.array_equal(batch.masked[shown], batch.target[shown])  # outside the hole: the patch itself
    borrowed = batch.borrowed[:, 0] > 0
    assert borrowed.any()
    # Inside, a blurred copy of the truth (a lower scale's view), not zeros and not the truth itself.
    inside = borrowed[:, None].repeat(3, axis=1)
    assert not np.array_equal(batch.masked[inside], batch.target[inside])
    assert np.corrcoef(batch.masked[inside], batch.target[inside])[0, 1] > 0.2


def test_refine_trainer_trains_and_resumes(tmp_path):
    bank = _bank_from_frames(320, 180)
    settings = TrainSettings(width=4, two_stage=False, iterations=2, batch_size=2, crop_size=32, checkpoint_every=0)
    trainer = RefineTrainer(bank, 3, settings, 4, 2, torch.device("cpu"), str(tmp_path / "r.ckpt"), seed=0)
    trainer.train()
    assert trainer.iteration == 2 and np.isfinite(trainer.last_loss)
    again = RefineTrainer(bank, 3, settings, 4, 3, torch.device("cpu"), str(tmp_path / "r.ckpt"), seed=0)
    assert again.resume() and again.iteration == 2


def test_tiled_refinement_touches_only_the_hole():
    model = RefineTrainer(_bank_from_frames(160, 90), 3, SMALL, 8, 1, torch.device("cpu")).model
    rng = np.random.default_rng(0)
    encoded = rng.standard_normal((90, 160, 3)).astype(np.float32) * 0.3
    hole = _disc_hole(90, 160, 45, 80, 20)
    encoded[hole] = 0
    prior = rng.standard_normal((90, 160, 3)).astype(np.float32) * 0.3
    out = refine_with_prior(model, prior, encoded, hole, torch.device("cpu"), tile=16, margin=4)
    assert out.shape == encoded.shape and np.all(np.isfinite(out))
    assert np.array_equal(out[~hole], encoded[~hole]) and not np.allclose(out[hole], 0)


def test_upsampling_a_box_matches_resizing_the_whole_frame():
    lower = np.random.default_rng(0).standard_normal((45, 81, 3)).astype(np.float32)
    coarse, fine = Scale(0, 2, 81, 45), Scale(1, 1, 162, 90)
    whole = cv2.resize(lower, (162, 90), interpolation=cv2.INTER_LINEAR)
    box = (10, 40, 30, 100)  # rows 10-40, columns 30-100 of the fine frame
    source = (3, 30, 12, 60)  # a coarse box that covers it, with a pixel to spare
    part = upsample_box(lower[3:30, 12:60], source, coarse, fine, box)
    assert np.allclose(part, whole[10:40, 30:100], atol=1e-5)
    assert hole_box(np.zeros((4, 5), bool), 2) == (0, 4, 0, 5)


def test_auto_mode_follows_frame_size(tmp_path):
    write_exr_sequence(make_clip(frames=2, width=64, height=40), str(tmp_path / "plate.####.exr"))
    shot = Shot(ShotSpec(str(tmp_path / "plate.####.exr")))
    assert not wants_progressive("auto", shot) and wants_progressive("on", shot)
    assert not wants_progressive("off", shot)
    with pytest.raises(InputError, match="progressive mode"):
        wants_progressive("sometimes", shot)


class _Stages(JobReporter):
    def __init__(self):
        self.messages = []

    def stage(self, message: str) -> None:
        self.messages.append(message)


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("progressive")
    clip = make_clip(frames=6, width=256, height=144, seed=2)
    for pixel_type in ("half", "float"):
        (folder / pixel_type).mkdir()
    write_exr_sequence(clip, str(folder / "half" / "plate.####.exr"), pixel_type="half")
    write_exr_sequence(clip, str(folder / "float" / "plate.####.exr"), pixel_type="float")
    return folder, clip


# The quality check needs some training; the float job checks the bits only, so it is kept short.
@pytest.mark.parametrize("pixel_type,iterations", [("half", 40), ("float", 4)])
@pytest.mark.slow
def test_progressive_job_is_bit_exact_outside_the_matte_and_fills_the_hole(clip_folder, pixel_type, iterations,
                                                                           tmp_path):
    folder, clip = clip_folder
    reporter = _Stages()
    settings = replace(SMALL, iterations=iterations)
    spec = JobSpec(ShotSpec(str(folder / pixel_type / "plate.####.exr")), str(tmp_path / "clean.####.exr"), settings,
                   device="cpu", progressive="on", progressive_base=64, work_dir=str(tmp_path / "work"))
    result = run_job(spec, reporter)
    assert any("3 scales (64x36 -> 128x72 -> 256x144)" in m for m in reporter.messages), reporter.messages
    assert result.filled_frames == 6 and result.iterations == iterations + 2 * (iterations // 4)
    filled, holes = [], []
    for frame, path in zip(result.frames, result.outputs):
        source, out = read_frame(str(folder / pixel_type / f"plate.{frame:04d}.exr")), read_frame(path)
        hole = source.pixels[..., 3] > 0.5
        assert out.pixels.dtype == source.pixels.dtype
        assert np.array_equal(out.pixels[~hole].view(np.uint8), source.pixels[~hole].view(np.uint8))
        assert np.array_equal(out.pixels[..., 3], source.pixels[..., 3])
        assert np.all(np.isfinite(out.pixels[hole]))
        filled.append(out.pixels[..., :3].astype(np.float32))
        holes.append(hole)
    ours = psnr_in_mask(np.stack(filled), clip.background, np.stack(holes))
    zeros = psnr_in_mask(np.where(np.stack(holes)[..., None], 0.0, clip.plate), clip.background, np.stack(holes))
    if pixel_type == "half":
        assert ours > zeros + 3.0, (ours, zeros)


def test_progressive_job_can_be_cancelled(clip_folder, tmp_path):
    folder, _ = clip_folder
    calls = iter(range(10**6))
    spec = JobSpec(ShotSpec(str(folder / "half" / "plate.####.exr")), str(tmp_path / "clean.####.exr"), SMALL,
                   device="cpu", progressive="on", progressive_base=64, work_dir=str(tmp_path / "work"), fill="paper")
    with pytest.raises(Cancelled):
        run_job(spec, should_cancel=lambda: next(calls) >= 8)  # during the base scale's training
    assert (tmp_path / "work" / "clean.scale0.ckpt").exists()


def test_progressive_settings_are_checked():
    with pytest.raises(InputError, match="bank_size"):
        ProgressiveSettings(bank_size=0)


@pytest.mark.slow
def test_cli_passes_the_progressive_mode(tmp_path):
    from server.commands.cli import main

    write_exr_sequence(make_clip(frames=2, width=64, height=40), str(tmp_path / "plate.####.exr"))
    common = ["run", "-i", str(tmp_path / "plate.####.exr"), "--preset", "draft", "--iterations", "2", "--quiet",
              "--work-dir", str(tmp_path / "work")]
    assert main(common + ["-o", str(tmp_path / "on" / "clean.####.exr"), "--progressive", "on"]) == 0
    assert (tmp_path / "work" / "clean.scale0.ckpt").exists()
    assert main(common + ["-o", str(tmp_path / "off" / "c.####.exr"), "--progressive", "off"]) == 0
    assert (tmp_path / "work" / "c.ckpt").exists() and not (tmp_path / "work" / "c.scale0.ckpt").exists()
    with pytest.raises(SystemExit):
        main(common + ["-o", str(tmp_path / "x" / "clean.####.exr"), "--progressive", "maybe"])


def test_refinement_of_a_time_budgeted_run_stops_on_a_quarter_of_the_budget():
    settings = TrainSettings(width=4, two_stage=False, iterations=10**6, batch_size=2, crop_size=32,
                             checkpoint_every=0, time_budget=0.4)
    trainer = RefineTrainer(_bank_from_frames(160, 90), 3, settings, 4, 10**6, torch.device("cpu"))
    started = time.monotonic()
    trainer.train()
    assert 1 <= trainer.iteration < 1000 and time.monotonic() - started < 30

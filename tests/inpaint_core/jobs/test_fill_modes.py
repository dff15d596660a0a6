"""The fill modes of a job: guided (propagation corrected by the refiner trained on the shot), paper, propagation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from benchmarks.flow_baseline import flow_guided_fill
from inpaint_core.errors import Cancelled, InputError
from inpaint_core.flow.estimate import FlowSettings
from inpaint_core.io.image_files import read_frame
from inpaint_core.jobs import JobSpec, run_job
from inpaint_core.jobs.propagated import remaining_budget
from inpaint_core.jobs.types import JobReporter
from inpaint_core.masks.shot import ShotSpec
from inpaint_core.training.checkpoints import load_checkpoint
from inpaint_core.training.trainer import TrainSettings
from inpaint_eval.baselines import telea_fill
from inpaint_eval.metrics import psnr_in_mask
from inpaint_eval.synthetic import make_clip, write_exr_sequence

TINY = TrainSettings(width=8, two_stage=False, iterations=6, batch_size=2, crop_size=32, checkpoint_every=3)


class _Recorder(JobReporter):
    def __init__(self, cancel_at: int | None = None) -> None:
        self.stages: list[str] = []
        self.iteration = 0
        self.cancel_at = cancel_at

    def stage(self, message: str) -> None:
        self.stages.append(message)

    def progress(self, progress) -> None:
        self.iteration = progress.iteration

    def should_cancel(self) -> bool:
        return self.cancel_at is not None and self.iteration >= self.cancel_at


def _shot(tmp_path, occluder: str = "pinned", frames: int = 6, width: int = 96, height: int = 64, seed: int = 1):
    clip = make_clip(frames=frames, width=width, height=height, seed=seed, occluder=occluder)
    write_exr_sequence(clip, str(tmp_path / "plate.####.exr"))
    return clip, ShotSpec(str(tmp_path / "plate.####.exr"))


def _frames(result) -> np.ndarray:
    return np.stack([read_frame(p).pixels.astype(np.float32) for p in result.outputs])


def test_guided_propagates_then_trains_the_refiner_on_borrowed_holes(tmp_path):
    clip, shot = _shot(tmp_path)
    reporter = _Recorder()
    result = run_job(JobSpec(shot, str(tmp_path / "out" / "clean.####.exr"), TINY, seen_channel=True), reporter)
    assert result.iterations == TINY.iterations
    assert 0.7 < result.seen_fraction < 0.95  # the pinned box is hidden in every frame
    assert result.propagation_seconds > 0 and result.fill_seconds > 0
    assert any(s.startswith("Propagation: estimating flow") for s in reporter.stages)
    assert any(s.startswith("Propagation done") for s in reporter.stages)
    assert sum(s.startswith("Refiner: propagating through borrowed holes") for s in reporter.stages) == 4
    assert any(s.startswith("Training the propagation refiner") for s in reporter.stages)
    assert load_checkpoint(result.checkpoint)["kind"] == "refiner"
    out = np.stack([read_frame(p).pixels for p in result.outputs])
    assert read_frame(result.outputs[0]).channel_names == ("R", "G", "B", "A", "inpaint.seen")
    seen = out[..., 4] > 0.5
    assert not seen[~clip.mask].any()
    assert seen[clip.hidden].mean() < 0.1
    assert seen[clip.mask & ~clip.hidden].mean() > 0.95


def test_guided_refines_a_hole_every_pixel_of_which_another_frame_shows(tmp_path):
    clip = make_clip(frames=5, width=96, height=64, seed=1, occluder="pole")
    mask = np.zeros_like(clip.mask)
    mask[2] = clip.mask[2]  # one frame's pole: its neighbours show all it hides
    clip.mask, clip.plate = mask, np.where(mask[..., None], np.float32(0.5), clip.background)
    write_exr_sequence(clip, str(tmp_path / "plate.####.exr"))
    result = run_job(JobSpec(ShotSpec(str(tmp_path / "plate.####.exr")), str(tmp_path / "out" / "c.####.exr"), TINY))
    assert result.iterations == TINY.iterations and result.seen_fraction == 1.0
    ours = psnr_in_mask(_frames(result)[..., :3], clip.background, clip.mask)
    telea = psnr_in_mask(np.stack([telea_fill(p, m) for p, m in zip(clip.plate, clip.mask)]), clip.background,
                         clip.mask)
    assert ours > telea + 3.0, (ours, telea)  # measured 29.1 against 17.3 dB


def test_guided_fill_does_not_depend_on_what_lies_under_the_hole(tmp_path):
    clip = make_clip(frames=4, width=64, height=48, seed=2)
    outputs = []
    # (NaN under a matte is refused before any work: the plate's check, tested with the shot.)
    for content in ("truth", "zeros"):
        under = clip.background if content == "truth" else np.zeros_like(clip.plate)
        clip_with = type(clip)(**{**vars(clip), "plate": np.where(clip.mask[..., None], under, clip.plate)})
        (tmp_path / content).mkdir()
        write_exr_sequence(clip_with, str(tmp_path / content / "plate.####.exr"))
        result = run_job(JobSpec(ShotSpec(str(tmp_path / content / "plate.####.exr")),
                                 str(tmp_path / content / "out" / "c.####.exr"), TINY, device="cpu"))
        outputs.append([read_frame(p).pixels[..., :3].tobytes() for p in result.outputs])
    assert outputs[0] == outputs[1]  # flows, borrowed-hole candidates, training and fill never read it


def test_paper_fill_uses_the_network_alone_and_marks_nothing_seen(tmp_path):
    clip, shot = _shot(tmp_path, frames=4)
    reporter = _Recorder()
    result = run_job(JobSpec(shot, str(tmp_path / "out" / "clean.####.exr"), TINY, fill="paper", seen_channel=True),
                     reporter)
    assert result.iterations == TINY.iterations and result.propagation_seconds == 0.0
    assert not any(s.startswith("Propagation") for s in reporter.stages)
    assert (_frames(result)[..., 4] == 0).all()


def test_propagation_fill_trains_nothing_and_fills_what_no_frame_shows_smoothly(tmp_path):
    clip, shot = _shot(tmp_path, frames=4)
    result = run_job(JobSpec(shot, str(tmp_path / "out" / "clean.####.exr"), TINY, fill="propagation"))
    assert result.iterations == 0 and result.checkpoint is None
    frames = _frames(result)
    assert np.isfinite(frames).all()
    assert not np.isclose(frames[..., :3][clip.hidden], clip.plate[clip.hidden]).all()  # the grey sign is gone


def test_an_unknown_fill_mode_is_refused_with_the_choices():
    with pytest.raises(InputError, match="guided, paper, propagation"):
        JobSpec(ShotSpec("plate.####.exr"), "out.####.exr", fill="magic")


def test_cancel_during_the_propagation_stops_before_training(tmp_path):
    _, shot = _shot(tmp_path, frames=4)
    calls = []

    def cancel_on_third_check() -> bool:
        calls.append(1)
        return len(calls) >= 3

    with pytest.raises(Cancelled, match="flow|propagating"):
        run_job(JobSpec(shot, str(tmp_path / "out" / "clean.####.exr"), TINY), should_cancel=cancel_on_third_check)
    assert not (tmp_path / "out" / "clean.1001.exr").exists()


def test_the_propagation_comes_out_of_the_time_budget():
    budget = TrainSettings(time_budget=600.0)
    assert remaining_budget(budget, 45.0).time_budget == 555.0
    assert remaining_budget(budget, 900.0).time_budget == 60.0  # training keeps a tenth however long it took
    assert remaining_budget(TrainSettings(), 45.0).time_budget == 0.0  # iterations alone: no budget to take from


@pytest.mark.slow
def test_a_guided_job_resumed_after_cancel_matches_an_uninterrupted_one(tmp_path):
    _, shot = _shot(tmp_path, frames=4)
    straight = run_job(JobSpec(shot, str(tmp_path / "a" / "clean.####.exr"), TINY, device="cpu"))
    spec = JobSpec(shot, str(tmp_path / "b" / "clean.####.exr"), TINY, device="cpu")
    reporter = _Recorder(cancel_at=3)
    with pytest.raises(Cancelled):
        run_job(spec, reporter, should_cancel=reporter.should_cancel)
    torch.manual_seed(99)
    resumed = run_job(replace(spec, resume=True), _Recorder())
    assert resumed.iterations == straight.iterations == TINY.iterations
    a, b = load_checkpoint(straight.checkpoint)["model"], load_checkpoint(resumed.checkpoint)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [read_frame(p).pixels.tobytes() for p in straight.outputs] == \
           [read_frame(p).pixels.tobytes() for p in resumed.outputs]


@pytest.mark.slow
def test_a_progressive_guided_job_fills_from_other_frames_at_full_size(tmp_path):
    clip, shot = _shot(tmp_path, frames=4, width=128, height=72)
    result = run_job(JobSpec(shot, str(tmp_path / "out" / "clean.####.exr"), TINY, progressive="on",
                             progressive_base=64, seen_channel=True, flow=FlowSettings(long_side=64)))
    frames = np.stack([read_frame(p).pixels for p in result.outputs])
    plate = np.stack([read_frame(str(tmp_path / f"plate.{1001 + t}.exr")).pixels for t in range(4)])
    assert (frames[..., :4].view(np.uint16) == plate.view(np.uint16))[~clip.mask].all()
    seen = frames[..., 4] > 0.5
    assert seen[clip.mask & ~clip.hidden].mean() > 0.9
    seen_hole = clip.mask & ~clip.hidden
    ours = psnr_in_mask(frames[..., :3].astype(np.float32), clip.background, seen_hole)
    telea = psnr_in_mask(np.stack([telea_fill(p, m) for p, m in zip(clip.plate, clip.mask)]), clip.background,
                         seen_hole)
    assert ours > telea + 2.0  # measured 22.7 against 16.0 dB, (ours, telea)


@pytest.mark.slow
def test_guided_beats_the_paper_fill_and_the_frozen_flow_baseline_at_equal_iterations(tmp_path):
    clip, shot = _shot(tmp_path, frames=8, width=192, height=108, seed=1)
    training = TrainSettings(width=16, two_stage=False, iterations=120, batch_size=8, crop_size=64,
                             learning_rate=2e-3)
    scores = {}
    for fill in ("guided", "paper"):
        result = run_job(JobSpec(shot, str(tmp_path / fill / "clean.####.exr"), training, fill=fill, device="cpu"))
        assert result.iterations == training.iterations
        scores[fill] = psnr_in_mask(_frames(result)[..., :3], clip.background, clip.mask)
    scores["flow baseline"] = psnr_in_mask(flow_guided_fill(clip.plate, clip.mask), clip.background, clip.mask)
    # Measured here: guided 26.9, flow baseline 23.9, paper 15.3 dB (propagation alone: 28.9; at 120 iterations
    # the network invents the never-seen box worse than Telea does).
    assert scores["guided"] > scores["paper"] + 1.0, scores
    assert scores["guided"] > scores["flow baseline"] + 1.0, scores

"""Warm starts: a finished job's network seeds the next job of the same shot, never silently a changed plate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import inpaint_core.jobs.single as single
from inpaint_core.errors import Cancelled, InputError
from inpaint_core.io.image_files import read_frame, write_frame
from inpaint_core.jobs import JobReporter, JobSpec, run_job
from inpaint_core.masks import ShotSpec
from inpaint_core.training.checkpoints import load_checkpoint
from inpaint_core.training.trainer import TrainSettings
from inpaint_eval.synthetic import make_clip, write_exr_sequence
from server.commands.cli import main

TINY = TrainSettings(width=4, two_stage=False, iterations=4, batch_size=2, crop_size=16, checkpoint_every=0)


class _News(JobReporter):
    def __init__(self, cancel_at: int | None = None) -> None:
        self.stages: list[str] = []
        self.warnings: list[str] = []
        self.iteration, self.cancel_at = 0, cancel_at

    def stage(self, message: str) -> None:
        self.stages.append(message)

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def progress(self, progress) -> None:
        self.iteration = progress.iteration

    def should_cancel(self) -> bool:
        return self.cancel_at is not None and self.iteration >= self.cancel_at


def _shot(tmp_path, frames: int = 4):
    write_exr_sequence(make_clip(frames=frames, width=48, height=32, seed=4), str(tmp_path / "plate.####.exr"))
    return ShotSpec(str(tmp_path / "plate.####.exr"))


def _job(tmp_path, shot: ShotSpec, fill: str = "guided", **options) -> JobSpec:
    return JobSpec(shot, str(tmp_path / "out" / "c.####.exr"), TINY, device="cpu", overwrite=True, fill=fill,
                   **options)


@pytest.mark.parametrize("fill", ["guided", "paper"])
def test_a_rerun_of_a_finished_job_starts_from_its_network(tmp_path, monkeypatch, fill):
    shot = _shot(tmp_path)
    first = run_job(_job(tmp_path, shot, fill))
    trained = load_checkpoint(first.checkpoint)["model"]
    seeded = {}
    real = single.train_in_job

    def spy(ctx, trainer):
        seeded.update({k: v.clone() for k, v in trainer.model.state_dict().items()})
        return real(ctx, trainer)

    monkeypatch.setattr(single, "train_in_job", spy)
    news = _News()
    run_job(_job(tmp_path, shot, fill), news)
    assert any(s.startswith("Warm start from") and "4 iterations, 4 frames unchanged" in s for s in news.stages)
    assert all(torch.equal(seeded[k], trained[k]) for k in trained)  # training began at the finished weights


def test_a_changed_plate_an_unfinished_run_or_off_start_cold_and_say_why(tmp_path):
    shot = _shot(tmp_path)
    run_job(_job(tmp_path, shot))
    plate = read_frame(str(tmp_path / "plate.1003.exr"))
    plate.pixels[0, 0, 0] += np.float16(0.25)  # one pixel of one frame
    write_frame(str(tmp_path / "plate.1003.exr"), plate.pixels, plate.spec, overwrite=True)
    news = _News()
    run_job(_job(tmp_path, shot), news)
    assert any(w.startswith("Starting cold: the plate's pixels changed in 1 of the frames") and "first 1003" in w
               for w in news.warnings), news.warnings
    assert not any(s.startswith("Warm start") for s in news.stages)

    cancelled = _News(cancel_at=2)
    with pytest.raises(Cancelled):
        run_job(_job(tmp_path, shot, warm_start="off"), cancelled, should_cancel=cancelled.should_cancel)
    news = _News()
    run_job(_job(tmp_path, shot), news)
    assert any("did not finish (it stopped at iteration 2)" in w for w in news.warnings), news.warnings

    news = _News()
    run_job(_job(tmp_path, shot, warm_start="off"), news)
    assert not any(s.startswith("Warm start") for s in news.stages)
    assert not any(w.startswith("Starting cold") for w in news.warnings)


def test_a_named_checkpoint_is_used_even_for_a_changed_plate_and_the_job_says_so(tmp_path):
    shot = _shot(tmp_path)
    first = run_job(_job(tmp_path, shot))
    kept = tmp_path / "kept.ckpt"
    kept.write_bytes(open(first.checkpoint, "rb").read())
    plate = read_frame(str(tmp_path / "plate.1002.exr"))
    plate.pixels[..., :3] *= np.float16(0.5)
    write_frame(str(tmp_path / "plate.1002.exr"), plate.pixels, plate.spec, overwrite=True)
    news = _News()
    run_job(_job(tmp_path, shot, warm_start=str(kept)), news)
    assert any(s.startswith(f"Warm start from {kept}") and "plate changed in 1 of its frames (forced)" in s
               for s in news.stages), news.stages
    with pytest.raises(InputError, match="No checkpoint at"):
        run_job(_job(tmp_path, shot, warm_start=str(tmp_path / "none.ckpt")))


def test_another_network_or_fill_starts_cold(tmp_path):
    shot = _shot(tmp_path)
    run_job(_job(tmp_path, shot))
    wider = JobSpec(shot, str(tmp_path / "out" / "c.####.exr"), TrainSettings(width=8, two_stage=False, iterations=2,
                    batch_size=2, crop_size=16, checkpoint_every=0), device="cpu", overwrite=True)
    news = _News()
    run_job(wider, news)
    assert any("holds another network" in w for w in news.warnings), news.warnings
    news = _News()
    run_job(_job(tmp_path, shot, fill="paper"), news)  # the refiner's checkpoint cannot seed the paper network
    assert any("is a 'refiner' checkpoint; this job trains a 'plain' one" in w for w in news.warnings), news.warnings


def test_the_command_line_takes_warm_start(tmp_path, capsys):
    _shot(tmp_path, frames=3)
    args = ["run", "--input", str(tmp_path / "plate.####.exr"), "--output", str(tmp_path / "o" / "c.####.exr"),
            "--preset", "draft", "--iterations", "2", "--overwrite"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0
    assert "Warm start from" in capsys.readouterr().err
    assert main(args + ["--warm-start", "off"]) == 0
    assert "Warm start from" not in capsys.readouterr().err

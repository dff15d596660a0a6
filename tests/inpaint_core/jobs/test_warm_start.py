"""Warm starts: a finished job's network seeds the next job of the same shot, never silently a changed plate."""

from __future__ import annotations

import os
from dataclasses import replace

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


def test_a_matte_grown_in_the_plates_alpha_still_warm_starts(tmp_path):
    """A re-press in Nuke: the roto grew, so the alpha of every uploaded frame changed; the colour did not."""
    shot = _shot(tmp_path)
    run_job(_job(tmp_path, shot))
    for frame in range(1001, 1005):
        path = str(tmp_path / f"plate.{frame}.exr")
        plate = read_frame(path)
        alpha = plate.pixels[..., 3] > 0.5
        grown = alpha | np.roll(alpha, 2, axis=1) | np.roll(alpha, -2, axis=1)
        plate.pixels[..., 3] = grown.astype(np.float16)
        write_frame(path, plate.pixels, plate.spec, overwrite=True)
    news = _News()
    run_job(_job(tmp_path, shot), news)
    assert any(s.startswith("Warm start from") and "4 frames unchanged" in s for s in news.stages), news.stages


def _finished_elsewhere(tmp_path, name: str, shot: ShotSpec, settings: TrainSettings = TINY) -> str:
    """A finished job with its own work folder, as each of the server's jobs has: its checkpoint."""
    spec = JobSpec(shot, str(tmp_path / name / "c.####.exr"), settings, device="cpu", overwrite=True,
                   work_dir=str(tmp_path / name / "work"))
    return run_job(spec).checkpoint


def _other_shot(tmp_path) -> ShotSpec:
    folder = tmp_path / "other"
    folder.mkdir()
    write_exr_sequence(make_clip(frames=4, width=48, height=32, seed=9), str(folder / "plate.####.exr"))
    return ShotSpec(str(folder / "plate.####.exr"))


def test_a_job_takes_the_first_offered_run_of_its_own_plate(tmp_path):
    """The server offers every finished job's checkpoint, newest first; other shots' are passed over quietly."""
    shot = _shot(tmp_path)
    mine = _finished_elsewhere(tmp_path, "mine", shot)
    theirs = _finished_elsewhere(tmp_path, "theirs", _other_shot(tmp_path))
    news = _News()
    run_job(_job(tmp_path, shot, resume=True, work_dir=str(tmp_path / "new"), warm_start_sources=(theirs, mine)),
            news)
    assert any(s.startswith(f"Warm start from {mine}") for s in news.stages), news.stages
    assert not news.warnings

    news = _News()
    run_job(_job(tmp_path, shot, resume=True, work_dir=str(tmp_path / "new2"), warm_start_sources=(theirs,)), news)
    assert "Starting cold: none of the 1 finished runs considered was trained on this plate" in news.stages
    assert not news.warnings
    news = _News()
    run_job(_job(tmp_path, shot, resume=True, work_dir=str(tmp_path / "new3"), warm_start_sources=()), news)
    assert "Starting cold: there is no finished run to warm-start from" in news.stages


def test_force_takes_the_newest_run_whose_network_fits_even_of_another_plate(tmp_path):
    shot = _shot(tmp_path)
    theirs = _finished_elsewhere(tmp_path, "theirs", _other_shot(tmp_path))
    news = _News()
    run_job(_job(tmp_path, shot, work_dir=str(tmp_path / "new"), warm_start="force", warm_start_sources=(theirs,)),
            news)
    assert any(s.startswith(f"Warm start from {theirs}") and "plate changed in 4 of its frames (forced)" in s
               for s in news.stages), news.stages
    news = _News()
    run_job(_job(tmp_path, shot, work_dir=str(tmp_path / "new2"), warm_start="force", warm_start_sources=()), news)
    assert "Starting cold: there is no finished run to warm-start from." in news.warnings


def test_a_refused_network_leaves_the_cold_weights_untouched(tmp_path, monkeypatch):
    """A checkpoint of another width is refused before any tensor is copied: the job starts from fresh weights."""
    shot = _shot(tmp_path)
    torch.manual_seed(0)
    wider = _finished_elsewhere(tmp_path, "wider", shot, TrainSettings(width=8, two_stage=False, iterations=2,
                                                                          batch_size=2, crop_size=16,
                                                                          checkpoint_every=0))
    starts = []
    real = single.train_in_job

    def spy(ctx, trainer):
        starts.append({k: v.clone() for k, v in trainer.model.state_dict().items()})
        return real(ctx, trainer)

    monkeypatch.setattr(single, "train_in_job", spy)
    news = _News()
    run_job(_job(tmp_path, shot, work_dir=str(tmp_path / "a"), warm_start_sources=(wider,)), news)
    assert any("holds another network" in w for w in news.warnings), news.warnings
    run_job(_job(tmp_path, shot, work_dir=str(tmp_path / "b"), warm_start="off"))
    assert all(torch.equal(starts[0][k], starts[1][k]) for k in starts[1])  # the same seed's fresh weights


def test_a_warm_refiner_propagates_one_borrowed_configuration_and_its_resume_keeps_that(tmp_path):
    """Fine-tuning needs fewer borrowed holes: one propagation instead of four; resuming the interrupted warm job
    must propagate as many as its checkpoint was trained on, or the checkpoint would not fit."""
    shot = _shot(tmp_path)
    cold = _News()
    first = run_job(_job(tmp_path, shot, work_dir=str(tmp_path / "first")), cold)
    assert any(s.startswith("Refiner: 4 borrowed-hole propagations") for s in cold.stages), cold.stages
    longer = TrainSettings(width=4, two_stage=False, iterations=8, batch_size=2, crop_size=16, checkpoint_every=1)
    spec = JobSpec(shot, str(tmp_path / "out" / "c.####.exr"), longer, device="cpu", overwrite=True,
                   work_dir=str(tmp_path / "second"), warm_start_sources=(first.checkpoint,))
    interrupted = _News(cancel_at=3)
    with pytest.raises(Cancelled):
        run_job(spec, interrupted, should_cancel=interrupted.should_cancel)
    assert any(s.startswith("Refiner: 1 borrowed-hole propagation in") and "fine-tunes" in s
               for s in interrupted.stages), interrupted.stages
    os.remove(first.checkpoint)  # the finished job expired meanwhile: the count must come from the checkpoint
    resumed = _News()
    run_job(replace(spec, resume=True), resumed)
    assert any(s.startswith("Resuming from") for s in resumed.stages), resumed.stages
    assert any(s.startswith("Refiner: 1 borrowed-hole propagation in") for s in resumed.stages), resumed.stages


# -- progressive (large-frame) jobs: every scale starts from the same scale's network ----------------------------


def _progressive(tmp_path, shot: ShotSpec, **options) -> JobSpec:
    """Two scales (24x16 -> 48x32), the network at both (paper fill: guided trains none where frames show all)."""
    return _job(tmp_path, shot, fill="paper", progressive="on", progressive_base=24, **options)


def _seeded_weights(monkeypatch) -> list[dict]:
    """Each scale's weights as its training began, in scale order."""
    import inpaint_core.jobs.progressive as progressive

    seeded, real = [], progressive.train_in_job

    def spy(ctx, trainer):
        seeded.append({k: v.clone() for k, v in trainer.model.state_dict().items()})
        return real(ctx, trainer)

    monkeypatch.setattr(progressive, "train_in_job", spy)
    return seeded


def test_a_progressive_rerun_starts_every_scale_from_its_own_network(tmp_path, monkeypatch):
    shot = _shot(tmp_path)
    first = run_job(_progressive(tmp_path, shot))
    base = first.checkpoint
    assert base.endswith(".scale0.ckpt")
    scales = [base, base.replace(".scale0.", ".scale1.")]
    trained = [load_checkpoint(path)["model"] for path in scales]
    seeded = _seeded_weights(monkeypatch)
    news = _News()
    run_job(_progressive(tmp_path, shot), news)
    for path in scales:
        assert any(s.startswith(f"Warm start from {path} (") and "4 frames unchanged" in s for s in news.stages), \
            news.stages
    assert not news.warnings
    assert len(seeded) == 2
    for start, done in zip(seeded, trained):
        assert all(torch.equal(start[k], done[k]) for k in done)


def test_a_progressive_job_named_by_its_base_checkpoint_seeds_each_scale(tmp_path):
    shot = _shot(tmp_path)
    first = run_job(_progressive(tmp_path, shot, work_dir=str(tmp_path / "first")))
    news = _News()
    run_job(_progressive(tmp_path, shot, work_dir=str(tmp_path / "second"), warm_start=first.checkpoint), news)
    assert any(s.startswith(f"Warm start from {first.checkpoint}") for s in news.stages), news.stages
    sibling = first.checkpoint.replace(".scale0.", ".scale1.")
    assert any(s.startswith(f"Warm start from {sibling}") for s in news.stages), news.stages


def test_a_progressive_job_of_a_changed_plate_starts_every_scale_cold_and_says_why(tmp_path):
    shot = _shot(tmp_path)
    run_job(_progressive(tmp_path, shot))
    plate = read_frame(str(tmp_path / "plate.1002.exr"))
    plate.pixels[3, 5, 1] += np.float16(0.25)
    write_frame(str(tmp_path / "plate.1002.exr"), plate.pixels, plate.spec, overwrite=True)
    news = _News()
    run_job(_progressive(tmp_path, shot), news)
    assert not any(s.startswith("Warm start") for s in news.stages), news.stages
    changed = [w for w in news.warnings if w.startswith("Starting cold: the plate's pixels changed in 1 of the frames")]
    assert len(changed) == 2 and all("first 1002" in w for w in changed), news.warnings


def test_a_single_scale_checkpoint_never_seeds_a_progressive_scale(tmp_path):
    """Same shot, same pixels: the single-scale network was trained at another size (scale 1) or is another kind
    of network (scale 2); both scales start cold and say why."""
    shot = _shot(tmp_path)
    single_scale = run_job(_job(tmp_path, shot, fill="paper", work_dir=str(tmp_path / "single"))).checkpoint
    news = _News()
    run_job(_progressive(tmp_path, shot, work_dir=str(tmp_path / "p"), warm_start_sources=(single_scale,)), news)
    assert not any(s.startswith("Warm start") for s in news.stages), news.stages
    assert any("was trained on frames of size [48, 32], this shot has [24, 16]" in w for w in news.warnings), \
        news.warnings
    assert any("this job trains a 'refine' one" in w for w in news.warnings), news.warnings

"""The one training loop (training/loop.py), its checkpoints (training/checkpoints.py), and checkpoints of the
format before it: every trainer kind resumes to the weights of an uninterrupted run; old checkpoints start over."""

from __future__ import annotations

import time
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from inpaint_core.errors import Cancelled, CheckpointError, OutdatedCheckpoint
from inpaint_core.io.image_files import read_frame
from inpaint_core.jobs import JobReporter, JobSpec, run_job
from inpaint_core.masks.shot import Shot, ShotSpec
from inpaint_core.training.checkpoints import CHECKPOINT_VERSION, load_checkpoint
from inpaint_core.training.dataset import load_training_data
from inpaint_core.training.loop import LoopSettings, TrainingLoop
from inpaint_core.training.mask_propagation import MaskPropagator, PropagationSettings
from inpaint_core.training.refine import RefineTrainer
from inpaint_core.training.trainer import Trainer, TrainSettings
from inpaint_eval.synthetic import make_clip, write_exr_sequence
from tests.inpaint_core.jobs.test_progressive import _bank_from_frames
from tests.inpaint_core.training.test_training import _data, _settings

CPU = torch.device("cpu")


# -- the loop on a toy trainer ---------------------------------------------------------


class _Sampler:
    def __init__(self, rng: np.random.Generator, delay: float = 0.0):
        self.rng, self.delay = rng, delay

    def sample(self) -> np.ndarray:
        if self.delay:
            time.sleep(self.delay)
        return self.rng.standard_normal((4, 3)).astype(np.float32)


class _Toy(TrainingLoop):
    """The least a trainer supplies: a model, an optimiser, a sampler and a loss."""

    kind = "toy"

    def __init__(self, loop: LoopSettings, path: str | None = None, seed: int = 0, delay: float = 0.0):
        torch.manual_seed(seed)
        model = torch.nn.Linear(3, 1)
        super().__init__(model, torch.optim.Adam(model.parameters(), lr=loop.learning_rate), loop, CPU, path)
        self.seed = seed
        self.sampler = _Sampler(np.random.default_rng(seed), delay)
        self.hooked: list[int] = []

    def prepare_batch(self, batch: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(batch)

    def loss(self, batch: torch.Tensor) -> torch.Tensor:
        return (self.network(batch) - 1.0).pow(2).mean()

    def compatibility(self) -> dict:
        return {"seed": self.seed}

    def after_step(self, iteration: int) -> None:
        self.hooked.append(iteration)


def _weights(loop: TrainingLoop) -> list[torch.Tensor]:
    return [t.clone() for t in loop.model.state_dict().values()]


def test_cancel_writes_a_checkpoint_at_that_iteration_then_raises(tmp_path):
    path = str(tmp_path / "toy.ckpt")
    toy = _Toy(LoopSettings(iterations=50), path)
    with pytest.raises(Cancelled, match="cancelled at iteration 3; checkpoint saved"):
        toy.train(should_cancel=lambda: toy.iteration >= 3)
    state = load_checkpoint(path, "toy")
    assert state["iteration"] == 3 and state["version"] == CHECKPOINT_VERSION
    assert all(torch.equal(a, b) for a, b in zip(state["model"].values(), _weights(toy)))
    assert toy.prefetcher is None  # the batch thread is stopped on the way out


def test_the_loop_calls_the_hook_after_every_step_and_checkpoints_on_its_cadence(tmp_path, monkeypatch):
    toy = _Toy(LoopSettings(iterations=5, checkpoint_every=2), str(tmp_path / "toy.ckpt"))
    saved = []
    monkeypatch.setattr(toy, "save_checkpoint", lambda: saved.append(toy.iteration))
    toy.train()
    assert toy.hooked == [1, 2, 3, 4, 5]
    assert saved == [2, 4, 5]  # every 2nd, and the end


def test_a_time_budget_stops_the_run_on_the_steps_own_time():
    toy = _Toy(LoopSettings(iterations=10**6, time_budget=0.2), delay=0.02)
    reports = []
    toy.train(on_progress=reports.append)
    assert 0.2 <= toy.trained_seconds < 2.0 and 3 <= toy.iteration < 100
    assert toy.batch_wait_seconds > 0.5 * toy.trained_seconds  # the batches were the slow part, and counted
    assert reports[-1].iterations == toy.iteration and reports[-1].eta == 0.0


def test_a_resumed_toy_run_matches_an_uninterrupted_one(tmp_path):
    settings = LoopSettings(iterations=6, learning_rate=0.05, ema=0.5, lr_decay=0.5)
    straight = _Toy(settings)
    straight.train()
    path = str(tmp_path / "toy.ckpt")
    first = _Toy(settings, path)
    with pytest.raises(Cancelled):
        first.train(should_cancel=lambda: first.iteration >= 3)
    resumed = _Toy(settings, path)
    assert resumed.resume() and resumed.iteration == 3
    resumed.train()
    assert all(torch.equal(a, b) for a, b in zip(_weights(straight), _weights(resumed)))
    assert all(torch.equal(a, b) for a, b in zip(straight.average.state_dict().values(),
                                                 resumed.average.state_dict().values()))


def test_a_checkpoint_of_another_kind_or_seed_is_refused_untouched(tmp_path):
    path = str(tmp_path / "toy.ckpt")
    _Toy(LoopSettings(iterations=2), path).train()
    other_seed = _Toy(LoopSettings(iterations=4), path, seed=1)
    with pytest.raises(CheckpointError, match="seed=0, this run has 1"):
        other_seed.resume()
    assert other_seed.iteration == 0
    trainer = Trainer(_data(), _settings(), CPU, path)
    with pytest.raises(CheckpointError, match="'toy' checkpoint, not a 'plain' one"):
        trainer.resume()


def test_a_checkpoint_of_a_newer_format_is_refused(tmp_path):
    path = str(tmp_path / "toy.ckpt")
    toy = _Toy(LoopSettings(iterations=1), path)
    toy.train()
    state = load_checkpoint(path)
    torch.save({**state, "version": CHECKPOINT_VERSION + 1}, path)
    with pytest.raises(CheckpointError, match="newer version"):
        _Toy(LoopSettings(iterations=2), path).resume()


# -- each trainer kind resumes to the weights of an uninterrupted run --------------------


@pytest.mark.slow
def test_a_resumed_refinement_matches_an_uninterrupted_one(tmp_path):
    bank = _bank_from_frames(160, 90)
    settings = TrainSettings(width=4, two_stage=False, iterations=2, batch_size=2, crop_size=32, checkpoint_every=0)
    straight = RefineTrainer(bank, 3, settings, 4, 6, CPU, seed=2)
    straight.train()
    path = str(tmp_path / "r.ckpt")
    first = RefineTrainer(bank, 3, settings, 4, 6, CPU, path, seed=2)
    with pytest.raises(Cancelled, match="Refinement cancelled at iteration 3"):
        first.train(should_cancel=lambda: first.iteration >= 3)
    resumed = RefineTrainer(bank, 3, settings, 4, 6, CPU, path, seed=2)
    assert resumed.resume() and resumed.iteration == 3
    resumed.train()
    assert all(torch.equal(a, b) for a, b in zip(_weights(straight), _weights(resumed)))
    assert straight.last_loss == resumed.last_loss


@pytest.mark.slow
def test_a_resumed_mask_propagation_matches_an_uninterrupted_one_across_its_phases(tmp_path):
    clip = make_clip(frames=4, width=64, height=48, seed=1, occluder="blob")
    # 9 iterations: the pseudo-labels are refreshed after 3 and 6; the run is cut after the first refresh.
    settings = PropagationSettings(iterations=9, width=4, crop_size=32, batch_size=2)
    straight = MaskPropagator(clip.plate, 0, clip.mask[0], settings, CPU)
    straight.train()
    path = str(tmp_path / "p.ckpt")
    first = MaskPropagator(clip.plate, 0, clip.mask[0], settings, CPU, path)
    with pytest.raises(Cancelled, match="Mask propagation cancelled at iteration 4"):
        first.train(should_cancel=lambda: first.iteration >= 4)
    resumed = MaskPropagator(clip.plate, 0, clip.mask[0], settings, CPU, path)
    assert resumed.resume() and resumed.iteration == 4
    assert np.array_equal(resumed.ignore, first.ignore)  # the pseudo-labels of the first refresh came back
    resumed.train()
    assert all(torch.equal(a, b) for a, b in zip(_weights(straight), _weights(resumed)))
    assert np.array_equal(straight.predict(), resumed.predict())
    other = MaskPropagator(clip.plate, 1, clip.mask[1], settings, CPU, path)
    with pytest.raises(CheckpointError, match="annotation"):
        other.resume()


# -- checkpoints written before the one loop (format 1) ---------------------------------------


def _old_plain_checkpoint(trainer: Trainer) -> dict:
    """What Trainer.save_checkpoint wrote before the one loop (format 1)."""
    _, height, width, channels = trainer.data.images.shape
    return {
        "version": 1, "settings": asdict(trainer.settings), "iteration": trainer.iteration,
        "model": trainer.model.state_dict(),
        "average": None if trainer.average is None else trainer.average.state_dict(),
        "optimizer": trainer.optimizer.state_dict(), "numpy_rng": trainer.rng.bit_generator.state,
        "warp_rng": trainer.warp_rng.bit_generator.state, "trained_seconds": trainer.trained_seconds,
        "torch_rng": torch.get_rng_state(), "encoding": trainer.data.encoding.to_dict(),
        "shot": {"frames": list(trainer.data.frames), "size": [width, height], "channels": channels},
        "loss": trainer.last_loss,
    }


def _old_refine_checkpoint(trainer: RefineTrainer) -> dict:
    """What the progressive RefineTrainer.save_checkpoint wrote before the one loop."""
    return {"version": 1, "kind": "refine",
            "shape": {"width": trainer.width, "crop": trainer.crop, "batch_size": trainer.settings.batch_size,
                      "seed": trainer.seed},
            "iteration": trainer.iteration, "model": trainer.model.state_dict(),
            "optimizer": trainer.optimizer.state_dict(), "numpy_rng": trainer.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(), "loss": trainer.last_loss}


def test_a_trainer_refuses_an_old_checkpoint_as_outdated_and_changes_nothing(tmp_path):
    path = str(tmp_path / "old.ckpt")
    old = Trainer(_data(), _settings(iterations=2), CPU)
    old.train()
    torch.save(_old_plain_checkpoint(old), path)
    trainer = Trainer(_data(), _settings(iterations=4), CPU, path)
    before = _weights(trainer)
    with pytest.raises(OutdatedCheckpoint, match="earlier version of InternalInpaint") as info:
        trainer.resume()
    assert isinstance(info.value, CheckpointError) and info.value.version == 1
    assert trainer.iteration == 0 and all(torch.equal(a, b) for a, b in zip(before, _weights(trainer)))
    refiner = RefineTrainer(_bank_from_frames(160, 90), 3, _settings(), 4, 2, CPU, path)
    torch.save(_old_refine_checkpoint(refiner), path)
    with pytest.raises(OutdatedCheckpoint):
        refiner.resume()


def test_a_checkpoint_without_a_key_this_version_records_is_outdated_not_an_error(tmp_path):
    """A refine scale's checkpoint from before it recorded its frame size (for warm starts): the job starts over
    instead of failing on a resume across an upgrade."""
    path = str(tmp_path / "scale1.ckpt")
    earlier = RefineTrainer(_bank_from_frames(160, 90), 3, _settings(), 4, 2, CPU, path, size=(160, 90))
    earlier.train()
    state = torch.load(path, weights_only=True)
    del state["compatibility"]["shot"]
    torch.save(state, path)
    refiner = RefineTrainer(_bank_from_frames(160, 90), 3, _settings(), 4, 4, CPU, path, size=(160, 90))
    with pytest.raises(OutdatedCheckpoint, match="a checkpoint without 'shot'"):
        refiner.resume()
    assert refiner.iteration == 0


class _Warnings(JobReporter):
    def __init__(self):
        self.warnings, self.stages = [], []

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def stage(self, message: str) -> None:
        self.stages.append(message)


_JOB_TRAINING = TrainSettings(width=4, two_stage=False, iterations=4, batch_size=2, crop_size=32, checkpoint_every=0)


def _pixels(result) -> list[bytes]:
    return [read_frame(p).pixels.tobytes() for p in result.outputs]


@pytest.mark.slow
def test_a_job_resumed_on_an_old_checkpoint_starts_over_and_replaces_it(tmp_path):
    write_exr_sequence(make_clip(frames=3, width=48, height=32, seed=4), str(tmp_path / "plate.####.exr"))
    shot = ShotSpec(str(tmp_path / "plate.####.exr"))
    fresh = run_job(JobSpec(shot, str(tmp_path / "fresh" / "clean.####.exr"), _JOB_TRAINING, device="cpu"))
    old = Trainer(load_training_data(Shot(shot)), replace(_JOB_TRAINING, iterations=2), CPU)
    old.train()
    checkpoint = tmp_path / "out" / ".internal_inpaint" / "clean.ckpt"
    checkpoint.parent.mkdir(parents=True)
    torch.save(_old_plain_checkpoint(old), str(checkpoint))

    reporter = _Warnings()
    result = run_job(JobSpec(shot, str(tmp_path / "out" / "clean.####.exr"), _JOB_TRAINING, device="cpu",
                             resume=True), reporter)
    assert any("earlier version" in w and "starts over" in w and str(checkpoint) in w for w in reporter.warnings)
    assert not any(s.startswith("Resuming") for s in reporter.stages)
    assert result.iterations == _JOB_TRAINING.iterations
    assert _pixels(result) == _pixels(fresh)  # started over: the very job a fresh start gives
    state = load_checkpoint(str(checkpoint), "refiner")  # the guided fill's trainer
    assert state["version"] == CHECKPOINT_VERSION and state["iteration"] == _JOB_TRAINING.iterations


@pytest.mark.slow
def test_a_guided_job_on_the_network_checkpoint_of_the_guided_fill_before_the_refiner_starts_over(tmp_path):
    write_exr_sequence(make_clip(frames=3, width=48, height=32, seed=4), str(tmp_path / "plate.####.exr"))
    shot = ShotSpec(str(tmp_path / "plate.####.exr"))
    fresh = run_job(JobSpec(shot, str(tmp_path / "fresh" / "clean.####.exr"), _JOB_TRAINING, device="cpu"))
    checkpoint = tmp_path / "out" / ".internal_inpaint" / "clean.ckpt"
    checkpoint.parent.mkdir(parents=True)
    Trainer(load_training_data(Shot(shot)), replace(_JOB_TRAINING, iterations=2), CPU, str(checkpoint)).train()

    reporter = _Warnings()
    result = run_job(JobSpec(shot, str(tmp_path / "out" / "clean.####.exr"), _JOB_TRAINING, device="cpu",
                             resume=True), reporter)
    assert any("guided fill before the propagation refiner" in w and "starts over" in w for w in reporter.warnings)
    assert _pixels(result) == _pixels(fresh)
    assert load_checkpoint(str(checkpoint))["kind"] == "refiner"


@pytest.mark.slow
def test_a_progressive_job_on_old_checkpoints_starts_every_scale_over(tmp_path):
    write_exr_sequence(make_clip(frames=3, width=128, height=72, seed=2), str(tmp_path / "plate.####.exr"))
    spec = JobSpec(ShotSpec(str(tmp_path / "plate.####.exr")), str(tmp_path / "out" / "clean.####.exr"),
                   _JOB_TRAINING, device="cpu", progressive="on", progressive_base=64, work_dir=str(tmp_path / "work"),
                   resume=True)
    (tmp_path / "work").mkdir()
    base = Trainer(_data(), _settings(iterations=1), CPU)
    torch.save(_old_plain_checkpoint(base), str(tmp_path / "work" / "clean.scale0.ckpt"))
    refiner = RefineTrainer(_bank_from_frames(160, 90), 3, _JOB_TRAINING, 8, 1, CPU, seed=1)
    torch.save(_old_refine_checkpoint(refiner), str(tmp_path / "work" / "clean.scale1.ckpt"))

    reporter = _Warnings()
    result = run_job(spec, reporter)
    outdated = [w for w in reporter.warnings if "earlier version" in w and "starts over" in w]
    assert len(outdated) == 2, reporter.warnings
    assert result.iterations == _JOB_TRAINING.iterations + 1  # the base's 4 and the refiner's quarter, from 0
    assert load_checkpoint(str(tmp_path / "work" / "clean.scale1.ckpt"), "refine")["iteration"] == 1

    again = run_job(replace(spec, overwrite=True), _Warnings())  # the new checkpoints resume
    assert again.iterations == result.iterations and _pixels(again) == _pixels(result)

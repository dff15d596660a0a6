"""The refiner's training data and trainer: what its loss counts, and a resumed run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inpaint_core.errors import Cancelled, SupersededCheckpoint
from inpaint_core.flow.borrowed import UnionCandidates, borrow_along_path
from inpaint_core.io.colour import LogEncoding
from inpaint_core.training.dataset import TrainingData
from inpaint_core.training.refiner import KNOWN_WEIGHT, RefinerData, RefinerSampler, RefinerTrainer
from inpaint_core.training.trainer import Trainer, TrainSettings

CPU = torch.device("cpu")
HEIGHT, WIDTH = 24, 40
TRUST = 0.5


def _shot(configs: int = 2) -> RefinerData:
    """Three frames with a moving box hole; every union candidate is the truth + 0.1, except the left half of the
    frame, where it is off by 0.9 (propagation wrong: not to be learned from)."""
    rng = np.random.default_rng(0)
    holes = np.zeros((3, HEIGHT, WIDTH), bool)
    for t in range(3):
        holes[t, 6:16, 4 + 12 * t : 14 + 12 * t] = True
    images = (rng.uniform(-0.4, 0.4, (3, HEIGHT, WIDTH, 3)) * ~holes[..., None]).astype(np.float16)
    data = TrainingData([1, 2, 3], images, holes, LogEncoding())
    error = np.where(np.arange(WIDTH) < WIDTH // 2, 0.9, 0.1).astype(np.float32)
    borrow = np.random.default_rng(1)
    found, made = [], []
    for _ in range(configs):
        config = borrow_along_path(holes, borrow)
        made.append(config)
        per_frame = []
        for t in range(3):
            union = config.union(t, holes)
            flat = np.flatnonzero(union)
            values = images[t].astype(np.float32).reshape(-1, 3)[flat] + error[flat % WIDTH, None]
            per_frame.append(UnionCandidates(flat, values.astype(np.float16), np.ones(len(flat), bool)))
        found.append(per_frame)
    return RefinerData(data, made, found, 0, images[0].astype(np.float32), np.zeros((HEIGHT, WIDTH), bool))


def test_the_loss_counts_trusted_borrowed_pixels_fully_the_real_hole_and_wrong_candidates_not_at_all() -> None:
    shot = _shot()
    sampler = RefinerSampler(shot, crop_size=64, batch_size=1, trust=TRUST, rng=np.random.default_rng(2))
    rng = np.random.default_rng(2)  # the sampler's draws, replayed: which configuration and frame
    for _ in range(6):
        n, t = int(rng.integers(2)), int(rng.integers(3))
        rng.integers(10**6)  # the anchor
        rng.integers(-1, 2), rng.integers(-1, 2)  # the jitter (the crop is the whole frame)
        batch = sampler.sample()
        own, union = shot.data.holes[t], shot.configs[n].union(t, shot.data.holes)
        borrowed = union & ~own
        weight = batch.weight[0, 0]
        assert (weight[own] == 0).all()
        left = np.arange(WIDTH)[None, :].repeat(HEIGHT, 0) < WIDTH // 2
        assert (weight[borrowed & left] == 0).all() and (weight[borrowed & ~left] == 1).all()
        assert np.allclose(weight[~union], KNOWN_WEIGHT)
        assert (batch.masked[0][:, union] == 0).all() and np.array_equal(batch.hole[0, 0] > 0, union)
        target = shot.data.images[t].astype(np.float32).transpose(2, 0, 1)
        assert np.array_equal(batch.target[0], target)
        assert np.array_equal(batch.candidate[0][:, ~union], target[:, ~union])
        assert np.allclose(batch.candidate[0][:, borrowed & ~left], target[:, borrowed & ~left] + 0.1, atol=2e-3)


_SETTINGS = TrainSettings(width=4, iterations=6, batch_size=2, crop_size=16, checkpoint_every=0, ema=0.9)


def _weights(trainer: RefinerTrainer) -> list[torch.Tensor]:
    return [t.clone() for t in trainer.model.state_dict().values()]


def test_a_resumed_refiner_run_matches_an_uninterrupted_one(tmp_path) -> None:
    straight = RefinerTrainer(_shot(), _SETTINGS, CPU)
    straight.train()
    path = str(tmp_path / "refiner.ckpt")
    first = RefinerTrainer(_shot(), _SETTINGS, CPU, path)
    with pytest.raises(Cancelled, match="Refiner training cancelled at iteration 3"):
        first.train(should_cancel=lambda: first.iteration >= 3)
    torch.manual_seed(123)  # whatever ran in between
    resumed = RefinerTrainer(_shot(), _SETTINGS, CPU, path)
    assert resumed.resume() and resumed.iteration == 3
    resumed.train()
    assert all(torch.equal(a, b) for a, b in zip(_weights(straight), _weights(resumed)))
    assert straight.last_loss == resumed.last_loss


@pytest.mark.slow
def test_training_moves_the_fill_from_the_candidate_towards_the_plate() -> None:
    shot = _shot(configs=3)
    trainer = RefinerTrainer(shot, TrainSettings(width=8, iterations=150, batch_size=4, crop_size=24,
                                                 checkpoint_every=0, learning_rate=3e-3), CPU)
    sampler = RefinerSampler(shot, 24, 64, TRUST, np.random.default_rng(9))
    held = sampler.sample()
    tensors = [torch.from_numpy(a) for a in held.arrays()]

    def error() -> float:
        with torch.no_grad():
            out = trainer.model(*tensors[:4])
        trusted = (tensors[5] == 1).expand_as(out)
        return float(((out - tensors[4]) ** 2)[trusted].mean())

    before = error()  # the untrained refiner is the candidate: 0.1 off on every trusted pixel
    trainer.train()
    assert before == pytest.approx(0.01, rel=0.1)
    assert error() < 0.5 * before


def test_a_plain_checkpoint_of_the_guided_fill_before_the_refiner_is_superseded(tmp_path) -> None:
    path = str(tmp_path / "job.ckpt")
    shot = _shot()
    Trainer(shot.data, TrainSettings(width=4, two_stage=False, iterations=1, batch_size=2, crop_size=16), CPU,
            path).train()
    refiner = RefinerTrainer(shot, _SETTINGS, CPU, path)
    with pytest.raises(SupersededCheckpoint, match="guided fill before the propagation refiner"):
        refiner.resume()
    assert refiner.iteration == 0


def test_a_resumed_run_guards_as_an_uninterrupted_one(tmp_path) -> None:
    def trainer(path: str | None = None) -> RefinerTrainer:
        made = RefinerTrainer(_shot(), _SETTINGS, CPU, path)
        made.guard.every = 2  # checks (and keeps best weights) at iterations 2, 4 and 6
        return made

    straight = trainer()
    straight.train()
    path = str(tmp_path / "refiner.ckpt")
    first = trainer(path)
    with pytest.raises(Cancelled):
        first.train(should_cancel=lambda: first.iteration >= 3)
    resumed = trainer(path)
    assert resumed.resume() and resumed.guard.best_iteration == first.guard.best_iteration > 0
    resumed.train()
    assert all(torch.equal(a, b) for a, b in zip(_weights(straight), _weights(resumed)))
    assert resumed.guard.best_loss == straight.guard.best_loss


def test_a_refiner_whose_correction_collapses_goes_back_to_its_best_weights_and_says_so() -> None:
    shot = _shot(configs=3)
    settings = TrainSettings(width=8, iterations=60, batch_size=4, crop_size=24, checkpoint_every=0,
                             learning_rate=3e-3)
    refiner = RefinerTrainer(shot, settings, CPU)
    notices: list[str] = []
    refiner.on_notice = notices.append
    refiner.guard.every = 20
    refiner.train()
    assert refiner.guard.best_loss < 0.5 * refiner.guard.baseline  # it learned the 0.1 offset
    best = {k: v.clone() for k, v in refiner.guard.best["model"].items()}
    with torch.no_grad():  # the collapse: a constant, zero correction, as a saturated network gives
        refiner.model.out.weight.zero_()
        refiner.model.out.bias.zero_()
    refiner.after_step(80)
    assert all(torch.equal(v, best[k]) for k, v in refiner.model.state_dict().items())
    assert refiner.learning_rate() == pytest.approx(0.5 * 3e-3)
    assert len(notices) == 1 and "Refiner training: the network collapsed at iteration 80" in notices[0]


def test_the_guard_does_not_change_the_batches_training_draws() -> None:
    shot = _shot()
    guarded = RefinerTrainer(shot, _SETTINGS, CPU)
    plain = RefinerSampler(shot, _SETTINGS.crop_size, _SETTINGS.batch_size, TRUST,
                           np.random.default_rng([_SETTINGS.seed, 17]))
    assert all(np.array_equal(a, b) for a, b in zip(guarded.sampler.sample().arrays(), plain.sample().arrays()))

"""The speed machinery of training: batch prefetching, time budgets and mixed precision."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from inpaint_core.errors import InputError
from inpaint_core.training.checkpoints import load_checkpoint
from inpaint_core.training.precision import resolve_precision
from inpaint_core.training.prefetch import BatchPrefetcher
from inpaint_core.training.sampling import PatchSampler
from inpaint_core.training.trainer import Trainer, TrainSettings
from tests.inpaint_core.training.test_training import _data, _settings

CPU = torch.device("cpu")


def _sampler(seed: int = 0) -> PatchSampler:
    return PatchSampler(_data(frames=4), 16, 2, np.random.default_rng(seed))


def test_prefetched_batches_are_the_batches_drawn_in_order():
    direct = _sampler()
    expected = [direct.sample() for _ in range(5)]
    prefetcher = BatchPrefetcher(_sampler())
    try:
        for batch in expected:
            got = prefetcher.next()
            assert all(np.array_equal(a, b) for a, b in zip(got.__dict__.values(), batch.__dict__.values()))
    finally:
        prefetcher.close()


def test_closing_puts_the_generator_after_the_last_used_batch():
    direct = _sampler()
    for _ in range(3):
        direct.sample()
    sampler = _sampler()
    prefetcher = BatchPrefetcher(sampler)
    for _ in range(3):
        prefetcher.next()
    time.sleep(0.05)  # let the thread run ahead
    prefetcher.close()
    assert sampler.rng.bit_generator.state == direct.rng.bit_generator.state


def test_an_error_on_the_thread_is_raised_in_the_trainer():
    sampler = _sampler()

    def broken():
        raise MemoryError("out of memory drawing a batch")

    sampler.sample = broken
    prefetcher = BatchPrefetcher(sampler)
    with pytest.raises(MemoryError, match="drawing a batch"):
        prefetcher.next()
    prefetcher.close()


def test_time_spent_waiting_for_batches_is_counted(monkeypatch):
    trainer = Trainer(_data(frames=4), _settings(iterations=3), CPU)
    draw = trainer.sampler.sample

    def slow_draw():
        time.sleep(0.3)
        return draw()

    monkeypatch.setattr(trainer.sampler, "sample", slow_draw)
    trainer.step()
    # The first batch is waited for in full; how much of the later draws a step hides depends on its own
    # speed, which a loaded machine changes.
    assert 0.3 <= trainer.batch_wait_seconds <= trainer.trained_seconds
    first = trainer.batch_wait_seconds
    for _ in range(2):
        trainer.step()
    trainer.stop_prefetching()
    assert first < trainer.batch_wait_seconds <= trainer.trained_seconds


def test_a_checkpoint_mid_run_resumes_to_the_same_weights(tmp_path):
    """The prefetch thread runs ahead; the checkpoint must still record the batches actually used."""
    whole = Trainer(_data(), _settings(iterations=8), CPU)
    whole.train()
    first = Trainer(_data(), _settings(iterations=5), CPU, str(tmp_path / "a.ckpt"))
    first.train()
    resumed = Trainer(_data(), _settings(iterations=8), CPU, str(tmp_path / "a.ckpt"))
    assert resumed.resume()
    resumed.train()
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)


def test_a_time_budget_stops_training_and_is_kept_across_resumes(tmp_path):
    path = str(tmp_path / "t.ckpt")
    trainer = Trainer(_data(), _settings(iterations=10**6, time_budget=0.5), CPU, path)
    reported = []
    start = time.monotonic()
    trainer.train(on_progress=reported.append)
    assert 0.5 <= trainer.trained_seconds < 0.5 + 5.0 and time.monotonic() - start < 30
    assert reported[-1].iterations == reported[-1].iteration == trainer.iteration  # the total becomes known at the end
    assert reported[-1].eta == 0.0
    assert all(p.iterations < 10**6 for p in reported)  # the projected end, not the ceiling
    assert all(p.iteration <= p.iterations for p in reported)
    assert load_checkpoint(path)["trained_seconds"] == pytest.approx(trainer.trained_seconds)
    again = Trainer(_data(), _settings(iterations=10**6, time_budget=0.5), CPU, path)
    assert again.resume() and again.finished()  # the budget is spent: nothing more to do
    again.train()
    assert again.iteration == trainer.iteration


def test_iterations_still_cap_a_time_budgeted_run():
    trainer = Trainer(_data(), _settings(iterations=3, time_budget=3600), CPU)
    trainer.train()
    assert trainer.iteration == 3


@pytest.mark.parametrize("value", [-1.0, 1e9])
def test_an_absurd_time_budget_is_refused(value):
    with pytest.raises(InputError, match="time_budget"):
        TrainSettings(time_budget=value)


def test_precision_choices_on_the_cpu():
    assert resolve_precision("auto", CPU) is None  # autocast is slower than float32 on CPUs without bf16 units
    assert resolve_precision("float32", CPU) is None
    assert resolve_precision("bfloat16", CPU) is torch.bfloat16
    with pytest.raises(InputError, match="float16 needs a CUDA GPU"):
        resolve_precision("float16", CPU)
    with pytest.raises(InputError, match="precision"):
        TrainSettings(precision="fp8")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_auto_precision_on_cuda_is_sixteen_bits():
    assert resolve_precision("auto", torch.device("cuda")) in (torch.bfloat16, torch.float16)


def test_bfloat16_autocast_trains_with_float32_weights():
    """The autocast path (the CUDA default) runs here on the CPU's bfloat16 autocast."""
    trainer = Trainer(_data(), _settings(iterations=3, precision="bfloat16"), CPU)
    losses = [trainer.step() for _ in range(3)]
    trainer.stop_prefetching()
    assert all(math.isfinite(v) for v in losses)
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    reference = Trainer(_data(), _settings(iterations=3), CPU)
    first = reference.step()
    reference.stop_prefetching()
    assert losses[0] == pytest.approx(first, rel=0.05)  # same batch, same weights: 16-bit rounding only


def test_a_network_that_does_not_compile_falls_back_to_eager(monkeypatch):
    def broken_compile(model):
        def call(*args, **kwargs):
            raise RuntimeError("no C++ compiler found\nmore detail")
        return call

    monkeypatch.setattr(torch, "compile", broken_compile)
    trainer = Trainer(_data(), _settings(iterations=2, compile=True), CPU)
    losses = [trainer.step() for _ in range(2)]
    trainer.stop_prefetching()
    assert trainer.compile_error == "RuntimeError: no C++ compiler found"
    eager = Trainer(_data(), _settings(iterations=2), CPU)
    assert [eager.step() for _ in range(2)] == losses
    eager.stop_prefetching()


@pytest.mark.slow
def test_a_compiled_network_trains_like_the_eager_one():
    compiled = Trainer(_data(), _settings(iterations=2, compile=True), CPU)
    losses = [compiled.step() for _ in range(2)]
    compiled.stop_prefetching()
    assert compiled.compile_error is None and compiled.network is not compiled.model
    eager = Trainer(_data(), _settings(iterations=2), CPU)
    expected = [eager.step() for _ in range(2)]
    eager.stop_prefetching()
    assert losses == pytest.approx(expected, rel=1e-4)  # fused kernels round differently
    assert "_orig_mod" not in "".join(compiled.model.state_dict())  # checkpoints hold the plain model's keys


def test_the_weight_average_fills_frames_and_survives_a_resume(tmp_path):
    path = str(tmp_path / "e.ckpt")
    whole = Trainer(_data(), _settings(iterations=8, ema=0.9), CPU)
    whole.train()
    assert whole.inference_model is whole.average
    trained = dict(whole.model.named_parameters())
    differs = [not torch.equal(p, trained[n]) for n, p in whole.average.named_parameters()]
    assert all(differs)  # an average of the trajectory, not the last weights
    first = Trainer(_data(), _settings(iterations=5, ema=0.9), CPU, path)
    first.train()
    resumed = Trainer(_data(), _settings(iterations=8, ema=0.9), CPU, path)
    assert resumed.resume()
    resumed.train()
    for a, b in zip(whole.average.state_dict().values(), resumed.average.state_dict().values()):
        assert torch.equal(a, b)


def test_without_an_average_the_last_weights_fill():
    trainer = Trainer(_data(), _settings(iterations=1), CPU)
    assert trainer.average is None and trainer.inference_model is trainer.model
    with pytest.raises(InputError, match="ema"):
        TrainSettings(ema=1.0)

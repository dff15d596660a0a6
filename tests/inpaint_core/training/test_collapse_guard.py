"""The collapse guard: it keeps the best weights, rolls back a collapse at half the rate, and leaves alone a
network that never gained anything."""

from __future__ import annotations

import math

import torch

from inpaint_core.training.collapse_guard import MAX_ROLLBACKS, CollapseGuard


def _net() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def _guard(losses: list[float], baseline: float = 1.0) -> CollapseGuard:
    scores = iter(losses)
    return CollapseGuard(lambda: next(scores), baseline, every=10)


def test_a_collapse_brings_back_the_best_weights_and_halves_the_rate() -> None:
    model, optimizer = _net()
    guard = _guard([0.9, 0.6, 0.7, 0.95])
    assert guard.check(5, model, None, optimizer) is None  # not a check iteration: nothing scored
    assert guard.check(10, model, None, optimizer) is None
    assert guard.check(20, model, None, optimizer) is None  # best so far: 0.6, kept
    best = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.weight.add_(5.0)
    assert guard.check(30, model, None, optimizer) is None  # 0.7: a gain of 0.3 of the best 0.4, still learning
    rollback = guard.check(40, model, None, optimizer)  # 0.95: a gain of 0.05, under a quarter of 0.4
    assert rollback is not None and rollback.restored_iteration == 20 and rollback.iteration == 40
    assert all(torch.equal(v, best[k]) for k, v in model.state_dict().items())
    assert guard.learning_rate_scale == 0.5 and rollback.learning_rate_scale == 0.5
    assert "collapsed at iteration 40" in rollback.message("Refiner training")
    assert "weights of iteration 20" in rollback.message("Refiner training")


def test_a_network_that_never_gained_is_left_alone() -> None:
    model, optimizer = _net()
    guard = _guard([0.99, 1.0, 1.2], baseline=1.0)  # best gain 0.01: under MIN_GAIN of the baseline
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for iteration in (10, 20, 30):
        assert guard.check(iteration, model, None, optimizer) is None
    assert guard.learning_rate_scale == 1.0 and not guard.rollbacks
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_a_perfect_baseline_never_counts_as_a_collapse() -> None:
    model, optimizer = _net()
    guard = _guard([0.0, 0.1], baseline=0.0)
    assert guard.check(10, model, None, optimizer) is None and guard.check(20, model, None, optimizer) is None
    assert not guard.rollbacks


def test_a_non_finite_loss_after_a_gain_is_a_collapse_and_rollbacks_are_limited() -> None:
    model, optimizer = _net()
    guard = _guard([0.5] + [math.nan] * (MAX_ROLLBACKS + 2))
    guard.check(10, model, None, optimizer)
    results = [guard.check(20 + 10 * n, model, None, optimizer) for n in range(MAX_ROLLBACKS + 2)]
    assert sum(r is not None for r in results) == MAX_ROLLBACKS
    assert guard.learning_rate_scale == 0.5**MAX_ROLLBACKS


def test_the_average_and_the_optimiser_come_back_too_and_the_state_round_trips() -> None:
    model, optimizer = _net()
    average = torch.nn.Linear(3, 2)
    guard = _guard([0.5, 0.99])
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    guard.check(10, model, average, optimizer)
    kept_average = {k: v.clone() for k, v in average.state_dict().items()}
    kept_moment = optimizer.state_dict()["state"][0]["exp_avg"].clone()
    with torch.no_grad():
        average.weight.zero_()
    for _ in range(3):
        model(torch.ones(1, 3)).sum().backward()
        optimizer.step()
    assert guard.check(20, model, average, optimizer) is not None
    assert all(torch.equal(v, kept_average[k]) for k, v in average.state_dict().items())
    assert torch.equal(optimizer.state_dict()["state"][0]["exp_avg"], kept_moment)
    copy = CollapseGuard(lambda: 0.0, 1.0)
    copy.load_state_dict(guard.state_dict())
    assert copy.learning_rate_scale == 0.5 and copy.best_iteration == 10 and copy.rollbacks == guard.rollbacks

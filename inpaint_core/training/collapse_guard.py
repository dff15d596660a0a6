"""A guard against a network that collapses in the middle of its run, for trainers whose untrained network already
has a useful answer (the refiner: propagation alone).

Seen on the refiner (benchmarks/experiments/README.md, section 9): at the presets' learning rate a run can, by
chance, drive its gated layers into saturation; from then on its correction is a constant, its gradients vanish
and it never recovers, so a longer run ends worse than a short one. The guard scores a fixed held-out batch every
``every`` iterations and keeps the weights of the best score. When the network has lost most of what it had
gained over its untrained answer (``baseline``), those weights, their average and the optimiser's state come back
and the learning rate halves; a run that never collapses is not changed by it (the held-out batch is drawn from a
generator of its own).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

CHECK_EVERY = 100  # iterations between checks
# A collapse: the held-out gain over the baseline has fallen below this share of the best gain seen ...
KEEP_SHARE = 0.25
# ... after the network had gained at least this share of the baseline's loss (else there is nothing to lose).
MIN_GAIN = 0.05
MAX_ROLLBACKS = 3  # then the run goes on as it is (the rate is an eighth by then)
NOTICE = "the network collapsed at iteration"  # how a rollback's message begins, after the run's label


@dataclass
class Rollback:
    """One collapse the guard met: when, the held-out losses, and the iteration whose weights came back."""

    iteration: int
    loss: float
    best_loss: float
    baseline: float
    restored_iteration: int
    learning_rate_scale: float

    def message(self, label: str) -> str:
        return (f"{label}: {NOTICE} {self.iteration} (held-out loss {self.loss:.5f}, "
                f"untrained {self.baseline:.5f}, best {self.best_loss:.5f}); went back to the weights of iteration "
                f"{self.restored_iteration} at {self.learning_rate_scale:g} of the learning rate.")


@dataclass
class CollapseGuard:
    """``held_out_loss()`` scores the current weights on the fixed batch; ``baseline`` is the untrained answer's."""

    held_out_loss: Callable[[], float]
    baseline: float
    every: int = CHECK_EVERY
    learning_rate_scale: float = 1.0
    best_loss: float = math.inf
    best_iteration: int = 0
    best: dict | None = None  # the model's, the average's and the optimiser's state at best_iteration
    rollbacks: list[Rollback] = field(default_factory=list)

    def check(self, iteration: int, model: torch.nn.Module, average: torch.nn.Module | None,
              optimizer: torch.optim.Optimizer) -> Rollback | None:
        """At every ``every``-th iteration: keep the weights when they score best, roll back on a collapse."""
        if self.every <= 0 or iteration % self.every:
            return None
        loss = self.held_out_loss()
        if loss < self.best_loss:
            self.best_loss, self.best_iteration = loss, iteration
            self.best = copy.deepcopy({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                       "average": None if average is None else average.state_dict()})
            return None
        if not self._collapsed(loss) or len(self.rollbacks) >= MAX_ROLLBACKS or self.best is None:
            return None
        model.load_state_dict(self.best["model"])
        optimizer.load_state_dict(self.best["optimizer"])
        if average is not None and self.best["average"] is not None:
            average.load_state_dict(self.best["average"])
        self.learning_rate_scale *= 0.5
        rollback = Rollback(iteration, loss, self.best_loss, self.baseline, self.best_iteration,
                            self.learning_rate_scale)
        self.rollbacks.append(rollback)
        return rollback

    def _collapsed(self, loss: float) -> bool:
        best_gain = self.baseline - self.best_loss
        if not (best_gain > 0 and best_gain >= MIN_GAIN * self.baseline):
            return False
        return not math.isfinite(loss) or self.baseline - loss < KEEP_SHARE * best_gain

    def state_dict(self) -> dict:
        """Everything a resumed run needs to guard as an uninterrupted one would."""
        return {"learning_rate_scale": self.learning_rate_scale, "best_loss": self.best_loss,
                "best_iteration": self.best_iteration, "best": self.best,
                "rollbacks": [vars(r) for r in self.rollbacks]}

    def load_state_dict(self, state: dict) -> None:
        self.learning_rate_scale = float(state["learning_rate_scale"])
        self.best_loss, self.best_iteration = float(state["best_loss"]), int(state["best_iteration"])
        self.best = state["best"]
        self.rollbacks = [Rollback(**r) for r in state["rollbacks"]]

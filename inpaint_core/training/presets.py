"""Named quality/speed trade-offs, defined by the time they take and what they achieve.

A preset is a time budget and the network that did best within it in the
benchmark (docs/benchmarks.md): on a CPU the cost of an iteration, not the
iteration count, decides what a run achieves, so 'draft', 'standard' and
'final' share the paper's one-stage "BaseModel" at small width and differ in
how long they train. 'wide' is the paper's two-stage "RefineModel" at a
larger width: a GPU's preset, many times slower per step than the others on a CPU.

A preset's iteration count is a ceiling; the time budget usually ends the
run. Giving an iteration count (``preset_settings(name, iterations=N)``, the
command line's ``--iterations``) drops the budget: exactly N iterations, the
same result from the same seed on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from inpaint_core.errors import InputError
from inpaint_core.training.trainer import TrainSettings

# ema: frames are filled with a moving average of the weights: a net trained fast on a CPU budget jitters from
# step to step, its average does not, and it filled better with less flicker than the last weights.
# hole_focus: half the crops cover the area the holes pass through, where the net has to be good; all of them
# (0.9 was tried) starves it of the rest of the frame. The measurements are in docs/benchmarks.md.
_SMALL_NET = dict(width=16, two_stage=False, batch_size=8, crop_size=96, learning_rate=2e-3, iterations=1_000_000,
                  ema=0.99, hole_focus=0.5)


@dataclass(frozen=True)
class PresetInfo:
    purpose: str
    expected: str  # what the benchmark measured, for help texts and the README


PRESETS: dict[str, TrainSettings] = {
    "draft": TrainSettings(**_SMALL_NET, time_budget=3 * 60),
    "standard": TrainSettings(**_SMALL_NET, time_budget=10 * 60),
    "final": TrainSettings(**_SMALL_NET, time_budget=30 * 60),
    "wide": TrainSettings(width=32, two_stage=True, iterations=1_000_000, batch_size=8, crop_size=192,
                          learning_rate=5e-4, time_budget=30 * 60, ema=0.99),
}

PRESET_INFO: dict[str, PresetInfo] = {
    "draft": PresetInfo("a quick look: 3 minutes of training",
                        "not measured since the propagation refiner became the default fill"),
    "standard": PresetInfo("the default: 10 minutes of training",
                           "blackswan 432x240 on 2 CPU cores, the default fill: 25.8 dB in the hole (flow baseline "
                           "25.1)"),
    "final": PresetInfo("30 minutes of training", "not measured since the propagation refiner became the default fill"),
    "wide": PresetInfo("30 minutes of the two-stage net at width 32, for a CUDA GPU",
                       "not measured on a GPU yet; on a CPU it reaches far fewer iterations than 'final'"),
}


def preset_settings(name: str, **overrides: object) -> TrainSettings:
    """The preset's settings with the given fields replaced (None values are ignored).

    An explicit iteration count without an explicit time budget makes an exact, budget-free run.
    """
    if name not in PRESETS:
        raise InputError(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    given = {k: v for k, v in overrides.items() if v is not None}
    if "iterations" in given and "time_budget" not in given:
        given["time_budget"] = 0.0
    return replace(PRESETS[name], **given)


def describe_presets() -> str:
    """One line per preset, for help texts."""
    return "; ".join(f"{name}: {info.purpose}" for name, info in PRESET_INFO.items())

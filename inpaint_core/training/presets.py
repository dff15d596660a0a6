"""Named quality/speed trade-offs, defined by the time they take and what they achieve.

A preset is a time budget and the network that did best within it in the
benchmark (docs/benchmarks.md): on a CPU the cost of an iteration, not the
iteration count, decides what a run achieves, so 'draft', 'standard' and
'final' share the paper's one-stage "BaseModel" at small width and differ in
how long they train. 'wide' is the paper's two-stage "RefineModel" at a
larger width: a GPU's preset, over 40x slower per step than the others on a CPU.

A preset's iteration count is a ceiling; the time budget usually ends the
run. Giving an iteration count (``preset_settings(name, iterations=N)``, the
command line's ``--iterations``) drops the budget: exactly N iterations, the
same result from the same seed on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from inpaint_core.errors import InputError
from inpaint_core.training.trainer import TrainSettings

# ema: frames are filled with a moving average of the weights; on blackswan at 3 / 10 minutes it gave +0.6 / +0.25 dB
# and less flicker (4.57 / 4.41 against 5.29 / 5.19) over the same run's last weights (docs/benchmarks.md).
# hole_focus: half the crops cover the area the holes pass through; on blackswan at 10 minutes +0.20 / +0.69 dB
# (seeds 0 / 1) at the same iteration count, +0.27 dB at 30 minutes; 0.9 did worse (22.74 against 23.04 dB).
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
    "draft": PresetInfo("a quick look: 3 minutes of training", "blackswan 432x240 on 2 CPU cores: 21.2 dB in the hole"),
    "standard": PresetInfo("the default: 10 minutes of training", "blackswan 432x240 on 2 CPU cores: 23.0 dB in the hole"),
    "final": PresetInfo("30 minutes of training", "blackswan 432x240 on 2 CPU cores: 23.9 dB in the hole"),
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

"""Named quality/speed trade-offs for a job.

On a CPU the cost of an iteration, not the iteration count, decides what a
run achieves (see docs/benchmarks.md): 'draft' uses the paper's one-stage
"BaseModel" at small width and crops for a quick look, 'standard' the
two-stage net, 'final' a wider two-stage net trained longer (a GPU job).
"""

from __future__ import annotations

from dataclasses import replace

from .errors import InputError
from .train import TrainSettings

PRESETS: dict[str, TrainSettings] = {
    "draft": TrainSettings(width=16, two_stage=False, iterations=800, batch_size=8, crop_size=96, learning_rate=2e-3),
    "standard": TrainSettings(width=24, two_stage=True, iterations=5000, batch_size=8, crop_size=128, learning_rate=1e-3),
    "final": TrainSettings(width=32, two_stage=True, iterations=30000, batch_size=8, crop_size=192, learning_rate=5e-4),
}


def preset_settings(name: str, **overrides: object) -> TrainSettings:
    """The preset's settings with the given fields replaced (None values are ignored)."""
    if name not in PRESETS:
        raise InputError(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    return replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})

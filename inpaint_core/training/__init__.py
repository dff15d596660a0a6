"""Learning a shot from its own known pixels: data, batches, presets, the one training loop (loop.py) with its
checkpoints (checkpoints.py), and the trainers that run in it (plain, progressive refine, mask propagation)."""

from inpaint_core.training.loop import Progress
from inpaint_core.training.presets import PRESET_INFO, PRESETS, describe_presets, preset_settings
from inpaint_core.training.trainer import Trainer, TrainSettings

__all__ = ["PRESETS", "PRESET_INFO", "Progress", "TrainSettings", "Trainer", "describe_presets", "preset_settings"]

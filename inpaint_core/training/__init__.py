"""Learning a shot from its own known pixels: data, batches, presets and the trainers."""

from inpaint_core.training.presets import PRESET_INFO, PRESETS, describe_presets, preset_settings
from inpaint_core.training.trainer import Progress, Trainer, TrainSettings

__all__ = ["PRESETS", "PRESET_INFO", "Progress", "TrainSettings", "Trainer", "describe_presets", "preset_settings"]

"""The stabilisation regulariser: its warps, its zero for an equivariant network, and training with it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from inpaint_core.errors import InputError
from inpaint_core.masks.shot import Shot, ShotSpec
from inpaint_core.model.stabilisation import random_affines, stabilisation_loss, warp
from inpaint_core.training.dataset import load_training_data
from inpaint_core.training.presets import preset_settings
from inpaint_core.training.trainer import Trainer, TrainSettings
from inpaint_eval.synthetic import make_clip, write_exr_sequence


def test_random_warps_stay_small():
    theta = random_affines(200, 64, 96, np.random.default_rng(0)).numpy()
    linear, shift = theta[:, :, :2], theta[:, :, 2]
    assert np.abs(shift[:, 0] * 96 / 2).max() <= 2.0 + 1e-6 and np.abs(shift[:, 1] * 64 / 2).max() <= 2.0 + 1e-6
    scale = np.sqrt(np.abs(np.linalg.det(linear)))
    assert scale.min() > 1 / 1.03 - 1e-3 and scale.max() < 1 / 0.97 + 1e-3
    assert np.abs(np.degrees(np.arctan2(linear[:, 1, 0], linear[:, 0, 0]))).max() <= 1.0 + 1e-3


def test_the_identity_warp_changes_nothing():
    images = torch.rand(2, 3, 16, 24)
    identity = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]] * 2)
    assert torch.allclose(warp(images, identity), images, atol=1e-5)  # float32 grid arithmetic: ~1e-6


class _Equivariant(torch.nn.Module):
    """Returns its input: its output moves exactly as its input does."""

    def forward(self, masked, hole):
        return masked, masked


def test_an_equivariant_network_pays_nothing_and_a_constant_one_pays():
    rng = np.random.default_rng(1)
    target = torch.rand(4, 3, 32, 32)
    hole = torch.zeros(4, 1, 32, 32)
    known = torch.ones(4, 1, 32, 32)
    loss = stabilisation_loss(_Equivariant(), target, hole, target, known, target, rng)
    assert float(loss) < 1e-5

    class Constant(torch.nn.Module):
        def forward(self, masked, hole):
            return torch.zeros_like(masked), torch.zeros_like(masked)

    assert float(stabilisation_loss(Constant(), target, hole, target, known, torch.zeros_like(target), rng)) > 1e-3


def test_training_with_the_regulariser(tmp_path):
    write_exr_sequence(make_clip(frames=4, width=48, height=32), str(tmp_path / "plate.####.exr"))
    data = load_training_data(Shot(ShotSpec(plate=str(tmp_path / "plate.####.exr"))))
    losses = {}
    for weight in (0.0, 0.2):
        trainer = Trainer(data, preset_settings("draft", iterations=3, stabilisation=weight), torch.device("cpu"))
        losses[weight] = [trainer.step() for _ in range(3)]
    assert all(math.isfinite(v) for v in losses[0.2])
    assert losses[0.2][0] > losses[0.0][0]  # same seed, same batch: the regulariser adds to the loss


def test_an_absurd_weight_is_refused():
    with pytest.raises(InputError, match="stabilisation"):
        TrainSettings(stabilisation=-1)


@pytest.mark.parametrize("option", [["--stabilisation", "0.2"], ["--anti-ambiguity", "0.1"]])
def test_the_command_line_switches_the_regularisers_on(tmp_path, option):
    from server.commands.cli import main

    write_exr_sequence(make_clip(frames=3, width=48, height=32), str(tmp_path / "plate.####.exr"))
    assert main(["run", "--input", str(tmp_path / "plate.####.exr"), "--output", str(tmp_path / "out" / "c.####.exr"),
                 "--preset", "draft", "--iterations", "2", *option, "--quiet"]) == 0
    assert len(list((tmp_path / "out").glob("c.*.exr"))) == 3

"""The anti-ambiguity regulariser: the contextual loss, the fixed feature bank, and training with it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from inpaint_core.errors import InputError
from inpaint_core.io.colour import LogEncoding
from inpaint_core.masks.shot import Shot, ShotSpec
from inpaint_core.model.anti_ambiguity import AntiAmbiguityLoss, RandomFeatureBank, contextual_loss
from inpaint_core.training.dataset import TrainingData, load_training_data
from inpaint_core.training.presets import preset_settings
from inpaint_core.training.sampling import REFERENCE_REACH, PatchSampler
from inpaint_core.training.trainer import Trainer, TrainSettings
from inpaint_eval.synthetic import make_clip, write_exr_sequence


def test_a_set_matched_by_itself_costs_nothing_in_any_order():
    features = torch.randn(200, 16, generator=torch.Generator().manual_seed(0))
    shuffled = features[torch.randperm(200, generator=torch.Generator().manual_seed(1))]
    assert float(contextual_loss(features, features)) < 0.05
    assert float(contextual_loss(shuffled, features)) == pytest.approx(
        float(contextual_loss(features, features)), abs=1e-5
    )


def test_a_blur_of_the_reference_costs_more_than_the_reference():
    """The point of the term: averaged (blurred) content matches real texture worse than texture does."""
    rng = np.random.default_rng(0)
    texture = torch.tensor(rng.uniform(-1, 1, (1, 3, 64, 64)), dtype=torch.float32)
    blurred = torch.nn.functional.avg_pool2d(texture, 5, stride=1, padding=2)
    bank = RandomFeatureBank(3)

    def features(image):
        return bank(image)[0].flatten(1).t()

    other_texture = torch.tensor(rng.uniform(-1, 1, (1, 3, 64, 64)), dtype=torch.float32)
    same_kind = float(contextual_loss(features(other_texture), features(texture)))
    blur = float(contextual_loss(features(blurred), features(texture)))
    assert blur > same_kind + 0.1


def test_the_feature_bank_is_fixed_and_leaves_the_global_seed_alone():
    torch.manual_seed(5)
    expected_next = torch.rand(1)
    torch.manual_seed(5)
    first = RandomFeatureBank(3)
    assert torch.rand(1) == expected_next  # the bank draws from its own generator
    torch.manual_seed(99)
    second = RandomFeatureBank(3)
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b) and not a.requires_grad


def test_the_loss_only_looks_at_the_fill_inside_the_hole():
    torch.manual_seed(0)
    target = torch.rand(2, 3, 48, 48) * 2 - 1
    hole = torch.zeros(2, 1, 48, 48)
    hole[:, :, 16:32, 16:32] = 1
    loss = AntiAmbiguityLoss(3)
    output = torch.zeros_like(target, requires_grad=True)
    value = loss(output, target, hole, torch.roll(target, 5, dims=-1), torch.ones(2, 1, 48, 48))
    value.backward()
    assert math.isfinite(value.item()) and value.item() > 0
    grad = output.grad.abs().sum(dim=1)
    assert float(grad[:, 16:32, 16:32].sum()) > 0
    assert float(grad[:, :16].sum()) == 0 and float(grad[:, 32:].sum()) == 0  # outside the hole: the plate, no gradient


def test_a_fill_with_the_references_texture_costs_less_than_a_flat_one():
    torch.manual_seed(1)
    texture = torch.rand(1, 3, 48, 48) * 2 - 1
    hole = torch.zeros(1, 1, 48, 48)
    hole[:, :, 12:36, 12:36] = 1
    reference, everywhere = torch.roll(texture, 7, dims=-2), torch.ones(1, 1, 48, 48)
    loss = AntiAmbiguityLoss(3)
    textured = loss(texture, texture, hole, reference, everywhere)
    flat = loss(torch.full_like(texture, float(texture.mean())), texture, hole, reference, everywhere)
    assert float(textured) < float(flat)


def test_no_holes_or_no_known_reference_adds_nothing():
    loss = AntiAmbiguityLoss(3)
    target = torch.rand(2, 3, 32, 32)
    ones, zeros = torch.ones(2, 1, 32, 32), torch.zeros(2, 1, 32, 32)
    assert float(loss(target, target, zeros, target, ones)) == 0  # nothing hidden
    assert float(loss(target, target, ones, target, zeros)) == 0  # nothing known in the reference


def test_the_reference_is_the_same_place_in_a_nearby_frame():
    data = _reference_data()
    plain = PatchSampler(data, 16, 6, np.random.default_rng(3)).sample()
    paired = PatchSampler(data, 16, 6, np.random.default_rng(3), with_reference=True).sample()
    assert plain.reference is None and len(plain.arrays()) == 4
    np.testing.assert_array_equal(plain.target, paired.target)  # the same batches with the term on or off
    # Each frame is filled with its index: the reference's value tells which frame it came from.
    for target, reference, known in zip(paired.target, paired.reference, paired.reference_known):
        frame, other = int(target[0].max()), int(reference[0].max())
        assert 1 <= abs(other - frame) <= REFERENCE_REACH
        assert known.shape == (1, 16, 16) and known.all()  # this shot has no holes: all of it is known


def _reference_data() -> TrainingData:
    frames = 8
    images = np.stack([np.full((40, 40, 3), t, np.float16) for t in range(frames)])
    holes = np.zeros((frames, 40, 40), bool)
    return TrainingData(list(range(frames)), images, holes, LogEncoding())


@pytest.mark.slow
def test_training_with_the_regulariser(tmp_path):
    write_exr_sequence(make_clip(frames=4, width=64, height=48), str(tmp_path / "plate.####.exr"))
    data = load_training_data(Shot(ShotSpec(plate=str(tmp_path / "plate.####.exr"))))
    losses = {}
    for weight in (0.0, 0.1):
        trainer = Trainer(data, preset_settings("draft", iterations=3, anti_ambiguity=weight), torch.device("cpu"))
        losses[weight] = [trainer.step() for _ in range(3)]
    assert all(math.isfinite(v) for v in losses[0.1])
    assert losses[0.1][0] > losses[0.0][0]  # same seed, same batch: the regulariser adds to the loss
    again = Trainer(data, preset_settings("draft", iterations=3, anti_ambiguity=0.1), torch.device("cpu"))
    assert [again.step() for _ in range(3)] == losses[0.1]  # still reproducible from the seed


def test_an_absurd_weight_is_refused():
    with pytest.raises(InputError, match="anti_ambiguity"):
        TrainSettings(anti_ambiguity=-0.5)


def test_the_grpc_contract_carries_it_with_the_time_budget():
    from internal_inpaint.v1 import inpaint_pb2 as pb
    from server.service.specs import train_settings

    settings = train_settings(pb.TrainingSettings(preset="draft", anti_ambiguity=0.1, time_budget_minutes=2.5))
    assert settings.anti_ambiguity == pytest.approx(0.1) and settings.time_budget == pytest.approx(150.0)
    exact = train_settings(pb.TrainingSettings(preset="draft", iterations=40))
    assert exact.anti_ambiguity == 0 and exact.time_budget == 0 and exact.iterations == 40

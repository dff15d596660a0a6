"""The propagation refiner: untrained it is propagation alone; trained it moves a pixel at most by its trust."""

from __future__ import annotations

import torch

from inpaint_core.model.refiner import PropagationRefiner


def _inputs(height: int = 20, width: int = 30) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(0)
    masked = torch.rand(1, 3, height, width, generator=gen) * 2 - 1
    hole = torch.zeros(1, 1, height, width)
    hole[..., 5:12, 8:20] = 1
    candidate = masked.clone()
    candidate[..., 5:12, 8:20] = 1.4  # an encoded highlight beyond the fitted range
    return masked * (1 - hole), hole, candidate, hole.clone()


def test_an_untrained_refiner_returns_the_candidate_unchanged_beyond_the_encodings_range() -> None:
    torch.manual_seed(0)
    out = PropagationRefiner(3, 8)(*_inputs())  # sides not a multiple of 4: padded and cropped back
    assert out.shape == (1, 3, 20, 30)
    assert torch.equal(out, _inputs()[2])


def test_a_correction_is_clamped_to_the_trust() -> None:
    torch.manual_seed(0)
    net = PropagationRefiner(3, 8, trust=0.25)
    torch.nn.init.constant_(net.out.bias, 5.0)  # a wild correction
    masked, hole, candidate, seen = _inputs()
    out = net(masked, hole, candidate, seen)
    assert torch.allclose(out - candidate, torch.full_like(out, 0.25))


def test_refining_the_holes_surroundings_gives_the_whole_frames_fill() -> None:
    import numpy as np

    from inpaint_core.inference.fill import refine_encoded

    torch.manual_seed(0)
    net = PropagationRefiner(3, 4, trust=0.5)
    torch.nn.init.normal_(net.out.weight, std=0.5)  # a net that changes the fill
    rng = np.random.default_rng(0)
    height, width = 300, 420
    frame = rng.uniform(-0.8, 0.8, (height, width, 3)).astype(np.float32)
    hole = np.zeros((height, width), bool)
    hole[130:170, 201:260] = True
    candidate = np.where(hole[..., None], 0.3, frame).astype(np.float32)
    seen = hole.copy()
    windowed = refine_encoded(net, frame, hole, candidate, seen, torch.device("cpu"))
    with torch.no_grad():
        planes = [torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1) if a.ndim == 3 else a[None]))[None]
                  for a in (frame * ~hole[..., None], hole.astype(np.float32), candidate, seen.astype(np.float32))]
        whole = net(*planes)[0].numpy().transpose(1, 2, 0)
    assert not np.allclose(whole[hole], candidate[hole])  # the net does change the hole
    assert np.allclose(windowed[hole], whole[hole], atol=1e-5)
    assert np.array_equal(windowed[:20], candidate[:20])  # far from the hole: the candidate

"""The network stage, trained per shot on the shot's own known pixels with borrowed, shifted holes.

Modes (same gated-conv body, same crops, same wall-clock budget):
- ``paper``: masked frame + hole in, fill out (the paper's single-frame network; no propagation at all).
- ``combined``: masked frame + hole + the propagated candidate + its "seen" plane in, and the output is the
  candidate plus a learned correction (last layer zero-initialised, so training starts from propagation-alone
  and can only move away from it if the loss says so).

The crux of ``combined``: at training time the candidate inside a BORROWED hole must be as good (and as bad)
as the candidate inside the real hole at test time. So the same propagation (benchmarks.experiments.propagation)
is run on the plate with each borrowed-hole configuration added to the real holes, before training
(``precompute``, timed separately). The network then learns, from known pixels only, how propagation errs
on this shot (misaligned tracks, seams, drift) and how to correct it. The propagation never sees the truth
in any hole, borrowed or real: it runs on the plate with the union of holes prefilled by Telea.

Everything runs in display sRGB mapped to [-1, 1] (the space the benchmark's PSNR is measured in).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.clips import srgb_to_linear
from benchmarks.experiments.propagation import PropagationSettings, propagate
from inpaint_core.io.display import linear_to_srgb
from inpaint_core.model.generator import GatedConv, GatedUpConv


@dataclass
class LearnedSettings:
    mode: str = "combined"  # "paper" | "combined"
    width: int = 16
    crop: int = 128
    batch: int = 8
    lr: float = 1e-3
    budget_s: float = 180.0  # wall-clock training seconds (precompute not included)
    iterations: int = 0  # > 0: stop after this many steps instead (equal compute when the CPU is shared)
    configs: int = 4  # borrowed-hole configurations precomputed with propagation
    loss: str = "l2"  # "l1" | "l2" | "l2grad" (L2 + L1 on image gradients: keeps edges L2 would blur)
    known_weight: float = 0.1  # weight of the (easy) loss on known pixels outside any hole
    seed: int = 0
    prop: PropagationSettings | None = None
    borrow: str = "shifted"  # "shifted" (anywhere, the paper's) | "path" (another frame's hole in place, jittered)
    library: bool = False  # candidates from the product's propagation (inpaint_core.flow) instead of propagation.py
    gate: bool = False  # hold one configuration out; keep the net only where it beats the candidate there
    trust: float = 0.0  # > 0: learn only from borrowed pixels whose candidate errs by less ([-1, 1] display), and
    # correct by at most this much: what propagation gets badly wrong (a moving player) is not what real holes hold


class CorrectionNet(nn.Module):
    """A small gated-conv encoder-decoder with dilations (the paper's coarse net, with a skip at 1/2)."""

    def __init__(self, cin: int, width: int, residual: bool):
        super().__init__()
        c = width
        self.residual = residual
        self.e1 = GatedConv(cin, c, 5)
        self.e2 = GatedConv(c, 2 * c, 3, stride=2)
        self.e3 = GatedConv(2 * c, 4 * c, 3, stride=2)
        self.mid = nn.Sequential(*[GatedConv(4 * c, 4 * c, dilation=r) for r in (1, 2, 4, 8)])
        self.u2 = GatedUpConv(4 * c, 2 * c)
        self.d2 = GatedConv(4 * c, 2 * c)
        self.u1 = GatedUpConv(2 * c, c)
        self.d1 = GatedConv(2 * c, c)
        self.out = nn.Conv2d(c, 3, 3, padding=1)
        if residual:  # start exactly at the candidate
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, base: torch.Tensor | None) -> torch.Tensor:
        f1 = self.e1(x)
        f2 = self.e2(f1)
        f = self.mid(self.e3(f2))
        f = self.d2(torch.cat([self.u2(f), f2], 1))
        f = self.d1(torch.cat([self.u1(f), f1], 1))
        raw = self.out(f)
        if self.residual:
            return (base + raw).clamp(-1, 1)
        return torch.tanh(raw)


@dataclass
class Precomputed:
    """Borrowed-hole configurations and their propagated candidates (all display, [-1, 1], (N, T, ...))."""

    union: np.ndarray  # (N, T, H, W) bool: real hole | borrowed hole
    candidate: np.ndarray  # (N, T, H, W, 3) float32, propagation's fill of the union
    seen: np.ndarray  # (N, T, H, W) float32
    test_candidate: np.ndarray  # (T, H, W, 3): propagation's fill of the real hole
    test_seen: np.ndarray  # (T, H, W)
    seconds: float


def to_net(linear: np.ndarray) -> np.ndarray:
    return linear_to_srgb(linear) * 2.0 - 1.0


def borrowed_holes(hole: np.ndarray, rng: np.random.Generator, borrow: str = "shifted") -> np.ndarray:
    """The paper's augmentation: each frame gets another frame's hole, circularly shifted at random.

    ``path``: the donor hole stays where it was (jittered by up to a quarter of its size): where the object passes,
    the part of the frame a real hole lies on, so the candidates there are as good or bad as at test.
    """
    count, height, width = hole.shape
    donors = [t for t in range(count) if hole[t].any()]
    out = np.zeros_like(hole)
    for t in range(count):
        choices = [d for d in donors if d != t and (hole[d] & hole[t]).sum() < 0.5 * hole[d].sum()] or donors
        donor = hole[choices[int(rng.integers(len(choices)))]]
        if borrow == "path":
            ys, xs = np.nonzero(donor)
            jy, jx = max(1, (ys.max() - ys.min()) // 4), max(1, (xs.max() - xs.min()) // 4)
            shift = (int(rng.integers(-jy, jy + 1)), int(rng.integers(-jx, jx + 1)))
        else:
            shift = (int(rng.integers(height)), int(rng.integers(width)))
        out[t] = np.roll(donor, shift, axis=(0, 1))
    return out


def _propagate(plate: np.ndarray, hole: np.ndarray, settings: LearnedSettings):
    if settings.library:
        from inpaint_core.flow.clip import propagate_clip
        return propagate_clip(plate, hole)
    return propagate(plate, hole, settings.prop)


def precompute(plate: np.ndarray, hole: np.ndarray, settings: LearnedSettings) -> Precomputed:
    """Run propagation for the real holes and for ``configs`` borrowed-hole configurations (never the truth)."""
    start = time.perf_counter()
    rng = np.random.default_rng(1000 + settings.seed)
    test = _propagate(plate, hole, settings)
    unions, cands, seens = [], [], []
    if settings.mode == "combined":
        for _ in range(settings.configs):
            union = hole | borrowed_holes(hole, rng, settings.borrow)
            result = _propagate(plate, union, settings)  # the plate's magenta is under `hole`; prefill covers all
            unions.append(union)
            cands.append(to_net(result.filled))
            seens.append(np.asarray(result.seen, np.float32))
    else:
        for _ in range(settings.configs):
            unions.append(hole | borrowed_holes(hole, rng, settings.borrow))
    empty = np.zeros((0,) + plate.shape, np.float32)
    return Precomputed(np.stack(unions), np.stack(cands) if cands else empty,
                       np.stack(seens) if seens else empty[..., 0], to_net(test.filled),
                       np.asarray(test.seen, np.float32),
                       time.perf_counter() - start)


def _inputs(frame: torch.Tensor, union: torch.Tensor, cand: torch.Tensor | None, seen: torch.Tensor | None,
            mode: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    masked = frame * (1 - union)
    if mode == "paper":
        return torch.cat([masked, union], 1), None
    return torch.cat([masked, union, cand, seen], 1), cand


def _loss(out: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, kind: str) -> torch.Tensor:
    norm = weight.sum() * 3 + 1e-6
    diff = out - target
    if kind == "l1":
        return (diff.abs() * weight).sum() / norm
    loss = (diff ** 2 * weight).sum() / norm
    if kind == "l2grad":
        for dim in (2, 3):
            g = torch.diff(diff, dim=dim)
            size = weight.shape[dim] - 1
            w = torch.minimum(weight.narrow(dim, 0, size), weight.narrow(dim, 1, size))
            loss = loss + 0.5 * (g.abs() * w).sum() / (w.sum() * 3 + 1e-6)
    return loss


def train_and_fill(plate: np.ndarray, hole: np.ndarray, settings: LearnedSettings,
                   pre: Precomputed | None = None) -> tuple[np.ndarray, dict]:
    """Precompute (unless given), train for ``budget_s`` wall-clock seconds, fill the real holes."""
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    pre = pre or precompute(plate, hole, settings)
    frames = to_net(plate)  # magenta under the real hole: always masked out, never a target
    count, height, width = hole.shape
    cin = 4 if settings.mode == "paper" else 8
    net = CorrectionNet(cin, settings.width, residual=settings.mode == "combined")
    optimiser = torch.optim.Adam(net.parameters(), lr=settings.lr)
    ch, cw = min(settings.crop, height), min(settings.crop, width)
    # Borrowed-hole pixels that are known (the supervised area), per configuration and frame.
    supervised = pre.union & ~hole[None]
    trained_configs = len(pre.union) - 1 if settings.gate and len(pre.union) > 1 else len(pre.union)
    places = [[np.argwhere(supervised[n, t]) for t in range(count)] for n in range(trained_configs)]
    start = time.perf_counter()
    iterations = 0
    losses = []
    while (iterations < settings.iterations if settings.iterations > 0
           else time.perf_counter() - start < settings.budget_s):
        batch = {k: [] for k in ("frame", "union", "cand", "seen", "weight")}
        for _ in range(settings.batch):
            n, t = int(rng.integers(trained_configs)), int(rng.integers(count))
            pts = places[n][t]
            if len(pts):
                cy, cx = pts[int(rng.integers(len(pts)))]
                y = int(np.clip(cy - ch // 2 + rng.integers(-ch // 4, ch // 4 + 1), 0, height - ch))
                x = int(np.clip(cx - cw // 2 + rng.integers(-cw // 4, cw // 4 + 1), 0, width - cw))
            else:
                y, x = int(rng.integers(height - ch + 1)), int(rng.integers(width - cw + 1))
            sl = (slice(y, y + ch), slice(x, x + cw))
            own = hole[t][sl]
            union = pre.union[n, t][sl]
            batch["frame"].append(frames[t][sl].transpose(2, 0, 1))
            batch["union"].append(union[None].astype(np.float32))
            if settings.mode == "combined":
                batch["cand"].append(pre.candidate[n, t][sl].transpose(2, 0, 1))
                batch["seen"].append(pre.seen[n, t][sl][None])
            w = np.where(union & ~own, 1.0, np.where(own, 0.0, settings.known_weight)).astype(np.float32)
            if settings.trust > 0 and settings.mode == "combined":
                wrong = np.abs(pre.candidate[n, t][sl] - frames[t][sl]).max(-1) > settings.trust
                w[wrong & union & ~own] = 0.0
            batch["weight"].append(w[None])
        tensors = {k: torch.from_numpy(np.ascontiguousarray(np.stack(v))) for k, v in batch.items() if v}
        x, base = _inputs(tensors["frame"], tensors["union"], tensors.get("cand"), tensors.get("seen"), settings.mode)
        out = _clamped(net(x, base), base, settings.trust)
        loss = _loss(out, tensors["frame"], tensors["weight"], settings.loss)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
        iterations += 1
    trained = time.perf_counter() - start
    filled = _fill(net, frames, hole, pre, settings.mode, trust=settings.trust)
    gate = {}
    if trained_configs < len(pre.union) and settings.mode == "combined":
        n = len(pre.union) - 1
        held = _fill(net, frames, pre.union[n], pre, settings.mode, pre.candidate[n], pre.seen[n], settings.trust)
        area = supervised[n]
        net_mse = float(((held - frames) ** 2)[area].mean())
        cand_mse = float(((pre.candidate[n] - frames) ** 2)[area].mean())
        gate = {"held_net_db": round(10 * np.log10(4 / net_mse), 2),
                "held_cand_db": round(10 * np.log10(4 / cand_mse), 2)}
        if net_mse >= cand_mse:
            filled = pre.test_candidate
            gate["kept"] = "candidate"
        else:
            gate["kept"] = "net"
    out = plate.copy()
    linear = srgb_to_linear(np.clip((filled + 1) / 2, 0, 1))
    out[hole] = linear[hole]
    info = {"iterations": iterations, "train_s": round(trained, 1), "precompute_s": round(pre.seconds, 1),
            "loss_first": round(float(np.mean(losses[:20])), 5) if losses else None,
            "loss_last": round(float(np.mean(losses[-20:])), 5) if losses else None, **gate}
    return out, info


@torch.no_grad()
def _fill(net: CorrectionNet, frames: np.ndarray, hole: np.ndarray, pre: Precomputed, mode: str,
          candidate: np.ndarray | None = None, seen_map: np.ndarray | None = None, trust: float = 0.0) -> np.ndarray:
    """Whole frames through the net, the real holes as the union, the test candidate as the candidate."""
    candidate = pre.test_candidate if candidate is None else candidate
    seen_map = pre.test_seen if seen_map is None else seen_map
    net.eval()
    outs = []
    for t in range(len(frames)):
        frame = torch.from_numpy(np.ascontiguousarray(frames[t].transpose(2, 0, 1)))[None]
        union = torch.from_numpy(hole[t][None, None].astype(np.float32))
        cand = torch.from_numpy(np.ascontiguousarray(candidate[t].transpose(2, 0, 1)))[None]
        seen = torch.from_numpy(seen_map[t][None, None].astype(np.float32))
        x, base = _inputs(frame, union, cand, seen, mode)
        x, base = _pad(x), _pad(base) if base is not None else None
        out = _clamped(net(x, base), base, trust)[..., : frames.shape[1], : frames.shape[2]]
        outs.append(out[0].numpy().transpose(1, 2, 0))
    return np.stack(outs)


def _clamped(out: torch.Tensor, base: torch.Tensor | None, trust: float) -> torch.Tensor:
    """The fill moved at most ``trust`` away from the candidate (no clamp when 0 or without a candidate)."""
    if trust <= 0 or base is None:
        return out
    return torch.maximum(torch.minimum(out, base + trust), base - trust)


def _pad(x: torch.Tensor) -> torch.Tensor:
    ph, pw = -x.shape[-2] % 4, -x.shape[-1] % 4
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x

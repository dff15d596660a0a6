"""Candidate propagation for the hole: stronger explicit propagation than the frozen baseline.

The frozen baseline (benchmarks.flow_baseline) chains consecutive DIS flows from frame t until a hole pixel's
track lands on a visible pixel and copies that colour. Two things limit it: a chain of N flows drifts N times,
and a track that lands right next to another hole samples Telea prefill through the bilinear footprint.

Here, for each frame t and each other frame s (nearest in time first), the flow t -> s is estimated DIRECTLY
(DIS on the Telea-prefilled grey frames, initialised with the chain of consecutive flows so large motions are
found), then completed inside t's hole from the flow around it (the flow must never see the truth in the hole,
as in the baseline). A hole pixel's candidate in s is valid when it lands inside the frame and away from s's
hole (a margin keeps the bilinear footprint and the unreliable prefill boundary out). Per hole pixel the
nearest-in-time valid candidates are blended (closer frames weigh more); Telea fills what no frame shows.
An optional low-frequency correction (``seam``) removes the mismatch between the propagated colour and the
known ring around the hole (a membrane / Poisson-like blend that fixes exposure drift and seams).

Outputs: the filled clip and a "seen" map (1 where the value came from another frame, 0 where Telea guessed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from benchmarks.flow_baseline import display_grey
from inpaint_eval.baselines import telea_fill


@dataclass
class PropagationSettings:
    """Knobs of the propagation; defaults are the best measured on blackswan + tracking_blob."""

    flow_margin: int = 12  # px around the hole where the flow is replaced by its completion (baseline: 12)
    visible_margin: int = 0  # px: a candidate must land this far from the source frame's hole
    candidates: int = 3  # blend the K nearest-in-time valid candidates
    max_distance: int = 10_000  # frames: furthest source frame tried
    direct: bool = False  # refine the chained flow by a direct DIS t -> s (False: pure chaining, as the baseline)
    seam: bool = False  # correct the fill by the smooth interpolation of its mismatch on the ring around the hole
    seam_ring: int = 3  # px of known ring used by the seam correction
    time_weight: float = 1.0  # weight of a candidate = 1 / distance ** time_weight
    preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
    completion: str = "homography"  # how the flow inside the hole is completed: "telea" (baseline) or "homography"
    homography_ring: int = 24  # px of ring (outside the flow margin) the local homography is fitted on


@dataclass
class Propagation:
    filled: np.ndarray  # (T, H, W, 3) float32 scene-linear, known pixels untouched
    seen: np.ndarray  # (T, H, W) float32, 1 where the hole value came from another frame
    candidate_distance: np.ndarray  # (T, H, W) float32, frames to the nearest source (0 outside / unseen)
    seconds: float = 0.0
    stats: dict = field(default_factory=dict)


_FLOW_FILL_SCALE = 1000.0  # OpenCV's float Telea is off by ~1 unit at unit scale: fill the flow scaled up


def complete_flow(flow: np.ndarray, hole: np.ndarray, margin: int, mode: str = "telea", ring: int = 24) -> np.ndarray:
    """Replace the flow inside the hole (and ``margin`` px around it) by a fill from the flow outside.

    "telea": smooth interpolation (the baseline). "homography": per connected hole region, a homography fitted
    (RANSAC) to the flow on a ring around it, which extrapolates a camera move or a planar surface exactly
    where Telea flattens it towards the mean of the border.
    """
    if not hole.any():
        return flow
    size = 2 * margin + 1
    grown = cv2.dilate(hole.astype(np.uint8), np.ones((size, size), np.uint8))
    if grown.all():
        return flow
    if mode == "homography":
        return _homography_completion(flow, grown.astype(bool), ring)
    channels = [cv2.inpaint(np.ascontiguousarray(flow[..., c] * _FLOW_FILL_SCALE), grown * 255, 5, cv2.INPAINT_TELEA)
                for c in range(2)]
    return (np.stack(channels, axis=-1) / _FLOW_FILL_SCALE).astype(np.float32)


def _homography_completion(flow: np.ndarray, grown: np.ndarray, ring: int) -> np.ndarray:
    out = flow.copy()
    count, labels = cv2.connectedComponents(grown.astype(np.uint8))
    height, width = grown.shape
    for label in range(1, count):
        region = labels == label
        band = _grown(region, ring) & ~grown
        ys, xs = np.nonzero(band)
        if len(ys) < 12:
            continue
        src = np.stack([xs, ys], 1).astype(np.float32)
        dst = src + flow[ys, xs]
        matrix, _ = cv2.findHomography(src, dst, cv2.RANSAC, 1.0)
        if matrix is None:
            continue
        ry, rx = np.nonzero(region)
        pts = np.stack([rx, ry], 1).astype(np.float32)[:, None]
        mapped = cv2.perspectiveTransform(pts, matrix)[:, 0]
        out[ry, rx] = mapped - pts[:, 0]
    return out


def prefill(plate: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Per-frame Telea fill of the holes: what flow estimation sees instead of the (hidden) hole content."""
    return np.stack([telea_fill(plate[t], hole[t]) if hole[t].any() else plate[t] for t in range(len(plate))])


def _grown(mask: np.ndarray, px: int) -> np.ndarray:
    if px <= 0:
        return mask.astype(bool)
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)).astype(bool)


def propagate(plate: np.ndarray, hole: np.ndarray, settings: PropagationSettings | None = None) -> Propagation:
    """Fill every frame's hole from the other frames of the shot (never reading the truth under a hole)."""
    settings = settings or PropagationSettings()
    start = time.perf_counter()
    count, height, width = hole.shape
    filled_pre = prefill(plate, hole)
    grey = [display_grey(frame) for frame in filled_pre]
    dis = cv2.DISOpticalFlow_create(settings.preset)
    forward = [complete_flow(dis.calc(grey[t], grey[t + 1], None), hole[t], settings.flow_margin,
                            settings.completion, settings.homography_ring)
               for t in range(count - 1)]
    backward = [complete_flow(dis.calc(grey[t + 1], grey[t], None), hole[t + 1], settings.flow_margin,
                             settings.completion, settings.homography_ring)
                for t in range(count - 1)]
    blocked = [_grown(h, settings.visible_margin) for h in hole]
    grid = np.stack(np.meshgrid(np.arange(width), np.arange(height)), axis=-1).astype(np.float32)
    out = filled_pre.copy()
    seen = np.zeros((count, height, width), np.float32)
    distance_map = np.zeros((count, height, width), np.float32)
    direct_calls = 0
    ring_px = settings.seam_ring if settings.seam else 0
    for t in range(count):
        if not hole[t].any():
            continue
        target = _grown(hole[t], ring_px)  # hole pixels (+ ring for the seam correction)
        need = target.copy()
        ys, xs = np.nonzero(target)
        total = np.zeros((len(ys), 3), np.float64)
        weight = np.zeros(len(ys), np.float64)
        found = np.zeros(len(ys), np.int32)
        nearest = np.zeros(len(ys), np.float32)
        chains = {1: grid.copy(), -1: grid.copy()}  # position in frame t+step*d of every pixel of t
        frames = {1: t, -1: t}
        for d in range(1, min(count, settings.max_distance + 1)):
            if not (found < settings.candidates).any():
                break
            for step in (1, -1):
                s = t + step * d
                if not 0 <= s < count:
                    continue
                prev = frames[step]
                flow = forward[prev] if step > 0 else backward[prev - 1]
                chained = chains[step] + cv2.remap(flow, chains[step][..., 0], chains[step][..., 1], cv2.INTER_LINEAR,
                                                   borderMode=cv2.BORDER_REPLICATE)
                if settings.direct and d > 1:
                    init = np.ascontiguousarray(chained - grid)
                    direct = dis.calc(grey[t], grey[s], init)
                    direct_calls += 1
                    chained = grid + complete_flow(direct, hole[t], settings.flow_margin)
                chains[step], frames[step] = chained, s
                px, py = chained[ys, xs, 0], chained[ys, xs, 1]
                inside = (px >= 0) & (px <= width - 1) & (py >= 0) & (py <= height - 1)
                rows = np.clip(np.rint(py), 0, height - 1).astype(int)
                cols = np.clip(np.rint(px), 0, width - 1).astype(int)
                valid = inside & ~blocked[s][rows, cols] & (found < settings.candidates)
                if not valid.any():
                    continue
                value = _bilinear(filled_pre[s], px[valid], py[valid])
                w = 1.0 / d ** settings.time_weight
                total[valid] += w * value
                weight[valid] += w
                nearest[valid & (found == 0)] = d
                found[valid] += 1
        got = found > 0
        value = np.zeros((len(ys), 3), np.float32)
        value[got] = (total[got] / weight[got, None]).astype(np.float32)
        in_hole = hole[t][ys, xs]
        frame = plate[t].copy()
        sel = got & in_hole
        frame[ys[sel], xs[sel]] = value[sel]
        if settings.seam:
            frame = _seam_correct(frame, plate[t], hole[t], ys, xs, value, got, in_hole)
        seen[t][ys[sel], xs[sel]] = 1.0
        distance_map[t][ys[sel], xs[sel]] = nearest[sel]
        remaining = hole[t] & (seen[t] == 0)
        out[t] = telea_fill(frame, remaining) if remaining.any() else frame
        del need
    stats = {"seen_fraction": float(seen[hole].mean()), "direct_flows": direct_calls,
             "mean_distance": float(distance_map[hole & (seen > 0)].mean()) if (seen > 0).any() else 0.0}
    return Propagation(out, seen, distance_map, time.perf_counter() - start, stats)


def _seam_correct(frame: np.ndarray, known: np.ndarray, hole: np.ndarray, ys: np.ndarray, xs: np.ndarray,
                  value: np.ndarray, got: np.ndarray, in_hole: np.ndarray) -> np.ndarray:
    """Add to the propagated pixels a smooth offset that cancels its mismatch on the known ring.

    The mismatch (known - propagated) on ring pixels is spread into the hole by Telea (a membrane-like
    interpolation): the fill keeps the source's gradients but meets the frame's colours at the border.
    """
    ring = got & ~in_hole
    if not ring.any():
        return frame
    def encode(x):  # the baselines' shaper: offsets act like exposure changes
        return np.arcsinh(x / 0.05)

    def decode(x):
        return np.sinh(x) * 0.05

    diff = np.zeros(frame.shape, np.float32)
    diff[ys[ring], xs[ring]] = encode(known[ys[ring], xs[ring]]) - encode(value[ring])
    support = np.zeros(hole.shape, bool)
    support[ys[ring], xs[ring]] = True
    unknown = ~support  # interpolate everywhere the ring does not define the offset
    offset = np.stack([cv2.inpaint(np.ascontiguousarray(diff[..., c] * 1000.0), unknown.astype(np.uint8) * 255, 5,
                                   cv2.INPAINT_TELEA) / 1000.0 for c in range(3)], axis=-1)
    sel = got & in_hole
    corrected = frame.copy()
    corrected[ys[sel], xs[sel]] = decode(encode(value[sel]) + offset[ys[sel], xs[sel]]).astype(np.float32)
    return corrected


def _bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of an (H, W, C) image at float positions inside it."""
    height, width = image.shape[:2]
    x = np.clip(x, 0, width - 1)
    y = np.clip(y, 0, height - 1)
    x0, y0 = np.minimum(x.astype(int), width - 2), np.minimum(y.astype(int), height - 2)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def propagate_fill(plate: np.ndarray, hole: np.ndarray, **overrides) -> np.ndarray:
    """The harness's method signature: (plate, hole) -> filled."""
    return propagate(plate, hole, PropagationSettings(**overrides)).filled

"""Flow between neighbouring frames of a shot, completed inside the holes, at a working size.

DIS flow (OpenCV) is estimated on prefilled display-grey frames; inside each hole, and a margin around it where
the prefill still shows, it is replaced by a completion from the flow around it: per connected hole region a
homography fitted (RANSAC) on a ring outside it, which continues a camera move or a planar surface exactly where a
smooth interpolation flattens it. Measured against Telea's completion (the frozen baseline's) on the benchmark
clips: +1.1 dB in the hole on the mean (benchmarks/experiments/README.md).

Flow is estimated at most ``long_side`` pixels wide: a 4K shot's flow at 1024 px costs a sixteenth and holds
100 frames' flow in under 1 GB; candidates are then sampled from the full-size frames.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from inpaint_core.errors import Cancelled, InputError
from inpaint_core.flow.prefill import display_grey, telea_prefill

COMPLETIONS = ("homography", "telea")
_FLOW_SCALE = 1000.0  # OpenCV's float Telea rounds at unit scale: the flow is filled scaled up
_MIN_RING_PIXELS = 12  # fewer known flow vectors around a region than this: it keeps Telea's completion

# read(index) -> (colour (H, W, C) float32 scene-linear, hole (H, W) bool) of the shot's index-th frame
ReadFrame = Callable[[int], tuple[np.ndarray, np.ndarray]]
# progress(done, total): a flow pair has been estimated
FlowProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class FlowSettings:
    """How the shot's flow is estimated and how hole pixels take their colour from other frames."""

    long_side: int = 1024  # flow is estimated at most this many pixels wide or high
    flow_margin: int = 12  # px around a hole where the flow is replaced by its completion
    completion: str = "homography"  # or "telea" (the frozen baseline's)
    homography_ring: int = 24  # px of ring outside the margin the homography is fitted on
    candidates: int = 3  # hole pixel colour = the K nearest-in-time frames that show it, weighted 1/distance

    def __post_init__(self) -> None:
        if self.completion not in COMPLETIONS:
            raise InputError(f"Unknown flow completion {self.completion!r}; choose one of {', '.join(COMPLETIONS)}.")
        for name, low in (("long_side", 16), ("flow_margin", 0), ("homography_ring", 1), ("candidates", 1)):
            if getattr(self, name) < low:
                raise InputError(f"Flow setting {name} must be at least {low} (got {getattr(self, name)}).")


@dataclass
class ShotFlow:
    """The completed flow between each pair of neighbouring frames, at the working size.

    ``forward[t]`` maps frame t to t+1 and ``backward[t]`` frame t+1 to t, in working-size pixels.
    """

    width: int  # of the frames
    height: int
    flow_width: int  # working size
    flow_height: int
    forward: list[np.ndarray]  # (flow_height, flow_width, 2) float32 each
    backward: list[np.ndarray]
    seconds: float = 0.0

    @property
    def count(self) -> int:
        """Frames in the shot."""
        return len(self.forward) + 1

    def to_flow(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame pixel positions in working-size pixels (pixel centres line up)."""
        return ((x + 0.5) * (self.flow_width / self.width) - 0.5).astype(np.float32), \
               ((y + 0.5) * (self.flow_height / self.height) - 0.5).astype(np.float32)

    def to_frame(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Working-size positions in frame pixels."""
        return (x + 0.5) * (self.width / self.flow_width) - 0.5, (y + 0.5) * (self.height / self.flow_height) - 0.5


def working_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """The frame size scaled down so its long side is at most ``long_side`` (never up)."""
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def estimate_shot_flow(
    read: ReadFrame,
    count: int,
    settings: FlowSettings | None = None,
    progress: FlowProgress | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> ShotFlow:
    """Read the shot's frames in order (each once) and estimate the completed flow between each neighbour pair."""
    settings = settings or FlowSettings()
    started = time.perf_counter()
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    forward: list[np.ndarray] = []
    backward: list[np.ndarray] = []
    previous = None
    size = (0, 0)
    for t in range(count):
        if should_cancel is not None and should_cancel():
            raise Cancelled(f"Cancelled while estimating flow, after {t} of {count} frames.")
        colour, hole = read(t)
        size = (colour.shape[1], colour.shape[0])
        current = _working_frame(colour, hole, settings.long_side)
        if previous is not None:
            (grey_a, hole_a), (grey_b, hole_b) = previous, current
            forward.append(complete_flow(dis.calc(grey_a, grey_b, None), hole_a, settings))
            backward.append(complete_flow(dis.calc(grey_b, grey_a, None), hole_b, settings))
            if progress is not None:
                progress(t, count - 1)
        previous = current
    flow_width, flow_height = working_size(*size, settings.long_side)
    return ShotFlow(size[0], size[1], flow_width, flow_height, forward, backward, time.perf_counter() - started)


def _working_frame(colour: np.ndarray, hole: np.ndarray, long_side: int) -> tuple[np.ndarray, np.ndarray]:
    """The frame at the working size, prefilled, as display grey; and its hole at that size."""
    height, width = hole.shape
    size = working_size(width, height, long_side)
    known = np.where(hole[..., None], np.float32(0.0), colour).astype(np.float32)
    if size != (width, height):
        # A working pixel is hole when any frame pixel under it is: known working pixels average known pixels only.
        small_hole = cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
        known = cv2.resize(known, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1)
        hole = small_hole
    return display_grey(telea_prefill(known, hole)), hole


def complete_flow(flow: np.ndarray, hole: np.ndarray, settings: FlowSettings) -> np.ndarray:
    """The flow with its values inside the hole (grown by the margin) replaced by a completion from outside."""
    if not hole.any():
        return flow
    size = 2 * settings.flow_margin + 1
    grown = cv2.dilate(hole.astype(np.uint8), np.ones((size, size), np.uint8)).astype(bool)
    if grown.all():
        return np.zeros_like(flow)  # nothing known to complete from: no motion is the least wrong guess
    if settings.completion == "telea":
        return _telea_completion(flow, grown)
    completed = flow.copy()
    missed = _homography_completion(completed, flow, grown, settings.homography_ring)
    if missed.any():  # regions without a homography: Telea's completion (each region fills from its own border)
        completed[missed] = _telea_completion(flow, missed)[missed]
    return completed


def _telea_completion(flow: np.ndarray, grown: np.ndarray) -> np.ndarray:
    mask = grown.astype(np.uint8) * 255
    channels = [cv2.inpaint(np.ascontiguousarray(flow[..., c] * _FLOW_SCALE), mask, 5, cv2.INPAINT_TELEA)
                for c in range(2)]
    return (np.stack(channels, axis=-1) / _FLOW_SCALE).astype(np.float32)


def _homography_completion(out: np.ndarray, flow: np.ndarray, grown: np.ndarray, ring: int) -> np.ndarray:
    """Per connected region of ``grown``, the flow of a homography fitted on the ring around it (in place).

    Returns the regions left as they were (too few ring vectors, or no fit), for another completion.
    """
    missed = np.zeros(grown.shape, bool)
    count, labels = cv2.connectedComponents(grown.astype(np.uint8))
    kernel = np.ones((2 * ring + 1, 2 * ring + 1), np.uint8)
    for label in range(1, count):
        region = labels == label
        band = cv2.dilate(region.astype(np.uint8), kernel).astype(bool) & ~grown
        ys, xs = np.nonzero(band)
        matrix = None
        if len(ys) >= _MIN_RING_PIXELS:
            source = np.stack([xs, ys], 1).astype(np.float32)
            matrix, _ = cv2.findHomography(source, source + flow[ys, xs], cv2.RANSAC, 1.0)
        if matrix is None:
            missed |= region
            continue
        ry, rx = np.nonzero(region)
        points = np.stack([rx, ry], 1).astype(np.float32)[:, None]
        out[ry, rx] = cv2.perspectiveTransform(points, matrix)[:, 0] - points[:, 0]
    return missed

"""Holes borrowed along the object's path: where the refiner learns how propagation errs on this shot.

A frame borrows another frame's hole *where that hole was* (jittered by up to a quarter of its size), from a
donor whose hole overlaps the frame's own by less than half: the part of the frame the object passes through.
Propagation is then run as at fill time with the real and the borrowed holes both hidden, so the candidates under
a borrowed hole, whose truth is known, are as good and as bad as those under the real ones. Holes rolled anywhere
(the paper's augmentation) land on a moving subject, where propagation is wrong by the whole colour range; a net
trained there applied large corrections to the background the real holes hold (benchmarks/experiments/README.md,
section 7).

Only the hidden pixels' candidates are kept (:class:`UnionCandidates`), so a configuration costs megabytes for
an HD shot, not a copy of the clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BorrowedHoles:
    """One configuration: for every frame, the donor frame whose hole it borrows and the shift (None: no donor)."""

    donors: tuple[int | None, ...]
    shifts: tuple[tuple[int, int], ...]

    def hole(self, index: int, holes: np.ndarray) -> np.ndarray:
        """(H, W) bool: the hole frame ``index`` borrows (not including its own)."""
        donor = self.donors[index]
        if donor is None:
            return np.zeros(holes.shape[1:], bool)
        return np.roll(holes[donor], self.shifts[index], axis=(0, 1))

    def union(self, index: int, holes: np.ndarray) -> np.ndarray:
        """(H, W) bool: frame ``index``'s own hole and the borrowed one."""
        return holes[index] | self.hole(index, holes)


def borrow_along_path(holes: np.ndarray, rng: np.random.Generator) -> BorrowedHoles:
    """A configuration for a (T, H, W) stack of holes; every draw comes from ``rng``."""
    count = len(holes)
    sizes = holes.reshape(count, -1).sum(axis=1)
    donors = [t for t in range(count) if sizes[t] > 0]
    picked: list[int | None] = []
    shifts: list[tuple[int, int]] = []
    for t in range(count):
        if not donors:
            picked.append(None)
            shifts.append((0, 0))
            continue
        apart = [d for d in donors if d != t and (holes[d] & holes[t]).sum() < 0.5 * sizes[d]]
        choices = apart or [d for d in donors if d != t] or donors
        donor = choices[int(rng.integers(len(choices)))]
        ys, xs = np.nonzero(holes[donor])
        jitter_y, jitter_x = max(1, int(ys.max() - ys.min()) // 4), max(1, int(xs.max() - xs.min()) // 4)
        picked.append(donor)
        shifts.append((int(rng.integers(-jitter_y, jitter_y + 1)), int(rng.integers(-jitter_x, jitter_x + 1))))
    return BorrowedHoles(tuple(picked), tuple(shifts))


@dataclass
class UnionCandidates:
    """Propagation's candidates for one frame's hidden pixels (own and borrowed hole), in flat-index order."""

    flat: np.ndarray  # (N,) int32 or int64, sorted: np.flatnonzero of the union hole
    values: np.ndarray  # (N, C) the candidates, in whatever space the caller keeps (the refiner's: encoded half)
    seen: np.ndarray  # (N,) bool: another frame shows the pixel

    def crop(self, union: np.ndarray, y: int, x: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """The candidates and seen flags of the union pixels inside a crop at (y, x) of a frame ``width`` wide.

        ``union`` is the crop of the union hole; returns (K, C) values and (K,) seen in np.nonzero(union) order.
        """
        ys, xs = np.nonzero(union)
        positions = np.searchsorted(self.flat, (ys + y).astype(np.int64) * width + (xs + x))
        return self.values[positions], self.seen[positions]

"""Range collectors: they see the calibration outputs batch by batch and keep O(1) state per tensor, so memory
does not grow with the number of samples.

* `MinMax`: running min and max (what ReduceMin/ReduceMax give per batch);
* `Histogram`: a histogram symmetric about 0 that doubles its range (merging bin pairs exactly) when a batch
  exceeds it; from it, `percentile` clips each side at the given percentile and `entropy` picks the clipping
  threshold minimising the KL divergence between the float and the int8 distribution (TensorRT's method).
"""

from __future__ import annotations

import numpy as np

METHODS = ("minmax", "percentile", "entropy")


class MinMax:
    def __init__(self) -> None:
        self.lo, self.hi = np.inf, -np.inf

    def update(self, lo: float, hi: float) -> None:
        self.lo, self.hi = min(self.lo, float(lo)), max(self.hi, float(hi))

    def range(self) -> tuple[float, float]:
        return self.lo, self.hi


class Histogram:
    """Counts over [-limit, limit) in `bins` equal bins (bins even, so 0 is a bin edge)."""

    def __init__(self, bins: int = 2048) -> None:
        if bins < 512 or bins % 4:
            raise ValueError("histogram bins must be a multiple of 4 and at least 512")
        self.bins = bins
        self.counts = np.zeros(bins, dtype=np.int64)
        self.limit = 0.0
        self.minmax = MinMax()
        self.pending_zeros = 0

    def update(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float32).ravel()
        if values.size == 0:
            return
        lo, hi = float(values.min()), float(values.max())
        self.minmax.update(lo, hi)
        amax = max(abs(lo), abs(hi))
        if amax == 0.0 and self.limit == 0.0:
            self.pending_zeros += values.size
            return
        if self.limit == 0.0:
            self.limit = amax
            self.counts[self.bins // 2] += self.pending_zeros
        while amax > self.limit:  # double the range: pairs of bins merge into the central half
            merged = self.counts.reshape(-1, 2).sum(axis=1)
            self.counts = np.zeros(self.bins, dtype=np.int64)
            self.counts[self.bins // 4: 3 * self.bins // 4] = merged
            self.limit *= 2.0
        counts, _ = np.histogram(values, bins=self.bins, range=(-self.limit, self.limit))
        self.counts += counts

    def edges(self) -> np.ndarray:
        return np.linspace(-self.limit, self.limit, self.bins + 1)

    def percentile_range(self, percentile: float) -> tuple[float, float]:
        """Each side clipped at `percentile` (e.g. 99.99: drop the lowest and highest 0.01 %)."""
        lo, hi = self.minmax.range()
        if self.limit == 0.0:
            return lo, hi
        cdf = np.cumsum(self.counts) / self.counts.sum()
        edges = self.edges()
        upper = edges[min(np.searchsorted(cdf, percentile / 100.0) + 1, self.bins)]
        lower = edges[np.searchsorted(cdf, 1.0 - percentile / 100.0, side="right")]
        return max(lo, float(lower)), min(hi, float(upper))

    def entropy_range(self) -> tuple[float, float]:
        """Symmetric clipping threshold of least KL divergence; 256 levels for a non-negative tensor (asymmetric
        int8 spends all of them on [0, T]), 128 per side otherwise."""
        lo, hi = self.minmax.range()
        if self.limit == 0.0:
            return lo, hi
        half = self.bins // 2
        magnitudes = self.counts[half:] + self.counts[:half][::-1]
        levels = 256 if lo >= 0 else 128
        threshold = kl_threshold(magnitudes, levels) * self.limit / half
        return max(lo, -threshold), min(hi, threshold)


def kl_threshold(hist: np.ndarray, levels: int) -> int:
    """Number of leading bins of `hist` (counts of |x|) whose clipping loses the least information."""
    hist = hist.astype(np.float64)
    nonzero = np.nonzero(hist)[0]
    if nonzero.size == 0 or nonzero[-1] + 1 <= levels:
        return max(int(nonzero[-1]) + 1 if nonzero.size else len(hist), 1)
    best, best_kl = len(hist), np.inf
    for i in range(levels, len(hist) + 1):
        p = hist[:i].copy()
        p[-1] += hist[i:].sum()
        bounds = (np.arange(levels) * i) // levels
        sums = np.add.reduceat(hist[:i], bounds)
        used = np.add.reduceat((hist[:i] > 0).astype(np.float64), bounds)
        chunk = np.repeat(np.arange(levels), np.diff(np.append(bounds, i)))
        q = np.where(hist[:i] > 0, (sums / np.maximum(used, 1))[chunk], 0.0)
        kl = _kl(p, q)
        if kl < best_kl:
            best, best_kl = i, kl
    return best


def _kl(p: np.ndarray, q: np.ndarray, eps: float = 1e-4) -> float:
    """KL(p || q) of two histograms; q's empty bins where p has mass get `eps` (TensorRT's smoothing)."""
    p, q = p / p.sum(), q / max(q.sum(), 1e-300)
    mask = p > 0
    q = np.where(q > 0, q, eps)
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))

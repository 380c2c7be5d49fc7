"""Per-tensor statistics of float activations over the calibration data, and the range choices
made from them: min/max, moving-average min/max, percentile, and MSE- and KL-optimal ranges
searched on a histogram.

One pass collects everything every method needs (running min/max, per-invoke min/max, a
histogram that widens by merging bins), so methods can be compared on one reference run."""
from __future__ import annotations

import math

import numpy as np

METHODS = ("minmax", "ema", "percentile", "mse", "kl")
DEFAULT_METHOD = "percentile"  # highest mean output SQNR on the test models (docs/quantize.md)
EMA_CONSTANT = 0.01      # weight of each new batch's min/max (PyTorch's MovingAverageMinMax)
EMA_BATCH = 32           # invokes per batch for the moving average (models mostly run batch 1)
PERCENTILE = 99.99       # percentile method: the 0.01% and 99.99% points
HIST_BINS = 8192         # over [-R, R]; R doubles (bins merge in pairs) when data grows past it


class TensorObserver:
    """Statistics of one float tensor over all calibration invokes."""

    def __init__(self, bins: int = HIST_BINS) -> None:
        self.bins = bins
        self.min = math.inf
        self.max = -math.inf
        self.ema: tuple[float, float] | None = None
        self.batch: tuple[float, float, int] = (math.inf, -math.inf, 0)
        self.radius = 0.0
        self.counts = np.zeros(bins, np.int64)
        self.zeros = 0  # exact zeros (ReLU outputs): always representable, kept out of the histogram
        self.n = 0
        self.channel_sum: np.ndarray | None = None  # per last-axis channel, for bias correction
        self.channel_n = 0

    def channel_mean(self) -> np.ndarray | None:
        """Mean of each channel (the last axis) over all observed values."""
        return None if self.channel_sum is None else self.channel_sum / max(self.channel_n, 1)

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float32)
        if x.ndim and x.size:
            c = x.reshape(-1, x.shape[-1]).astype(np.float64)
            if self.channel_sum is None or self.channel_sum.shape != (c.shape[1],):
                self.channel_sum, self.channel_n = np.zeros(c.shape[1]), 0
            self.channel_sum += c.sum(axis=0)
            self.channel_n += c.shape[0]
        x = x.reshape(-1)
        if x.size == 0:
            return
        lo, hi = float(x.min()), float(x.max())
        self.min, self.max = min(self.min, lo), max(self.max, hi)
        blo, bhi, bn = self.batch
        self.batch = (min(blo, lo), max(bhi, hi), bn + 1)
        if bn + 1 == EMA_BATCH:
            self._ema_step()
        nz = x[x != 0]
        self.zeros += x.size - nz.size
        self.n += x.size
        if nz.size == 0:
            return
        a = max(abs(lo), abs(hi))
        if self.radius == 0.0:
            self.radius = a
        while a > self.radius:
            merged = self.counts.reshape(-1, 2).sum(axis=1)
            self.counts = np.zeros_like(self.counts)
            q = self.bins // 4
            self.counts[q:q + merged.size] = merged
            self.radius *= 2.0
        h, _ = np.histogram(nz, self.bins, range=(-self.radius, self.radius))
        self.counts += h

    def _ema_step(self) -> None:
        lo, hi, n = self.batch
        if n == 0:
            return
        if self.ema is None:
            self.ema = (lo, hi)
        else:
            c = EMA_CONSTANT
            self.ema = (self.ema[0] + c * (lo - self.ema[0]), self.ema[1] + c * (hi - self.ema[1]))
        self.batch = (math.inf, -math.inf, 0)

    def ema_range(self) -> tuple[float, float]:
        """Moving average of per-batch min/max; a last partial batch counts as one batch."""
        ema, batch = self.ema, self.batch
        self._ema_step()
        out = self.ema
        self.ema, self.batch = ema, batch
        return out

    # -- range choices ----------------------------------------------------------------------

    def range(self, method: str, qmin: int = -128, qmax: int = 127) -> tuple[float, float]:
        """The (min, max) the quantized tensor should cover, always including 0."""
        if self.n == 0:
            raise ValueError("tensor was never observed")
        if method == "minmax":
            lo, hi = self.min, self.max
        elif method == "ema":
            lo, hi = self.ema_range()
        elif method == "percentile":
            lo, hi = self._percentile(PERCENTILE)
        elif method in ("mse", "kl"):
            lo, hi = self._search(method, qmax - qmin)
        else:
            raise ValueError(f"unknown calibration method {method!r}; methods: {', '.join(METHODS)}")
        return min(lo, 0.0), max(hi, 0.0)

    def _edges(self) -> np.ndarray:
        return np.linspace(-self.radius, self.radius, self.bins + 1)

    def _percentile(self, p: float) -> tuple[float, float]:
        if self.radius == 0.0:
            return 0.0, 0.0
        edges = self._edges()
        total = self.counts.sum() + self.zeros
        cum = np.cumsum(self.counts) + self.zeros * (edges[1:] >= 0)
        frac = (100.0 - p) / 100.0
        lo_i = int(np.searchsorted(cum, frac * total))
        hi_i = int(np.searchsorted(cum, (1.0 - frac) * total))
        lo = max(self.min, float(edges[lo_i]))
        hi = min(self.max, float(edges[min(hi_i + 1, self.bins)]))
        return lo, hi

    def _search(self, method: str, levels: int) -> tuple[float, float]:
        """Range minimising the expected quantization MSE (or the KL divergence between the
        clipped and the quantized histogram): a joint shrink of both ends, then each end alone."""
        if self.radius == 0.0 or self.min == self.max:
            return self.min, self.max
        edges = self._edges()
        centers = 0.5 * (edges[1:] + edges[:-1])
        counts = self.counts.astype(np.float64)
        if method == "kl":  # exact zeros count in the distributions KL compares
            counts[self.bins // 2] += self.zeros
        keep = counts > 0
        c, n = centers[keep], counts[keep]
        cost = (lambda lo, hi: _mse(c, n, self.zeros, lo, hi, levels)) if method == "mse" else \
            (lambda lo, hi: _kl(c, n, edges[1] - edges[0], lo, hi, levels))
        lo0, hi0 = min(self.min, 0.0), max(self.max, 0.0)
        grid = np.linspace(0.05, 1.0, 96)
        best = min(((cost(a * lo0, a * hi0), a) for a in grid))
        if not math.isfinite(best[0]):  # e.g. KL with more levels than histogram bins (int16)
            return self.min, self.max
        lo, hi = best[1] * lo0, best[1] * hi0
        for _ in range(2):
            if hi0 > 0:
                hi = min(((cost(lo, a * hi0), a * hi0) for a in grid if a * hi0 >= hi * 0.5),
                         default=(0, hi))[1]
            if lo0 < 0:
                lo = min(((cost(a * lo0, hi), a * lo0) for a in grid if a * lo0 <= lo * 0.5),
                         default=(0, lo))[1]
        return lo, hi


def _qparams(lo: float, hi: float, levels: int) -> tuple[float, float]:
    scale = (hi - lo) / levels
    zp = round(-lo / scale) if scale > 0 else 0.0
    return scale, zp


def _mse(c: np.ndarray, n: np.ndarray, zeros: int, lo: float, hi: float, levels: int) -> float:
    """Expected squared error of quantizing a histogram to the grid of range [lo, hi]: s^2/12 for
    values inside it, the clipping error for values outside (exact zeros cost nothing)."""
    scale, zp = _qparams(lo, hi, levels)
    if scale <= 0:
        return float(np.sum(n * c * c))
    qlo, qhi = -zp * scale, (levels - zp) * scale
    clipped = np.clip(c, qlo, qhi)
    inside = (c >= qlo) & (c <= qhi)
    return float(np.sum(n * (c - clipped) ** 2) + np.sum(n[inside]) * scale * scale / 12.0)


def _kl(c: np.ndarray, n: np.ndarray, width: float, lo: float, hi: float, levels: int) -> float:
    """KL(P || Q) as TensorRT's entropy calibration: P the histogram restricted to the range with
    the mass outside it folded onto the edge bins; Q the in-range histogram without that mass,
    each quantization level's total spread evenly over the level's occupied bins."""
    scale, zp = _qparams(lo, hi, levels)
    if scale <= 0:
        return math.inf
    qlo, qhi = -zp * scale, (levels - zp) * scale
    inside = (c >= qlo) & (c <= qhi)
    if not inside.any() or (qhi - qlo) < levels * width:
        return math.inf  # as TensorRT: at least one histogram bin per quantization level
    ci, hist = c[inside], n[inside]
    p = hist.copy()
    p[0] += n[c < qlo].sum()
    p[-1] += n[c > qhi].sum()
    q = np.clip(np.round(ci / scale) + zp, 0, levels).astype(np.int64)
    mass = np.bincount(q, weights=hist, minlength=levels + 1)
    occupied = np.bincount(q, minlength=levels + 1)
    qd = mass[q] / occupied[q]
    p, qd = p / p.sum(), qd / qd.sum()
    qd = np.maximum(qd, 1e-12)
    return float(np.sum(p * np.log(p / qd)))

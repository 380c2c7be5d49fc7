"""Bias correction: the float bias of every CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED
absorbs the mean shift that rounding its weights to int8 gives its output.

Rounding weight w to w_q adds (w_q - w) * x to each product; on average over the calibration data
output channel c moves by sum over its taps and input channels of (w_q - w) * E[x_ci], with
E[x_ci] the mean of input channel ci observed during calibration, each tap weighted by the
fraction of output positions at which it reads the input rather than SAME padding's zeros. The correction subtracts that
shift from the bias before the bias is quantized: the weights stay as they are, only the mean
error goes. The correction is local to each op (it uses the float input statistics, not the
quantized model's), so it is one pass with no compounding across layers."""
from __future__ import annotations

import copy
from typing import Callable, Collection

import numpy as np

from ..graph import Graph
from . import rules
from .quantizer import _per_channel_weights


def _cover(size: int, out: int, k: int, stride: int, dilation: int) -> np.ndarray:
    """Per tap of a kernel of `k` taps: the fraction of the `out` output positions at which it
    reads inside an input of `size` (SAME padding as TFLite computes it; VALID gives all ones)."""
    pad = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0) // 2
    o = np.arange(out)[:, None] * stride - pad + np.arange(k)[None, :] * dilation
    return ((o >= 0) & (o < size)).mean(axis=0)


def weight_shift(opcode: str, w: np.ndarray, mean_in: np.ndarray, depth_multiplier: int = 1,
                 cover: np.ndarray | None = None) -> np.ndarray | None:
    """Expected per-output-channel shift of an op's output from int8 weight rounding, given the
    per-channel mean of its input and (convolutions) `cover[kh, kw]`, the fraction of output
    positions at which each tap reads the input; None when the shapes do not match."""
    axis = rules.WEIGHTED[opcode]
    q, scales = _per_channel_weights(w, axis)
    shape = [1] * w.ndim
    shape[axis] = -1
    dw = q.astype(np.float64) * scales.astype(np.float64).reshape(shape) - w.astype(np.float64)
    m = np.asarray(mean_in, np.float64)
    if cover is not None and opcode != "FULLY_CONNECTED":
        dw = dw * cover[None, :, :, None]
    if opcode == "CONV_2D":  # [cout, kh, kw, cin]
        return None if w.shape[3] != m.size else np.einsum("okwi,i->o", dw, m)
    if opcode == "DEPTHWISE_CONV_2D":  # [1, kh, kw, cin * multiplier]
        if w.shape[3] != m.size * depth_multiplier:
            return None
        return dw.sum(axis=(0, 1, 2)) * np.repeat(m, depth_multiplier)
    if opcode == "FULLY_CONNECTED":  # [cout, cin]
        return None if w.shape[1] != m.size else dw @ m
    return None


def correct_biases(g: Graph, channel_mean: Callable[[int], np.ndarray | None],
                   skip: Collection[int] = ()) -> Graph:
    """A copy of the prepared float graph `g` with the bias of each weighted op shifted by
    -weight_shift; `channel_mean(tensor_index)` gives an input's per-channel calibration mean.
    Ops whose index is in `skip` (those with weights other than int8) keep their bias."""
    g = copy.deepcopy(g)
    sg = g.subgraphs[0]
    T = sg.tensors
    for op in sg.operators:
        if op.opcode not in rules.WEIGHTED or op.index in skip or len(op.inputs) < 3 or op.inputs[2] < 0:
            continue
        x, w, b = (T[i] for i in op.inputs[:3])
        if not (w.is_const and b.is_const):
            continue
        m = channel_mean(x.index)
        if m is None:
            continue
        cover = None
        y = T[op.outputs[0]]
        if op.opcode != "FULLY_CONNECTED" and len(x.shape) == 4 and len(y.shape) == 4:
            o = op.options
            cover = np.outer(
                _cover(x.shape[1], y.shape[1], w.shape[1], o.get("StrideH", 1), o.get("DilationHFactor", 1) or 1),
                _cover(x.shape[2], y.shape[2], w.shape[2], o.get("StrideW", 1), o.get("DilationWFactor", 1) or 1))
        shift = weight_shift(op.opcode, w.data, m, int(op.options.get("DepthMultiplier", 1) or 1), cover)
        if shift is None or shift.size != b.data.size:
            continue
        b.data = (b.data.astype(np.float64) - shift.reshape(b.data.shape)).astype(np.float32)
    return g

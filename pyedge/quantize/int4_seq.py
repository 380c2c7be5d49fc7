"""Sequential GPTQ for int4 weights: each int4 layer rounded against the inputs it receives at run time.

layer_hessians takes each layer's input statistics from the float model; the quantized model feeds
it other inputs (earlier layers' int4 weights, int8 activations). Here the int4 layers are solved
one at a time in graph order: for layer k, the model with layers before k already int4 (and every
activation int8) is run by TFLite's reference kernels, and its input x_q to layer k (dequantized
int8) is paired with the float model's x_f. The rounding minimises sum ||W_q x_q - W x_f||^2:
with H = sum x_q x_q^T and C = sum x_q x_f^T (both with the bias's constant input), that is
(W_q - W*) H (W_q - W*)^T plus a constant, W* = W C^T H^-1, so GPTQ runs on the target W* (bias
column included, which corrects the bias for the input shift) with H.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .int4 import _patches, _with_ones

MODES = ("full", "bias")


@dataclass
class SequentialStats:
    """One layer's statistics: `h` = sum x_q x_q^T and `cross` = sum x_q x_f^T, shaped like
    layer_hessians' H ([K + 1, K + 1]; depthwise [C, taps + 1, taps + 1])."""

    h: np.ndarray
    cross: np.ndarray
    mode: str = "full"  # target_weights' mode
    result: tuple | None = field(default=None, repr=False)  # the rounding, once computed

    @property
    def shape(self) -> tuple[int, ...]:
        return self.h.shape


def _rows(x: np.ndarray, op, w_shape) -> np.ndarray:
    """The layer's input rows with the constant 1: [R, K + 1], or depthwise [R, taps + 1, C]."""
    if op.opcode == "FULLY_CONNECTED":
        return _with_ones(x.reshape(-1, w_shape[1]))
    p = _patches(x, w_shape[1], w_shape[2], op.options)
    if op.opcode == "CONV_2D":
        return _with_ones(p.reshape(p.shape[0], -1))
    p = p.reshape(p.shape[0], -1, p.shape[3])
    return np.concatenate([p, np.ones((p.shape[0], 1, p.shape[2]))], axis=1)


def _moments(a: np.ndarray, b: np.ndarray, depthwise: bool) -> np.ndarray:
    return np.einsum("rtc,ruc->ctu", a, b) if depthwise else a.T @ b


def _dequantized(t, v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64)
    if t.scales is None or len(t.scales) == 0:
        return v
    return (v - float(t.zero_point)) * float(t.scale)


def _quantized_sample(runner, sample: Sequence) -> list:
    """A float sample as the integer inputs of the quantized model (TFLite's QUANTIZE rounding:
    half away from zero), float inputs left as they are."""
    out = []
    for d, x in zip(runner.inputs, sample):
        x = np.asarray(x)
        dt = np.dtype(d["dtype"])
        scale, zp = d["quantization"]
        if dt.kind in "iu" and x.dtype.kind == "f" and scale:
            v = x.astype(np.float64) / scale
            v = np.sign(v) * np.floor(np.abs(v) + 0.5) + zp
            info = np.iinfo(dt)
            x = np.clip(v, info.min, info.max).astype(dt)
        out.append(x)
    return out


def sequential_stats(model: bytes, graph, samples: Sequence, op_indices: Sequence[int],
                     quantized: Callable[[dict], bytes], mode: str = "full") -> dict[int, SequentialStats]:
    """{op index: SequentialStats} for the int4 ops `op_indices` of the prepared float `graph`, in
    graph order. `quantized(stats)` returns the int8 model (bytes) with the ops in `stats` int4
    (rounded from those statistics) and the others int8. `mode`: target_weights'."""
    if mode not in MODES:
        raise ValueError(f"unknown sequential mode {mode!r}; modes: {', '.join(MODES)}")
    from ..tflite_reader import read_tflite
    from .int4 import int8_twin
    from .reference import ReferenceRunner

    sg = graph.subgraphs[0]
    wanted = set(op_indices)
    ops = [op for op in sg.operators if op.index in wanted]
    float_runner = ReferenceRunner(model, observe=sorted({op.inputs[0] for op in ops}))
    stats: dict[int, SequentialStats] = {}
    for op in ops:
        w_shape = sg.tensors[op.inputs[1]].shape
        name = sg.tensors[op.inputs[0]].name
        qmodel = int8_twin(quantized(stats))
        qsg = read_tflite(qmodel).subgraphs[0]
        found = [i for i, t in enumerate(qsg.tensors) if t.name == name]
        if not found:
            raise ValueError(f"operator {op.index} ({op.opcode}): input tensor {name!r} is not in the quantized model")
        qi = found[0]
        q_runner = ReferenceRunner(qmodel, observe=[qi])
        depthwise = op.opcode == "DEPTHWISE_CONV_2D"
        h = cross = None
        for s in samples:
            _, fv = float_runner.run(s, [op.inputs[0]])
            _, qv = q_runner.run(_quantized_sample(q_runner, s), [qi])
            xf = _rows(np.asarray(fv[op.inputs[0]], np.float64), op, w_shape)
            xq = _rows(_dequantized(qsg.tensors[qi], qv[qi]), op, w_shape)
            hh, cc = _moments(xq, xq, depthwise), _moments(xq, xf, depthwise)
            h, cross = (hh, cc) if h is None else (h + hh, cross + cc)
        stats[op.index] = SequentialStats(h, cross, mode)
    return stats


def target_weights(opcode: str, w: np.ndarray, bias: np.ndarray | None, st: SequentialStats,
                   mode: str = "full", damp: float = 1e-3) -> tuple[np.ndarray, np.ndarray | None]:
    """The float weights and bias GPTQ rounds towards on the quantized inputs. "full": W* = W C^T
    H^-1, which applied to the quantized inputs best reproduces the float layer's output on the
    float inputs (least squares over the calibration data; without a bias the constant input is
    left out). "bias": the float weights, the bias moved by W (mean x_f - mean x_q), the shift of
    the inputs' means only."""
    w64 = np.asarray(w, np.float64)
    depthwise = opcode == "DEPTHWISE_CONV_2D"
    if depthwise:
        _, kh, kw, oc = w.shape
        rows = w64.reshape(kh * kw, oc).T
    else:
        oc = w.shape[0]
        rows = w64.reshape(oc, -1)
    k = rows.shape[1]
    if bias is not None:
        aug = np.concatenate([rows, np.asarray(bias, np.float64).reshape(oc, 1)], axis=1)
        h, c = st.h, st.cross
    else:
        aug = rows
        h, c = st.h[..., :k, :k], st.cross[..., :k, :k]

    def solve(hh: np.ndarray, cc: np.ndarray, ww: np.ndarray) -> np.ndarray:
        # ridge relative to each input's own energy (a shared one would pull the bias, whose
        # input energy is the sample count, towards zero); dead inputs get a unit one
        d = np.diag(hh)
        hh = hh + np.diag(np.where(d > 0, d * damp, 1.0))
        # W* = W C^T H^-1  <=>  H W*^T = C W^T
        return np.linalg.solve(hh, cc @ ww.T).T

    if mode not in MODES:
        raise ValueError(f"unknown sequential mode {mode!r}; modes: {', '.join(MODES)}")
    if mode == "bias":
        new = aug.copy()
        if bias is not None:  # b + W (mean x_f - mean x_q)
            n = float(st.h[(0,) * (st.h.ndim - 2) + (-1, -1)])
            if depthwise:
                ch = np.arange(oc) // (oc // st.h.shape[0])
                shift = st.cross[ch, -1, :k] / n - st.h[ch, -1, :k] / n
                new[:, k] += (rows * shift).sum(axis=1)
            else:
                new[:, k] += rows @ (st.cross[-1, :k] / n - st.h[-1, :k] / n)
    elif depthwise:
        mult = oc // h.shape[0]
        new = np.stack([solve(h[o // mult], c[o // mult], aug[o:o + 1])[0] for o in range(oc)])
    else:
        new = solve(h, c, aug)
    nb = new[:, k] if bias is not None else None
    nw = new[:, :k]
    nw = nw.T.reshape(w.shape) if depthwise else nw.reshape(w.shape)
    return nw.astype(np.float64), nb

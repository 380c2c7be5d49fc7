"""int4 weights for CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (TFLite's TensorType INT4).

Symmetric (zero point 0) values in [-8, 7], one scale per output channel (FULLY_CONNECTED too:
one scale per tensor cost the sine model 18 dB; TFLite 2.14 refuses per-channel int4
FULLY_CONNECTED, so such models are checked against their INT8 twin, docs/oracles.md). With 16
levels the min/max scale (max |w| / 7) wastes most of them on a few large weights, so each scale
is chosen by a range search: the clip c minimising sum (w - s q(w))^2 with s = c / 7, over a
grid of clips from 0.2 to 1 times max |w| (then refined around the best). The values are then
rounded by GPTQ against the layer's calibration inputs, with the bias corrected (below).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from ..graph import INT4

QMIN, QMAX = -8, 7
WEIGHT_TYPES = ("int8", "int4")
# Operator versions stay the int8 ones: op_version.cc gives int4 weights versions 7 (CONV_2D,
# DEPTHWISE_CONV_2D) and 10 (FULLY_CONNECTED), which TFLite 2.14's resolvers do not register
# (they stop at 6, 6 and 9) although its kernels run int4 weights.
PER_OP_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}


def _quantize(w: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.clip(np.round(w / scale), QMIN, QMAX)


def search_scales(rows: np.ndarray, steps: int = 80, h: np.ndarray | None = None) -> np.ndarray:
    """The int4 scale of each row of `rows` [n, k] (float64) minimising the rounding error
    sum (w - s q)^2, or with `h` ([k, k], or [n, k, k] one per row) the layer-output error
    (w - s q)^T h (w - s q)."""
    amax = np.abs(rows).max(axis=1)
    amax = np.where(amax > 0, amax, 1.0)
    best_err = np.full(rows.shape[0], np.inf)
    best = amax / QMAX

    def trial(frac: np.ndarray) -> None:
        nonlocal best_err, best
        s = (amax * frac / QMAX)[:, None]
        d = rows - s * _quantize(rows, s)
        if h is None:
            err = (d ** 2).sum(axis=1)
        elif h.ndim == 2:
            err = ((d @ h) * d).sum(axis=1)
        else:
            err = np.einsum("nk,nkj,nj->n", d, h, d)
        better = err < best_err
        best_err = np.where(better, err, best_err)
        best = np.where(better, s[:, 0], best)

    for f in np.linspace(0.2, 1.0, steps):
        trial(np.full(rows.shape[0], f))
    step = 0.8 / (steps - 1)
    base = best * QMAX / amax
    for d in np.linspace(-step, step, 21):
        trial(np.clip(base + d, 0.05, 1.0))
    return best


def quantize_weights(w: np.ndarray, axis: int, per_channel: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """float weights -> (int8 array of int4 values in [-8, 7], float32 scales: one per slice along
    `axis`, or one)."""
    w64 = np.asarray(w, np.float64)
    if per_channel:
        rows = np.moveaxis(w64, axis, 0).reshape(w.shape[axis], -1)
        scales = search_scales(rows).astype(np.float32)
        shape = [1] * w.ndim
        shape[axis] = -1
        s = scales.astype(np.float64).reshape(shape)
    else:
        scales = search_scales(w64.reshape(1, -1)).astype(np.float32)
        s = np.float64(scales[0])
    return _quantize(w64, s).astype(np.int8), scales


def weight_type_of(weights: str | Mapping[int, str], op_index: int) -> str:
    """The weight type of operator `op_index` (its index in the float model) under `weights`: one
    type for every weighted op, or {op_index: type} (ops not named: int8)."""
    if isinstance(weights, str):
        return weights
    return weights.get(op_index, "int8")


def check_weights_arg(weights: str | Mapping[int, str], weighted_ops: Mapping[int, str],
                      activations: str) -> None:
    """Raise ValueError for a weights argument the quantizer cannot honour (naming the problem):
    an unknown type, an operator index that is not a CONV_2D / DEPTHWISE_CONV_2D /
    FULLY_CONNECTED of the model, int4 with int16 activations. `weighted_ops`: {op index: name}."""
    if isinstance(weights, str):
        types = {weights}
    elif isinstance(weights, Mapping):
        types = set(weights.values())
        for k in weights:
            if not isinstance(k, (int, np.integer)) or int(k) not in weighted_ops:
                raise ValueError(f"weights names operator {k!r}, which is not a CONV_2D, DEPTHWISE_CONV_2D or "
                                 f"FULLY_CONNECTED of the model (those are {sorted(weighted_ops)})")
    else:
        raise ValueError(f"weights must be 'int8', 'int4' or a dict {{op_index: 'int4'|'int8'}}, not "
                         f"{type(weights).__name__}")
    bad = types - set(WEIGHT_TYPES)
    if bad:
        raise ValueError(f"unknown weight type {sorted(bad)[0]!r}; weight types: {', '.join(WEIGHT_TYPES)}")
    if "int4" in types and activations != "int8":
        raise ValueError("int4 weights need int8 activations (TFLite 2.14 computes int4 weights with int16 "
                         "activations wrongly: docs/oracles.md)")


# -- activation-aware rounding (GPTQ) --------------------------------------------------------------
#
# Rounding each weight to its nearest level minimises the weights' error, not the layer's. With the
# layer inputs' second moments H = sum x x^T over the calibration data (x: an input row of an FC,
# an im2col patch of a conv, one channel's taps of a depthwise conv), the output error of a row of
# weights w quantized to q is (w - q)^T H (w - q); GPTQ (Frantar et al., 2022) quantizes one input
# column at a time and moves that column's rounding error onto the columns not yet quantized, along
# the inverse Hessian, so the later roundings compensate it. The scales stay those of the range
# search above.

def _same_pad(size: int, k: int, stride: int, dilation: int, padding: int) -> tuple[int, int]:
    eff = (k - 1) * dilation + 1
    if padding == 1:  # VALID
        return (size - eff + stride) // stride, 0
    out = -(-size // stride)
    return out, max((out - 1) * stride + eff - size, 0) // 2


def _patches(x: np.ndarray, kh: int, kw: int, opts: dict) -> np.ndarray:
    """im2col of an NHWC float input: [N * OH * OW, kh, kw, C] (zeros in the padding)."""
    sh, sw = int(opts.get("StrideH", 1)), int(opts.get("StrideW", 1))
    dh, dw = int(opts.get("DilationHFactor", 1)), int(opts.get("DilationWFactor", 1))
    padding = int(opts.get("Padding", 0))
    n, h, w, c = x.shape
    oh, ph = _same_pad(h, kh, sh, dh, padding)
    ow, pw = _same_pad(w, kw, sw, dw, padding)
    big = np.zeros((n, h + 2 * ph + kh * dh, w + 2 * pw + kw * dw, c), np.float64)
    big[:, ph:ph + h, pw:pw + w] = x
    out = np.empty((n, oh, ow, kh, kw, c), np.float64)
    for fy in range(kh):
        for fx in range(kw):
            out[:, :, :, fy, fx] = big[:, fy * dh:fy * dh + sh * oh:sh, fx * dw:fx * dw + sw * ow:sw][:, :oh, :ow]
    return out.reshape(n * oh * ow, kh, kw, c)


def _with_ones(rows: np.ndarray) -> np.ndarray:
    return np.concatenate([rows, np.ones((rows.shape[0], 1))], axis=1)


def layer_hessians(model: bytes, graph, samples, op_indices) -> dict[int, np.ndarray]:
    """{op index: H} for the named CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED ops of the prepared
    float `graph`, from the float model run by TFLite's reference kernels over `samples`. H is
    [K + 1, K + 1] (K: the weights' inputs per output channel; the last input is the bias's
    constant 1), for depthwise [C, kh*kw + 1, kh*kw + 1]."""
    from .reference import ReferenceRunner

    sg = graph.subgraphs[0]
    ops = {op.index: op for op in sg.operators if op.index in set(op_indices)}
    inputs = sorted({op.inputs[0] for op in ops.values()})
    runner = ReferenceRunner(model, observe=inputs)
    hs: dict[int, np.ndarray] = {}
    for _, values in runner.run_all(samples, inputs):
        for k, op in ops.items():
            x = np.asarray(values[op.inputs[0]], np.float64)
            w = sg.tensors[op.inputs[1]]
            if op.opcode == "FULLY_CONNECTED":
                rows = _with_ones(x.reshape(-1, w.shape[1]))
                h = rows.T @ rows
            elif op.opcode == "CONV_2D":
                p = _patches(x, w.shape[1], w.shape[2], op.options).reshape(-1, w.shape[1] * w.shape[2] * w.shape[3])
                p = _with_ones(p)
                h = p.T @ p
            else:
                p = _patches(x, w.shape[1], w.shape[2], op.options)
                p = p.reshape(p.shape[0], -1, p.shape[3])  # [rows, taps, C]
                p = np.concatenate([p, np.ones((p.shape[0], 1, p.shape[2]))], axis=1)
                h = np.einsum("rtc,ruc->ctu", p, p)
            hs[k] = h if k not in hs else hs[k] + h
    return hs


def _gptq_rows(w: np.ndarray, scale: np.ndarray, h: np.ndarray, damp: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """GPTQ of W [n, K + 1] (rows sharing one H; the last column the bias, which is not rounded:
    it takes what the other columns' errors leave, the least-squares bias correction; scale [n])
    -> (int4 values [n, K], corrected bias [n])."""
    w = w.copy()
    h = h.copy()
    dead = np.diag(h) <= 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h += np.eye(len(h)) * damp * float(np.mean(np.diag(h)))
    # the columns with the most input energy first ("act order"): their errors get the most
    # columns to be compensated on; the bias last
    k = len(h) - 1
    perm = np.concatenate([np.argsort(-np.diag(h)[:k], kind="stable"), [k]])
    inv = np.argsort(perm[:k])
    w, h = w[:, perm], h[np.ix_(perm, perm)]
    try:
        hinv = np.linalg.cholesky(np.linalg.inv(h)).T  # upper: H^-1 = U^T U
    except np.linalg.LinAlgError:
        return _quantize(w[:, :k], scale[:, None]).astype(np.int8)[:, inv], w[:, k]
    q = np.empty((w.shape[0], k))
    for i in range(k):
        qi = np.clip(np.round(w[:, i] / scale), QMIN, QMAX)
        q[:, i] = qi
        err = (w[:, i] - qi * scale) / hinv[i, i]
        w[:, i + 1:] -= np.outer(err, hinv[i, i + 1:])
    return q[:, inv].astype(np.int8), w[:, k]


def _gptq_with(rows: np.ndarray, b: np.ndarray | None, h: np.ndarray, s: np.ndarray, depthwise: bool,
               mult: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """GPTQ of `rows` [oc, K] with scales `s` [oc] -> (values, corrected bias or None, the
    layer-output error of each row)."""
    oc = rows.shape[0]
    q = np.empty(rows.shape, np.int8)
    nb = np.empty(oc)
    err = np.empty(oc)
    groups = [(np.arange(o, o + 1), h[o // mult]) for o in range(oc)] if depthwise else [(np.arange(oc), h)]
    for idx, hh in groups:
        if b is None:  # no bias to correct: a zero column the error stays out of
            hh = np.pad(hh[:-1, :-1], ((0, 1), (0, 1)))
            hh[-1, -1] = 1.0
            r = np.concatenate([rows[idx], np.zeros((len(idx), 1))], axis=1)
        else:
            r = np.concatenate([rows[idx], b[idx]], axis=1)
        qi, bi = _gptq_rows(r, s[idx], hh)
        q[idx], nb[idx] = qi, bi
        d = r - np.concatenate([qi * s[idx, None], (bi if b is not None else np.zeros(len(idx)))[:, None]], axis=1)
        err[idx] = ((d @ hh) * d).sum(axis=1)
    return q, None if b is None else nb, err


def quantize_weights_gptq(w: np.ndarray, axis: int, bias: np.ndarray | None, h: np.ndarray, opcode: str,
                          per_channel: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """int4 values rounded by GPTQ against the layer's input statistics `h` (layer_hessians), with
    per channel the better of two scales: the weights' own MSE range search and the one minimising
    the layer-output error of nearest rounding (measured after GPTQ, per channel). Returns (values,
    scales, corrected float bias or None when the op has none)."""
    w64 = np.asarray(w, np.float64)
    depthwise = opcode == "DEPTHWISE_CONV_2D"
    if depthwise:
        _, kh, kw, oc = w.shape
        rows = w64.reshape(kh * kw, oc).T  # [oc, taps]
        mult = oc // h.shape[0]
        hw = h[np.arange(oc) // mult, :-1, :-1]
    else:
        oc = w.shape[0]
        rows = w64.reshape(oc, -1)
        mult = 1
        hw = h[:-1, :-1]
    b = None if bias is None else np.asarray(bias, np.float64).reshape(oc, 1)
    candidates = [quantize_weights(w, axis, per_channel)[1]]
    if per_channel:
        candidates.append(search_scales(rows, 40, hw).astype(np.float32))
    best = None
    for scales in candidates:
        s = np.ascontiguousarray(np.broadcast_to(scales.astype(np.float64), (oc,)))
        q, nb, err = _gptq_with(rows, b, h, s, depthwise, mult)
        if best is None:
            best = [q, scales.copy(), nb, err]
            continue
        pick = err < best[3]
        best[0][pick], best[1][pick], best[3][pick] = q[pick], scales[pick], err[pick]
        if nb is not None:
            best[2][pick] = nb[pick]
    q, scales, nb, _ = best
    return (q.T.reshape(w.shape) if depthwise else q.reshape(w.shape)), scales, nb


def gptq_applies(opcode: str, w_shape: tuple, hessian: np.ndarray | None) -> bool:
    """Whether quantize() rounds this op by GPTQ (which corrects its bias too): the layer's input
    statistics exist and fit its weights (a grouped conv's patches are wider than its filter)."""
    if hessian is None:
        return False
    k = w_shape[1] * w_shape[2] if opcode == "DEPTHWISE_CONV_2D" else int(np.prod(w_shape[1:]))
    return hessian.shape[-1] == k + 1


def quantize(opcode: str, w: np.ndarray, axis: int, bias: np.ndarray | None,
             hessian: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(int4 values, scales, corrected float bias or None) of one op's weights: GPTQ with bias
    correction where the layer's input statistics fit its weights, else nearest rounding."""
    per_channel = True
    if gptq_applies(opcode, w.shape, hessian):
        from .int4_seq import SequentialStats, target_weights

        if isinstance(hessian, SequentialStats):  # sequential GPTQ (int4_seq.py)
            if hessian.result is None:
                tw, tb = target_weights(opcode, w, bias, hessian, hessian.mode)
                hessian.result = quantize_weights_gptq(tw, axis, tb, hessian.h, opcode, per_channel)
            return hessian.result
        return quantize_weights_gptq(w, axis, bias, hessian, opcode, per_channel)
    return (*quantize_weights(w, axis, per_channel), None)


def int8_twin(model: bytes) -> bytes:
    """The model with every INT4 tensor retyped INT8 (the same values, one per byte): what the
    int4 model computes, in a form TFLite 2.14's reference kernels run for every op (they refuse
    per-channel int4 FULLY_CONNECTED: docs/oracles.md)."""
    from ..tflite_reader import read_tflite
    from ..tflite_writer import write_tflite

    g = read_tflite(model)
    changed = False
    for sg in g.subgraphs:
        for t in sg.tensors:
            if t.type_code == INT4:
                t.type_code, changed = 9, True
    return write_tflite(g) if changed else model

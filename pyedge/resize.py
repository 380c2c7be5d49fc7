"""New input shapes for a .tflite graph, propagated op by op as TFLite's Prepare functions
compute them, so the packer can re-plan the model (Interpreter.resize_tensor_input followed by
allocate_tensors). Each rule reproduces the output shape TFLite computes and refuses what
TFLite's Prepare refuses (element counts that do not match, broadcasts that do not, ...); the
lowering then checks everything else it checks for any model (state sizes, weight shapes).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

import numpy as np

from .errors import ResizeError
from .graph import Graph, Operator, Subgraph, Tensor

Shape = tuple[int, ...]




def _in(sg: Subgraph, op: Operator, k: int) -> Tensor | None:
    return sg.tensors[op.inputs[k]] if k < len(op.inputs) and op.inputs[k] >= 0 else None


def _const(sg: Subgraph, op: Operator, k: int, what: str) -> list[int] | None:
    t = _in(sg, op, k)
    if t is None:
        return None
    if t.data is None:
        raise ResizeError(f"its {what} (input {k}) is computed at run time, so pyedge cannot plan it ahead")
    return [int(v) for v in t.data.reshape(-1)]


def _same(sg, op, shapes):
    return [shapes[0]]


def _broadcast(sg, op, shapes):
    a, b = shapes[0], shapes[1]
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            raise ResizeError(f"shapes {shapes[0]} and {shapes[1]} do not broadcast")
        out.append(y if x == 1 else x)
    return [tuple(out)]


def _out_size(padding: int, size: int, k: int, stride: int, dilation: int) -> int:
    """TFLite's ComputeOutSize (padding 0: SAME, 1: VALID)."""
    if stride <= 0:
        raise ResizeError(f"stride {stride}")
    k_eff = (k - 1) * dilation + 1
    return (size + stride - 1) // stride if padding == 0 else (size + stride - k_eff) // stride


def _spatial(op: Operator, x: Shape, kh: int, kw: int, dil: bool) -> tuple[int, int]:
    if len(x) != 4:
        raise ResizeError(f"input shape {x} is not 4-D")
    o = op.options
    dh, dw = (int(o.get("DilationHFactor", 1)), int(o.get("DilationWFactor", 1))) if dil else (1, 1)
    oh = _out_size(int(o.get("Padding", 0)), x[1], kh, int(o.get("StrideH", 1)), dh)
    ow = _out_size(int(o.get("Padding", 0)), x[2], kw, int(o.get("StrideW", 1)), dw)
    if oh <= 0 or ow <= 0:
        raise ResizeError(f"input {x} is smaller than the {kh}x{kw} window")
    return oh, ow


def _conv(sg, op, shapes):
    x, f = shapes[0], _in(sg, op, 1).shape
    if x[3] % f[3] != 0:
        raise ResizeError(f"{x[3]} input channels are not a multiple of the filter's {f[3]}")
    oh, ow = _spatial(op, x, f[1], f[2], True)
    return [(x[0], oh, ow, f[0])]


def _depthwise(sg, op, shapes):
    x, f = shapes[0], _in(sg, op, 1).shape
    oh, ow = _spatial(op, x, f[1], f[2], True)
    return [(x[0], oh, ow, f[3])]


def _pool(sg, op, shapes):
    x = shapes[0]
    oh, ow = _spatial(op, x, int(op.options.get("FilterHeight", 1)), int(op.options.get("FilterWidth", 1)), False)
    return [(x[0], oh, ow, x[3])]


def _fully_connected(sg, op, shapes):
    x, w = shapes[0], _in(sg, op, 1).shape
    depth, units = w[-1], w[0]
    n = math.prod(x)
    if depth == 0 or n % depth:
        raise ResizeError(f"input {x} ({n} elements) does not split into rows of the weights' depth {depth}")
    if op.options.get("KeepNumDims", False):
        if x[-1] != depth:
            raise ResizeError(f"input {x}: last dimension is not the weights' depth {depth}")
        return [x[:-1] + (units,)]
    return [(n // depth, units)]


def _reshape(sg, op, shapes):
    x, shape_t = shapes[0], _in(sg, op, 1)
    if shape_t is not None and len(shape_t.shape) == 1:  # reshape.cc: a 1-D shape input wins
        new = _const(sg, op, 1, "shape")
    else:
        new = [int(v) for v in op.options.get("NewShape", [])]
    n = math.prod(x)
    if new.count(-1) > 1:
        raise ResizeError(f"new shape {new} has more than one -1")
    known = math.prod(d for d in new if d != -1)
    if -1 in new:
        if known == 0 or n % known:
            raise ResizeError(f"{n} elements do not fill new shape {new}")
        new = [n // known if d == -1 else d for d in new]
    if math.prod(new) != n:
        raise ResizeError(f"{n} input elements do not make new shape {new} ({math.prod(new)} elements)")
    return [tuple(new)]


def _squeeze(sg, op, shapes):
    x = shapes[0]
    dims = [d % len(x) for d in op.options.get("SqueezeDims", [])] if x else []
    return [tuple(s for d, s in enumerate(x) if not ((d in dims) if dims else s == 1))]


def _expand_dims(sg, op, shapes):
    x = shapes[0]
    a = _const(sg, op, 1, "axis")[0]
    a = a + len(x) + 1 if a < 0 else a
    return [x[:a] + (1,) + x[a:]]


def _reduce(sg, op, shapes):
    x = shapes[0]
    axes = {a % len(x) for a in _const(sg, op, 1, "axis")}
    if op.options.get("KeepDims", False):
        return [tuple(1 if d in axes else s for d, s in enumerate(x))]
    return [tuple(s for d, s in enumerate(x) if d not in axes)]


def _pad(sg, op, shapes):
    x = shapes[0]
    p = _const(sg, op, 1, "paddings")
    return [tuple(s + p[2 * d] + p[2 * d + 1] for d, s in enumerate(x))]


def _transpose(sg, op, shapes):
    x = shapes[0]
    return [tuple(x[p] for p in _const(sg, op, 1, "permutation"))]


def _concatenation(sg, op, shapes):
    axis = int(op.options.get("Axis", 0)) % len(shapes[0])
    first = shapes[0]
    for s in shapes[1:]:
        if len(s) != len(first) or any(a != b for d, (a, b) in enumerate(zip(s, first)) if d != axis):
            raise ResizeError(f"inputs {shapes} differ outside axis {axis}")
    return [first[:axis] + (sum(s[axis] for s in shapes),) + first[axis + 1:]]


def _lstm(sg, op, shapes):
    x = shapes[0]
    n_output = _in(sg, op, 8).shape[1]  # recurrent_to_output_weights [n_cell, n_output]
    if len(x) != 3:
        raise ResizeError(f"input {x} is not [batch, time, features]")
    return [x[:2] + (n_output,)]


def _svdf(sg, op, shapes):
    x = shapes[0]
    rank = int(op.options.get("Rank", 1))
    return [(x[0], _in(sg, op, 1).shape[0] // max(rank, 1))]


RULES: dict[str, Callable[[Subgraph, Operator, list[Shape]], list[Shape]]] = {
    **{name: _same for name in ("RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LOGISTIC", "TANH",
                                "HARD_SWISH", "LEAKY_RELU", "QUANTIZE", "DEQUANTIZE", "SOFTMAX", "CAST", "SQRT", "RSQRT")},
    **{name: _broadcast for name in ("ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM", "PRELU", "DIV", "FLOOR_DIV")},
    "CONV_2D": _conv, "DEPTHWISE_CONV_2D": _depthwise, "AVERAGE_POOL_2D": _pool, "MAX_POOL_2D": _pool,
    "FULLY_CONNECTED": _fully_connected, "RESHAPE": _reshape, "SQUEEZE": _squeeze,
    "EXPAND_DIMS": _expand_dims, "MEAN": _reduce, "SUM": _reduce, "PAD": _pad, "PADV2": _pad,
    "TRANSPOSE": _transpose, "CONCATENATION": _concatenation, "UNIDIRECTIONAL_SEQUENCE_LSTM": _lstm,
    "SVDF": _svdf,
}


def _with_values(sg: Subgraph, op: Operator, values: dict[int, np.ndarray]) -> Subgraph:
    """`sg` as `op` sees it with the values computed during the resize as constants."""
    mine = [t for t in op.inputs if t in values]
    if not mine:
        return sg
    tensors = list(sg.tensors)
    for t in mine:
        tensors[t] = dataclasses.replace(tensors[t], data=values[t])
    return dataclasses.replace(sg, tensors=tensors)


def _evaluate(sg: Subgraph, op: Operator, values: dict[int, np.ndarray], where: str) -> list[np.ndarray]:
    from .errors import PyedgeError
    from .simplify import evaluate_op
    view = _with_values(sg, op, values)
    try:
        outs = evaluate_op(view, op)
    except PyedgeError as exc:
        raise ResizeError(f"{where}: {exc}") from None
    return [np.ascontiguousarray(v, dtype=sg.tensors[t].dtype).reshape(sg.tensors[t].shape)
            for t, v in zip(op.outputs, outs)]


def resize_inputs(graph: Graph, shapes: dict[int, Sequence[int]]) -> None:
    """Give subgraph 0's inputs `shapes` (tensor index -> shape) and recompute every activation
    shape downstream, in place. Raises ResizeError naming the op that cannot take it."""
    sg = graph.subgraphs[0]
    values: dict[int, np.ndarray] = {}
    for i, s in shapes.items():
        sg.tensors[i].shape = tuple(int(d) for d in s)
    changed = set(shapes)
    for op in sg.operators:
        if not any(t in changed for t in op.inputs if t >= 0):
            continue
        where = f"operator {op.index} ({op.opcode})"
        # SHAPE's value changes (its shape does not), and so do the values computed from it: kept
        # aside for the ops that read them as constants (RESHAPE's new shape); the packer folds
        # the same values again (pyedge/simplify.py)
        if op.opcode == "SHAPE" and len(op.outputs) == 1:
            y = sg.tensors[op.outputs[0]]
            values[op.outputs[0]] = np.array(sg.tensors[op.inputs[0]].shape, y.dtype).reshape(y.shape)
            changed.add(op.outputs[0])
            continue
        present = [t for t in op.inputs if t >= 0]
        if present and all(sg.tensors[t].data is not None or t in values for t in present):
            for t, v in zip(op.outputs, _evaluate(sg, op, values, where)):
                values[t] = v
                changed.add(t)
            continue
        rule = RULES.get(op.opcode)
        if rule is None:
            raise ResizeError(f"{where}: pyedge cannot re-plan this op for new input shapes "
                              f"(it re-plans {', '.join(sorted(RULES))})")
        ins = [sg.tensors[t].shape if t >= 0 else () for t in op.inputs]
        try:
            outs = rule(_with_values(sg, op, values), op, ins)
        except ResizeError as exc:
            raise ResizeError(f"{where}: {exc}") from None
        except (IndexError, KeyError, TypeError, ZeroDivisionError) as exc:
            raise ResizeError(f"{where}: inputs {ins} do not fit the op ({type(exc).__name__})") from None
        for t, s in zip(op.outputs, outs):
            out = sg.tensors[t]
            if out.is_variable or out.data is not None:
                raise ResizeError(f"{where}: output tensor {t} is a constant or variable of fixed shape")
            out.shape = tuple(int(d) for d in s)
            if any(d < 0 for d in out.shape):
                raise ResizeError(f"{where}: output shape {out.shape} has a negative dimension")
            changed.add(t)

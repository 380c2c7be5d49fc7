"""Float Graph -> fully integer Graph: int8 activations (asymmetric, per tensor), int8 weights
(symmetric, per channel) for CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED, int32 biases of scale
input_scale * weight_scale, the op constraints of TFLite's converter, and int8, uint8 or float
model inputs and outputs."""
from __future__ import annotations

import copy
from typing import Callable

import numpy as np
import tflite

from ..errors import PyedgeError
from ..graph import Graph, Operator, Subgraph, Tensor
from ..quant import tflite_round
from . import int4, rules

FLOAT32, FLOAT16, INT32, UINT8, INT64, INT16, INT8 = 0, 1, 2, 3, 4, 7, 9
IO_TYPES = ("int8", "uint8", "int16", "float")
ACTIVATION_TYPES = ("int8", "int16")


class QuantizationError(PyedgeError):
    """The float model cannot be quantized (names the ops and why)."""


# -- preparing the float graph -------------------------------------------------------------------

def _dequantized(t: Tensor) -> np.ndarray:
    data = t.data
    if t.type_code == FLOAT16 or not t.quantized:
        return data.astype(np.float32)
    scales = t.scales.astype(np.float32)
    zps = t.zero_points.astype(np.float32)
    if len(scales) > 1:
        shape = [1] * data.ndim
        shape[t.quantized_dimension] = -1
        scales, zps = scales.reshape(shape), zps.reshape(shape)
    return ((data.astype(np.float32) - zps) * scales).astype(np.float32)


def prepare_float_graph(g: Graph) -> Graph:
    """A copy of `g` with DEQUANTIZE of constants (float16 or int8 weights, as converters ship
    them) folded into float32 constants; refuses what is not a single-subgraph float model."""
    if len(g.subgraphs) != 1:
        raise QuantizationError(f"the model has {len(g.subgraphs)} subgraphs; the quantizer takes "
                                f"single-subgraph models")
    g = copy.deepcopy(g)
    sg = g.subgraphs[0]
    kept = []
    for op in sg.operators:
        if op.opcode == "DEQUANTIZE" and op.inputs and sg.tensors[op.inputs[0]].is_const:
            src, dst = sg.tensors[op.inputs[0]], sg.tensors[op.outputs[0]]
            dst.data = _dequantized(src).reshape(dst.shape)
            dst.type_code = FLOAT32
            continue
        kept.append(op)
    sg.operators = kept
    acts = [t for t in sg.tensors if t.type_code == FLOAT32 and not t.is_const]
    if not acts:
        raise QuantizationError("the model has no float32 activations: it is not a float model")
    quantized = [t for t in sg.tensors if not t.is_const and t.type_code in (INT8, UINT8, INT16) and t.quantized]
    if quantized:
        raise QuantizationError(f"the model is already quantized (tensor {quantized[0].name!r} is "
                                f"{quantized[0].type_name})")
    return g


def activation_tensors(g: Graph) -> list[int]:
    """Indices of the float32 activations (non-constant) of the prepared graph."""
    return [t.index for t in g.subgraphs[0].tensors if t.type_code == FLOAT32 and not t.is_const]


# -- quantization parameters -------------------------------------------------------------------

def choose_qparams(lo: float, hi: float, qmin: int = -128, qmax: int = 127) -> tuple[float, int]:
    """Scale and nudged zero point of an asymmetric range, as TFLite's converter chooses them."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-8:
        hi = lo + 1e-8
    scale = float(np.float32((hi - lo) / (qmax - qmin)))
    zp_from_min = qmin - lo / scale
    zp = qmin if zp_from_min < qmin else qmax if zp_from_min > qmax else int(tflite_round(zp_from_min))
    return scale, int(zp)


def choose_qparams_symmetric(lo: float, hi: float, qmax: int = 32767) -> tuple[float, int]:
    """int16 activations: symmetric, zero point 0, scale max(|min|, |max|) / 32767."""
    amax = max(abs(float(lo)), abs(float(hi)), 1e-8)
    return float(np.float32(amax / qmax)), 0


def _quantize_values(x: np.ndarray, scale, zp, qmin: int, qmax: int, dtype) -> np.ndarray:
    q = np.round(np.asarray(x, np.float64) / np.asarray(scale, np.float64)) + zp
    return np.clip(q, qmin, qmax).astype(dtype)


def _per_channel_weights(w: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 in [-127, 127], one scale per slice along `axis`."""
    moved = np.moveaxis(w.astype(np.float64), axis, 0).reshape(w.shape[axis], -1)
    amax = np.abs(moved).max(axis=1)
    scales = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scales.astype(np.float64).reshape(shape)), -127, 127).astype(np.int8)
    return q, scales


# -- union-find over tensors that must share quantization ------------------------------------------

class _Groups:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, i: int) -> int:
        self.parent.setdefault(i, i)
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def _data_inputs(op: Operator) -> list[int]:
    spec = rules.SAME_SCALE[op.opcode]
    idx = range(len(op.inputs)) if spec is None else [k for k in spec if k < len(op.inputs)]
    return [op.inputs[k] for k in idx if op.inputs[k] >= 0]


def check_quantizable(g: Graph, activations: str = "int8") -> None:
    """Raise QuantizationError naming every op the quantizer cannot handle, with the reason."""
    sg = g.subgraphs[0]
    bad = []
    for op in sg.operators:
        floats = [i for i in op.inputs + op.outputs if i >= 0 and sg.tensors[i].type_code == FLOAT32]
        if not floats:
            continue
        if op.opcode not in rules.QUANTIZABLE:
            name = op.custom_code if op.opcode == "CUSTOM" else op.opcode
            bad.append(f"operator {op.index} ({name}): {rules.why_not(op.opcode)}")
        elif activations == "int16" and op.opcode in rules.NOT_INT16:
            bad.append(f"operator {op.index} ({op.opcode}): no int16 kernel (int8 only)")
        elif op.opcode in rules.WEIGHTED:
            w = sg.tensors[op.inputs[1]]
            if not w.is_const:
                bad.append(f"operator {op.index} ({op.opcode}): its weights are not constant")
    if bad:
        raise QuantizationError("cannot quantize " + "; ".join(bad) + "; quantizable ops: "
                                + ", ".join(sorted(rules.QUANTIZABLE)))


def quantize_graph(g: Graph, act_range: Callable[[int], tuple[float, float]], io: str | None = None,
                   activations: str = "int8", weights: str | dict[int, str] = "int8",
                   hessians: dict[int, np.ndarray] | None = None) -> Graph:
    """The fully integer version of the prepared float graph `g`. `act_range(tensor_index)`
    gives the calibrated (min, max) of each float activation. `activations` int8, or int16
    (TFLite's 16x8: int16 symmetric activations, int8 weights, int64 biases); `io` the model
    inputs' and outputs' type: the activations' own (default), uint8 (int8 models), or float.
    `weights`: "int8", "int4" (pyedge/quantize/int4.py) or {float-model op index: type};
    `hessians`: int4.layer_hessians of the int4 ops, for activation-aware rounding (else nearest)."""
    if activations not in ACTIVATION_TYPES:
        raise QuantizationError(f"activations must be one of {ACTIVATION_TYPES}, not {activations!r}")
    io = io or activations
    allowed = ("int8", "uint8", "float") if activations == "int8" else ("int16", "float")
    if io not in allowed:
        raise QuantizationError(f"io {io!r} with {activations} activations: choose one of {', '.join(allowed)}")
    check_quantizable(g, activations)
    try:
        int4.check_weights_arg(weights, {op.index: op.opcode for op in g.subgraphs[0].operators
                                         if op.opcode in rules.WEIGHTED}, activations)
    except ValueError as exc:
        raise QuantizationError(str(exc)) from None
    wide = activations == "int16"
    act_type, (qmin, qmax) = (INT16, (-32768, 32767)) if wide else (INT8, (-128, 127))
    fixed_rule = rules.FIXED_OUTPUT_INT16 if wide else rules.FIXED_OUTPUT
    versions = rules.INT16_VERSIONS if wide else rules.INT8_VERSIONS
    qparams = choose_qparams_symmetric if wide else choose_qparams
    g = copy.deepcopy(g)
    sg = g.subgraphs[0]
    T = sg.tensors
    acts = set(activation_tensors(g))

    # groups of tensors sharing scale and zero point
    groups = _Groups()
    fixed: dict[int, tuple[float, int]] = {}
    for op in sg.operators:
        if op.opcode in rules.SAME_SCALE:
            members = [i for i in _data_inputs(op) + op.outputs if T[i].type_code == FLOAT32]
            for m in members[1:]:
                groups.union(members[0], m)
        if op.opcode in fixed_rule:
            fixed[op.outputs[0]] = fixed_rule[op.opcode]
    ranges: dict[int, list[float]] = {}
    for i in sorted(acts | set(groups.parent)):
        t = T[i]
        lo, hi = (float(t.data.min()), float(t.data.max())) if t.is_const else act_range(i)
        r = ranges.setdefault(groups.find(i), [0.0, 0.0])
        r[0], r[1] = min(r[0], lo), max(r[1], hi)
    params: dict[int, tuple[float, int]] = {}
    for i, q in fixed.items():
        root = groups.find(i)
        if root in params and params[root] != q:
            raise QuantizationError(f"tensor {T[i].name!r} must have two different fixed quantizations")
        params[root] = q
    for root, (lo, hi) in ranges.items():
        params.setdefault(root, qparams(lo, hi))

    def set_int8(t: Tensor, scale: float, zp: int) -> None:
        if t.is_const:
            t.data = _quantize_values(t.data, scale, zp, qmin, qmax, np.int16 if wide else np.int8)
        t.type_code = act_type
        t.scales = np.array([scale], np.float32)
        t.zero_points = np.array([zp], np.int64)
        t.quantized_dimension = 0

    def new_tensor(like: Tensor, name: str, type_code: int, data: np.ndarray | None = None) -> Tensor:
        t = Tensor(index=len(T), name=name, shape=tuple(like.shape), type_code=type_code,
                   shape_signature=like.shape_signature, data=data, subgraph=0)
        T.append(t)
        return t

    for i in sorted(acts):
        set_int8(T[i], *params[groups.find(i)])

    for op in sg.operators:
        if op.opcode in rules.WEIGHTED:
            w4 = int4.weight_type_of(weights, op.index) == "int4"
            _quantize_weighted(op, T, new_tensor, wide, w4, (hessians or {}).get(op.index))
            # int4 too: op_version.cc's int4 versions (7, 7, 10) are not registered by TFLite 2.14
            op.version = max(op.version, versions[op.opcode])
            continue
        for k, i in enumerate(op.inputs):
            if i < 0 or not T[i].is_const or T[i].type_code != FLOAT32:
                continue
            src = T[i]
            c = new_tensor(src, src.name, FLOAT32, src.data.copy())
            c.name = src.name
            if i in groups.parent:
                scale, zp = params[groups.find(i)]
            else:
                scale, zp = qparams(float(src.data.min()), float(src.data.max()))
            set_int8(c, scale, zp)
            op.inputs[k] = c.index
        op.version = max(op.version, versions.get(op.opcode, op.version))
        if wide and op.opcode in ("ADD", "SUB"):
            # general int16 scales: TFLite's power-of-two-only path is the flatbuffer default
            op.options_type = op.options_type or f"{op.opcode.title()}Options"
            op.options = {**op.options, "PotScaleInt16": False}

    if io != activations:
        _convert_io(sg, io, act_type, versions)
    return _compact(g)


def _quantize_weighted(op: Operator, T: list[Tensor], new_tensor, wide: bool = False, w4: bool = False,
                       hessian: np.ndarray | None = None) -> None:
    x, w = T[op.inputs[0]], T[op.inputs[1]]
    axis = rules.WEIGHTED[op.opcode]
    new_bias = None
    if w4:
        b = T[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        q, w_scales, new_bias = int4.quantize(op.opcode, w.data, axis, None if b is None else b.data, hessian)
    else:
        q, w_scales = _per_channel_weights(w.data, axis)
    wq = new_tensor(w, w.name, int4.INT4 if w4 else INT8, q)
    wq.scales, wq.zero_points = w_scales, np.zeros(len(w_scales), np.int64)
    wq.quantized_dimension = axis
    op.inputs[1] = wq.index
    channels = w.data.shape[axis]
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        b = T[op.inputs[2]]
        b_scales = (np.float64(x.scale) * w_scales.astype(np.float64)).astype(np.float32)
        if b.data.size != channels:
            raise QuantizationError(f"operator {op.index} ({op.opcode}): bias has {b.data.size} values "
                                    f"for {channels} output channels")
        bits = 64 if wide else 32
        qb = _quantize_values(b.data if new_bias is None else new_bias, b_scales.astype(np.float64), 0, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1,
                              np.int64 if wide else np.int32)
        bq = new_tensor(b, b.name, INT64 if wide else INT32, qb)
        bq.scales, bq.zero_points = b_scales, np.zeros(len(b_scales), np.int64)
        bq.quantized_dimension = 0
        op.inputs[2] = bq.index


def _builtin(name: str) -> int:
    return getattr(tflite.BuiltinOperator, name)


def _convert_io(sg: Subgraph, io: str, act_type: int = INT8, versions: dict[str, int] = rules.INT8_VERSIONS) -> None:
    """Graph inputs and outputs of type uint8 (zero point + 128) or float32, converted at the
    edges by QUANTIZE / DEQUANTIZE as TFLite's converter does."""
    T = sg.tensors

    def split(i: int) -> int:
        """A copy of edge tensor i for the graph's inside (the original becomes the uint8 or float
        edge); returns the copy's index."""
        t = T[i]
        inner = copy.deepcopy(t)
        inner.index, inner.name = len(T), t.name + ("_int16" if act_type == INT16 else "_int8")
        T.append(inner)
        if io == "uint8":
            t.type_code, t.zero_points = UINT8, t.zero_points + 128
        else:
            t.type_code, t.scales, t.zero_points = FLOAT32, np.zeros(0, np.float32), np.zeros(0, np.int64)
        return inner.index

    def edge_op(name: str, src: int, dst: int) -> Operator:
        # uint8 <-> int8 is a version 1 QUANTIZE (a requantization) either way
        opcode = "QUANTIZE" if io == "uint8" else name
        version = 1 if io == "uint8" else versions[opcode]
        return Operator(index=-1, opcode=opcode, builtin_code=_builtin(opcode), version=version,
                        inputs=[src], outputs=[dst])

    first, last = [], []
    for i in sg.inputs:
        if T[i].type_code != act_type:
            continue
        inner = split(i)
        for op in sg.operators:
            op.inputs = [inner if j == i else j for j in op.inputs]
        sg.outputs = [inner if j == i else j for j in sg.outputs]
        first.append(edge_op("QUANTIZE", i, inner))
    for i in sg.outputs:
        if T[i].type_code != act_type:
            continue
        inner = split(i)
        for op in sg.operators:
            op.outputs = [inner if j == i else j for j in op.outputs]
            op.inputs = [inner if j == i else j for j in op.inputs]
        last.append(edge_op("DEQUANTIZE", inner, i))
    sg.operators = first + sg.operators + last
    for k, op in enumerate(sg.operators):
        op.index = k


def _compact(g: Graph) -> Graph:
    """Drop tensors no op or graph edge refers to (the float constants that were replaced);
    renumber the rest and the signatures."""
    sg = g.subgraphs[0]
    used = set(sg.inputs) | set(sg.outputs)
    for op in sg.operators:
        used |= {i for i in op.inputs + op.outputs + op.intermediates if i >= 0}
    order = [t for t in sg.tensors if t.index in used]
    remap = {t.index: k for k, t in enumerate(order)}
    for k, t in enumerate(order):
        t.index = k
    sg.tensors = order
    for k, op in enumerate(sg.operators):
        op.index = k
        op.inputs = [remap[i] if i >= 0 else -1 for i in op.inputs]
        op.outputs = [remap[i] for i in op.outputs]
        op.intermediates = [remap[i] for i in op.intermediates]
    sg.inputs = [remap[i] for i in sg.inputs]
    sg.outputs = [remap[i] for i in sg.outputs]
    for s in g.signatures:
        for key in ("inputs", "outputs"):
            s[key] = {n: remap[i] for n, i in s[key].items() if i in remap}
    return g


# -- per-layer activation types (mixed int8 / 16x8) -------------------------------------------------
#
# TFLite 2.14's QUANTIZE requantizes int16 -> int8 but refuses int8 -> int16 (and int8 -> int32),
# and so does pyedge. An int8 tensor feeding an int16 op is therefore widened without float:
# CAST int8 -> int32 (the values, keeping the int8 tensor's scale and zero point), then QUANTIZE
# int32 -> int16 (an exact fixed-point requantization to the int16 scale, zero point 0). An
# int16 tensor feeding an int8 op goes through one QUANTIZE int16 -> int8.

def resolve_layer_types(g: Graph, spec: dict) -> dict[int, str]:
    """Per operator index (of the float model) the activation type ("int8" or "int16") of every
    op with float activations, from `spec`: {op index or output tensor name: "int8"|"int16"}.
    Unnamed ops are int8; shape and data-movement ops (the shared-scale ops) take int16 when an
    op they share a scale with is int16, so the tensors they pass bytes between agree."""
    sg = g.subgraphs[0]
    T = sg.tensors
    by_index = {op.index: op for op in sg.operators}
    producer = {o: op for op in sg.operators for o in op.outputs}
    explicit: dict[int, str] = {}
    for key, kind in spec.items():
        if kind not in ACTIVATION_TYPES:
            raise QuantizationError(f"layer {key!r}: activation type must be one of {', '.join(ACTIVATION_TYPES)}, "
                                    f"not {kind!r}")
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            op = by_index.get(int(key))
            if op is None:
                raise QuantizationError(f"layer {key}: the model has no operator {key} (operators "
                                        f"{min(by_index)}..{max(by_index)})")
        elif isinstance(key, str):
            if key.lstrip("-").isdigit():
                op = by_index.get(int(key))
                if op is None:
                    raise QuantizationError(f"layer {key}: the model has no operator {key}")
            else:
                hits = [producer[t.index] for t in T if t.name == key and t.index in producer]
                if not hits:
                    raise QuantizationError(f"layer {key!r}: no operator writes a tensor of that name")
                op = hits[0]
        else:
            raise QuantizationError(f"layer {key!r}: give an operator index or an output tensor name")
        if not any(i >= 0 and T[i].type_code == FLOAT32 for i in op.inputs + op.outputs):
            raise QuantizationError(f"layer {key!r}: operator {op.index} ({op.opcode}) has no float activations")
        if kind == "int16" and op.opcode in rules.NOT_INT16:
            raise QuantizationError(f"layer {key!r}: operator {op.index} ({op.opcode}) has no int16 kernel "
                                    f"(int8 only)")
        explicit[op.index] = kind

    groups = _Groups()
    for op in sg.operators:
        if op.opcode in rules.SAME_SCALE:
            members = [i for i in _data_inputs(op) + op.outputs if T[i].type_code == FLOAT32]
            for m in members[1:]:
                groups.union(members[0], m)
            for m in members[:1]:
                groups.find(m)
    wide_roots = {groups.find(i) for op in sg.operators if explicit.get(op.index) == "int16"
                  for i in op.outputs if i in groups.parent}
    types: dict[int, str] = {}
    for op in sg.operators:
        if not any(i >= 0 and T[i].type_code == FLOAT32 for i in op.inputs + op.outputs):
            continue
        if op.opcode in rules.SAME_SCALE:
            roots = {groups.find(i) for i in op.outputs if i in groups.parent}
            types[op.index] = "int16" if roots & wide_roots else "int8"
        else:
            types[op.index] = explicit.get(op.index, "int8")
    return types


def _narrow_edges(sg: Subgraph, int8_params, conversion) -> None:
    """int8 graph edges where int16 layers meet them: the edge tensor becomes int8 and the
    layers use an int16 copy, widened after the input (CAST + QUANTIZE) or narrowed before the
    output (QUANTIZE)."""
    T = sg.tensors
    first, last = [], []

    def inner_copy(i: int) -> int:
        inner = copy.deepcopy(T[i])
        inner.index, inner.name = len(T), T[i].name + "_int16"
        T.append(inner)
        scale, zp = int8_params(i)
        t = T[i]
        t.type_code, t.scales, t.zero_points = INT8, np.array([scale], np.float32), np.array([zp], np.int64)
        return inner.index

    for i in sg.inputs:
        if T[i].type_code != INT16:
            continue
        inner = inner_copy(i)
        for op in sg.operators:
            op.inputs = [inner if j == i else j for j in op.inputs]
        sg.outputs = [inner if j == i else j for j in sg.outputs]
        first += conversion(T[i], T[inner])
    for o in sg.outputs:
        if T[o].type_code != INT16:
            continue
        inner = inner_copy(o)
        for op in sg.operators:
            op.outputs = [inner if j == o else j for j in op.outputs]
            op.inputs = [inner if j == o else j for j in op.inputs]
        last += conversion(T[inner], T[o])
    sg.operators = first + sg.operators + last


def quantize_graph_mixed(g: Graph, act_range: Callable[[int, str], tuple[float, float]], io: str | None,
                         layer_types: dict, origins: list[int] | None = None, weights: str | dict[int, str] = "int8",
                         hessians: dict[int, np.ndarray] | None = None) -> Graph:
    """The fully integer version of the prepared float graph `g` with int8 or int16 (16x8)
    activations per layer. `layer_types`: {op index or output tensor name: "int8"|"int16"}, the
    rest int8 (resolve_layer_types). `act_range(tensor_index, kind)` gives the calibrated range
    for that activation type. `io`: None keeps each graph edge in its own type; "float" adds
    QUANTIZE / DEQUANTIZE at the edges; "int8" (or "uint8") converts the int16 edges to int8 with
    the conversions used inside; "int16" requires every edge to be int16.
    `origins`, if given, receives per operator of the result the float op it comes from (the
    consumer for type conversions, -1 for the edges). `weights` and `hessians` as in
    quantize_graph; int4 weights only in int8 layers."""
    if io not in (None, "float", "int8", "uint8", "int16"):
        raise QuantizationError(f"io {io!r} with per-layer activation types: choose float, int8, uint8 or "
                                f"int16 (or leave it out: each edge keeps its layer's type)")
    op_kind = resolve_layer_types(g, layer_types)
    check_quantizable(g)  # int16 layers were checked for int16 kernels by resolve_layer_types
    weighted = {op.index: op.opcode for op in g.subgraphs[0].operators if op.opcode in rules.WEIGHTED}
    try:
        int4.check_weights_arg(weights, weighted, "int8")
    except ValueError as exc:
        raise QuantizationError(str(exc)) from None
    wide4 = [k for k in weighted if int4.weight_type_of(weights, k) == "int4" and op_kind.get(k) == "int16"]
    if wide4:
        raise QuantizationError(f"operator {wide4[0]} ({weighted[wide4[0]]}): int4 weights need int8 activations "
                                f"(TFLite 2.14 computes int4 weights with int16 activations wrongly: docs/oracles.md)")
    g = copy.deepcopy(g)
    sg = g.subgraphs[0]
    T = sg.tensors
    acts = set(activation_tensors(g))
    code = {"int8": INT8, "int16": INT16}
    lim = {"int8": (-128, 127), "int16": (-32768, 32767)}
    npt = {"int8": np.int8, "int16": np.int16}

    groups = _Groups()
    for op in sg.operators:
        if op.opcode in rules.SAME_SCALE:
            members = [i for i in _data_inputs(op) + op.outputs if T[i].type_code == FLOAT32]
            for m in members[1:]:
                groups.union(members[0], m)
    producer = {o: op for op in sg.operators for o in op.outputs}
    consumers: dict[int, list[Operator]] = {}
    for op in sg.operators:
        for i in op.inputs:
            consumers.setdefault(i, []).append(op)

    # the type of every float tensor: its group's (the shared-scale op's), else its producer's,
    # else (graph inputs) int16 only when every consumer is int16
    group_kind: dict[int, str] = {}
    for op in sg.operators:
        if op.opcode in rules.SAME_SCALE:
            for i in _data_inputs(op) + op.outputs:
                if i in groups.parent:
                    group_kind[groups.find(i)] = op_kind[op.index]
    kind_of: dict[int, str] = {}
    for i in acts | set(groups.parent):
        if i in groups.parent and groups.find(i) in group_kind:
            kind_of[i] = group_kind[groups.find(i)]
        elif i in producer:
            kind_of[i] = op_kind.get(producer[i].index, "int8")
        else:
            users = [op_kind.get(op.index, "int8") for op in consumers.get(i, [])]
            kind_of[i] = "int16" if users and all(u == "int16" for u in users) else "int8"

    ranges: dict[tuple[int, str], list[float]] = {}

    def tensor_range(i: int, kind: str) -> tuple[float, float]:
        t = T[i]
        return (float(t.data.min()), float(t.data.max())) if t.is_const else act_range(i, kind)

    for i in sorted(acts | set(groups.parent)):
        kind = kind_of[i]
        lo, hi = tensor_range(i, kind)
        r = ranges.setdefault((groups.find(i), kind), [0.0, 0.0])
        r[0], r[1] = min(r[0], lo), max(r[1], hi)

    def qparams(kind: str, lo: float, hi: float) -> tuple[float, int]:
        return choose_qparams_symmetric(lo, hi) if kind == "int16" else choose_qparams(lo, hi)

    fixed: dict[int, tuple[float, int]] = {}
    for op in sg.operators:
        kind = op_kind.get(op.index)
        rule = rules.FIXED_OUTPUT_INT16 if kind == "int16" else rules.FIXED_OUTPUT
        if op.opcode in rule and kind_of.get(op.outputs[0]) == kind:
            fixed[op.outputs[0]] = rule[op.opcode]
    params: dict[int, tuple[float, int]] = {}
    for i, q in fixed.items():
        root = groups.find(i)
        if root in params and params[root] != q:
            raise QuantizationError(f"tensor {T[i].name!r} must have two different fixed quantizations")
        params[root] = q
    for (root, kind), (lo, hi) in ranges.items():
        params.setdefault(root, qparams(kind, lo, hi))

    def set_q(t: Tensor, kind: str, scale: float, zp: int) -> None:
        if t.is_const:
            t.data = _quantize_values(t.data, scale, zp, *lim[kind], npt[kind])
        t.type_code = code[kind]
        t.scales = np.array([scale], np.float32)
        t.zero_points = np.array([zp], np.int64)
        t.quantized_dimension = 0

    def new_tensor(like: Tensor, name: str, type_code: int, data: np.ndarray | None = None) -> Tensor:
        t = Tensor(index=len(T), name=name, shape=tuple(like.shape), type_code=type_code,
                   shape_signature=like.shape_signature, data=data, subgraph=0)
        T.append(t)
        return t

    for i in sorted(acts):
        set_q(T[i], kind_of[i], *params[groups.find(i)])

    def make_op(name: str, src: int, dst: int, version: int) -> Operator:
        return Operator(index=-1, opcode=name, builtin_code=_builtin(name), version=version,
                        inputs=[src], outputs=[dst])

    def conversion(src: Tensor, dst: Tensor) -> list[Operator]:
        if dst.type_code == INT8:  # int16 -> int8
            return [make_op("QUANTIZE", src.index, dst.index, 1)]
        wide = new_tensor(src, src.name + "/int32", INT32)  # int8 -> int32 -> int16
        wide.scales, wide.zero_points = src.scales.copy(), src.zero_points.copy()
        return [make_op("CAST", src.index, wide.index, 1), make_op("QUANTIZE", wide.index, dst.index, 2)]

    def converted_params(i: int, kind: str) -> tuple[float, int]:
        """Quantization of tensor i's value in type `kind` (for a converted copy)."""
        if i in groups.parent:  # the union range its shared-scale group was quantized with
            return qparams(kind, *ranges[(groups.find(i), kind_of[i])])
        return qparams(kind, *act_range(i, kind))

    ops: list[Operator] = []
    origin: list[int] = []
    converted: dict[tuple[int, str], int] = {}
    for op in sg.operators:
        kind = op_kind.get(op.index)
        before: list[Operator] = []
        after: list[Operator] = []
        if kind is not None:
            suffix = "_int16" if kind == "int16" else "_int8"
            for k, i in enumerate(op.inputs):
                if i < 0 or T[i].is_const or i not in acts or kind_of[i] == kind:
                    continue
                if (i, kind) not in converted:
                    c = new_tensor(T[i], T[i].name + suffix, code[kind])
                    set_q(c, kind, *converted_params(i, kind))
                    before += conversion(T[i], c)
                    converted[(i, kind)] = c.index
                op.inputs[k] = converted[(i, kind)]
            for k, o in enumerate(op.outputs):
                if o not in acts or kind_of[o] == kind:
                    continue
                c = new_tensor(T[o], T[o].name + suffix, code[kind])
                rule = rules.FIXED_OUTPUT_INT16 if kind == "int16" else rules.FIXED_OUTPUT
                set_q(c, kind, *(rule[op.opcode] if op.opcode in rule else converted_params(o, kind)))
                after += conversion(c, T[o])
                op.outputs[k] = c.index
            wide = kind == "int16"
            versions = rules.INT16_VERSIONS if wide else rules.INT8_VERSIONS
            if op.opcode in rules.WEIGHTED:
                w4 = int4.weight_type_of(weights, op.index) == "int4"
                _quantize_weighted(op, T, new_tensor, wide, w4, (hessians or {}).get(op.index))
                op.version = max(op.version, versions[op.opcode])
            else:
                for k, i in enumerate(op.inputs):
                    if i < 0 or not T[i].is_const or T[i].type_code != FLOAT32:
                        continue
                    src = T[i]
                    c = new_tensor(src, src.name, FLOAT32, src.data.copy())
                    if i in groups.parent:
                        scale, zp = params[groups.find(i)]
                    else:
                        scale, zp = qparams(kind, float(src.data.min()), float(src.data.max()))
                    set_q(c, kind, scale, zp)
                    op.inputs[k] = c.index
                op.version = max(op.version, versions.get(op.opcode, op.version))
                if wide and op.opcode in ("ADD", "SUB"):
                    op.options_type = op.options_type or f"{op.opcode.title()}Options"
                    op.options = {**op.options, "PotScaleInt16": False}
        ops += before + [op] + after
        origin += [op.index] * (len(before) + 1 + len(after))
    sg.operators = ops

    if io is not None:
        edges = {T[i].type_code for i in sg.inputs + sg.outputs}
        if io == "float":
            for kind in ("int8", "int16"):
                if code[kind] in edges:
                    _convert_io(sg, "float", code[kind], rules.INT16_VERSIONS if kind == "int16" else rules.INT8_VERSIONS)
        elif io in ("int8", "uint8"):
            _narrow_edges(sg, lambda i: converted_params(i, "int8"), conversion)
            if io == "uint8":
                _convert_io(sg, "uint8", INT8, rules.INT8_VERSIONS)
        elif edges - {code[io]}:
            bad = [T[i].name for i in sg.inputs + sg.outputs if T[i].type_code != code[io]]
            raise QuantizationError(f"io {io}: graph edge(s) {', '.join(map(repr, bad))} belong to int8 layers; "
                                    f"use io int8, uint8 or float, or leave io out")
    if origins is not None:
        origins.clear()
        by_id = {id(op): o for op, o in zip(ops, origin)}
        origins.extend(by_id.get(id(op), -1) for op in sg.operators)
    for k, op in enumerate(sg.operators):
        op.index = k
    return _compact(g)

"""Pack-time graph simplifications that do not change results.

Runs on the Graph (pyedge/graph.py) before lowering, in this order:

1. Dead ops: an op whose outputs no graph output and no remaining op reads is dropped, unless
   it has side effects: ASSIGN_VARIABLE, CALL_ONCE, anything touching a variable tensor (SVDF and
   LSTM write their state inputs), and ops pyedge has no lowering for (custom and unsupported ops
   stay, so they are still reported by name).
2. Constant folding: SHAPE becomes a constant (every shape is static when pyedge plans);
   then an op all of whose inputs are constants is run once at pack time through
   pyedge itself (a one-op Graph packed and run by pyedge.Interpreter, so the folded values are
   exactly what the kernel would compute at run time) and its outputs become constants.
   Folding is skipped when the op cannot be lowered or fails at run time (the normal pack or
   invoke then reports it) or when it would grow the constant data by more than
   `max_fold_growth` bytes.
3. PAD into convolution: a PAD (or PADV2 whose constant value is the zero point) that pads only
   H and W, whose output only a CONV_2D or DEPTHWISE_CONV_2D reads, and whose input and output
   are quantized alike, is removed; the convolution reads the PAD's input and records explicit
   padding (`EXPLICIT_PADDING` in its options: top, bottom, left, right, in input rows and
   columns; the lowering, pyedge/lower/conv.py, validates it and runs the op as VALID on the
   padded size). Exact: the convolution kernels (TFLite's and pyedge's) skip taps outside their
   input, which is what a tap on a zero-point pad contributes (0 after the input offset); a SAME
   convolution's implicit padding is added to the PAD's, which gives the same output size (see
   `_fused_padding`).
4. Activation into its producer: a RELU, RELU6 or RELU_N1_TO_1 whose input is written by a
   CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, SUB or MUL with no fused activation, read
   by nothing else and not a subgraph output, with input and output quantized alike, becomes
   that op's fused activation. Exact: with equal scales TFLite's RELU requantizes by 1.0
   (multiplier 2^30, shift 1: the identity) and then clamps to the same range
   CalculateActivationRangeQuantized gives the fused activation (checked value by value in
   `_relu_matches_fused`).
5. Unused constants: the data of constant tensors no remaining op reads (and that are not
   subgraph inputs/outputs) is dropped. The tensor entries stay: pyedge keeps TFLite's tensor
   indices, so get_tensor(i) means the same as in TFLite (such a tensor reports "no data").

Subgraph-level operator indices (Operator.index) are kept, so a blob op's src_index is still
the source model's operator index. What was done is returned as a dict for the blob META
("simplified") and `pyedge inspect`.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .errors import PyedgeError
from .graph import CORE_TYPES, RESOURCE, Graph, Operator, Subgraph, Tensor

# Ops that must run for their effect even when nothing reads their outputs.
SIDE_EFFECT_OPS = frozenset({"ASSIGN_VARIABLE", "CALL_ONCE", "CALL", "WHILE", "IF", "CUSTOM"})
DEFAULT_MAX_FOLD_GROWTH = 16 * 1024


def _registry() -> set[str]:
    from .lower import supported_ops
    return set(supported_ops())


def _tensors(sg: Subgraph, indices: list[int]) -> list[Tensor]:
    return [sg.tensors[i] for i in indices if i >= 0]


def _has_side_effects(sg: Subgraph, op: Operator, known: set[str]) -> bool:
    """True if dropping `op` could change anything besides its outputs' values."""
    if op.opcode in SIDE_EFFECT_OPS or op.opcode not in known:
        return True
    return any(t.is_variable for t in _tensors(sg, op.inputs + op.outputs + op.intermediates))


def _const_bytes(t: Tensor) -> int:
    return int(t.data.nbytes) if t.data is not None else 0


def remove_dead_ops(graph: Graph, known: set[str], report: list[dict[str, Any]]) -> int:
    """Drop ops whose outputs nothing uses (one reverse pass per subgraph: ops are in execution
    order, so every reader of a tensor comes after its writer)."""
    removed = 0
    for sg in graph.subgraphs:
        live = set(sg.outputs)
        keep: list[Operator] = []
        for op in reversed(sg.operators):
            if _has_side_effects(sg, op, known) or any(o in live for o in op.outputs):
                keep.append(op)
                live.update(i for i in op.inputs + op.intermediates if i >= 0)
            else:
                report.append({"subgraph": sg.index, "index": op.index, "op": op.opcode, "action": "dead"})
                removed += 1
        sg.operators = keep[::-1]
    return removed


def _one_op_graph(sg: Subgraph, op: Operator) -> Graph:
    """A graph holding only `op` (constant inputs, no graph inputs) for pack-time evaluation."""
    index: dict[int, int] = {}
    tensors: list[Tensor] = []
    for i in op.inputs + op.intermediates + op.outputs:
        if i >= 0 and i not in index:
            index[i] = len(tensors)
            tensors.append(dataclasses.replace(sg.tensors[i], index=len(tensors), subgraph=0, gidx=-1))

    def remap(ids: list[int]) -> list[int]:
        return [index[i] if i >= 0 else -1 for i in ids]

    one = dataclasses.replace(op, index=0, subgraph=0, inputs=remap(op.inputs), outputs=remap(op.outputs),
                              intermediates=remap(op.intermediates))
    return Graph(subgraphs=[Subgraph(0, "fold", tensors, [one], [], remap(op.outputs))])


def evaluate_op(sg: Subgraph, op: Operator) -> list[np.ndarray]:
    """Run one op with constant inputs through pyedge (lowering, C kernel); returns its outputs.
    Raises PyedgeError if pyedge cannot lower or run it."""
    from .interpreter import Interpreter
    from .pack import Packer

    blob = Packer(_one_op_graph(sg, op)).build()
    it = Interpreter(model_content=blob)
    it.allocate_tensors()
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def fold_shapes(graph: Graph, report: list[dict[str, Any]]) -> int:
    """SHAPE ops become constants: pyedge plans every tensor with a static shape, so SHAPE's
    value is known at pack time (what TFLite computes at run time from the same shape). The
    arithmetic on it (STRIDED_SLICE, PACK, CONCATENATION, GATHER, ...) then folds like any
    constant-only op, and a RESHAPE reading the result gets a constant new shape (tf.keras's
    `Reshape` exports SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE)."""
    folded = 0
    for sg in graph.subgraphs:
        keep: list[Operator] = []
        for op in sg.operators:
            if op.opcode == "SHAPE" and len(op.inputs) == 1 and op.inputs[0] >= 0 and len(op.outputs) == 1:
                x, y = sg.tensors[op.inputs[0]], sg.tensors[op.outputs[0]]
                dtype = {INT32: np.int32, INT64: np.int64}.get(y.type_code)
                if dtype is not None and y.shape == (len(x.shape),) and not y.is_variable:
                    y.data = np.array(x.shape, dtype).reshape(y.shape)
                    report.append({"subgraph": sg.index, "index": op.index, "op": op.opcode, "action": "folded"})
                    folded += 1
                    continue
            keep.append(op)
        sg.operators = keep
    return folded


def _foldable(sg: Subgraph, op: Operator, known: set[str]) -> bool:
    present = [i for i in op.inputs if i >= 0]
    if not present or _has_side_effects(sg, op, known):
        return False
    if not all(sg.tensors[i].is_const for i in present):
        return False
    graph_io = set(sg.inputs)
    for i in op.outputs:
        t = sg.tensors[i]
        if i in graph_io or t.type_code == RESOURCE or t.type_code not in CORE_TYPES or t.dtype is None:
            return False
    return True


def fold_constants(graph: Graph, known: set[str], report: list[dict[str, Any]],
                   max_growth: int = DEFAULT_MAX_FOLD_GROWTH) -> dict[str, int]:
    """Evaluate ops whose inputs are all constant (in execution order, so chains fold)."""
    stats = {"folded_ops": 0, "folded_constant_bytes": 0, "fold_skipped_growth": 0, "fold_failed": 0}
    for sg in graph.subgraphs:
        keep: list[Operator] = []
        for op in sg.operators:
            if not _foldable(sg, op, known):
                keep.append(op)
                continue
            out_bytes = sum(sg.tensors[i].size * np.dtype(sg.tensors[i].dtype).itemsize for i in op.outputs)
            in_bytes = sum(_const_bytes(t) for t in _tensors(sg, op.inputs))
            if out_bytes - in_bytes > max_growth:
                stats["fold_skipped_growth"] += 1
                keep.append(op)
                continue
            try:
                values = evaluate_op(sg, op)
            except PyedgeError:
                stats["fold_failed"] += 1  # left in place: the full pack or invoke reports it
                keep.append(op)
                continue
            for i, v in zip(op.outputs, values):
                t = sg.tensors[i]
                t.data = np.ascontiguousarray(v, dtype=t.dtype).reshape(t.shape)
                stats["folded_constant_bytes"] += int(t.data.nbytes)
            stats["folded_ops"] += 1
            report.append({"subgraph": sg.index, "index": op.index, "op": op.opcode, "action": "folded"})
        sg.operators = keep
    return stats


# ----------------------------------------------------------------------------- fusion

PAD_OPS = ("PAD", "PADV2")
CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")
ACT_PRODUCERS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "SUB", "MUL")
INT8, INT16, INT32, INT64 = 9, 7, 2, 4
PADDING_SAME, PADDING_VALID = 0, 1


def _versions() -> dict[str, int]:
    from .lower import supported_ops
    return {name: s.max_version for name, s in supported_ops().items()}


def _runs(op: Operator, versions: dict[str, int]) -> bool:
    """pyedge would lower `op` at this version (an op it would refuse is never fused away)."""
    return op.opcode in versions and op.version <= versions[op.opcode]


def _readers(sg: Subgraph) -> dict[int, list[tuple[Operator, int]]]:
    """tensor -> every (op, input position) reading it (-1: an intermediate)."""
    out: dict[int, list[tuple[Operator, int]]] = {}
    for op in sg.operators:
        for pos, i in enumerate(op.inputs):
            if i >= 0:
                out.setdefault(i, []).append((op, pos))
        for i in op.intermediates:
            if i >= 0:
                out.setdefault(i, []).append((op, -1))
    return out


def _same_quant(a: Tensor, b: Tensor) -> bool:
    """Same type and the same per-tensor quantization (TFLite's float32 `params.scale` and
    `params.zero_point`)."""
    return (a.type_code == b.type_code and a.quantized and b.quantized and not a.per_channel
            and not b.per_channel and len(a.zero_points) <= 1 and len(b.zero_points) <= 1
            and np.float32(a.scale) == np.float32(b.scale) and a.zero_point == b.zero_point)


def _const_ints(t: Tensor | None) -> list[int] | None:
    if t is None or not t.is_const or t.type_code not in (INT32, INT64):
        return None
    return [int(v) for v in np.asarray(t.data).reshape(-1)]


def _private(sg: Subgraph, i: int) -> bool:
    """An intermediate activation: not a subgraph input or output, not a variable, not a constant."""
    t = sg.tensors[i]
    return i not in sg.inputs and i not in sg.outputs and not t.is_variable and t.data is None


def _valid_out(size: int, k: int, stride: int, dilation: int) -> int:
    """TFLite ComputeOutSize for VALID padding (-1 if the window does not fit)."""
    eff = (k - 1) * dilation + 1
    return (size - eff) // stride + 1 if size >= eff else -1


def _fused_padding(conv: Operator, in_hw: tuple[int, int], pads: tuple[int, int, int, int],
                   padded_hw: tuple[int, int], k_hw: tuple[int, int], out_hw: tuple[int, int]
                   ) -> list[int] | None:
    """The explicit padding [top, bottom, left, right] of `conv` reading the unpadded input
    (in_hw) directly, where a PAD adds `pads` (top, bottom, left, right) to make padded_hw; None
    if the result would not be exact.

    The conv taps a window position p of its (padded) input, 0 <= p < padded size, or skips it
    when outside (SAME's implicit padding). On the unpadded input that position is p - top. Taps
    inside the PAD's padding read the zero point, which contributes 0 after the input offset,
    exactly as a skipped tap does; so the fused conv, which skips every tap outside the unpadded
    input, computes the same sum at every output position, as long as both produce the same
    output positions: checked here as TFLite computes output sizes (VALID on the fully padded
    size for the fused op, the conv's own padding type on padded_hw for the pair)."""
    from .lower.conv import EXPLICIT_PADDING
    opts = conv.options
    padding = int(opts.get("Padding", PADDING_SAME))
    strides = int(opts.get("StrideH", 1)), int(opts.get("StrideW", 1))
    dilations = int(opts.get("DilationHFactor", 1)), int(opts.get("DilationWFactor", 1))
    if padding not in (PADDING_SAME, PADDING_VALID) or min(strides) < 1 or min(dilations) < 1:
        return None
    before = opts.get(EXPLICIT_PADDING)
    if before is not None and (padding != PADDING_VALID or len(before) != 4):
        return None
    before = [int(v) for v in before] if before is not None else [0, 0, 0, 0]
    result = []
    for d in range(2):  # H, W
        size, padded, k, s, dil = in_hw[d], padded_hw[d], k_hw[d], strides[d], dilations[d]
        eff = (k - 1) * dil + 1
        lead, trail = before[2 * d], before[2 * d + 1]
        if padding == PADDING_SAME:
            out = (padded + s - 1) // s  # TFLite ComputeOutSize, SAME
            total = max((out - 1) * s + eff - padded, 0)  # ComputePaddingWithOffset
            lead, trail = total // 2, total - total // 2
        else:
            out = _valid_out(padded + lead + trail, k, s, dil)
        top = pads[2 * d] + lead
        bottom = pads[2 * d + 1] + trail
        if out < 1 or out != out_hw[d] or _valid_out(size + top + bottom, k, s, dil) != out:
            return None
        result += [top, bottom]
    return result


def _pad_into_conv(sg: Subgraph, pad: Operator, readers: dict[int, list[tuple[Operator, int]]],
                   versions: dict[str, int]) -> tuple[Operator, dict[str, Any]] | None:
    """(the conv, its new options) if `pad` can be folded into the conv reading its output."""
    from .lower.conv import EXPLICIT_PADDING
    if not (_runs(pad, versions) and len(pad.outputs) == 1
            and len(pad.inputs) == (3 if pad.opcode == "PADV2" else 2)):
        return None
    xi, yi = pad.inputs[0], pad.outputs[0]
    if xi < 0 or not _private(sg, yi) or sg.tensors[xi].is_const:
        return None
    x, y = sg.tensors[xi], sg.tensors[yi]
    users = readers.get(yi, [])
    if len(users) != 1 or users[0][1] != 0:
        return None
    conv = users[0][0]
    if conv.opcode not in CONV_OPS or not _runs(conv, versions) or len(conv.inputs) < 2 or conv.inputs[1] < 0:
        return None
    w = sg.tensors[conv.inputs[1]]
    z = sg.tensors[conv.outputs[0]] if conv.outputs else None
    if len(x.shape) != 4 or len(y.shape) != 4 or len(w.shape) != 4 or z is None or len(z.shape) != 4:
        return None
    # the conv's input zero point is the pad value: same quantization in and out of the PAD
    if x.type_code not in (INT8, INT16) or not _same_quant(x, y):
        return None
    paddings = _const_ints(sg.tensors[pad.inputs[1]] if pad.inputs[1] >= 0 else None)
    if paddings is None or sg.tensors[pad.inputs[1]].shape != (4, 2) or min(paddings) < 0:
        return None
    if paddings[0:2] != [0, 0] or paddings[6:8] != [0, 0]:  # batch or channel padding
        return None
    if tuple(y.shape) != tuple(d + paddings[2 * k] + paddings[2 * k + 1] for k, d in enumerate(x.shape)):
        return None
    if pad.opcode == "PADV2":
        vi = pad.inputs[2]
        v = sg.tensors[vi] if vi >= 0 else None
        if v is None or not v.is_const or v.type_code != y.type_code or v.size != 1:
            return None
        if not _same_quant(v, y) or int(np.asarray(v.data).reshape(-1)[0]) != y.zero_point:
            return None
    explicit = _fused_padding(conv, (x.shape[1], x.shape[2]), tuple(paddings[2:6]), (y.shape[1], y.shape[2]),
                              (w.shape[1], w.shape[2]), (z.shape[1], z.shape[2]))
    if explicit is None:
        return None
    return conv, {**conv.options, "Padding": PADDING_VALID, EXPLICIT_PADDING: explicit}


def fuse_pads(graph: Graph, versions: dict[str, int], report: list[dict[str, Any]]) -> int:
    """Fold PAD/PADV2 into the CONV_2D or DEPTHWISE_CONV_2D reading its output (latest first, so
    a chain of PADs folds into one conv)."""
    fused = 0
    for sg in graph.subgraphs:
        changed = True
        while changed:
            changed = False
            readers = _readers(sg)
            for pad in reversed(sg.operators):
                if pad.opcode not in PAD_OPS:
                    continue
                found = _pad_into_conv(sg, pad, readers, versions)
                if found is None:
                    continue
                conv, options = found
                conv.inputs = [pad.inputs[0]] + conv.inputs[1:]
                conv.options = options
                sg.operators = [op for op in sg.operators if op is not pad]
                report.append({"subgraph": sg.index, "index": pad.index, "op": pad.opcode, "action": "fused",
                               "into": conv.index, "into_op": conv.opcode})
                fused += 1
                changed = True
                break
    return fused


def _relu_matches_fused(name: str, t: Tensor) -> bool:
    """TFLite's standalone RELU/RELU6/RELU_N1_TO_1 on input and output quantized as `t` clamps to
    the range a fused activation gets (CalculateActivationRangeQuantized); computed both ways, as
    pyedge's lowerings compute them (activation.py relu, quant.activation_range)."""
    from .lower.activation import _RELU_BOUNDS, f32_to_i32, roundf, wrap32
    from .quant import ACT_RELU, ACT_RELU6, ACT_RELU_N1_TO_1, INT_RANGES, activation_range

    code = {"RELU": ACT_RELU, "RELU6": ACT_RELU6, "RELU_N1_TO_1": ACT_RELU_N1_TO_1}[name]
    lo, hi = INT_RANGES[np.dtype(t.dtype)]
    act_lo, act_hi = _RELU_BOUNDS[name]

    def quantize(v: float) -> int:
        return wrap32(t.zero_point + int(f32_to_i32(roundf(np.float32(v) / np.float32(t.scale)))))

    relu = (max(lo, quantize(act_lo)), hi if act_hi == float("inf") else min(hi, quantize(act_hi)))
    return relu == tuple(activation_range(code, t.scale, t.zero_point, t.dtype))


ACT_CODES = {"RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}  # TFLite ActivationFunctionType


def _act_into_producer(sg: Subgraph, act: Operator, writers: dict[int, Operator],
                       readers: dict[int, list[tuple[Operator, int]]], versions: dict[str, int]) -> Operator | None:
    """The op that `act` can become the fused activation of, or None."""
    if not (_runs(act, versions) and len(act.inputs) == 1 and len(act.outputs) == 1):
        return None
    ti, zi = act.inputs[0], act.outputs[0]
    if ti < 0 or not _private(sg, ti) or sg.tensors[zi].is_variable:
        return None
    producer = writers.get(ti)
    if producer is None or producer.opcode not in ACT_PRODUCERS or not _runs(producer, versions):
        return None
    if producer.outputs != [ti] or int(producer.options.get("FusedActivationFunction", 0)) != 0:
        return None
    users = readers.get(ti, [])
    if len(users) != 1 or users[0][0] is not act or users[0][1] != 0:
        return None
    t, z = sg.tensors[ti], sg.tensors[zi]
    allowed = (INT8, INT16) if act.opcode in ("RELU", "RELU6") else (INT8,)  # TFLite's RELU types
    if t.type_code not in allowed or not _same_quant(t, z) or tuple(t.shape) != tuple(z.shape):
        return None
    if t.type_code == INT16 and t.zero_point != 0:
        return None
    return producer if _relu_matches_fused(act.opcode, t) else None


def fuse_activations(graph: Graph, versions: dict[str, int], report: list[dict[str, Any]]) -> int:
    """Make standalone RELU, RELU6, RELU_N1_TO_1 the fused activation of the op before them."""
    fused = 0
    for sg in graph.subgraphs:
        readers = _readers(sg)
        writers = {o: op for op in sg.operators for o in op.outputs if o >= 0}
        keep: list[Operator] = []
        for op in sg.operators:
            producer = _act_into_producer(sg, op, writers, readers, versions) if op.opcode in ACT_CODES else None
            if producer is None:
                keep.append(op)
                continue
            producer.outputs = [op.outputs[0]]
            producer.options = {**producer.options, "FusedActivationFunction": ACT_CODES[op.opcode]}
            writers[op.outputs[0]] = producer
            report.append({"subgraph": sg.index, "index": op.index, "op": op.opcode, "action": "fused",
                           "into": producer.index, "into_op": producer.opcode})
            fused += 1
        sg.operators = keep
    return fused


def drop_unused_constants(graph: Graph) -> tuple[int, int]:
    """Drop the data of constants no op, subgraph input or output uses; returns (count, bytes)."""
    count = nbytes = 0
    for sg in graph.subgraphs:
        used = set(sg.inputs) | set(sg.outputs)
        for op in sg.operators:
            used.update(op.inputs + op.outputs + op.intermediates)
        for i, t in enumerate(sg.tensors):
            if i not in used and t.is_const:
                count += 1
                nbytes += _const_bytes(t)
                t.data = None
    return count, nbytes


def simplify_graph(graph: Graph, max_fold_growth: int = DEFAULT_MAX_FOLD_GROWTH, *,
                   folding_only: bool = False) -> dict[str, Any]:
    """Apply the simplifications in place; returns the counts (and the ops removed).
    `folding_only`: SHAPE and constant folding alone (every tensor keeps a value)."""
    known = _registry()
    report: list[dict[str, Any]] = []
    dead = 0 if folding_only else remove_dead_ops(graph, known, report)
    shapes = fold_shapes(graph, report)
    fold = fold_constants(graph, known, report, max_fold_growth)
    fold["folded_ops"] += shapes
    if folding_only:
        return {"dead_ops": 0, **fold, "fused_pads": 0, "fused_activations": 0, "dropped_constants": 0,
                "dropped_constant_bytes": 0, "removed_ops": sorted(report, key=lambda r: (r["subgraph"], r["index"]))}
    versions = _versions()
    pads = fuse_pads(graph, versions, report)
    acts = fuse_activations(graph, versions, report)
    n_const, const_bytes = drop_unused_constants(graph)
    return {"dead_ops": dead, **fold, "fused_pads": pads, "fused_activations": acts,
            "dropped_constants": n_const, "dropped_constant_bytes": const_bytes,
            "removed_ops": sorted(report, key=lambda r: (r["subgraph"], r["index"]))}


def prepare_for_pack(graph: Graph, *, preserve_all_tensors: bool = False,
                     target: str | None = None) -> dict[str, Any]:
    """The packer's hook (pyedge/pack.py): simplify the graph (with preserve_all_tensors, whose
    point is to keep every intermediate tensor readable, only folding, which keeps the values as
    constants) and resolve `target`. Returns the extra blob META entries."""
    meta: dict[str, Any] = {}
    if target is not None:
        from .boards import resolve_target
        meta["target"] = resolve_target(target)
    meta["simplified"] = simplify_graph(graph, folding_only=preserve_all_tensors)
    return meta

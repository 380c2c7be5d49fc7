"""Lowering of sequence-model ops: integer SVDF, resource variables and CALL_ONCE.

Resource variables are resolved at pack time: every distinct (container, shared_name) of a
VAR_HANDLE becomes one persistent state tensor whose shape and type come from the values
ASSIGN_VARIABLE stores in it. VAR_HANDLE lowers to nothing; READ_VARIABLE and ASSIGN_VARIABLE
become byte copies from / to that tensor; CALL_ONCE keeps a persistent done-flag.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..graph import RESOURCE, Graph, Tensor
from ..quant import ACT_RELU, quantize_multiplier
from . import Lowered, LowerCtx, register

FLOAT32, INT32, INT16, INT8 = 0, 2, 7, 9


# ---- SVDF ------------------------------------------------------------------------------------

def _scale(ctx: LowerCtx, t: Tensor, what: str) -> np.float32:
    ctx.require(t.quantized and t.scale > 0, f"{what} tensor is not quantized")
    return np.float32(t.scale)


def _multiplier(ctx: LowerCtx, real: float, what: str) -> tuple[int, int]:
    mult, shift = quantize_multiplier(real)
    ctx.require(-31 <= shift <= 31, f"{what} scale {real} is out of the representable range")
    return mult, shift


@register("SVDF", max_version=4, types="int8 (int16 weights_time and state)")
def svdf(ctx: LowerCtx) -> Lowered:
    """TFLite's full-integer SVDF (svdf.cc Prepare + reference_ops::EvalIntegerSVDF)."""
    ctx.require(len(ctx.op.inputs) == 5 and len(ctx.op.outputs) == 1, "SVDF needs 5 inputs and 1 output")
    x, wf, wt, bias, state = (ctx.input(i) for i in range(5))
    y = ctx.output(0)
    ctx.require(all(t is not None for t in (x, wf, wt, state)), "input, weights and state are required")
    if x.type_code == FLOAT32:
        kind = "hybrid (float input, int8 weights)" if wf.type_code == INT8 else "float32"
        ctx.fail(f"{kind} SVDF is not supported; pyedge runs the full-integer path")
    ctx.require(x.type_code == INT8, f"input type {x.type_name}")
    ctx.require(wf.type_code == INT8, f"weights_feature type {wf.type_name}")
    # TFLite's integer kernel reads weights_time and the state as int16 whatever their type.
    ctx.require(wt.type_code == INT16, f"weights_time type {wt.type_name} (TFLite's integer SVDF needs int16)")
    ctx.require(state.type_code == INT16, f"state type {state.type_name} (TFLite's integer SVDF needs int16)")
    ctx.require(bias is None or bias.type_code == INT32, f"bias type {bias.type_name if bias else ''}")
    ctx.require(y.type_code == INT8, f"output type {y.type_name}")
    ctx.require(state.is_variable and state.data is None, "the state must be a variable tensor without data")

    ctx.require(len(x.shape) == 2 and len(wf.shape) == 2 and len(wt.shape) == 2 and len(state.shape) == 2,
                f"ranks of input {x.shape}, weights_feature {wf.shape}, weights_time {wt.shape} and "
                f"state {state.shape} must be 2")
    batch, n_input = x.shape
    n_filter, n_memory = wf.shape[0], wt.shape[1]
    ctx.require(min(batch, n_input, n_filter, n_memory) > 0, "empty dimension")
    ctx.require(wf.shape[1] == n_input and wt.shape[0] == n_filter,
                f"weights_feature {wf.shape} / weights_time {wt.shape} do not fit input {x.shape}")
    rank = int(ctx.opt("Rank", 0))
    ctx.require(rank > 0 and n_filter % rank == 0, f"rank {rank} does not divide {n_filter} filters")
    n_unit = n_filter // rank
    ctx.require(bias is None or bias.shape == (n_unit,), f"bias shape {bias.shape if bias else ''}")
    ctx.require(state.shape == (batch, n_memory * n_filter),
                f"state shape {state.shape}, expected {(batch, n_memory * n_filter)}")
    ctx.require(y.shape == (batch, n_unit), f"output shape {y.shape}, expected {(batch, n_unit)}")
    # svdf.cc Eval: TF_LITE_ENSURE_EQ(params->activation, kTfLiteActRelu) on the integer path.
    # The RELU is then not applied: the reference kernel only clamps the result to int8.
    act = ctx.opt("FusedActivationFunction", 0)
    ctx.require(act == ACT_RELU, f"fused activation {act}: TFLite's integer SVDF runs only with RELU")

    # Per-tensor scales, in float32 as svdf.cc computes them (first scale only, as TFLite).
    s_in, s_wf = _scale(ctx, x, "input"), _scale(ctx, wf, "weights_feature")
    s_state, s_wt, s_out = _scale(ctx, state, "state"), _scale(ctx, wt, "weights_time"), _scale(ctx, y, "output")
    feature_mult, feature_shift = _multiplier(ctx, float(s_in * s_wf / s_state), "input * weights_feature / state")
    time_mult, time_shift = _multiplier(ctx, float(s_state * s_wt / s_out), "state * weights_time / output")
    ctx.require(-128 <= x.zero_point <= 127, f"input zero point {x.zero_point}")
    ctx.require(-128 <= y.zero_point <= 127, f"output zero point {y.zero_point}")

    params = ctx.params("pe_svdf_params", rank=rank, input_zero_point=x.zero_point,
                        output_zero_point=y.zero_point, feature_multiplier=feature_mult,
                        feature_shift=feature_shift, time_multiplier=time_mult, time_shift=time_shift)
    return Lowered("SVDF", [x, wf, wt, bias, state], [y], params)


# ---- resource variables ------------------------------------------------------------------------

VarKey = tuple[str, str]  # (container, shared_name), TFLite's resource id key


@dataclass
class _Variable:
    key: VarKey
    shape: tuple[int, ...] | None = None
    type_code: int = -1
    assigns: list[str] = field(default_factory=list)   # "shape TYPE at op k in subgraph s"
    conflict: bool = False


@dataclass
class _Variables:
    handles: dict[tuple[int, int], VarKey]     # (subgraph, tensor) -> key, for VAR_HANDLE outputs
    table: dict[VarKey, _Variable]


def _variables(ctx: LowerCtx) -> _Variables:
    """The model's resource variables, found once per pack by scanning every subgraph."""
    cached = ctx.shared.get("sequence.variables")
    if cached is None:
        cached = ctx.shared["sequence.variables"] = _scan_variables(ctx.graph)
    return cached


def _scan_variables(graph: Graph) -> _Variables:
    handles: dict[tuple[int, int], VarKey] = {}
    table: dict[VarKey, _Variable] = {}
    for sg in graph.subgraphs:
        for op in sg.operators:
            if op.opcode == "VAR_HANDLE" and op.outputs:
                key = (op.options.get("Container") or "", op.options.get("SharedName") or "")
                handles[(sg.index, op.outputs[0])] = key
                table.setdefault(key, _Variable(key))
    for sg in graph.subgraphs:
        for op in sg.operators:
            if op.opcode != "ASSIGN_VARIABLE" or len(op.inputs) != 2 or op.inputs[1] < 0:
                continue
            key = handles.get((sg.index, op.inputs[0]))
            if key is None:
                continue  # the op's own lowering reports it
            var, value = table[key], sg.tensors[op.inputs[1]]
            var.assigns.append(f"{value.shape} {value.type_name} at operator {op.index} in subgraph {sg.index}")
            if var.shape is None:
                var.shape, var.type_code = value.shape, value.type_code
            elif (var.shape, var.type_code) != (value.shape, value.type_code):
                var.conflict = True
    return _Variables(handles, table)


def _variable_state(ctx: LowerCtx) -> tuple[_Variable, Tensor]:
    """The variable behind the op's resource input 0 and its persistent tensor."""
    vs = _variables(ctx)
    ctx.require(len(ctx.op.inputs) >= 1 and ctx.op.inputs[0] >= 0, "no resource input")
    handle = ctx.input(0)
    ctx.require(handle.type_code == RESOURCE, f"resource input has type {handle.type_name}, not RESOURCE")
    key = vs.handles.get((ctx.sg.index, ctx.op.inputs[0]))
    ctx.require(key is not None, "its resource input is not made by a VAR_HANDLE in the same subgraph")
    var = vs.table[key]
    name = f"variable {key[0]!r}/{key[1]!r}"
    ctx.require(var.shape is not None, f"{name} is never assigned (TFLite fails reading it)")
    ctx.require(not var.conflict, f"{name} is assigned values of different shapes or types: "
                                  + "; ".join(var.assigns))
    state = ctx.state(var.shape, var.type_code, key=("resource variable", *key), name=name)
    return var, state


@register("VAR_HANDLE", max_version=1, types="all")
def var_handle(ctx: LowerCtx) -> None:
    """Resolved at pack time: the handle names a state tensor, no op runs."""
    ctx.require(len(ctx.op.outputs) == 1 and ctx.output(0).type_code == RESOURCE,
                "VAR_HANDLE must have one RESOURCE output")
    return None


@register("READ_VARIABLE", max_version=1, types="all")
def read_variable(ctx: LowerCtx) -> Lowered:
    ctx.require(len(ctx.op.inputs) == 1 and len(ctx.op.outputs) == 1, "needs 1 input and 1 output")
    var, state = _variable_state(ctx)
    y = ctx.output(0)
    ctx.require(y.type_code == var.type_code, f"output type {y.type_name} differs from the variable's "
                                              f"{state.type_name}")
    # TFLite resizes the output to the variable's shape; pyedge plans shapes ahead.
    ctx.require(y.shape == var.shape, f"output shape {y.shape} differs from the variable's {var.shape}")
    return Lowered("READ_VARIABLE", [state], [y], ctx.params("pe_variable_params"))


@register("ASSIGN_VARIABLE", max_version=1, types="all")
def assign_variable(ctx: LowerCtx) -> Lowered:
    ctx.require(len(ctx.op.inputs) == 2 and not ctx.op.outputs and ctx.op.inputs[1] >= 0,
                "needs 2 inputs and no output")
    _, state = _variable_state(ctx)
    return Lowered("ASSIGN_VARIABLE", [ctx.input(1)], [state], ctx.params("pe_variable_params"))


@register("CALL_ONCE", max_version=1, types="control flow")
def call_once(ctx: LowerCtx) -> Lowered:
    """Runs the init subgraph on the first invoke; the planner inlines its lifetimes here."""
    ctx.require(not ctx.op.inputs and not ctx.op.outputs, "CALL_ONCE takes no inputs or outputs")
    index = int(ctx.opt("InitSubgraphIndex", -1))
    n = len(ctx.graph.subgraphs)
    ctx.require(0 <= index < n, f"init subgraph {index} does not exist ({n} subgraphs)")
    ctx.require(index != ctx.sg.index, "a subgraph cannot initialise itself")
    init = ctx.graph.subgraphs[index]
    ctx.require(not init.inputs and not init.outputs, f"init subgraph {index} has inputs or outputs")
    # TFLite records completion per (calling subgraph, init subgraph): one flag for each pair.
    done = ctx.state((1,), INT32, key=("call once", ctx.sg.index, index), name=f"call_once {index} done")
    return Lowered("CALL_ONCE", [], [done], ctx.params("pe_call_once_params", subgraph=index), calls=index)

"""Lowering of dynamic-range ("hybrid") ops: float32 activations with int8 weights, what
TensorFlow's converter writes with `optimizations=[DEFAULT]` and no representative dataset.

The input rows are quantized when the op runs (native/kernels/hybrid.h); the lowering hands the
kernel the weights, the float bias, one float weight scale per output unit and, for
`asymmetric_quantize_inputs`, the weights' int32 row sums (TFLite computes those once, at its
first invoke; here they are constants of the blob).

The float32 ops such models carry beside them (weights below the converter's 1024-element
threshold stay float; so do the activations between weighted ops) lower here too:
FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D, AVERAGE_POOL_2D, SOFTMAX, ADD, SUB,
MUL, PRELU, RELU, RELU6, RELU_N1_TO_1 and MEAN in float32, as TFLite's reference_ops float
kernels.

The integer lowerings of the same TFLite ops (pyedge/lower/conv.py, pool.py, activation.py) stay
as they are: this module wraps their registry entries and takes the hybrid and float forms.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .. import _native
from ..graph import Tensor
from . import REGISTRY, Lowered, LowerCtx
from . import conv as _conv  # noqa: F401  (registers the integer lowerings this module wraps)

INT8, INT32, FLOAT32 = 9, 2, 0
ACT_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
HYBRID_ACTS = (0, 1, 2, 3)


def is_hybrid(ctx: LowerCtx, weights_input: int = 1) -> bool:
    x, w = ctx.input(0), ctx.input(weights_input)
    return x is not None and w is not None and x.type_code == FLOAT32 and w.type_code == INT8


def _activation(ctx: LowerCtx) -> int:
    act = int(ctx.opt("FusedActivationFunction", 0))
    ctx.require(act in HYBRID_ACTS,
                f"fused activation {ACT_NAMES.get(act, act)} on a hybrid op (supported: NONE, RELU, "
                "RELU_N1_TO_1, RELU6)")
    return act


def _weight_scales(ctx: LowerCtx, w: Tensor, n: int, channel_axis: int) -> np.ndarray:
    """One float32 scale per output unit: the per-tensor scale repeated, or the per-channel ones
    (quantized along `channel_axis`). Symmetric weights only: TFLite's hybrid kernels ignore the
    weights' zero point."""
    ctx.require(w.is_const, "weights must be constant")
    ctx.require(w.quantized, "int8 weights without quantization parameters")
    ctx.require(not np.any(w.zero_points), f"weights zero points must be 0 (got {w.zero_points[:4].tolist()})")
    scales = np.asarray(w.scales, np.float32)
    if len(scales) == 1:
        out = np.repeat(scales, n)
    else:
        ctx.require(len(scales) == n and w.quantized_dimension == channel_axis,
                    f"weights have {len(scales)} scales along dimension {w.quantized_dimension}; "
                    f"expected 1, or {n} along dimension {channel_axis}")
        out = scales
    ctx.require(bool(np.all(np.isfinite(out))) and bool(np.all(out > 0)), "weight scales must be finite and > 0")
    return np.ascontiguousarray(out, np.float32)


def _float_bias(ctx: LowerCtx, b: Tensor | None, n: int) -> None:
    if b is None:
        return
    ctx.require(b.type_code == FLOAT32, f"bias type {b.type_name} (a hybrid op's bias is FLOAT32)")
    ctx.require(b.size == n, f"bias has {b.size} elements, expected {n}")


def fully_connected_hybrid(ctx: LowerCtx) -> Lowered:
    """fully_connected.cc EvalHybridDense: float input rows quantized per row, int8 weights
    (per-tensor, or per-channel along dimension 0), float bias, fused activation."""
    x, w, b, y = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    ctx.require(len(ctx.op.inputs) in (2, 3), f"{len(ctx.op.inputs)} inputs (expected 2 or 3)")
    ctx.require(len(ctx.op.outputs) == 1, f"{len(ctx.op.outputs)} outputs (expected 1)")
    ctx.require(int(ctx.opt("WeightsFormat", 0)) == 0, "shuffled (SHUFFLED4x16INT8) weights format is not supported")
    ctx.require(y.type_code == FLOAT32, f"output type {y.type_name} (a hybrid op's output is FLOAT32)")
    ctx.require(len(x.shape) >= 1, "scalar input")
    ctx.require(len(w.shape) == 2, f"weights shape {w.shape} must be 2-D [units, depth]")
    units, depth = w.shape
    ctx.require(units > 0 and depth > 0 and x.size % depth == 0,
                f"input shape {x.shape} does not split into rows of the weights depth {depth}")
    batches = x.size // depth
    if ctx.opt("KeepNumDims", False):
        ctx.require(x.shape[-1] == depth, f"keep_num_dims needs the input's last dim {x.shape} to equal depth {depth}")
        want = tuple(x.shape[:-1]) + (units,)
    else:
        want = (batches, units)
    ctx.require(tuple(y.shape) == want, f"output shape {tuple(y.shape)} differs from the shape TFLite computes, {want}")
    _float_bias(ctx, b, units)
    scales = _weight_scales(ctx, w, units, 0)
    asym = bool(ctx.opt("AsymmetricQuantizeInputs", False))
    row_sums = ctx.const(w.data.astype(np.int32).reshape(units, depth).sum(axis=1).astype(np.int32),
                         "row_sums") if asym else None
    params = ctx.params("pe_fc_hybrid_params", depth=depth, asymmetric=int(asym), activation=_activation(ctx))
    return Lowered("FULLY_CONNECTED_HYBRID", [x, w, b, ctx.const(scales, "weight_scales"), row_sums], [y],
                   params, scratch=(depth + 3) // 4 * 4)


def _conv_hybrid(ctx: LowerCtx, depthwise: bool) -> Lowered:
    """conv.cc EvalHybrid / EvalHybridPerChannel and depthwise_conv.cc EvalHybridPerChannel."""
    x, w, b, y = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    ctx.require(len(ctx.op.inputs) in (2, 3), f"{len(ctx.op.inputs)} inputs (expected 2 or 3)")
    ctx.require(y.type_code == FLOAT32, f"output type {y.type_name} (a hybrid op's output is FLOAT32)")
    ctx.require(len(x.shape) == 4 and len(w.shape) == 4, f"input {x.shape} and filter {w.shape} must be 4-D")
    batches, _, _, in_c = x.shape
    ctx.require(batches >= 1, "empty batch")
    if depthwise:
        ctx.require(w.shape[0] == 1, f"depthwise filter shape {w.shape} must be [1, KH, KW, OC]")
        _, kh, kw, out_c = w.shape
        ctx.require(in_c > 0 and out_c % in_c == 0, f"filter channels {out_c} are not a multiple of input channels {in_c}")
        # TFLite's hybrid depthwise kernel reads one scale per channel and refuses a per-tensor one
        ctx.require(len(w.scales) == out_c, f"hybrid depthwise filter has {len(w.scales)} scales; TFLite needs one "
                    f"per output channel ({out_c})")
        scales = _weight_scales(ctx, w, out_c, 3)
        per_channel, dm = 1, out_c // in_c
    else:
        out_c, kh, kw, filter_c = w.shape
        ctx.require(filter_c == in_c, f"grouped hybrid conv (filter channels {filter_c}, input channels {in_c}) "
                    "is not supported")
        scales = _weight_scales(ctx, w, out_c, 0)
        # TFLite takes the per-channel path only when the channel scales differ
        per_channel, dm = int(len(w.scales) > 1 and bool(np.any(w.scales != w.scales[0]))), 0
        if len(w.scales) > 1 and not per_channel:
            ctx.fail("per-channel filter scales that are all equal (TFLite 2.14 then runs the per-tensor "
                     "path with a zero filter scale)")
    _float_bias(ctx, b, out_c)
    win = _conv._window(ctx, x, kh, kw)
    want = (batches, win["out_h"], win["out_w"], out_c)
    ctx.require(tuple(y.shape) == want, f"output shape {tuple(y.shape)} differs from the shape TFLite computes, {want}")
    params = ctx.params("pe_conv_hybrid_params", stride_h=win["stride_h"], stride_w=win["stride_w"],
                        dilation_h=win["dilation_h"], dilation_w=win["dilation_w"], pad_h=win["pad_h"],
                        pad_w=win["pad_w"], kernel_h=kh, kernel_w=kw, depth_multiplier=dm,
                        per_channel=per_channel, activation=_activation(ctx))
    image = x.size // batches
    op = "DEPTHWISE_CONV_2D_HYBRID" if depthwise else "CONV_2D_HYBRID"
    return Lowered(op, [x, w, b, ctx.const(scales, "filter_scales")], [y], params, scratch=(image + 3) // 4 * 4)


def conv_2d_hybrid(ctx: LowerCtx) -> Lowered:
    return _conv_hybrid(ctx, depthwise=False)


def depthwise_conv_2d_hybrid(ctx: LowerCtx) -> Lowered:
    return _conv_hybrid(ctx, depthwise=True)


def batch_matmul_hybrid(ctx: LowerCtx) -> Lowered:
    """batch_matmul.cc EvalHybrid with a constant int8 rhs shared by every batch: each lhs row
    quantized, int32 sums, `0 + row scale * weight scale * sum` (row sums subtracted for
    asymmetric inputs). That is FULLY_CONNECTED_HYBRID's arithmetic with the rhs transposed into
    [N, K] weights and no bias, so it runs as that op."""
    x, r, y = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.require(len(ctx.op.inputs) == 2, "expected 2 inputs")
    ctx.require(y.type_code == FLOAT32, f"output type {y.type_name} (a hybrid op's output is FLOAT32)")
    ctx.require(not ctx.opt("AdjX", False), "adj_x on a hybrid BATCH_MATMUL is not supported")
    ctx.require(r.is_const, "a hybrid BATCH_MATMUL needs a constant int8 rhs")
    ctx.require(2 <= len(x.shape) <= 5 and 2 <= len(r.shape) <= 5, f"ranks {len(x.shape)}, {len(r.shape)} (2 to 5)")
    ctx.require(all(d == 1 for d in r.shape[:-2]), f"rhs shape {r.shape}: only one rhs matrix for every batch "
                "is supported")
    ctx.require(len(r.scales) == 1, f"rhs has {len(r.scales)} scales (per-tensor only, as TFLite 2.14)")
    mat = r.data.reshape(r.shape[-2:])
    weights = mat if ctx.opt("AdjY", False) else mat.T  # [N, K]
    units, depth = weights.shape
    ctx.require(x.shape[-1] == depth, f"lhs shape {x.shape} and rhs shape {r.shape} do not multiply")
    want = tuple(x.shape[:-1]) + (units,)
    if len(r.shape) > len(x.shape):
        want = (1,) * (len(r.shape) - len(x.shape)) + want
    ctx.require(tuple(y.shape) == want, f"output shape {tuple(y.shape)}, TFLite computes {want}")
    scales = _weight_scales(ctx, r, units, 0)
    w = ctx.const(np.ascontiguousarray(weights, np.int8), "weights")
    asym = bool(ctx.opt("AsymmetricQuantizeInputs", False))
    row_sums = ctx.const(weights.astype(np.int32).sum(axis=1).astype(np.int32), "row_sums") if asym else None
    params = ctx.params("pe_fc_hybrid_params", depth=depth, asymmetric=int(asym), activation=0)
    return Lowered("FULLY_CONNECTED_HYBRID", [x, w, None, ctx.const(scales, "weight_scales"), row_sums], [y],
                   params, scratch=(depth + 3) // 4 * 4)


def svdf_hybrid(ctx: LowerCtx) -> Lowered:
    """svdf.cc EvalHybrid (reference_ops::EvalHybridSVDF): float input rows quantized, int8
    weights_feature, weights_time dequantized (int8 x scale in float, as TFLite does once), float
    state, bias and activation."""
    ctx.require(len(ctx.op.inputs) == 5 and len(ctx.op.outputs) == 1, "SVDF needs 5 inputs and 1 output")
    x, wf, wt, bias, state = (ctx.input(i) for i in range(5))
    y = ctx.output(0)
    ctx.require(all(t is not None for t in (x, wf, wt, state)), "input, weights and state are required")
    ctx.require(wt.type_code == INT8 and wt.is_const and wt.quantized,
                f"weights_time type {wt.type_name} (a hybrid SVDF's are int8 with a scale)")
    ctx.require(state.type_code == FLOAT32 and state.is_variable and state.data is None,
                "the state must be a float32 variable tensor without data")
    ctx.require(y.type_code == FLOAT32, f"output type {y.type_name}")
    ctx.require(len(x.shape) == 2 and len(wf.shape) == 2 and len(wt.shape) == 2 and len(state.shape) == 2,
                "input, weights and state must be 2-D")
    batch, n_input = x.shape
    n_filter, n_memory = wf.shape[0], wt.shape[1]
    ctx.require(wf.shape[1] == n_input and wt.shape[0] == n_filter, "weights do not fit the input")
    rank = int(ctx.opt("Rank", 0))
    ctx.require(rank > 0 and n_filter % rank == 0, f"rank {rank} does not divide {n_filter} filters")
    n_unit = n_filter // rank
    ctx.require(tuple(state.shape) == (batch, n_memory * n_filter), f"state shape {state.shape}")
    ctx.require(tuple(y.shape) == (batch, n_unit), f"output shape {y.shape}, expected {(batch, n_unit)}")
    _float_bias(ctx, bias, n_unit)
    fs = _weight_scales(ctx, wf, n_filter, 0)
    ctx.require(len(wf.scales) == 1, "per-channel weights_feature (TFLite's hybrid SVDF reads one scale)")
    ctx.require(not np.any(wt.zero_points), "weights_time zero point must be 0")
    wt_float = (wt.data.astype(np.float32).reshape(n_filter, n_memory) * np.float32(wt.scales[0])).astype(np.float32)
    row_sums = wf.data.astype(np.int32).reshape(n_filter, n_input).sum(axis=1).astype(np.int32)
    params = ctx.params("pe_svdf_hybrid_params", rank=rank, asymmetric=int(bool(ctx.opt("AsymmetricQuantizeInputs", False))),
                        activation=_activation(ctx), feature_scale_bits=int(fs[:1].view(np.int32)[0]))
    return Lowered("SVDF_HYBRID", [x, wf, ctx.const(wt_float, "weights_time_float"), bias, state,
                                   ctx.const(row_sums, "row_sums")], [y], params,
                   scratch=(n_input + 3) // 4 * 4 + 4 * n_filter)


# TFLite's UNIDIRECTIONAL_SEQUENCE_LSTM input indices (lstm_shared.h)
_L_INPUT_W, _L_RECURRENT_W, _L_PEEPHOLE_W, _L_BIAS, _L_PROJ_W, _L_PROJ_B, _L_H, _L_C, _L_LN = 1, 5, 9, 12, 16, 17, 18, 19, 20
# ApplyActivationToVector codes the kernel runs as the cell activation (NONE leaves the vector
# unwritten in TFLite, SIGN_BIT is no LSTM activation; SIGMOID on the cell state writes into a
# scratch buffer whose alignment, which picks Eigen's scalar or vector logistic, is TFLite's)
_LSTM_ACTS = {1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH"}


def _bits(v: float) -> int:
    return int(np.array([v], np.float32).view(np.int32)[0])


def lstm_hybrid(ctx: LowerCtx) -> Lowered:
    """unidirectional_sequence_lstm.cc with float32 input and int8 weights: lstm_eval's
    EvalHybrid (per-row quantization of the input, output state and projected hidden state; int8
    dot products; float gates, std::exp sigmoid and std::tanh). Layer norm is refused."""
    n_in = len(ctx.op.inputs)
    ctx.require(n_in in (20, 24), f"{n_in} inputs; the LSTM takes 20 or 24")
    ctx.require(len(ctx.op.outputs) == 1, f"{len(ctx.op.outputs)} outputs; the LSTM has 1")
    x, y = ctx.input(0), ctx.output(0)
    ctx.require(y.type_code == FLOAT32, f"output type {y.type_name} (a hybrid LSTM's output is FLOAT32)")
    ctx.require(len(x.shape) == 3, f"input rank {len(x.shape)}; expected 3")
    ctx.require(not ctx.opt("DiagonalRecurrentTensors", False), "diagonal recurrent weights exist only in TFLite's float kernel")
    time_major = bool(ctx.opt("TimeMajor", False))
    n_time, n_batch = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    n_input = x.shape[2]
    w_out = ctx.input(_L_INPUT_W + 3)
    n_cell = w_out.shape[0] if len(w_out.shape) == 2 else 0
    r_out = ctx.input(_L_RECURRENT_W + 3)
    ctx.require(r_out is not None and len(r_out.shape) == 2, "recurrent-to-output weights missing or not 2-D")
    n_output = r_out.shape[1]
    ctx.require(min(n_time, n_batch, n_input, n_cell, n_output) >= 1, "an empty time, batch, input, cell or output dimension")
    if n_in == 24:
        ctx.require(all(ctx.input(_L_LN + g) is None for g in range(4)),
                    "layer-norm coefficients: pyedge's hybrid LSTM runs without layer norm")
    use_cifg = ctx.input(_L_INPUT_W) is None
    inputs: list = [None] * 29
    inputs[0] = x
    scales_x, scales_h = [0] * 4, [0] * 4
    asym = bool(ctx.opt("AsymmetricQuantizeInputs", False))

    def weights(k: int, rows: int, cols: int, what: str):
        w = ctx.input(k)
        ctx.require(w is not None and w.type_code == INT8, f"{what} must be int8 (a hybrid LSTM's weights)")
        ctx.require(tuple(w.shape) == (rows, cols), f"{what} shape {tuple(w.shape)}, expected {(rows, cols)}")
        scale = _weight_scales(ctx, w, rows, 0)
        ctx.require(len(w.scales) == 1, f"{what} is quantized per channel (TFLite's hybrid LSTM reads one scale)")
        sums = ctx.const(w.data.astype(np.int32).reshape(rows, cols).sum(axis=1).astype(np.int32), "row_sums") if asym else None
        return w, _bits(float(scale[0])), sums

    for g in range(4):
        present = [ctx.input(k) is not None for k in (_L_INPUT_W + g, _L_RECURRENT_W + g, _L_BIAS + g)]
        if g == 0 and use_cifg:
            ctx.require(not any(present), "CIFG LSTM (no input-to-input weights) with input-gate recurrent weights or bias")
            continue
        ctx.require(all(present), f"gate {g}: weights and bias are required")
        inputs[1 + g], scales_x[g], inputs[20 + g] = weights(_L_INPUT_W + g, n_cell, n_input, f"input-to-gate {g} weights")
        inputs[5 + g], scales_h[g], inputs[24 + g] = weights(_L_RECURRENT_W + g, n_cell, n_output, f"recurrent-to-gate {g} weights")
        b = ctx.input(_L_BIAS + g)
        ctx.require(b.type_code == FLOAT32 and b.size == n_cell and b.is_const, f"gate {g} bias must be float32 [{n_cell}]")
        inputs[12 + g] = b
    peep = [ctx.input(_L_PEEPHOLE_W + k) for k in range(3)]
    use_peephole = any(t is not None for t in peep)
    if use_peephole:
        for k, t in enumerate(peep):
            if k == 0 and use_cifg:
                ctx.require(t is None, "CIFG LSTM with cell-to-input weights")
                continue
            ctx.require(t is not None and t.is_const and t.size == n_cell, "peephole weights: all of them, [n_cell] each")
            ctx.require(t.type_code == INT8 and t.quantized and len(t.scales) == 1,
                        f"peephole weights {t.type_name} (a hybrid LSTM's are int8 with one scale, as TFLite requires)")
            # VectorScalarMultiply: scale * int8, in float
            inputs[9 + k] = ctx.const((np.float32(t.scales[0]) * t.data.astype(np.float32).ravel()).astype(np.float32),
                                      "peephole_float")
    proj_w, proj_b = ctx.input(_L_PROJ_W), ctx.input(_L_PROJ_B)
    proj_bits = 0
    if proj_w is not None:
        inputs[16], proj_bits, inputs[28] = weights(_L_PROJ_W, n_output, n_cell, "projection weights")
        if proj_b is not None:
            ctx.require(proj_b.type_code == FLOAT32 and proj_b.size == n_output and proj_b.is_const,
                        f"projection bias must be float32 [{n_output}]")
            inputs[17] = proj_b
    else:
        ctx.require(proj_b is None, "projection bias without projection weights")
        ctx.require(n_output == n_cell, f"{n_output} outputs for {n_cell} cells without a projection")
    h, c = ctx.input(_L_H), ctx.input(_L_C)
    for t, n, what in ((h, n_batch * n_output, "output state"), (c, n_batch * n_cell, "cell state")):
        ctx.require(t is not None and t.is_variable and t.data is None and t.type_code == FLOAT32 and t.size == n,
                    f"{what} must be a float32 variable tensor of {n} elements")
    inputs[18], inputs[19] = h, c
    want = (x.shape[0], x.shape[1], n_output)
    ctx.require(tuple(y.shape) == want, f"output shape {tuple(y.shape)}, expected {want}")
    act = int(ctx.opt("FusedActivationFunction", 4))
    ctx.require(act in _LSTM_ACTS, f"cell activation {ACT_NAMES.get(act, act)} (pyedge runs {', '.join(_LSTM_ACTS.values())})")
    cell_clip, proj_clip = float(ctx.opt("CellClip", 0.0)), float(ctx.opt("ProjClip", 0.0))
    ctx.require(cell_clip >= 0 and proj_clip >= 0, "negative clip values")
    rows = n_batch if time_major else 1
    a4 = lambda n: (n + 3) // 4 * 4  # noqa: E731
    scratch = a4(rows * n_input) + a4(rows * n_output) + a4(rows * n_cell) + 4 * (5 * rows * n_cell + 6 * rows)
    params = _params(
        "pe_lstm_hybrid_params", time_major=int(time_major), n_batch=n_batch, n_time=n_time, n_input=n_input,
        n_cell=n_cell, n_output=n_output, use_cifg=int(use_cifg), use_peephole=int(use_peephole),
        use_projection=int(proj_w is not None), asymmetric=int(asym), activation=act,
        cell_clip_bits=_bits(cell_clip), proj_clip_bits=_bits(proj_clip),
        input_scale_bits=scales_x, recurrent_scale_bits=scales_h, proj_scale_bits=proj_bits)
    return Lowered("UNIDIRECTIONAL_SEQUENCE_LSTM_HYBRID", inputs, [y], params, scratch=scratch)


def is_float(ctx: LowerCtx) -> bool:
    """The op's data input, weights (if any) and output are all float32."""
    x, y = ctx.input(0), ctx.output(0)
    w = ctx.input(1) if ctx.op.opcode in ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D") else None
    return (x is not None and x.type_code == FLOAT32 and y.type_code == FLOAT32
            and (w is None or w.type_code == FLOAT32))


def _float_activation(ctx: LowerCtx) -> int:
    act = int(ctx.opt("FusedActivationFunction", 0))
    ctx.require(act in HYBRID_ACTS, f"fused activation {ACT_NAMES.get(act, act)} on a float op (supported: NONE, "
                "RELU, RELU_N1_TO_1, RELU6)")
    return act


def fully_connected_float(ctx: LowerCtx) -> Lowered:
    """reference_ops::FullyConnected (float): the weights a dynamic-range model leaves float."""
    x, w, b, y = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    ctx.require(len(ctx.op.inputs) in (2, 3) and len(ctx.op.outputs) == 1, "expected 2 or 3 inputs and 1 output")
    ctx.require(w.is_const and len(w.shape) == 2, f"weights must be constant and 2-D (shape {w.shape})")
    units, depth = w.shape
    ctx.require(units > 0 and depth > 0 and x.size % depth == 0,
                f"input shape {x.shape} does not split into rows of the weights depth {depth}")
    want = tuple(x.shape[:-1]) + (units,) if ctx.opt("KeepNumDims", False) else (x.size // depth, units)
    ctx.require(tuple(y.shape) == want, f"output shape {tuple(y.shape)} differs from the shape TFLite computes, {want}")
    _float_bias(ctx, b, units)
    params = ctx.params("pe_fc_float_params", depth=depth, activation=_float_activation(ctx))
    return Lowered("FULLY_CONNECTED_FLOAT", [x, w, b], [y], params)


def _conv_float(ctx: LowerCtx, depthwise: bool) -> Lowered:
    x, w, b, y = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    ctx.require(len(ctx.op.inputs) in (2, 3), f"{len(ctx.op.inputs)} inputs (expected 2 or 3)")
    ctx.require(w.is_const, "the filter must be constant")
    ctx.require(len(x.shape) == 4 and len(w.shape) == 4, f"input {x.shape} and filter {w.shape} must be 4-D")
    batches, _, _, in_c = x.shape
    if depthwise:
        ctx.require(w.shape[0] == 1, f"depthwise filter shape {w.shape} must be [1, KH, KW, OC]")
        _, kh, kw, out_c = w.shape
        ctx.require(in_c > 0 and out_c % in_c == 0, f"filter channels {out_c} are not a multiple of input channels {in_c}")
        dm = out_c // in_c
    else:
        out_c, kh, kw, filter_c = w.shape
        ctx.require(filter_c == in_c, f"grouped float conv (filter channels {filter_c}, input channels {in_c})")
        dm = 0
    _float_bias(ctx, b, out_c)
    win = _conv._window(ctx, x, kh, kw)
    want = (batches, win["out_h"], win["out_w"], out_c)
    ctx.require(tuple(y.shape) == want, f"output shape {tuple(y.shape)} differs from the shape TFLite computes, {want}")
    params = ctx.params("pe_conv_hybrid_params", stride_h=win["stride_h"], stride_w=win["stride_w"],
                        dilation_h=win["dilation_h"], dilation_w=win["dilation_w"], pad_h=win["pad_h"],
                        pad_w=win["pad_w"], kernel_h=kh, kernel_w=kw, depth_multiplier=dm, per_channel=0,
                        activation=_float_activation(ctx))
    return Lowered("DEPTHWISE_CONV_2D_FLOAT" if depthwise else "CONV_2D_FLOAT", [x, w, b], [y], params)


def _pool_float(ctx: LowerCtx, op: str) -> Lowered:
    from .pool import _out_size_and_padding

    x, y = ctx.input(0), ctx.output(0)
    ctx.require(len(x.shape) == 4, f"input rank {len(x.shape)} (TFLite requires 4)")
    sh, sw = ctx.opt("StrideH", 0), ctx.opt("StrideW", 0)
    fh, fw = ctx.opt("FilterHeight", 0), ctx.opt("FilterWidth", 0)
    ctx.require(min(sh, sw, fh, fw) > 0, f"strides {sh}x{sw} and filter {fh}x{fw} must be positive")
    padding = ctx.opt("Padding", 0)
    ctx.require(padding in (0, 1), f"padding {padding}")
    n, h, w, c = x.shape
    out_h, pad_h = _out_size_and_padding(padding, h, fh, sh)
    out_w, pad_w = _out_size_and_padding(padding, w, fw, sw)
    ctx.require(out_h > 0 and out_w > 0, f"empty output ({out_h}x{out_w}) for input {h}x{w}, filter {fh}x{fw}")
    ctx.require(tuple(y.shape) == (n, out_h, out_w, c), f"output shape {y.shape}, TFLite computes {(n, out_h, out_w, c)}")
    params = ctx.params("pe_pool_float_params", stride_h=sh, stride_w=sw, filter_h=fh, filter_w=fw, pad_h=pad_h,
                        pad_w=pad_w, activation=_float_activation(ctx))
    return Lowered(op, [x], [y], params)


def softmax_float(ctx: LowerCtx) -> Lowered:
    x, y = ctx.input(0), ctx.output(0)
    ctx.require(len(x.shape) >= 1 and x.shape[-1] > 0, f"input shape {x.shape}")
    ctx.require(tuple(y.shape) == tuple(x.shape), f"output shape {y.shape} differs from input {x.shape}")
    beta = np.array([ctx.opt("Beta", 1.0)], np.float32).view(np.int32)[0]
    return Lowered("SOFTMAX_FLOAT", [x], [y],
                   ctx.params("pe_softmax_float_params", beta_bits=int(beta), depth=int(x.shape[-1])))


def _broadcast_params(ctx: LowerCtx, a: Tensor, b: Tensor, y: Tensor) -> dict:
    """Output dims and element strides of a and b over the output's 6-D index (0 where an input
    of size 1 broadcasts), as TFLite's BroadcastBinaryFunction6DSlow reads them."""
    ra, rb, ry = len(a.shape), len(b.shape), len(y.shape)
    ctx.require(max(ra, rb, ry) <= 6, f"ranks {ra}, {rb} above 6")
    ea, eb = (1,) * (6 - ra) + tuple(a.shape), (1,) * (6 - rb) + tuple(b.shape)
    out = tuple(max(p, q) for p, q in zip(ea, eb))
    for p, q in zip(ea, eb):
        ctx.require(p == q or p == 1 or q == 1, f"shapes {a.shape} and {b.shape} do not broadcast")
    want = out[6 - max(ra, rb):]
    ctx.require(tuple(y.shape) == want, f"output shape {tuple(y.shape)}, TFLite computes {want}")

    def strides(e):
        st, acc = [0] * 6, 1
        for d in range(5, -1, -1):
            st[d] = 0 if e[d] == 1 else acc
            acc *= e[d]
        return st
    return dict(out_dims=list(out), a_strides=strides(ea), b_strides=strides(eb))


def _params(ctype: str, **fields) -> bytes:
    """A params struct whose fields may be int32 arrays (lists)."""
    p = _native.params_struct(ctype)
    for k, v in fields.items():
        if isinstance(v, (list, tuple)):
            arr = getattr(p, k)
            for i, x in enumerate(v):
                arr[i] = int(x)
        else:
            setattr(p, k, int(v))
    return _native.struct_bytes(p)


def _binary_float(ctx: LowerCtx, op: str) -> Lowered:
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.require(len(ctx.op.inputs) == 2 and a is not None and b is not None, "expected 2 inputs")
    ctx.require(b.type_code == FLOAT32, f"second input type {b.type_name} with a FLOAT32 first input")
    act = 0 if op == "PRELU_FLOAT" else _float_activation(ctx)
    return Lowered(op, [a, b], [y], _params("pe_binary_float_params", activation=act,
                                            **_broadcast_params(ctx, a, b, y)))


def _relu_float(ctx: LowerCtx) -> Lowered:
    x, y = ctx.input(0), ctx.output(0)
    ctx.require(tuple(x.shape) == tuple(y.shape), f"output shape {y.shape} differs from input {x.shape}")
    kind = {"RELU": 0, "RELU6": 1, "RELU_N1_TO_1": 2}[ctx.op.opcode]
    return Lowered("RELU_FLOAT", [x], [y], ctx.params("pe_relu_float_params", kind=kind))


def _mean_float(ctx: LowerCtx) -> Lowered:
    from .pool import _reduce_axes

    x, y = ctx.input(0), ctx.output(0)
    ctx.require(1 <= len(x.shape) <= 6 and x.size > 0, f"input shape {x.shape}")
    raw, axes = _reduce_axes(ctx, x)
    ctx.require(len(raw) > 0, "empty axis list")
    rank = len(x.shape)
    keep = bool(ctx.opt("KeepDims", False))
    want = tuple(1 if d in axes else n for d, n in enumerate(x.shape)) if keep else \
        tuple(n for d, n in enumerate(x.shape) if d not in axes)
    ctx.require(tuple(y.shape) == want, f"output shape {tuple(y.shape)}, TFLite computes {want}")
    dims = [1] * (6 - rank) + list(x.shape)
    mask = sum(1 << (d + 6 - rank) for d in axes)
    return Lowered("MEAN_FLOAT", [x], [y], _params("pe_mean_float_params", in_dims=dims, axis_mask=mask))


def _wrap(name: str, variant: Callable[[LowerCtx], Lowered], applies: Callable[[LowerCtx], bool],
          types: str) -> None:
    """Route the form of TFLite op `name` that `applies` to `variant`, every other form to the
    lowering registered for it."""
    support = REGISTRY[name]
    other = support.fn

    def lower(ctx: LowerCtx):
        return variant(ctx) if applies(ctx) else other(ctx)

    lower.__doc__ = other.__doc__
    support.fn = lower
    if types not in support.types:
        support.types = f"{support.types}, {types}" if support.types else types


def _load() -> None:
    from . import activation as _activation_module, pool as _pool_module  # noqa: F401  (register first)

    _wrap("FULLY_CONNECTED", fully_connected_hybrid, is_hybrid, "hybrid")
    _wrap("CONV_2D", conv_2d_hybrid, is_hybrid, "hybrid")
    _wrap("DEPTHWISE_CONV_2D", depthwise_conv_2d_hybrid, is_hybrid, "hybrid")
    _wrap("BATCH_MATMUL", batch_matmul_hybrid, is_hybrid, "hybrid")
    from . import sequence as _sequence_module  # noqa: F401

    _wrap("SVDF", svdf_hybrid, is_hybrid, "hybrid")
    from . import lstm as _lstm_module  # noqa: F401

    _wrap("UNIDIRECTIONAL_SEQUENCE_LSTM", lstm_hybrid, lambda c: is_hybrid(c, 4), "hybrid")
    _wrap("FULLY_CONNECTED", fully_connected_float, is_float, "float32")
    _wrap("CONV_2D", lambda c: _conv_float(c, False), is_float, "float32")
    _wrap("DEPTHWISE_CONV_2D", lambda c: _conv_float(c, True), is_float, "float32")
    _wrap("MAX_POOL_2D", lambda c: _pool_float(c, "MAX_POOL_2D_FLOAT"), is_float, "float32")
    _wrap("AVERAGE_POOL_2D", lambda c: _pool_float(c, "AVERAGE_POOL_2D_FLOAT"), is_float, "float32")
    _wrap("SOFTMAX", softmax_float, is_float, "float32")
    from . import elementwise as _elementwise_module  # noqa: F401

    for name in ("ADD", "SUB", "MUL", "PRELU"):
        _wrap(name, lambda c, op=f"{name}_FLOAT": _binary_float(c, op), is_float, "float32")
    for name in ("RELU", "RELU6", "RELU_N1_TO_1"):
        _wrap(name, _relu_float, is_float, "float32")
    _wrap("MEAN", _mean_float, is_float, "float32")


_load()

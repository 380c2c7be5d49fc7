"""Lowering of the elementwise binary ops: ADD, SUB, MUL, MINIMUM, MAXIMUM, PRELU.

Parameters are computed as TFLite 2.14's Prepare computes them (kernels/add.cc, sub.cc, mul.cc,
maximum_minimum.cc and PRELU in activations.cc), including where it works in float32 and where
in double. Variants on which TFLite's reference kernels fail or abort are rejected here.
"""
from __future__ import annotations

import numpy as np

from . import Lowered, LowerCtx, register
from .. import _native
from ..graph import TFLITE_TYPE_NAMES, Tensor
from ..quant import (ACT_NONE, ACT_RELU, ACT_RELU6, ACT_RELU_N1_TO_1, INT_RANGES, activation_range,
                     quantize_multiplier, quantize_multiplier_smaller_than_one_exp, tflite_round)

INT8, INT16, INT32, UINT8 = 9, 7, 2, 3
_NP = {INT8: np.int8, INT16: np.int16, INT32: np.int32, UINT8: np.uint8}

# Highest output rank at which TFLite 2.14's reference kernels broadcast (BroadcastAdd6DSlow,
# BroadcastQuantSubSlow/BroadcastSubSlow<5>, BroadcastMul4DSlow, MaximumMinimumBroadcastSlow<5>,
# BroadcastPrelu4DSlow); beyond it TFLite aborts. Operands of identical shape run as a flat loop
# at any rank.
_BROADCAST_RANK = {"ADD": 6, "SUB": 5, "MUL": 4, "MINIMUM": 5, "MAXIMUM": 5, "PRELU": 4}

# Largest power-of-two scale ratio of the int16 POT path: TFLite rounds in int16 there, which
# agrees with the core's int32 rounding only for shifts up to 15.
_POT_MAX_SHIFT = 15


def _binary_shapes(ctx: LowerCtx, a: Tensor, b: Tensor, y: Tensor) -> tuple[int, ...]:
    """Check the output is the broadcast of the inputs, within the rank TFLite broadcasts at."""
    ctx.require(len(ctx.op.inputs) == 2 and a is not None and b is not None,
                "expects exactly two inputs")
    try:
        shape = tuple(np.broadcast_shapes(a.shape, b.shape))
    except ValueError:
        ctx.fail(f"input shapes {a.shape} and {b.shape} do not broadcast")
    ctx.require(tuple(y.shape) == shape,
                f"output shape {y.shape} is not the broadcast {shape} of the inputs")
    limit = _BROADCAST_RANK[ctx.op.opcode]
    ctx.require(a.shape == b.shape or len(shape) <= limit,
                f"broadcasting {a.shape} with {b.shape}: TFLite broadcasts this op up to rank "
                f"{limit}")
    return shape


def _same_type(ctx: LowerCtx, ts: list[Tensor], allowed: tuple[int, ...], what: str) -> int:
    """All tensors share one type, among `allowed`; returns it."""
    t = ts[0].type_code
    names = ", ".join(TFLITE_TYPE_NAMES[c].lower() for c in allowed)
    ctx.require(t in allowed, f"{ts[0].type_name} {what} (pyedge runs {names})")
    for x in ts[1:]:
        ctx.require(x.type_code == t, f"mixed types {ts[0].type_name} and {x.type_name}")
    return t


def _qparams(ctx: LowerCtx, t: Tensor, what: str) -> tuple[np.float32, int]:
    """Per-tensor (scale as float32, zero point), with the zero point in the type's range."""
    ctx.require(t.quantized, f"{what} is not quantized")
    ctx.require(not t.per_channel, f"{what} is quantized per channel; TFLite uses one scale here")
    scale = np.float32(t.scale)
    ctx.require(bool(np.isfinite(scale)) and scale > 0, f"{what} has scale {t.scale}")
    lo, hi = INT_RANGES[np.dtype(_NP[t.type_code])]
    ctx.require(lo <= t.zero_point <= hi, f"{what} zero point {t.zero_point} is outside {t.type_name}")
    return scale, t.zero_point


def _fused_activation(ctx: LowerCtx, y: Tensor, scale: float, zero_point: int) -> tuple[int, int]:
    """TFLite CalculateActivationRangeQuantized for the op's fused activation."""
    act = ctx.opt("FusedActivationFunction", ACT_NONE)
    ctx.require(act in (ACT_NONE, ACT_RELU, ACT_RELU6, ACT_RELU_N1_TO_1),
                f"fused activation {act} on a quantized output (TFLite refuses it)")
    return activation_range(act, scale, zero_point, _NP[y.type_code])


def _int32_activation(ctx: LowerCtx) -> tuple[int, int]:
    """TFLite CalculateActivationRange<int32_t>: other activations (TANH, SIGN_BIT) do not clamp."""
    act = ctx.opt("FusedActivationFunction", ACT_NONE)
    lo, hi = INT_RANGES[np.dtype(np.int32)]
    return {ACT_RELU: (0, hi), ACT_RELU6: (0, 6), ACT_RELU_N1_TO_1: (-1, 1)}.get(act, (lo, hi))


def _checked_log2(scale: np.float32) -> tuple[bool, int]:
    """TFLite CheckedLog2 (float32 arithmetic): (is a power of two within 1e-3 in log2, log2)."""
    inv_ln2 = np.float32(1.0) / np.float32(np.log(np.float32(2.0)))
    x_log2 = np.float32(np.log(np.float32(scale))) * inv_ln2
    rounded = np.float32(tflite_round(float(x_log2)))
    return bool(abs(np.float32(x_log2 - rounded)) < np.float32(1e-3)), int(rounded)


# ---- ADD, SUB ----------------------------------------------------------------------------------

def _add_sub(ctx: LowerCtx) -> Lowered:
    op = ctx.op.opcode
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    _binary_shapes(ctx, a, b, y)
    t = _same_type(ctx, [a, b, y], (INT8, UINT8, INT16, INT32), op)
    if t == INT32:
        lo, hi = _int32_activation(ctx)
        return Lowered(op, [a, b], [y], ctx.params("pe_add_params", kind=_native.lib.PE_ADD_INT32,
                                                   activation_min=lo, activation_max=hi))
    (sa, za), (sb, zb), (sy, zy) = (_qparams(ctx, a, "input 1"), _qparams(ctx, b, "input 2"),
                                    _qparams(ctx, y, "the output"))
    lo, hi = _fused_activation(ctx, y, sy, zy)
    if t == INT16:
        ctx.require(za == zb == zy == 0, f"int16 {op} needs zero points 0 (TFLite requires it), "
                    f"got {za}, {zb}, {zy}")
        # TFLite takes the power-of-two path when pot_scale_int16 is set (the flatbuffer default;
        # false without an options table) and all three scales are powers of two.
        pot_flag = bool(ctx.opt("PotScaleInt16", True)) if ctx.op.options_type else False
        logs = [_checked_log2(s) for s in (sa, sb, sy)]
        if pot_flag and all(ok for ok, _ in logs):
            return _add_sub_pot(ctx, a, b, y, [n for _, n in logs], lo, hi)
    left_shift = 15 if t == INT16 else 20
    twice_max = float(np.float32(2) * max(sa, sb))                   # float, held in a double
    real1, real2 = float(sa) / twice_max, float(sb) / twice_max     # double
    real_out = twice_max / float(np.float32(1 << left_shift) * sy)  # double / float
    ctx.require(real_out < 1.0, f"output scale {float(sy)} is too small for input scales "
                f"{float(sa)}, {float(sb)}: TFLite's {op} needs a real output multiplier below 1 "
                f"(got {real_out:.4g})")
    m1, s1 = quantize_multiplier_smaller_than_one_exp(real1)
    m2, s2 = quantize_multiplier_smaller_than_one_exp(real2)
    mo, so = quantize_multiplier_smaller_than_one_exp(real_out)
    return Lowered(op, [a, b], [y], ctx.params(
        "pe_add_params", kind=_native.lib.PE_ADD_RESCALE, left_shift=left_shift,
        input1_offset=-za, input1_multiplier=m1, input1_shift=s1,
        input2_offset=-zb, input2_multiplier=m2, input2_shift=s2,
        output_offset=zy, output_multiplier=mo, output_shift=so,
        activation_min=lo, activation_max=hi))


def _add_sub_pot(ctx: LowerCtx, a: Tensor, b: Tensor, y: Tensor, logs: list[int], lo: int,
                 hi: int) -> Lowered:
    """int16 with power-of-two scales: the input on a finer scale is shifted right onto the output's."""
    op = ctx.op.opcode
    s1, s2 = logs[0] - logs[2], logs[1] - logs[2]
    ctx.require((s1 == 0 or s2 == 0) and s1 <= 0 and s2 <= 0,
                f"power-of-two int16 {op}: one input must have the output's scale and the other a "
                f"finer one (TFLite requires it), got log2 scales {logs}")
    ctx.require(s1 >= -_POT_MAX_SHIFT and s2 >= -_POT_MAX_SHIFT,
                f"power-of-two int16 {op}: scale ratio 2^{-min(s1, s2)} exceeds 2^{_POT_MAX_SHIFT}")
    if op == "ADD":
        # TFLite's power-of-two ADD has no broadcasting kernel: it runs a flat loop and aborts
        # unless every operand has the same number of elements.
        ctx.require(a.size == b.size == y.size,
                    f"power-of-two int16 ADD of shapes {a.shape} and {b.shape} would need "
                    "broadcasting, which TFLite's kernel for it does not do")
    return Lowered(op, [a, b], [y], ctx.params(
        "pe_add_params", kind=_native.lib.PE_ADD_POT, input1_shift=s1, input2_shift=s2,
        activation_min=lo, activation_max=hi))


@register("ADD", max_version=5, types="int8, uint8, int16, int32")
def add(ctx: LowerCtx) -> Lowered:
    return _add_sub(ctx)


@register("SUB", max_version=5, types="int8, uint8, int16, int32")
def sub(ctx: LowerCtx) -> Lowered:
    return _add_sub(ctx)


# ---- MUL ---------------------------------------------------------------------------------------

@register("MUL", max_version=7, types="int8, uint8, int16, int16 -> int8, int32")
def mul(ctx: LowerCtx) -> Lowered:
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    _binary_shapes(ctx, a, b, y)
    t = _same_type(ctx, [a, b], (INT8, UINT8, INT16, INT32), "MUL")
    if t == INT32:
        ctx.require(y.type_code == INT32, f"int32 inputs with a {y.type_name} output")
        lo, hi = _int32_activation(ctx)
        return Lowered("MUL", [a, b], [y], ctx.params("pe_mul_params", kind=_native.lib.PE_MUL_INT32,
                                                      activation_min=lo, activation_max=hi))
    ctx.require(y.type_code == t or (t == INT16 and y.type_code == INT8),
                f"{a.type_name} inputs with a {y.type_name} output")
    (sa, za), (sb, zb), (sy, zy) = (_qparams(ctx, a, "input 1"), _qparams(ctx, b, "input 2"),
                                    _qparams(ctx, y, "the output"))
    lo, hi = _fused_activation(ctx, y, sy, zy)
    if t == INT16 and y.type_code == INT8:
        # TFLite's int16 -> int8 MUL treats the inputs as Q0.15 and ignores every scale; it only
        # has a flat kernel.
        ctx.require(a.size == b.size == y.size,
                    f"int16 -> int8 MUL of shapes {a.shape} and {b.shape} would need broadcasting, "
                    "which TFLite's kernel for it does not do")
        return Lowered("MUL", [a, b], [y], ctx.params(
            "pe_mul_params", kind=_native.lib.PE_MUL_INT16_INT8, output_offset=zy,
            activation_min=lo, activation_max=hi))
    if t == INT16:
        ctx.require(za == zb == zy == 0, f"int16 MUL needs zero points 0 (TFLite requires it), "
                    f"got {za}, {zb}, {zy}")
    real = float(sa * sb / sy)  # float32 arithmetic, then a double
    mult, shift = quantize_multiplier(real)
    ctx.require(shift <= 31, f"output scale {float(sy)} is too small for the input scales")
    return Lowered("MUL", [a, b], [y], ctx.params(
        "pe_mul_params", kind=_native.lib.PE_MUL_RESCALE, input1_offset=-za, input2_offset=-zb,
        output_offset=zy, output_multiplier=mult, output_shift=shift,
        activation_min=lo, activation_max=hi))


# ---- MINIMUM, MAXIMUM --------------------------------------------------------------------------

@register("MINIMUM", "MAXIMUM", max_version=4, types="int8, uint8, int16, int32")
def minimum_maximum(ctx: LowerCtx) -> Lowered:
    """TFLite compares the raw values and requires nothing of the quantization parameters."""
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    _binary_shapes(ctx, a, b, y)
    _same_type(ctx, [a, b, y], (INT8, UINT8, INT16, INT32), ctx.op.opcode)
    return Lowered(ctx.op.opcode, [a, b], [y], ctx.params("pe_minmax_params"))


# ---- PRELU -------------------------------------------------------------------------------------

@register("PRELU", max_version=1, types="int8")
def prelu(ctx: LowerCtx) -> Lowered:
    x, alpha, y = ctx.input(0), ctx.input(1), ctx.output(0)
    _binary_shapes(ctx, x, alpha, y)
    ctx.require(tuple(y.shape) == tuple(x.shape),
                f"alpha {alpha.shape} must broadcast to the input's shape {x.shape}")
    _same_type(ctx, [x, alpha, y], (INT8,), "PRELU")
    (sx, zx), (sa, za), (sy, zy) = (_qparams(ctx, x, "the input"), _qparams(ctx, alpha, "alpha"),
                                    _qparams(ctx, y, "the output"))
    # x >= 0 passes through at input_scale / output_scale; x < 0 is multiplied by alpha at
    # input_scale * alpha_scale / output_scale (both in float32, then a double).
    m1, s1 = quantize_multiplier(float(sx / sy))
    m2, s2 = quantize_multiplier(float(sx * sa / sy))
    ctx.require(s1 <= 31 and s2 <= 31, f"output scale {float(sy)} is too small for the input scales")
    return Lowered("PRELU", [x, alpha], [y], ctx.params(
        "pe_prelu_params", input_offset=-zx, alpha_offset=-za, output_offset=zy,
        identity_multiplier=m1, identity_shift=s1, alpha_multiplier=m2, alpha_shift=s2))


# ---- FLOOR_DIV, DIV, SQRT (no quantization) -----------------------------------------------------

FLOAT32 = 0
_DIV_ACT = {ACT_NONE: _native.lib.PE_DIV_ACT_NONE, ACT_RELU: _native.lib.PE_DIV_ACT_RELU,
            ACT_RELU_N1_TO_1: _native.lib.PE_DIV_ACT_RELU_N1_TO_1, ACT_RELU6: _native.lib.PE_DIV_ACT_RELU6}


def _plain_binary(ctx: LowerCtx, allowed: tuple[int, ...], limit: int) -> tuple[Tensor, Tensor, Tensor, int]:
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.require(len(ctx.op.inputs) == 2 and a is not None and b is not None, "expects exactly two inputs")
    names = {FLOAT32: "float32", INT8: "int8", INT16: "int16", INT32: "int32"}
    t = a.type_code
    ctx.require(t in allowed, f"{a.type_name} {ctx.op.opcode} (pyedge runs {', '.join(names[c] for c in allowed)})")
    for x in (b, y):
        ctx.require(x.type_code == t, f"mixed types {a.type_name} and {x.type_name}")
    try:
        shape = tuple(np.broadcast_shapes(a.shape, b.shape))
    except ValueError:
        ctx.fail(f"input shapes {a.shape} and {b.shape} do not broadcast")
    ctx.require(tuple(y.shape) == shape, f"output shape {y.shape} is not the broadcast {shape} of the inputs")
    ctx.require(a.shape == b.shape or len(shape) <= limit,
                f"broadcasting {a.shape} with {b.shape}: TFLite broadcasts this op up to rank {limit}")
    if t != FLOAT32 and b.is_const:
        ctx.require(not np.any(np.asarray(b.data) == 0), "a zero in the constant denominator (TFLite fails the invoke)")
    return a, b, y, t


@register("FLOOR_DIV", max_version=3, types="int8, int16, int32, float32 (raw values)")
def floor_div(ctx: LowerCtx) -> Lowered:
    """floor_div.cc: floor(in1 / in2) on the raw values (quantization plays no part), broadcast up
    to rank 4 (BroadcastBinaryFunction4DSlow)."""
    a, b, y, _ = _plain_binary(ctx, (INT8, INT16, INT32, FLOAT32), 4)
    return Lowered("FLOOR_DIV", [a, b], [y], ctx.params("pe_floor_div_params"))


@register("DIV", max_version=2, types="int32, uint8, float32")
def div(ctx: LowerCtx) -> Lowered:
    """div.cc: int32 truncating division and float32 division, with the fused activation;
    uint8 (quantized) through the fixed-point reciprocal of the denominator; broadcast up to
    rank 5 (BroadcastDivSlow<5>)."""
    x = ctx.input(0)
    if x is not None and x.type_code == UINT8:
        return _div_uint8(ctx)
    a, b, y, t = _plain_binary(ctx, (INT32, FLOAT32), 5)
    act = ctx.opt("FusedActivationFunction", ACT_NONE)
    ctx.require(act in _DIV_ACT, f"fused activation {act}")
    lo, hi = _int32_activation(ctx) if t == INT32 else (0, 0)
    return Lowered("DIV", [a, b], [y], ctx.params("pe_div_params", activation=_DIV_ACT[act],
                                                  activation_min=lo, activation_max=hi))


def _div_uint8(ctx: LowerCtx) -> Lowered:
    """div.cc Prepare for uint8: QuantizeMultiplier(s1 / (s2 * s_out)), the scales multiplied and
    divided in float32; the activation range from CalculateActivationRangeQuantized."""
    a, b, y = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.require(len(ctx.op.inputs) == 2 and b is not None, "expects exactly two inputs")
    _same_type(ctx, [a, b, y], (UINT8,), "DIV")
    try:
        shape = tuple(np.broadcast_shapes(a.shape, b.shape))
    except ValueError:
        ctx.fail(f"input shapes {a.shape} and {b.shape} do not broadcast")
    ctx.require(tuple(y.shape) == shape, f"output shape {y.shape} is not the broadcast {shape} of the inputs")
    ctx.require(a.shape == b.shape or len(shape) <= 5,
                f"broadcasting {a.shape} with {b.shape}: TFLite broadcasts this op up to rank 5")
    (sa, za), (sb, zb), (sy, zy) = (_qparams(ctx, a, "input 1"), _qparams(ctx, b, "input 2"),
                                    _qparams(ctx, y, "output"))
    if b.is_const:
        ctx.require(not np.any(np.asarray(b.data).astype(np.int32) == zb),
                    f"the constant denominator holds its zero point {zb} (a real zero)")
    m, shift = quantize_multiplier(float(np.float32(sa / np.float32(sb * sy))))
    ctx.require(shift <= 23, f"input 1 scale {float(sa)} over (input 2 scale {float(sb)} x output scale "
                             f"{float(sy)}) is above 2^23: the quotient cannot be rescaled")
    lo, hi = _fused_activation(ctx, y, float(sy), zy)
    return Lowered("DIV", [a, b], [y], ctx.params(
        "pe_div_params", activation=_DIV_ACT[ACT_NONE], activation_min=lo, activation_max=hi,
        input1_offset=-za, input2_offset=-zb, output_offset=zy, output_multiplier=m, output_shift=shift))


@register("SQRT", max_version=1, types="float32")
def sqrt(ctx: LowerCtx) -> Lowered:
    """elementwise.cc: sqrtf per element, float32 only (as TFLite 2.14)."""
    x, y = ctx.input(0), ctx.output(0)
    ctx.require(x.type_code == FLOAT32 and y.type_code == FLOAT32,
                f"{x.type_name} SQRT (TFLite 2.14 runs float32 only)")
    ctx.require(tuple(y.shape) == tuple(x.shape), f"output shape {y.shape} differs from the input's {x.shape}")
    return Lowered("SQRT", [x], [y], ctx.params("pe_sqrt_params"))

"""Lowering of activations (SOFTMAX, LOGISTIC, TANH, the RELU family, HARD_SWISH, LEAKY_RELU),
int8 RSQRT and QUANTIZE / DEQUANTIZE.

Everything TFLite 2.14 computes in Prepare (activations.cc, quantize.cc, dequantize.cc with
kReference) is reproduced here with the same float32 / double steps: float32 where the C++
multiplies or divides `float` tensor params, double where it casts to double first. The int8
LOGISTIC/TANH lookup tables and the int16 SOFTMAX tables are built here and shipped as
constant tensors; the transcendental functions they need (expf, tanhf, logf) are taken from
the C math library, as TFLite calls them.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import math
from typing import Callable

import numpy as np

from ..graph import Tensor
from ..quant import quantize_multiplier, tflite_round
from . import Lowered, LowerCtx, register

FLOAT32, INT32, UINT8, INT16, INT8 = 0, 2, 3, 7, 9
RANGES = {INT8: (-128, 127), UINT8: (0, 255), INT16: (-32768, 32767), INT32: (-(2**31), 2**31 - 1)}
NP_TYPES = {INT8: np.int8, UINT8: np.uint8, INT16: np.int16, INT32: np.int32}
f32 = np.float32


# ---- float32 arithmetic as C++ does it ---------------------------------------------------------

def _load_libm() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("m")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


_LIBM = _load_libm()


def _libm_f32(name: str, fallback: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Elementwise float32 function `name` (expf, tanhf, logf) from the C math library, which
    is what TFLite's std::exp(float) etc. call; numpy's float32 ufunc where libm is absent."""
    fn = getattr(_LIBM, name, None) if _LIBM is not None else None
    if fn is None:
        return lambda x: fallback(np.asarray(x, np.float32)).astype(np.float32)
    fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
    return lambda x: np.array([fn(float(v)) for v in np.atleast_1d(np.asarray(x, np.float32))], np.float32)


expf = _libm_f32("expf", np.exp)
tanhf = _libm_f32("tanhf", np.tanh)
logf = _libm_f32("logf", np.log)


def roundf(x: np.ndarray) -> np.ndarray:
    """std::round on float32 values (half away from zero); exact through double."""
    d = np.asarray(x, np.float32).astype(np.float64)
    return (np.sign(d) * np.floor(np.abs(d) + 0.5)).astype(np.float32)


def f32_to_i32(x: np.ndarray) -> np.ndarray:
    """static_cast<int32_t>(float) as on x86 (TFLite's reference platform): truncation, and
    INT32_MIN for NaN and out-of-range values."""
    d = np.asarray(x, np.float32).astype(np.float64)
    ok = (d >= -2.0**31) & (d < 2.0**31)
    return np.where(ok, np.trunc(np.where(ok, d, 0.0)), -(2**31)).astype(np.int64)


def wrap32(v: int) -> int:
    """int32 two's complement wrap-around of an int result."""
    return (int(v) + 2**31) % 2**32 - 2**31


def checked_log2(x: float) -> tuple[bool, int]:
    """TFLite CheckedLog2(float): (x is a power of two within 1e-3 in log2, rounded log2)."""
    x_log2 = logf(f32(x))[0] * (f32(1.0) / logf(f32(2.0))[0])
    rounded = roundf(x_log2)[()]
    frac = f32(x_log2 - rounded)
    return bool(abs(frac) < f32(1e-3)), int(rounded)


# ---- lookup tables ---------------------------------------------------------------------------

def lut_8bit(x: Tensor, y: Tensor, transform: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """TFLite LUTPopulate<int8_t/uint8_t> (float32 math): the output for every input value,
    indexed by the input's byte."""
    lo, hi = RANGES[x.type_code]
    values = np.arange(lo, hi + 1, dtype=np.int64)
    inverse_scale = f32(1.0) / f32(y.scale)
    dequantized = f32(x.scale) * (values - x.zero_point).astype(np.float32)
    rescaled = roundf(transform(dequantized) * inverse_scale)
    quantized = f32_to_i32(rescaled + f32(y.zero_point))
    table = np.zeros(256, NP_TYPES[x.type_code])
    table[values & 0xFF] = np.clip(quantized, lo, hi)
    return table


def lut_int16(input_scale: float, input_zero_point: int, output_scale: float, output_zero_point: int,
              transform: Callable[[float], float]) -> np.ndarray:
    """TFLite LUTPopulateInt16<double>: 512 segments over the int16 input range plus one end
    point, each sample biased by half the interpolation error at the segment's midpoint."""
    input_min = input_scale * (-32768 - input_zero_point)
    input_max = input_scale * (32767 - input_zero_point)
    output_min = output_scale * (-32768 - output_zero_point)
    output_max = output_scale * (32767 - output_zero_point)
    nb_steps = 512
    step = (input_max - input_min) / nb_steps
    half_step = step / 2
    output_scaling_inv = 65536.0 / (output_max - output_min)
    lut = np.zeros(nb_steps + 1, np.int16)
    for i in range(nb_steps):
        val = transform(input_min + i * step)
        val_midpoint = transform(input_min + i * step + half_step)
        val_next = transform(input_min + (i + 1) * step)
        sample_val = tflite_round(val * output_scaling_inv)
        midpoint_interp_val = tflite_round((val_next * output_scaling_inv +
                                            tflite_round(val * output_scaling_inv)) / 2)
        midpoint_val = tflite_round(val_midpoint * output_scaling_inv)
        bias = tflite_round((midpoint_interp_val - midpoint_val) / 2)
        lut[i] = int(min(max(sample_val - bias, -32768.0), 32767.0))
    lut[nb_steps] = int(min(max(tflite_round(transform(input_max) * output_scaling_inv), -32768.0), 32767.0))
    return lut


# ---- shared checks -----------------------------------------------------------------------------

def _require_same_shape(ctx: LowerCtx, x: Tensor, y: Tensor) -> None:
    ctx.require(tuple(x.shape) == tuple(y.shape),
                f"output shape {list(y.shape)} differs from input shape {list(x.shape)}")


def _require_per_tensor(ctx: LowerCtx, *tensors: Tensor) -> None:
    for t in tensors:
        ctx.require(t.quantized and t.scale > 0 and math.isfinite(t.scale),
                    f"tensor {t.name!r} ({t.type_name}) has no usable quantization scale")
        ctx.require(not t.per_channel, f"tensor {t.name!r} is quantized per channel")


def _unary(ctx: LowerCtx, types: dict[int, str], what: str) -> tuple[Tensor, Tensor]:
    """Input and output of a 1-in 1-out quantized op of one of `types` (same type in and out)."""
    ctx.require(len(ctx.op.inputs) == 1 and len(ctx.op.outputs) == 1, "expects one input and one output")
    x, y = ctx.input(0), ctx.output(0)
    ctx.require(x is not None, "input is missing")
    ctx.require(x.type_code in types, f"{x.type_name} {what} is not supported (supported: "
                f"{', '.join(types.values())})")
    ctx.require(y.type_code == x.type_code, f"input {x.type_name} and output {y.type_name} differ")
    _require_same_shape(ctx, x, y)
    _require_per_tensor(ctx, x, y)
    return x, y


def _require_shift(ctx: LowerCtx, shift: int, what: str, lo: int = -31, hi: int = 31) -> None:
    ctx.require(lo <= shift <= hi, f"{what} shift {shift} is outside [{lo}, {hi}]")


def _near(a: float, b: np.float32, eps: np.float32) -> bool:
    """TF_LITE_ENSURE_NEAR on floats: |a - b| <= eps in float32."""
    return bool(abs(f32(a) - b) <= eps)


# ---- SOFTMAX -----------------------------------------------------------------------------------

@register("SOFTMAX", max_version=3, types="int8, uint8, int8->int16, uint8->int16, int16")
def softmax(ctx: LowerCtx) -> Lowered:
    ctx.require(len(ctx.op.inputs) == 1 and len(ctx.op.outputs) == 1, "expects one input and one output")
    x, y = ctx.input(0), ctx.output(0)
    ctx.require(x is not None, "input is missing")
    pair = (x.type_code, y.type_code)
    ctx.require(pair in {(INT8, INT8), (INT8, INT16), (UINT8, UINT8), (UINT8, INT16), (INT16, INT16)},
                f"{x.type_name} input with {y.type_name} output is not supported")
    _require_same_shape(ctx, x, y)
    _require_per_tensor(ctx, x, y)
    ctx.require(len(x.shape) >= 1, "input must have at least one dimension")
    beta = float(ctx.opt("Beta", 0.0))

    if x.type_code == INT16:
        ctx.require(x.zero_point == 0 and y.zero_point == 0, "int16 softmax needs zero points 0")
        ctx.require(_near(y.scale, f32(1.0) / f32(32768), f32(0.001) * f32(1.0) / f32(32768)),
                    f"int16 softmax output scale must be 1/32768, got {y.scale}")
        ctx.require(len(x.shape) <= 4, "int16 softmax supports 1D to 4D tensors (as TFLite)")
        ctx.require(x.shape[-1] <= 65536, "int16 softmax rows longer than 65536")
        # [-65535, 0] of scaled input differences stands for [-10, 0]
        real = float(f32(x.scale) * f32(beta)) / (10.0 / 65535.0)
        mult, shift = quantize_multiplier(real)
        _require_shift(ctx, shift, "input rescale", hi=30)
        exp_lut = lut_int16(10.0 / 65535, 32767, 2.0 / 65535, 0, math.exp)
        recip_lut = lut_int16(1.0 / 65535, -32768, 2.0 / 65535, 0, lambda v: 1.0 / (1.0 + v))
        return Lowered("SOFTMAX", [x, ctx.const(exp_lut, "exp_lut"), ctx.const(recip_lut, "one_over_one_plus_x_lut")],
                       [y], ctx.params("pe_softmax_params", input_multiplier=mult, input_left_shift=shift,
                                       diff_min=0))

    if pair == (INT8, INT8):
        ctx.require(y.zero_point == -128, f"int8 softmax output zero point must be -128, got {y.zero_point}")
        ctx.require(_near(y.scale, f32(1.0) / f32(256), f32(0.001) * f32(1.0) / f32(256)),
                    f"int8 softmax output scale must be 1/256, got {y.scale}")
    # PreprocessSoftmaxScaling: input differences to Q5.26 (kScaledDiffIntegerBits = 5)
    real = min(beta * x.scale * (1 << 26), (1 << 31) - 1.0)
    ctx.require(real > 1.0, f"beta * input scale * 2^26 = {real} must exceed 1 "
                            "(TFLite's QuantizeMultiplierGreaterThanOne aborts otherwise)")
    mult, shift = quantize_multiplier(real)
    _require_shift(ctx, shift, "input rescale", lo=0)
    radius = math.floor(1.0 * 31 * (1 << 26) / (1 << shift))  # CalculateInputRadius(5, shift)
    return Lowered("SOFTMAX", [x], [y], ctx.params("pe_softmax_params", input_multiplier=mult,
                                                    input_left_shift=shift, diff_min=-radius))


# ---- LOGISTIC and TANH ---------------------------------------------------------------------------

def _int16_sigmoid_input(ctx: LowerCtx, x: Tensor, y: Tensor, pot_shifts: tuple[int, ...]) -> tuple[int, int]:
    """Input scaling of the int16 LOGISTIC/TANH kernels (TanhPrepare / SigmoidPrepare):
    a power-of-two scale whose shift is in `pot_shifts` runs as multiplier 0 (3 << shift);
    any other scale gets a multiplier to the table's scale of 1/(3*4096)."""
    ctx.require(x.zero_point == 0 and y.zero_point == 0, "int16 input and output zero points must be 0")
    pot, log2 = checked_log2(x.scale)
    shift = (15 - 3) + log2
    if pot and shift in pot_shifts:
        mult = 0
    else:
        multiplier = x.scale * 4096.0 * 3.0
        shift = 0
        while multiplier <= 32767.0 / 2.0 and shift <= 30:
            shift += 1
            multiplier *= 2.0
        mult = int(multiplier)
        ctx.require(mult <= 2**31 - 1, f"input scale {x.scale} is too large")
    out_pot, out_log2 = checked_log2(y.scale)
    ctx.require(out_pot and out_log2 == -15, f"int16 output scale must be 2^-15, got {y.scale}")
    return mult, shift


@register("LOGISTIC", max_version=3, types="int8, uint8, int16")
def logistic(ctx: LowerCtx) -> Lowered:
    x, y = _unary(ctx, {INT8: "int8", UINT8: "uint8", INT16: "int16"}, "LOGISTIC")
    if x.type_code == INT16:
        ctx.require(f32(y.scale) == f32(1.0 / 32768), f"int16 output scale must be 1/32768, got {y.scale}")
        mult, shift = _int16_sigmoid_input(ctx, x, y, (0,))
        return Lowered("LOGISTIC", [x], [y], ctx.params("pe_logistic_params", input_multiplier=mult,
                                                         input_left_shift=shift))
    ctx.require(float(y.scale) == 1.0 / 256, f"output scale must be 1/256, got {y.scale}")
    lut = lut_8bit(x, y, lambda v: f32(1.0) / (f32(1.0) + expf(-v)))
    return Lowered("LOGISTIC", [x, ctx.const(lut, "lut")], [y], ctx.params("pe_logistic_params"))


@register("TANH", max_version=3, types="int8, uint8, int16")
def tanh(ctx: LowerCtx) -> Lowered:
    x, y = _unary(ctx, {INT8: "int8", UINT8: "uint8", INT16: "int16"}, "TANH")
    if x.type_code == INT16:
        mult, shift = _int16_sigmoid_input(ctx, x, y, (0, 1))
        return Lowered("TANH", [x], [y], ctx.params("pe_logistic_params", input_multiplier=mult,
                                                     input_left_shift=shift))
    lut = lut_8bit(x, y, tanhf)
    return Lowered("TANH", [x, ctx.const(lut, "lut")], [y], ctx.params("pe_logistic_params"))


# ---- RELU family -------------------------------------------------------------------------------

_RELU_BOUNDS = {"RELU": (0.0, math.inf), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0),
                "RELU_0_TO_1": (0.0, 1.0)}


@register("RELU", "RELU6", max_version=3, types="int8, uint8, int16")
@register("RELU_N1_TO_1", "RELU_0_TO_1", max_version=2, types="int8, uint8")
def relu(ctx: LowerCtx) -> Lowered:
    name = ctx.op.opcode
    types = {INT8: "int8", UINT8: "uint8"}
    if name in ("RELU", "RELU6"):
        types[INT16] = "int16"
    x, y = _unary(ctx, types, name)
    if x.type_code == INT16:
        ctx.require(x.zero_point == 0 and y.zero_point == 0, "int16 input and output zero points must be 0")
    mult, shift = quantize_multiplier(float(f32(x.scale) / f32(y.scale)))
    _require_shift(ctx, shift, "output")
    lo, hi = RANGES[y.type_code]
    act_lo, act_hi = _RELU_BOUNDS[name]

    def quantize(v: float) -> int:  # zero_point + static_cast<int32>(roundf(v / scale))
        return wrap32(y.zero_point + int(f32_to_i32(roundf(f32(v) / f32(y.scale)))))

    act_min = max(lo, quantize(act_lo))
    act_max = hi if act_hi == math.inf else min(hi, quantize(act_hi))
    return Lowered("RELU", [x], [y], ctx.params(
        "pe_relu_params", input_zero_point=x.zero_point, output_zero_point=y.zero_point,
        output_multiplier=mult, output_shift=shift, activation_min=act_min, activation_max=act_max))


# ---- HARD_SWISH --------------------------------------------------------------------------------

def _downscale_multiplier_to_int16(m: int) -> int:
    """TFLite DownScaleInt32ToInt16Multiplier (rounding, saturating at 32767)."""
    return 32767 if m >= 2**31 - 1 - (1 << 15) else (m + (1 << 15)) >> 16


@register("HARD_SWISH", max_version=1, types="int8, uint8")
def hard_swish(ctx: LowerCtx) -> Lowered:
    x, y = _unary(ctx, {INT8: "int8", UINT8: "uint8"}, "HARD_SWISH")
    hires_input_scale = f32(1.0) / f32(128.0) * f32(x.scale)
    reluish_scale = f32(3.0) / f32(32768.0)
    out_mult, out_exp = quantize_multiplier(float(hires_input_scale / f32(y.scale)))
    ctx.require(out_exp <= 0, f"output multiplier exponent {out_exp} > 0 (input scale too large for "
                              "the output scale; TFLite rejects it)")
    _require_shift(ctx, out_exp, "output multiplier", hi=0)
    reluish_mult, reluish_exp = quantize_multiplier(float(hires_input_scale / reluish_scale))
    _require_shift(ctx, reluish_exp, "reluish multiplier", hi=30)
    return Lowered("HARD_SWISH", [x], [y], ctx.params(
        "pe_hard_swish_params", input_zero_point=x.zero_point, output_zero_point=y.zero_point,
        reluish_multiplier_fixedpoint_int16=_downscale_multiplier_to_int16(reluish_mult),
        reluish_multiplier_exponent=reluish_exp,
        output_multiplier_fixedpoint_int16=_downscale_multiplier_to_int16(out_mult),
        output_multiplier_exponent=out_exp))


# ---- LEAKY_RELU --------------------------------------------------------------------------------

@register("LEAKY_RELU", max_version=2, types="int8, uint8, int16")
def leaky_relu(ctx: LowerCtx) -> Lowered:
    x, y = _unary(ctx, {INT8: "int8", UINT8: "uint8", INT16: "int16"}, "LEAKY_RELU")
    if x.type_code == INT16:
        ctx.require(x.zero_point == 0 and y.zero_point == 0, "int16 input and output zero points must be 0")
    alpha = f32(ctx.opt("Alpha", 0.0))
    alpha_mult, alpha_shift = quantize_multiplier(float(f32(x.scale) * alpha / f32(y.scale)))
    id_mult, id_shift = quantize_multiplier(float(f32(x.scale) / f32(y.scale)))
    _require_shift(ctx, alpha_shift, "alpha")
    _require_shift(ctx, id_shift, "identity")
    return Lowered("LEAKY_RELU", [x], [y], ctx.params(
        "pe_leaky_relu_params", input_zero_point=x.zero_point, output_zero_point=y.zero_point,
        output_multiplier_alpha=alpha_mult, output_shift_alpha=alpha_shift,
        output_multiplier_identity=id_mult, output_shift_identity=id_shift))


# ---- RSQRT ---------------------------------------------------------------------------------------

@register("RSQRT", max_version=2, types="int8")
def rsqrt(ctx: LowerCtx) -> Lowered:
    """elementwise.cc RsqrtEvalQuantized (int8, version 2): 1 / sqrt(x - input_zero_point) by
    GetInvSqrtQuantizedMultiplierExp; SetRsqrtOutputMultiplier takes sqrt and the product in
    float32 and the reciprocal in double. An input below the zero point fails the invoke."""
    x, y = _unary(ctx, {INT8: "int8"}, "RSQRT")
    scale = 1.0 / float(np.sqrt(f32(x.scale)) * f32(y.scale))
    mult, shift = quantize_multiplier(scale)
    ctx.require(-11 <= shift <= 31, f"output multiplier shift {shift} out of range (1 / (sqrt(input scale) * "
                                    f"output scale) = {scale:g})")
    return Lowered("RSQRT", [x], [y], ctx.params("pe_rsqrt_params", input_zero_point=x.zero_point,
                                                  output_zero_point=y.zero_point, multiplier=mult, shift=shift))


# ---- QUANTIZE and DEQUANTIZE ---------------------------------------------------------------------

# Requantize pairs TFLite 2.14's QUANTIZE accepts (input type -> output types).
_REQUANTIZE = {INT8: (INT8, UINT8), UINT8: (INT8, UINT8), INT16: (INT8, INT16, INT32), INT32: (INT8, INT16)}


def _per_channel_tables(ctx: LowerCtx, t: Tensor) -> tuple[int, list[Tensor]]:
    """Axis and const (float32 scales, int32 zero points) of a per-channel quantized tensor."""
    axis = t.quantized_dimension
    ctx.require(0 <= axis < len(t.shape) and t.shape[axis] == len(t.scales),
                f"per-channel tensor {t.name!r}: {len(t.scales)} scales along dimension {axis} of {list(t.shape)}")
    ctx.require(len(t.zero_points) in (1, len(t.scales)),
                f"per-channel tensor {t.name!r}: {len(t.zero_points)} zero points for {len(t.scales)} scales")
    zps = np.broadcast_to(np.asarray(t.zero_points, np.int64), (len(t.scales),))
    return axis, [ctx.const(np.asarray(t.scales, np.float32), "scales"),
                  ctx.const(zps.astype(np.int32), "zero_points")]


@register("QUANTIZE", max_version=3,
          types="float32->int8/uint8/int16 (per-tensor, per-channel), int8/uint8->int8/uint8, "
                "int16->int8/int16/int32, int32->int8/int16")
def quantize(ctx: LowerCtx) -> Lowered:
    ctx.require(len(ctx.op.inputs) == 1 and len(ctx.op.outputs) == 1, "expects one input and one output")
    x, y = ctx.input(0), ctx.output(0)
    ctx.require(x is not None, "input is missing")
    _require_same_shape(ctx, x, y)
    ctx.require(y.quantized and all(s > 0 and math.isfinite(s) for s in y.scales),
                f"output {y.name!r} has no usable quantization scale")
    if x.type_code == FLOAT32:
        ctx.require(y.type_code in (INT8, UINT8, INT16), f"float32 to {y.type_name} is not supported")
        if y.per_channel:
            axis, tables = _per_channel_tables(ctx, y)
            return Lowered("QUANTIZE", [x, *tables], [y], ctx.params(
                "pe_quantize_params", input_zero_point=0, output_zero_point=0, multiplier=0, shift=0, axis=axis))
        return Lowered("QUANTIZE", [x], [y], ctx.params(
            "pe_quantize_params", input_zero_point=0, output_zero_point=y.zero_point, multiplier=0, shift=0,
            axis=-1))
    ctx.require(y.type_code in _REQUANTIZE.get(x.type_code, ()),
                f"{x.type_name} to {y.type_name} is not supported (as in TFLite 2.14)")
    _require_per_tensor(ctx, x, y)
    if x.type_code == INT16 and y.type_code == INT16:
        ctx.require(x.zero_point == 0 and y.zero_point == 0, "int16 to int16 needs zero points 0")
    mult, shift = quantize_multiplier(float(x.scale) / float(y.scale))
    _require_shift(ctx, shift, "requantize")
    return Lowered("QUANTIZE", [x], [y], ctx.params(
        "pe_quantize_params", input_zero_point=x.zero_point, output_zero_point=y.zero_point,
        multiplier=mult, shift=shift, axis=-1))


@register("DEQUANTIZE", max_version=5, types="int8/uint8/int16->float32 (per-tensor), "
                                              "int8/uint8->float32 (per-channel)")
def dequantize(ctx: LowerCtx) -> Lowered:
    ctx.require(len(ctx.op.inputs) == 1 and len(ctx.op.outputs) == 1, "expects one input and one output")
    x, y = ctx.input(0), ctx.output(0)
    ctx.require(x is not None, "input is missing")
    ctx.require(x.type_code in (INT8, UINT8, INT16), f"{x.type_name} input is not supported "
                                                      "(int8, uint8, int16 are)")
    ctx.require(y.type_code == FLOAT32, f"{y.type_name} output is not supported (float32 is)")
    _require_same_shape(ctx, x, y)
    ctx.require(x.quantized and all(math.isfinite(s) for s in x.scales),
                f"input {x.name!r} has no quantization parameters")
    if x.per_channel:
        ctx.require(x.type_code != INT16, "per-channel int16 input is not supported (as in TFLite 2.14)")
        axis, tables = _per_channel_tables(ctx, x)
        return Lowered("DEQUANTIZE", [x, *tables], [y], ctx.params(
            "pe_quantize_params", input_zero_point=0, output_zero_point=0, multiplier=0, shift=0, axis=axis))
    if x.type_code == INT16:
        ctx.require(x.zero_point == 0, f"int16 input zero point must be 0, got {x.zero_point}")
    return Lowered("DEQUANTIZE", [x], [y], ctx.params(
        "pe_quantize_params", input_zero_point=x.zero_point, output_zero_point=0, multiplier=0, shift=0, axis=-1))

"""Lowering of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and BATCH_MATMUL (int8, int16x8; the
first three also uint8, TFLite's legacy asymmetric quantization).

Each computes what TFLite 2.14's Prepare computes (kernel_util.cc
PopulateConvolutionQuantizationParams / GetQuantizedConvolutionMultipler, padding.h
ComputePaddingHeightWidth, CalculateActivationRangeQuantized) and hands the per-channel
multipliers and shifts to the kernel as constant int32 tensors.
"""
from __future__ import annotations

import numpy as np

from ..graph import Tensor
from ..quant import ACT_NONE, ACT_RELU, ACT_RELU6, ACT_RELU_N1_TO_1, activation_range, quantize_multiplier
from . import Lowered, LowerCtx, register

INT8, INT16, INT32, INT64, FLOAT32, UINT8, INT4 = 9, 7, 2, 4, 0, 3, 17
PADDING_SAME, PADDING_VALID = 0, 1
WEIGHTS_FORMAT_DEFAULT = 0
# Options key the pack-time simplifier (pyedge/simplify.py) sets on a CONV_2D or DEPTHWISE_CONV_2D
# into which it folded a PAD: [top, bottom, left, right] rows/columns of zero-point padding around
# the input, with Padding VALID. Not a TFLite option; the op runs as VALID on the padded size.
EXPLICIT_PADDING = "pyedge_explicit_padding"
PAD_LIMIT = 1 << 30  # the kernel's bound on pad_h / pad_w (conv_scalar.c conv_check)

# Shift ranges the kernels accept (native/kernels/conv.h PE_CONV_SHIFT_*).
SHIFT_MIN, SHIFT_MAX_32, SHIFT_MAX_64 = -31, 30, 14

_ACT_NAMES = {ACT_NONE: "NONE", ACT_RELU: "RELU", ACT_RELU_N1_TO_1: "RELU_N1_TO_1", ACT_RELU6: "RELU6",
              4: "TANH", 5: "SIGN_BIT"}


# ----------------------------------------------------------------------------- helpers

def _require_activations(ctx: LowerCtx, x: Tensor, y: Tensor, what: str = "input") -> None:
    """Input and output must be quantized int8, or int16 with zero points 0 (TFLite's 16x8 rule)."""
    if x.type_code == FLOAT32:
        ctx.fail(f"float32 {what} (pyedge runs integer-quantized models only; float and hybrid "
                 "float-input/int8-weight variants are not implemented)")
    ctx.require(x.type_code in (INT8, INT16), f"{what} type {x.type_name} (supported: INT8, INT16)")
    ctx.require(y.type_code == x.type_code, f"output type {y.type_name} differs from {what} type {x.type_name}")
    ctx.require(x.quantized and y.quantized, f"{what} and output must carry quantization parameters")
    ctx.require(x.scale > 0 and y.scale > 0, f"{what} scale {x.scale} and output scale {y.scale} must be > 0")
    if x.type_code == INT16:
        ctx.require(x.zero_point == 0 and y.zero_point == 0,
                    f"int16 {what} and output need zero point 0 (got {x.zero_point}, {y.zero_point})")
    else:
        ctx.require(-128 <= x.zero_point <= 127 and -128 <= y.zero_point <= 127,
                    f"int8 zero points {x.zero_point}, {y.zero_point} out of range")


def _require_uint8(ctx: LowerCtx, x: Tensor, w: Tensor, y: Tensor, b: Tensor | None, what: str) -> None:
    """uint8 ops (reference_ops::Conv, DepthwiseConv, FullyConnected): uint8 input, weights and
    output, per-tensor weights, an int32 bias."""
    ctx.require(w.type_code == UINT8 and y.type_code == UINT8,
                f"uint8 input with {w.type_name} {what} and {y.type_name} output (need UINT8 for all three)")
    ctx.require(x.quantized and w.quantized and y.quantized, f"input, {what} and output must be quantized")
    ctx.require(x.scale > 0 and y.scale > 0, f"input scale {x.scale} and output scale {y.scale} must be > 0")
    ctx.require(len(w.scales) == 1, f"uint8 {what} has {len(w.scales)} scales (TFLite's uint8 kernels "
                "take one per-tensor scale)")
    for t, n in ((x, "input"), (w, what), (y, "output")):
        ctx.require(0 <= t.zero_point <= 255, f"{n} zero point {t.zero_point} outside [0, 255]")
    if b is not None:
        ctx.require(b.type_code == INT32, f"bias type {b.type_name} with uint8 input (need INT32)")
        ctx.require(b.zero_point == 0, f"bias zero point {b.zero_point} (must be 0)")


def _require_int8_weights(ctx: LowerCtx, w: Tensor, what: str = "filter", x: Tensor | None = None) -> None:
    if w.type_code == INT4:
        # int4 weights run from their packed layouts (pyedge/layouts.py: apply_int4_layouts)
        ctx.require(x is not None and x.type_code == INT8,
                    f"int4 {what} with {x.type_name if x is not None else 'these'} activations (supported: INT8)")
        ctx.require(w.data is not None, f"int4 {what} must be constant")
        ctx.require(w.quantized, f"{what} is not quantized")
        return
    ctx.require(w.type_code == INT8, f"{what} type {w.type_name} (supported: INT8)")
    ctx.require(w.quantized, f"{what} is not quantized")


def _bias_types(x: Tensor, int16_int32_bias: bool) -> tuple[int, ...]:
    if x.type_code == INT8:
        return (INT32,)
    return (INT64, INT32) if int16_int32_bias else (INT64,)


def _require_bias(ctx: LowerCtx, b: Tensor | None, x: Tensor, n: int, int16_int32_bias: bool) -> None:
    if b is None:
        return
    allowed = _bias_types(x, int16_int32_bias)
    names = " or ".join("INT64" if t == INT64 else "INT32" for t in allowed)
    ctx.require(b.type_code in allowed, f"bias type {b.type_name} with {x.type_name} input (need {names})")
    ctx.require(b.size == n, f"bias has {b.size} elements, expected {n}")
    ctx.require(b.zero_point == 0, f"bias zero point {b.zero_point} (must be 0)")


def _fused_activation(ctx: LowerCtx, y: Tensor) -> tuple[int, int]:
    act = int(ctx.opt("FusedActivationFunction", ACT_NONE))
    ctx.require(act in (ACT_NONE, ACT_RELU, ACT_RELU6, ACT_RELU_N1_TO_1),
                f"fused activation {_ACT_NAMES.get(act, act)} on a quantized op")
    return activation_range(act, y.scale, y.zero_point, y.dtype)


def _channel_requant(ctx: LowerCtx, x: Tensor, w: Tensor, y: Tensor, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel (multiplier, shift) as PopulateConvolutionQuantizationParams: all in
    double, input_scale * filter_scale / output_scale, a single filter scale broadcast."""
    scales = w.scales if w.per_channel else np.repeat(w.scales[:1], n)
    mults, shifts = [], []
    for s in scales:
        effective = float(np.float32(x.scale)) * float(np.float32(s)) / float(np.float32(y.scale))
        ctx.require(effective >= 0, f"negative effective scale {effective}")
        m, sh = quantize_multiplier(effective)
        mults.append(m)
        shifts.append(sh)
    return np.array(mults, np.int32), np.array(shifts, np.int32)


def _tensor_requant(ctx: LowerCtx, x: Tensor, w: Tensor, y: Tensor) -> tuple[int, int]:
    """(multiplier, shift) as GetQuantizedConvolutionMultipler: the input and filter scales are
    multiplied in float32 (`static_cast<double>(input->params.scale * filter->params.scale)`),
    only the division by the output scale is in double."""
    product = np.float32(np.float32(x.scale) * np.float32(w.scale))
    effective = float(product) / float(np.float32(y.scale))
    ctx.require(effective >= 0, f"negative effective scale {effective}")
    return quantize_multiplier(effective)


def _require_shifts(ctx: LowerCtx, shifts: np.ndarray, wide: bool) -> None:
    """`wide`: the kernel requantizes with the 64-bit MultiplyByQuantizedMultiplier."""
    top = SHIFT_MAX_64 if wide else SHIFT_MAX_32
    if len(shifts):
        lo, hi = int(shifts.min()), int(shifts.max())
        ctx.require(SHIFT_MIN <= lo and hi <= top,
                    f"requantization shift range [{lo}, {hi}] outside [{SHIFT_MIN}, {top}] "
                    "(input * filter scale / output scale is too large)")


def _filter_scales(ctx: LowerCtx, w: Tensor, n: int, axis_name: str) -> None:
    """One scale, or one per output channel along the quantized dimension (TFLite's check)."""
    count = len(w.scales)
    ctx.require(count in (1, n), f"filter has {count} scales, expected 1 or {n} ({axis_name})")
    if count > 1:
        qd = w.quantized_dimension
        ctx.require(0 <= qd < len(w.shape) and w.shape[qd] == n,
                    f"filter quantized_dimension {qd} does not index the {n} output channels")


def _trunc_div(a: int, b: int) -> int:
    """C integer division (rounds toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _out_size(padding: int, size: int, k: int, stride: int, dilation: int) -> int:
    """TFLite ComputeOutSize (padding.h)."""
    eff = (k - 1) * dilation + 1
    if padding == PADDING_SAME:
        return _trunc_div(size + stride - 1, stride)
    return _trunc_div(size + stride - eff, stride)


def _pad(stride: int, dilation: int, size: int, k: int, out: int) -> int:
    """TFLite ComputePaddingWithOffset: the leading (top/left) padding; any odd extra goes after."""
    eff = (k - 1) * dilation + 1
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2


def _window(ctx: LowerCtx, x: Tensor, kh: int, kw: int) -> dict[str, int]:
    """Stride, dilation and padding params of a 2-D window op, and its TFLite output size."""
    padding = int(ctx.opt("Padding", PADDING_SAME))
    ctx.require(padding in (PADDING_SAME, PADDING_VALID), f"padding type {padding}")
    sh, sw = int(ctx.opt("StrideH", 1)), int(ctx.opt("StrideW", 1))
    dh, dw = int(ctx.opt("DilationHFactor", 1)), int(ctx.opt("DilationWFactor", 1))
    ctx.require(sh >= 1 and sw >= 1, f"strides ({sh}, {sw}) must be >= 1")
    ctx.require(dh >= 1 and dw >= 1, f"dilation factors ({dh}, {dw}) must be >= 1")
    _, h, w, _ = x.shape
    explicit = ctx.opt(EXPLICIT_PADDING)
    if explicit is not None:
        return _explicit_window(ctx, padding, explicit, h, w, kh, kw, sh, sw, dh, dw)
    oh, ow = _out_size(padding, h, kh, sh, dh), _out_size(padding, w, kw, sw, dw)
    ctx.require(oh >= 0 and ow >= 0, f"the {kh}x{kw} window does not fit the {h}x{w} input")
    return dict(stride_h=sh, stride_w=sw, dilation_h=dh, dilation_w=dw,
                pad_h=_pad(sh, dh, h, kh, oh), pad_w=_pad(sw, dw, w, kw, ow), out_h=oh, out_w=ow)


def _explicit_window(ctx: LowerCtx, padding: int, explicit, h: int, w: int, kh: int, kw: int,
                     sh: int, sw: int, dh: int, dw: int) -> dict[str, int]:
    """A conv with a PAD folded in (EXPLICIT_PADDING): VALID on the input padded by [top,
    bottom, left, right]. The kernel takes the top and left padding; the output size (checked
    against the output tensor by the caller) fixes how much of the bottom and right it reaches.
    Every tap outside the input is skipped, as a tap on zero-point padding contributes nothing."""
    ctx.require(padding == PADDING_VALID, f"explicit padding {explicit} with padding type {padding} (needs VALID)")
    ctx.require(isinstance(explicit, (list, tuple)) and len(explicit) == 4
                and all(isinstance(v, (int, np.integer)) for v in explicit),
                f"explicit padding {explicit!r} is not four integers [top, bottom, left, right]")
    top, bottom, left, right = (int(v) for v in explicit)
    ctx.require(all(0 <= v <= PAD_LIMIT for v in (top, bottom, left, right)),
                f"explicit padding {[top, bottom, left, right]} outside [0, {PAD_LIMIT}]")
    ph, pw = h + top + bottom, w + left + right
    oh, ow = _out_size(PADDING_VALID, ph, kh, sh, dh), _out_size(PADDING_VALID, pw, kw, sw, dw)
    ctx.require(oh >= 1 and ow >= 1, f"the {kh}x{kw} window does not fit the {ph}x{pw} padded input")
    return dict(stride_h=sh, stride_w=sw, dilation_h=dh, dilation_w=dw, pad_h=top, pad_w=left,
                out_h=oh, out_w=ow)


def _require_shape(ctx: LowerCtx, y: Tensor, want: tuple[int, ...]) -> None:
    ctx.require(tuple(y.shape) == tuple(want),
                f"output shape {tuple(y.shape)} differs from the shape TFLite computes, {tuple(want)}")


# ----------------------------------------------------------------------------- CONV_2D / DEPTHWISE

def _conv_common(ctx: LowerCtx, depthwise: bool) -> Lowered:
    x, w, y = ctx.input(0), ctx.input(1), ctx.output(0)
    b = ctx.input(2)
    ctx.require(len(ctx.op.inputs) in (2, 3), f"{len(ctx.op.inputs)} inputs (expected 2 or 3)")
    if x.type_code == FLOAT32 and w.type_code in (INT8, INT4):
        ctx.fail("hybrid float input with int8 weights is not supported")
    u8 = x.type_code == UINT8
    if u8:
        _require_uint8(ctx, x, w, y, b, "filter")
    else:
        _require_activations(ctx, x, y)
        _require_int8_weights(ctx, w, x=x)
    ctx.require(len(x.shape) == 4 and len(w.shape) == 4, f"input {x.shape} and filter {w.shape} must be 4-D")
    batches, _, _, in_c = x.shape
    if depthwise:
        ctx.require(w.shape[0] == 1, f"depthwise filter shape {w.shape} must be [1, KH, KW, OC]")
        _, kh, kw, out_c = w.shape
        # TFLite derives the multiplier from the shapes; the DepthMultiplier option is not used.
        ctx.require(in_c > 0 and out_c % in_c == 0,
                    f"filter channels {out_c} are not a multiple of input channels {in_c}")
        depth_multiplier = out_c // in_c
        _filter_scales(ctx, w, out_c, "filter dimension 3")
    else:
        out_c, kh, kw, filter_c = w.shape
        ctx.require(filter_c > 0 and in_c % filter_c == 0,
                    f"input channels {in_c} are not a multiple of filter channels {filter_c}")
        groups = in_c // filter_c
        ctx.require(groups > 0 and out_c % groups == 0,
                    f"grouped conv: output channels {out_c} are not a multiple of {groups} groups")
        depth_multiplier = 0
        _filter_scales(ctx, w, out_c, "filter dimension 0")
        # TFLite's int8/int16 conv ignores filter zero points and so requires them to be 0.
        ctx.require(u8 or not np.any(w.zero_points), "filter zero points must be 0")
    if u8:
        ctx.require(b is None or b.size == out_c, f"bias has {b.size if b is not None else 0} elements, "
                    f"expected {out_c}")
    else:
        _require_bias(ctx, b, x, out_c, int16_int32_bias=not depthwise)
    win = _window(ctx, x, kh, kw)
    _require_shape(ctx, y, (batches, win["out_h"], win["out_w"], out_c))

    if u8:
        # uint8 requantizes with the one legacy multiplier (GetQuantizedConvolutionMultipler,
        # QuantizeMultiplier), the kernel's per-channel inputs repeat it
        mult, shift = _tensor_requant(ctx, x, w, y)
        mults, shifts = np.full(out_c, mult, np.int32), np.full(out_c, shift, np.int32)
    else:
        mults, shifts = _channel_requant(ctx, x, w, y, out_c)
    # 16x8 runs with an int64 accumulator unless the bias is int32 (TFLite's template argument)
    _require_shifts(ctx, shifts, wide=x.type_code == INT16 and (b is None or b.type_code == INT64))
    act_min, act_max = _fused_activation(ctx, y)
    params = ctx.params("pe_conv_params", stride_h=win["stride_h"], stride_w=win["stride_w"],
                        dilation_h=win["dilation_h"], dilation_w=win["dilation_w"],
                        pad_h=win["pad_h"], pad_w=win["pad_w"], input_offset=-x.zero_point,
                        output_offset=y.zero_point, act_min=act_min, act_max=act_max,
                        depth_multiplier=depth_multiplier, kernel_h=kh, kernel_w=kw)
    op = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
    # uint8 depthwise rows run on the int8 row kernels with the input flipped into scratch
    # (native/kernels/gemm_drivers.c)
    scratch = x.size if u8 and depthwise and depth_multiplier == 1 else 0
    return Lowered(op, [x, w, b, ctx.const(mults, "multipliers"), ctx.const(shifts, "shifts")], [y], params,
                   scratch=scratch)


@register("CONV_2D", max_version=7, types="int8, uint8, int16x8")
def conv_2d(ctx: LowerCtx) -> Lowered:
    """reference_integer_ops::ConvPerChannel: per-channel or per-tensor int8 filters, groups,
    dilation, SAME/VALID padding; absent bias runs as zero bias."""
    return _conv_common(ctx, depthwise=False)


@register("DEPTHWISE_CONV_2D", max_version=7, types="int8, uint8, int16x8")
def depthwise_conv_2d(ctx: LowerCtx) -> Lowered:
    """reference_integer_ops::DepthwiseConvPerChannel, any depth multiplier."""
    return _conv_common(ctx, depthwise=True)


# ----------------------------------------------------------------------------- FULLY_CONNECTED

@register("FULLY_CONNECTED", max_version=12, types="int8, uint8, int16x8")
def fully_connected(ctx: LowerCtx) -> Lowered:
    """reference_integer_ops::FullyConnected (per-tensor weights, with the weights zero point) and
    FullyConnectedPerChannel; inputs of any rank are read as [batches, depth] rows."""
    x, w, y = ctx.input(0), ctx.input(1), ctx.output(0)
    b = ctx.input(2)
    ctx.require(len(ctx.op.inputs) in (2, 3), f"{len(ctx.op.inputs)} inputs (expected 2 or 3)")
    ctx.require(len(ctx.op.outputs) == 1, f"{len(ctx.op.outputs)} outputs (expected 1)")
    if x.type_code == FLOAT32 and w.type_code in (INT8, INT4, UINT8):
        ctx.fail("hybrid float input with quantized weights is not supported")
    ctx.require(int(ctx.opt("WeightsFormat", WEIGHTS_FORMAT_DEFAULT)) == WEIGHTS_FORMAT_DEFAULT,
                "shuffled (SHUFFLED4x16INT8) weights format is not supported")
    u8 = x.type_code == UINT8
    if u8:
        _require_uint8(ctx, x, w, y, b, "weights")
    else:
        _require_activations(ctx, x, y)
        _require_int8_weights(ctx, w, "weights", x=x)
    ctx.require(len(x.shape) >= 1, "scalar input")
    ctx.require(len(w.shape) == 2, f"weights shape {w.shape} must be 2-D [units, depth]")
    units, depth = w.shape
    ctx.require(depth > 0 and x.size % depth == 0,
                f"input shape {x.shape} does not split into rows of the weights depth {depth}")
    batches = x.size // depth
    if ctx.opt("KeepNumDims", False):
        ctx.require(len(x.shape) >= 1 and x.shape[-1] == depth,
                    f"keep_num_dims needs the input's last dim {x.shape} to equal depth {depth}")
        want = tuple(x.shape[:-1]) + (units,)
    else:
        want = (batches, units)
    _require_shape(ctx, y, want)
    if u8:
        ctx.require(b is None or b.size == units, f"bias has {b.size if b is not None else 0} elements, "
                    f"expected {units}")
    else:
        _require_bias(ctx, b, x, units, int16_int32_bias=True)

    per_channel = w.per_channel and not u8
    if per_channel:
        _filter_scales(ctx, w, units, "weights dimension 0")
    # The per-tensor kernels subtract the weights zero point; the per-channel ones ignore it.
    filter_offset = 0 if per_channel else -w.zero_point
    if not u8:
        ctx.require(-127 <= filter_offset <= 128, f"weights zero point {w.zero_point} out of int8 range")
    if per_channel:
        mults, shifts = _channel_requant(ctx, x, w, y, units)
    else:
        mult, shift = _tensor_requant(ctx, x, w, y)
        mults, shifts = np.full(units, mult, np.int32), np.full(units, shift, np.int32)
    # 16x8 runs with an int64 accumulator only with an int64 bias (int32 or none: int32)
    _require_shifts(ctx, shifts, wide=x.type_code == INT16 and b is not None and b.type_code == INT64)
    act_min, act_max = _fused_activation(ctx, y)
    params = ctx.params("pe_fc_params", input_offset=-x.zero_point, filter_offset=filter_offset,
                        output_offset=y.zero_point, act_min=act_min, act_max=act_max, depth=depth)
    return Lowered("FULLY_CONNECTED", [x, w, b, ctx.const(mults, "multipliers"), ctx.const(shifts, "shifts")],
                   [y], params)


# ----------------------------------------------------------------------------- BATCH_MATMUL

@register("BATCH_MATMUL", max_version=4, types="int8, int16")
def batch_matmul(ctx: LowerCtx) -> Lowered:
    """reference_ops::BatchMatMul with FullyConnectedParams: ranks 2..5, broadcast batch dims,
    adj_x / adj_y, constant or run-time RHS."""
    lhs, rhs, y = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.require(len(ctx.op.inputs) == 2 and lhs is not None and rhs is not None, "expected 2 inputs")
    if lhs.type_code == FLOAT32 and rhs.type_code == INT8:
        ctx.fail("hybrid float lhs with int8 rhs is not supported")
    ctx.require(rhs.type_code == lhs.type_code, f"lhs type {lhs.type_name} and rhs type {rhs.type_name} differ")
    if lhs.type_code == INT8 and y.type_code == INT32:
        ctx.fail("int8 inputs with an int32 (unrequantized) output are not supported")
    _require_activations(ctx, lhs, y, "lhs")
    ctx.require(rhs.quantized and rhs.scale > 0, "rhs must carry quantization parameters")
    if lhs.type_code == INT16:
        ctx.require(rhs.zero_point == 0, f"int16 rhs needs zero point 0 (got {rhs.zero_point})")
    else:
        ctx.require(-128 <= rhs.zero_point <= 127, f"int8 rhs zero point {rhs.zero_point} out of range")
    lr, rr = len(lhs.shape), len(rhs.shape)
    ctx.require(2 <= lr <= 5 and 2 <= rr <= 5, f"ranks {lr} and {rr} (supported: 2 to 5)")
    adj_x, adj_y = bool(ctx.opt("AdjX", False)), bool(ctx.opt("AdjY", False))
    if adj_x and lr > 2 and rr > 2 and rhs.shape[-3] == 1:
        # TFLite 2.14 folds lhs [..., Q, R, S] to [..., Q*R, S] when the rhs dim -3 is 1, which is
        # only valid without adj_x: with adj_x its reference kernel leaves part of the output unwritten.
        ctx.fail("adj_x with a size-1 third-from-last rhs dimension (TFLite 2.14 computes this case "
                 "incorrectly, so there is no reference to match)")
    m, k = (lhs.shape[-1], lhs.shape[-2]) if adj_x else (lhs.shape[-2], lhs.shape[-1])
    k2, n = (rhs.shape[-1], rhs.shape[-2]) if adj_y else (rhs.shape[-2], rhs.shape[-1])
    ctx.require(k == k2, f"contraction dims differ: lhs {lhs.shape} (adj_x={adj_x}), rhs {rhs.shape} (adj_y={adj_y})")
    rank = max(lr, rr)
    lb = (1,) * (rank - lr) + tuple(lhs.shape[:-2])
    rb = (1,) * (rank - rr) + tuple(rhs.shape[:-2])
    batch = []
    for a, c in zip(lb, rb):
        ctx.require(a == c or a == 1 or c == 1, f"batch dims of {lhs.shape} and {rhs.shape} do not broadcast")
        batch.append(c if a == 1 else a)
    _require_shape(ctx, y, tuple(batch) + (m, n))

    mult, shift = _tensor_requant(ctx, lhs, rhs, y)
    _require_shifts(ctx, np.array([shift]), wide=lhs.type_code == INT16)
    lo, hi = (-128, 127) if lhs.type_code == INT8 else (-32768, 32767)  # no fused activation
    if lhs.type_code == INT8 and rhs.data is not None and not adj_x and all(d == 1 for d in rb):
        # One constant int8 matrix for every batch: the same int32 sum, requantization and
        # clamp as FULLY_CONNECTED over the lhs rows, with weights W[n][k] = rhs[k][n] and the
        # rhs zero point as the weights offset. Lowered so, it takes FULLY_CONNECTED's packed
        # GEMM layout and SIMD kernels.
        r2d = np.asarray(rhs.data).reshape(n, k) if adj_y else np.asarray(rhs.data).reshape(k, n).T
        w = ctx.const(np.ascontiguousarray(r2d, np.int8), "weights")
        params = ctx.params("pe_fc_params", input_offset=-lhs.zero_point, filter_offset=-rhs.zero_point,
                            output_offset=y.zero_point, act_min=lo, act_max=hi, depth=k)
        return Lowered("FULLY_CONNECTED", [lhs, w, None, ctx.const(np.full(n, mult, np.int32), "multipliers"),
                                           ctx.const(np.full(n, shift, np.int32), "shifts")], [y], params)
    params = ctx.params("pe_batch_matmul_params", adj_x=int(adj_x), adj_y=int(adj_y),
                        lhs_offset=-lhs.zero_point, rhs_offset=-rhs.zero_point,
                        output_offset=y.zero_point, output_multiplier=mult, output_shift=shift,
                        act_min=lo, act_max=hi)
    return Lowered("BATCH_MATMUL", [lhs, rhs], [y], params)

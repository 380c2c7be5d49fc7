"""Lowering of pooling, reductions, arg-min/max and resize ops.

Each lowering reproduces what TFLite 2.14 computes in Prepare (padding, activation range,
requantization multiplier) and which reference path its Eval picks, so the kernels in
native/kernels/pool_scalar.c match the reference kernels bit for bit.
"""
from __future__ import annotations


import numpy as np

from . import Lowered, LowerCtx, register
from .. import _native
from ..graph import TFLITE_TYPE_NAMES, Tensor
from ..quant import ACT_NONE, ACT_RELU, ACT_RELU6, ACT_RELU_N1_TO_1, activation_range, quantize_multiplier

FLOAT32, INT32, UINT8, INT64, INT16, INT8 = 0, 2, 3, 4, 7, 9
PADDING_SAME, PADDING_VALID = 0, 1
_QUANTIZED_ACTS = (ACT_NONE, ACT_RELU, ACT_RELU6, ACT_RELU_N1_TO_1)


def _trunc_div(a: int, b: int) -> int:
    """C/C++ integer division (truncates toward zero; Python's // floors)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _require_type(ctx: LowerCtx, t: Tensor, allowed: tuple[int, ...], what: str = "input") -> None:
    names = ", ".join(TFLITE_TYPE_NAMES[c] for c in allowed)
    ctx.require(t.type_code in allowed, f"{what} type {t.type_name} (supported: {names})")


def _const_ints(ctx: LowerCtx, k: int, what: str, types: tuple[int, ...] = (INT32,)) -> list[int]:
    """Values of constant integer input k (axis, size)."""
    t = ctx.input(k)
    ctx.require(t is not None and t.is_const, f"the {what} input must be a constant tensor")
    _require_type(ctx, t, types, what)
    return [int(v) for v in np.asarray(t.data).reshape(-1)]


# ---------------------------------------------------------------------------------------------
# AVERAGE_POOL_2D, MAX_POOL_2D
# ---------------------------------------------------------------------------------------------

def _out_size_and_padding(padding: int, size: int, filt: int, stride: int) -> tuple[int, int]:
    """TFLite ComputeOutSize and ComputePaddingWithOffset (padding before the first element)."""
    if padding == PADDING_SAME:
        out = _trunc_div(size + stride - 1, stride)
    else:
        out = _trunc_div(size + stride - filt, stride)
    total = max((out - 1) * stride + filt - size, 0)
    return out, total // 2


def _pool(ctx: LowerCtx, name: str) -> Lowered:
    x, y = ctx.input(0), ctx.output(0)
    if x.type_code == FLOAT32:
        ctx.fail("float32 pooling is not supported (pyedge runs quantized models)")
    _require_type(ctx, x, (INT8, UINT8, INT16))
    ctx.require(y.type_code == x.type_code, f"output type {y.type_name} differs from input {x.type_name}")
    ctx.require(len(x.shape) == 4, f"input rank {len(x.shape)} (TFLite requires 4)")
    sh, sw = ctx.opt("StrideH", 0), ctx.opt("StrideW", 0)
    fh, fw = ctx.opt("FilterHeight", 0), ctx.opt("FilterWidth", 0)
    ctx.require(min(sh, sw, fh, fw) > 0, f"strides {sh}x{sw} and filter {fh}x{fw} must be positive")
    padding = ctx.opt("Padding", PADDING_SAME)
    ctx.require(padding in (PADDING_SAME, PADDING_VALID), f"padding {padding}")
    n, h, w, c = x.shape
    out_h, pad_h = _out_size_and_padding(padding, h, fh, sh)
    out_w, pad_w = _out_size_and_padding(padding, w, fw, sw)
    ctx.require(out_h > 0 and out_w > 0, f"empty output ({out_h}x{out_w}) for input {h}x{w}, filter {fh}x{fw}")
    ctx.require(tuple(y.shape) == (n, out_h, out_w, c),
                f"output shape {y.shape}, TFLite computes {(n, out_h, out_w, c)}")
    if name == "AVERAGE_POOL_2D":
        window = min(fh, h) * min(fw, w)
        ctx.require(window <= 65536, f"averaging window of {window} elements (at most 65536)")
    act = ctx.opt("FusedActivationFunction", ACT_NONE)
    ctx.require(act in _QUANTIZED_ACTS, f"fused activation {act} on a quantized pool")
    ctx.require(act == ACT_NONE or y.quantized, "fused activation on an unquantized output")
    # Pools do not requantize: TFLite only debug-checks that input and output quantization match.
    act_min, act_max = activation_range(act, y.scale, y.zero_point, y.dtype)
    params = ctx.params("pe_pool_params", stride_h=sh, stride_w=sw, filter_h=fh, filter_w=fw,
                        pad_h=pad_h, pad_w=pad_w, act_min=act_min, act_max=act_max)
    return Lowered(name, [x], [y], params)


@register("AVERAGE_POOL_2D", max_version=3, types="int8, uint8, int16")
def average_pool_2d(ctx: LowerCtx) -> Lowered:
    return _pool(ctx, "AVERAGE_POOL_2D")


@register("MAX_POOL_2D", max_version=3, types="int8, uint8, int16")
def max_pool_2d(ctx: LowerCtx) -> Lowered:
    return _pool(ctx, "MAX_POOL_2D")


# ---------------------------------------------------------------------------------------------
# MEAN, SUM
# ---------------------------------------------------------------------------------------------

def _reduce_axes(ctx: LowerCtx, x: Tensor) -> tuple[list[int], list[int]]:
    """The raw axis values and the resolved ones (non-negative, duplicates dropped, in order)."""
    raw = _const_ints(ctx, 1, "axis")
    rank = len(x.shape)
    resolved: list[int] = []
    for a in raw:
        ctx.require(-rank <= a < rank, f"axis {a} out of range for rank {rank}")
        a = a + rank if a < 0 else a
        if a not in resolved:
            resolved.append(a)
    return raw, resolved


def _reduce(ctx: LowerCtx, name: str) -> Lowered:
    x, y = ctx.input(0), ctx.output(0)
    is_mean = name == "MEAN"
    if x.type_code == FLOAT32:
        ctx.fail(f"float32 {name} is not supported (pyedge runs quantized models)")
    _require_type(ctx, x, (INT8, UINT8, INT16, INT32))
    ctx.require(y.type_code == x.type_code, f"output type {y.type_name} differs from input {x.type_name}")
    ctx.require(x.size > 0, "empty input tensor")
    raw, axes = _reduce_axes(ctx, x)
    ctx.require(len(raw) > 0, "empty axis list")
    keep_dims = bool(ctx.opt("KeepDims", False))
    if keep_dims:
        want = tuple(1 if d in axes else s for d, s in enumerate(x.shape))
    else:
        want = tuple(s for d, s in enumerate(x.shape) if d not in axes)
    ctx.require(tuple(y.shape) == want, f"output shape {y.shape}, TFLite computes {want}")
    mask = sum(1 << a for a in axes)
    mode, multiplier, shift = _native.lib.PE_REDUCE_PLAIN, 0, 0

    if x.type_code != INT32:
        ctx.require(x.quantized and y.quantized and x.scale > 0 and y.scale > 0,
                    f"{x.type_name} {name} needs quantized input and output")
    if x.type_code == INT16:
        ctx.require(x.zero_point == 0 and y.zero_point == 0,
                    f"int16 {name} needs zero points 0 (got {x.zero_point}, {y.zero_point})")
    if x.type_code == INT16 and not is_mean:
        # reduce.cc's EvalSum rescales only 8-bit types; int16 adds in int16 and must keep
        # the quantization (float32 scales compared, as TFLite does).
        ctx.require(x.scale == y.scale, "int16 SUM with different input and output scales")
    elif x.type_code != INT32:
        # reference_ops::QuantizedMeanOrSum (TFLite 2.14 takes it for every 8-bit SUM and every
        # int8/int16 MEAN, whatever the axes): multiplier from PrepareMeanOrSum. int8 SUM adds
        # int8 values as TFLite Micro does, not the bytes as uint8 as TFLite 2.14's reference
        # kernel does (a bug fixed since; docs/oracles.md).
        mode = _native.lib.PE_REDUCE_QUANTIZED
        multiplier, shift = quantize_multiplier(float(x.scale) / float(y.scale))
        ctx.require(-31 <= shift <= 30, f"input/output scale ratio {x.scale / y.scale} out of range")

    params = ctx.params("pe_reduce_params", mode=mode, axis_mask=mask, keep_dims=int(keep_dims),
                        multiplier=multiplier, shift=shift)
    return Lowered(name, [x], [y], params)


@register("MEAN", max_version=3, types="int8, uint8, int16, int32")
def mean(ctx: LowerCtx) -> Lowered:
    return _reduce(ctx, "MEAN")


@register("SUM", max_version=2, types="int8, uint8, int16, int32")
def sum_(ctx: LowerCtx) -> Lowered:
    return _reduce(ctx, "SUM")


# ---------------------------------------------------------------------------------------------
# ARG_MAX, ARG_MIN
# ---------------------------------------------------------------------------------------------

def _arg(ctx: LowerCtx, name: str) -> Lowered:
    x, y = ctx.input(0), ctx.output(0)
    _require_type(ctx, x, (INT8, UINT8, INT32, FLOAT32))  # TFLite 2.14 has no int16 ARG_MAX/MIN
    _require_type(ctx, y, (INT32, INT64), "output")
    out_type = ctx.opt("OutputType", y.type_code)
    ctx.require(out_type == y.type_code, f"output_type {out_type} differs from the output tensor's {y.type_name}")
    values = _const_ints(ctx, 1, "axis", (INT32, INT64))
    ctx.require(len(values) == 1, f"axis tensor holds {len(values)} values (TFLite requires 1)")
    rank = len(x.shape)
    ctx.require(rank >= 1, "scalar input")
    axis = values[0]
    ctx.require(-rank <= axis < rank, f"axis {axis} out of range for rank {rank}")
    axis = axis + rank if axis < 0 else axis
    ctx.require(x.size > 0, "empty input tensor")
    want = tuple(s for d, s in enumerate(x.shape) if d != axis)
    ctx.require(tuple(y.shape) == want, f"output shape {y.shape}, TFLite computes {want}")
    return Lowered(name, [x], [y], ctx.params("pe_arg_params", axis=axis))


@register("ARG_MAX", max_version=2, types="int8, uint8, int32, float32")
def arg_max(ctx: LowerCtx) -> Lowered:
    return _arg(ctx, "ARG_MAX")


@register("ARG_MIN", max_version=2, types="int8, uint8, int32, float32")
def arg_min(ctx: LowerCtx) -> Lowered:
    return _arg(ctx, "ARG_MIN")


# ---------------------------------------------------------------------------------------------
# RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR
# ---------------------------------------------------------------------------------------------

_RESIZE_MAX_SIZE = 65536  # native/kernels/pool_scalar.c PE_RESIZE_MAX_SIZE


def _resize(ctx: LowerCtx, name: str, types: tuple[int, ...]) -> Lowered:
    x, y = ctx.input(0), ctx.output(0)
    _require_type(ctx, x, types)
    ctx.require(y.type_code == x.type_code, f"output type {y.type_name} differs from input {x.type_name}")
    ctx.require(len(x.shape) == 4, f"input rank {len(x.shape)} (TFLite requires 4)")
    size = _const_ints(ctx, 1, "size")
    ctx.require(len(size) == 2 and min(size) > 0, f"size {size} must hold two positive values")
    n, h, w, c = x.shape
    ctx.require(h > 0 and w > 0, f"empty input {h}x{w}")
    ctx.require(max(h, w, *size) <= _RESIZE_MAX_SIZE, f"sizes above {_RESIZE_MAX_SIZE}")
    want = (n, size[0], size[1], c)
    ctx.require(tuple(y.shape) == want, f"output shape {y.shape}, TFLite computes {want}")
    align, half = bool(ctx.opt("AlignCorners", False)), bool(ctx.opt("HalfPixelCenters", False))
    # No requantization: TFLite copies/interpolates quantized values as they are.
    params = ctx.params("pe_resize_params", align_corners=int(align), half_pixel_centers=int(half))
    return Lowered(name, [x], [y], params)


@register("RESIZE_NEAREST_NEIGHBOR", max_version=4, types="int8, uint8, int16, float32")
def resize_nearest_neighbor(ctx: LowerCtx) -> Lowered:
    return _resize(ctx, "RESIZE_NEAREST_NEIGHBOR", (INT8, UINT8, INT16, FLOAT32))


@register("RESIZE_BILINEAR", max_version=4, types="int8, uint8, int16")
def resize_bilinear(ctx: LowerCtx) -> Lowered:
    """int8, int16: reference_ops::ResizeBilinearInteger (fixed point); uint8: TFLite's
    reference_ops::ResizeBilinear<uint8_t>, float32 interpolation (pool_scalar.c)."""
    x = ctx.input(0)
    if x.type_code == FLOAT32:
        ctx.fail("float32 RESIZE_BILINEAR is not supported (pyedge runs quantized models)")
    if ctx.opt("AlignCorners", False) and ctx.opt("HalfPixelCenters", False):
        ctx.fail("align_corners and half_pixel_centers together (TFLite rejects this)")
    return _resize(ctx, "RESIZE_BILINEAR", (INT8, UINT8, INT16))

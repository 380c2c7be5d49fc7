"""Lowering of data-movement ops.

Every op here moves elements without arithmetic (except CONCATENATION's uint8 requantization),
so the kernels work on element sizes and serve all dtypes the core stores. Each lowering
recomputes the output shape TFLite's Prepare computes, checks it against the model's
declared output shape (pyedge plans memory ahead of time) and rejects what TFLite rejects.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import _native
from ..graph import Tensor
from ..quant import ACT_NONE
from . import Lowered, LowerCtx, register

# dtypes the kernels move: FLOAT32, INT32, UINT8, INT64, BOOL, INT16, INT8
MOVABLE = {0: "float32", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16", 9: "int8"}
FLOAT32, INT32, UINT8, INT64, BOOL, INT16, INT8 = 0, 2, 3, 4, 6, 7, 9
MAX_RANK = 6


# -- helpers -------------------------------------------------------------------------------------

def _params(ctype: str, **fields: int | list[int]) -> bytes:
    """A params struct filled by field name; list values fill int32_t array fields."""
    p = _native.params_struct(ctype)
    for k, v in fields.items():
        setattr(p, k, [int(e) for e in v] if isinstance(v, list) else int(v))
    return _native.struct_bytes(p)


def _types(*codes: int) -> str:
    return ", ".join(MOVABLE[c] for c in codes)


def _require_type(ctx: LowerCtx, t: Tensor, allowed: Sequence[int], what: str = "input") -> None:
    ctx.require(t.type_code in allowed,
                f"{what} type {t.type_name} (supported: {_types(*allowed)})")


def _const_ints(ctx: LowerCtx, t: Tensor | None, what: str, types: Sequence[int] = (INT32,)) -> list[int]:
    """Values of a constant integer tensor that TFLite reads at Prepare time."""
    ctx.require(t is not None, f"the {what} input is missing")
    ctx.require(t.is_const, f"the {what} tensor is not constant (pyedge plans shapes ahead of time)")
    ctx.require(t.type_code in types, f"{what} tensor type {t.type_name} (supported: {_types(*types)})")
    return [int(v) for v in np.asarray(t.data).reshape(-1)]


def _require_shape(ctx: LowerCtx, y: Tensor, shape: Sequence[int]) -> None:
    """TFLite resizes the output to `shape`; pyedge uses the declared shape, so they must agree."""
    ctx.require(tuple(y.shape) == tuple(int(d) for d in shape),
                f"output shape {list(y.shape)} differs from the shape TFLite computes, {list(shape)}")


def _norm_axis(ctx: LowerCtx, axis: int, rank: int, what: str = "axis") -> int:
    a = axis + rank if axis < 0 else axis
    ctx.require(0 <= a < rank, f"{what} {axis} is out of range for rank {rank}")
    return a


def _same_quant(a: Tensor, b: Tensor) -> bool:
    """TFLite's `params.scale` / `params.zero_point` equality (float32 scales)."""
    return np.float32(a.scale) == np.float32(b.scale) and a.zero_point == b.zero_point


# -- RESHAPE, SQUEEZE, EXPAND_DIMS -------------------------------------------------------------------

def _reshape_shape(ctx: LowerCtx, x: Tensor) -> list[int]:
    """TFLite reshape.cc GetOutputShape + the -1 stretch dimension of ResizeOutput."""
    shape_t = ctx.input(1)
    if shape_t is not None and len(shape_t.shape) == 1 and shape_t.type_code == INT32:
        # an empty shape tensor has no buffer, but its contents are known: a scalar
        shape = [] if shape_t.size == 0 else _const_ints(ctx, shape_t, "shape")
    else:
        shape = list(ctx.opt("NewShape", []) or [])
        if shape == [0]:
            shape = []  # legacy encoding of a scalar
    n_in = int(np.prod(x.shape, dtype=np.int64))
    nz_in = int(np.prod([d for d in x.shape if d != 0], dtype=np.int64))
    ctx.require(shape.count(-1) <= 1, f"shape {shape} has more than one -1")
    known = [d for d in shape if d != -1]
    n_out = int(np.prod(known, dtype=np.int64))
    nz_out = int(np.prod([d for d in known if d != 0], dtype=np.int64))
    if -1 in shape:
        stretch = 0 if (n_in == 0 and n_out != 0) else nz_in // nz_out
        shape[shape.index(-1)] = stretch
        n_out *= stretch
    ctx.require(n_out == n_in, f"shape {shape} does not hold the input's {n_in} elements")
    return shape


def _squeeze_shape(ctx: LowerCtx, x: Tensor) -> list[int]:
    """TFLite squeeze.cc: listed dims (negative allowed, each of size 1), or every size-1 dim."""
    rank = len(x.shape)
    dims = list(ctx.opt("SqueezeDims", []) or [])
    if not dims:
        drop = {i for i, d in enumerate(x.shape) if d == 1}
    else:
        drop = set()
        for d in dims:
            a = _norm_axis(ctx, d, rank, "squeeze dim")
            ctx.require(x.shape[a] == 1, f"squeeze dim {d} has size {x.shape[a]}, not 1")
            drop.add(a)
    return [d for i, d in enumerate(x.shape) if i not in drop]


def _expand_dims_shape(ctx: LowerCtx, x: Tensor) -> list[int]:
    """TFLite expand_dims.cc: a size-1 dim at `axis` (negative counts from rank + 1)."""
    axis = _const_ints(ctx, ctx.input(1), "axis", (INT32, INT64))
    ctx.require(len(axis) == 1, f"axis tensor holds {len(axis)} values, expected 1")
    rank = len(x.shape)
    a = axis[0] + rank + 1 if axis[0] < 0 else axis[0]
    ctx.require(0 <= a <= rank, f"axis {axis[0]} is out of range for rank {rank}")
    return list(x.shape[:a]) + [1] + list(x.shape[a:])


@register("RESHAPE", "SQUEEZE", "EXPAND_DIMS", max_version=2, types="all")
def reshape(ctx: LowerCtx) -> Lowered:
    """Same bytes, new shape."""
    x, y = ctx.input(0), ctx.output(0)
    _require_type(ctx, x, list(MOVABLE))
    ctx.require(x.type_code == y.type_code, f"input {x.type_name} and output {y.type_name} differ")
    shape = {"RESHAPE": _reshape_shape, "SQUEEZE": _squeeze_shape,
             "EXPAND_DIMS": _expand_dims_shape}[ctx.op.opcode](ctx, x)
    _require_shape(ctx, y, shape)
    return Lowered("RESHAPE", [x], [y], ctx.params("pe_reshape_params"))


# -- CONCATENATION, PACK ---------------------------------------------------------------------------

CONCAT_TYPES = (FLOAT32, UINT8, INT8, INT16, INT32, INT64, BOOL)
PACK_TYPES = (FLOAT32, UINT8, INT8, INT16, INT32, INT64)


@register("CONCATENATION", max_version=4, types="float32, int8, uint8 (requantized), int16, int32, int64, bool")
def concatenation(ctx: LowerCtx) -> Lowered:
    xs, y = ctx.inputs, ctx.output(0)
    ctx.require(len(xs) >= 1 and all(x is not None for x in xs), "every input must be present")
    x0 = xs[0]
    _require_type(ctx, x0, CONCAT_TYPES)
    ctx.require(ctx.opt("FusedActivationFunction", ACT_NONE) == ACT_NONE,
                "fused activation (TFLite's CONCATENATION rejects it)")
    rank = len(x0.shape)
    axis = _norm_axis(ctx, ctx.opt("Axis", 0), rank)
    for x in xs:
        ctx.require(x.type_code == x0.type_code and y.type_code == x0.type_code,
                    f"mixed types {x.type_name}, {x0.type_name} -> {y.type_name}")
        ctx.require(len(x.shape) == rank and all(x.shape[d] == x0.shape[d] for d in range(rank) if d != axis),
                    f"input shapes {[list(t.shape) for t in xs]} do not match outside axis {axis}")
    shape = list(x0.shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    _require_shape(ctx, y, shape)
    if x0.type_code == INT8:
        ctx.require(all(_same_quant(x, y) for x in xs),
                    "int8 inputs quantized unlike the output (TFLite rejects int8 rescaling)")
    if x0.type_code == INT16:
        ctx.require(all(t.zero_point == 0 for t in xs + [y]), "int16 zero point other than 0")
    if x0.type_code == UINT8:
        for x in xs:
            if not _same_quant(x, y):
                ctx.require(x.scale > 0 and y.scale > 0, "uint8 rescaling between unquantized tensors")
                ratio = float(np.float32(x.scale) * (np.float32(1) / np.float32(y.scale)))
                ctx.require((255 + abs(x.zero_point)) * ratio < 2.0**31, "uint8 rescaling ratio out of range")
    return Lowered("CONCATENATION", list(xs), [y], ctx.params("pe_concat_params", axis=axis))


@register("PACK", max_version=4, types="float32, int8, uint8, int16, int32, int64")
def pack(ctx: LowerCtx) -> Lowered:
    """Runs as CONCATENATION: each input is one slice along the new axis."""
    xs, y = ctx.inputs, ctx.output(0)
    ctx.require(len(xs) >= 1 and all(x is not None for x in xs), "every input must be present")
    ctx.require(ctx.opt("ValuesCount", len(xs)) == len(xs),
                f"values_count {ctx.opt('ValuesCount')} but {len(xs)} inputs")
    x0 = xs[0]
    _require_type(ctx, x0, PACK_TYPES)
    rank = len(x0.shape) + 1
    axis = _norm_axis(ctx, ctx.opt("Axis", 0), rank)
    for x in xs:
        ctx.require(x.type_code == x0.type_code and tuple(x.shape) == tuple(x0.shape),
                    "inputs differ in shape or type")
    ctx.require(y.type_code == x0.type_code, f"output type {y.type_name}, input {x0.type_name}")
    ctx.require(all(_same_quant(x, y) for x in xs),
                "inputs quantized unlike the output (TFLite does not rescale in PACK)")
    _require_shape(ctx, y, list(x0.shape[:axis]) + [len(xs)] + list(x0.shape[axis:]))
    return Lowered("CONCATENATION", list(xs), [y], ctx.params("pe_concat_params", axis=axis))


# -- SPLIT, SPLIT_V, UNPACK ---------------------------------------------------------------------------

def _split_outputs(ctx: LowerCtx, x: Tensor, axis: int, sizes: list[int]) -> Lowered:
    ys = ctx.outputs
    ctx.require(len(ys) == len(sizes), f"{len(ys)} outputs for {len(sizes)} splits")
    for y, n in zip(ys, sizes):
        ctx.require(y.type_code == x.type_code, f"output type {y.type_name}, input {x.type_name}")
        shape = list(x.shape)
        shape[axis] = n
        _require_shape(ctx, y, shape)
    return Lowered("SPLIT", [x], ys, ctx.params("pe_split_params", axis=axis))


def _split_axis(ctx: LowerCtx, t: Tensor | None, x: Tensor) -> int:
    axis = _const_ints(ctx, t, "axis")
    ctx.require(len(axis) == 1, f"axis tensor holds {len(axis)} values, expected 1")
    return _norm_axis(ctx, axis[0], len(x.shape))


@register("SPLIT", max_version=4, types="float32, int8, uint8, int16, int32")
def split(ctx: LowerCtx) -> Lowered:
    """Inputs (axis, x): num_splits equal parts."""
    x = ctx.input(1)
    ctx.require(x is not None, "the data input is missing")
    _require_type(ctx, x, (FLOAT32, UINT8, INT8, INT16, INT32))
    axis = _split_axis(ctx, ctx.input(0), x)
    n = int(ctx.opt("NumSplits", 0))
    ctx.require(n > 0 and x.shape[axis] % n == 0, f"dimension {x.shape[axis]} does not split evenly in {n}")
    return _split_outputs(ctx, x, axis, [x.shape[axis] // n] * n)


@register("SPLIT_V", max_version=2, types="float32, int8, uint8, int16, int32, int64")
def split_v(ctx: LowerCtx) -> Lowered:
    """Inputs (x, size_splits, axis); at most one size is -1 (the rest of the dimension)."""
    x = ctx.input(0)
    _require_type(ctx, x, (FLOAT32, UINT8, INT8, INT16, INT32, INT64))
    t = ctx.input(1)
    sizes = _const_ints(ctx, t, "size_splits", (INT32, INT64))
    ctx.require(len(t.shape) == 1, f"size_splits has shape {list(t.shape)}, expected 1-D")
    axis = _split_axis(ctx, ctx.input(2), x)
    ctx.require(sizes.count(-1) <= 1, "size_splits holds more than one -1")
    ctx.require(all(s >= 0 for s in sizes if s != -1), f"negative size in size_splits {sizes}")
    rest = x.shape[axis] - sum(s for s in sizes if s != -1)
    if -1 in sizes:
        ctx.require(rest >= 0, f"size_splits {sizes} exceed dimension {x.shape[axis]}")
        sizes[sizes.index(-1)] = rest
    ctx.require(sum(sizes) == x.shape[axis], f"size_splits {sizes} do not sum to {x.shape[axis]}")
    return _split_outputs(ctx, x, axis, sizes)


@register("UNPACK", max_version=4, types="float32, int8, uint8, int16, int32, bool")
def unpack(ctx: LowerCtx) -> Lowered:
    """Runs as SPLIT: each output is one slice along `axis`, with that dim dropped."""
    x, ys = ctx.input(0), ctx.outputs
    _require_type(ctx, x, (FLOAT32, UINT8, INT8, INT16, INT32, BOOL))
    ctx.require(int(np.prod(x.shape, dtype=np.int64)) > 0, "empty input (TFLite rejects it)")
    axis = _norm_axis(ctx, ctx.opt("Axis", 0), len(x.shape))
    num = int(ctx.opt("Num", 0))
    ctx.require(num == x.shape[axis] and len(ys) == num,
                f"num {num} with {len(ys)} outputs for dimension {x.shape[axis]}")
    shape = list(x.shape[:axis]) + list(x.shape[axis + 1:])
    for y in ys:
        ctx.require(y.type_code == x.type_code, f"output type {y.type_name}, input {x.type_name}")
        ctx.require(_same_quant(x, y), "outputs quantized unlike the input (TFLite does not rescale)")
        _require_shape(ctx, y, shape)
    return Lowered("SPLIT", [x], ys, ctx.params("pe_split_params", axis=axis))


# -- PAD, PADV2 -------------------------------------------------------------------------------------

PAD_MAX_RANK = 5  # TFLite's PadKernelMaxDimensionCount()


@register("PAD", "PADV2", max_version=4, types="float32, int8, uint8, int16, int32, int64")
def pad(ctx: LowerCtx) -> Lowered:
    """Quantized tensors pad with the output zero point, or PADV2's value (same quantization)."""
    x, y = ctx.input(0), ctx.output(0)
    _require_type(ctx, x, (FLOAT32, UINT8, INT8, INT16, INT32, INT64))
    ctx.require(y.type_code == x.type_code, f"output type {y.type_name}, input {x.type_name}")
    rank = len(x.shape)
    ctx.require(rank <= PAD_MAX_RANK, f"rank {rank} (TFLite pads up to rank {PAD_MAX_RANK})")
    pt = ctx.input(1)
    paddings = _const_ints(ctx, pt, "paddings", (INT32, INT64))
    ctx.require(len(pt.shape) == 2 and tuple(pt.shape) == (rank, 2),
                f"paddings shape {list(pt.shape)}, expected [{rank}, 2]")
    before, after = paddings[0::2], paddings[1::2]
    ctx.require(all(p >= 0 for p in paddings), f"negative padding {paddings}")
    _require_shape(ctx, y, [d + b + a for d, b, a in zip(x.shape, before, after)])

    value = ctx.input(2) if ctx.op.opcode == "PADV2" else None
    # TFLite's EvalInt path: uint8 always, int8/int16 when quantized
    quantized = x.type_code == UINT8 or (x.type_code in (INT8, INT16) and x.quantized)
    if value is not None:
        ctx.require(value.type_code == x.type_code, f"constant value type {value.type_name}, input {x.type_name}")
        ctx.require(value.size == 1, f"constant value has {value.size} elements, expected 1")
        if quantized:
            ctx.require(_same_quant(value, y), "constant value quantized unlike the output")
    else:
        fill = y.zero_point if quantized else 0
        if quantized:
            lo, hi = np.iinfo(x.dtype).min, np.iinfo(x.dtype).max
            ctx.require(lo <= fill <= hi, f"output zero point {fill} outside {x.type_name}")
        value = ctx.const(np.array([fill], dtype=x.dtype), "pad_value")
    return Lowered("PAD", [x, value], [y],
                   _params("pe_pad_params", before=before + [0] * (MAX_RANK - rank),
                              after=after + [0] * (MAX_RANK - rank)))


# -- TRANSPOSE -------------------------------------------------------------------------------------

@register("TRANSPOSE", max_version=6, types="float32, int8, uint8, int16, int32, int64, bool")
def transpose(ctx: LowerCtx) -> Lowered:
    x, y = ctx.input(0), ctx.output(0)
    _require_type(ctx, x, list(MOVABLE))
    ctx.require(y.type_code == x.type_code, f"output type {y.type_name}, input {x.type_name}")
    rank = len(x.shape)
    ctx.require(rank <= MAX_RANK, f"rank {rank}")
    pt = ctx.input(1)
    perm = _const_ints(ctx, pt, "perm")
    ctx.require(len(pt.shape) == 1 and sorted(perm) == list(range(rank)),
                f"perm {perm} is not a permutation of the {rank} input dims")
    _require_shape(ctx, y, [x.shape[p] for p in perm])
    return Lowered("TRANSPOSE", [x], [y],
                   _params("pe_transpose_params", perm=perm + [0] * (MAX_RANK - rank)))


# -- STRIDED_SLICE, SLICE ------------------------------------------------------------------------------

SLICE_MAX_RANK = 5  # TFLite's strided_slice.cc and slice.cc limits


def _slice_lowered(ctx: LowerCtx, x: Tensor, y: Tensor, dims: list[int], begin: list[int],
                   stride: list[int], count: list[int]) -> Lowered:
    n = len(dims)
    pad = [0] * (MAX_RANK - n)
    return Lowered("STRIDED_SLICE", [x], [y], _params(
        "pe_slice_params", rank=n, dims=dims + pad, begin=begin + pad,
        stride=stride + [1] * (MAX_RANK - n), count=count + pad))


def _clamp(v: int, lo: int, hi: int) -> int:
    return hi if v > hi else lo if v < lo else v


def _i32(v: int) -> int:
    """int32 wrap-around of an out-of-range sum, as TFLite's `int` arithmetic wraps in practice."""
    return (v + 2**31) % 2**32 - 2**31


@register("STRIDED_SLICE", max_version=8, types="float32, int8, uint8, int16, int32, int64, bool")
def strided_slice(ctx: LowerCtx) -> Lowered:
    """TFLite strided_slice.cc: masks and ellipsis resolved into an effective input shape, then
    each effective dim's start and stop as reference_ops::StridedSlice iterates them."""
    x, y = ctx.input(0), ctx.output(0)
    _require_type(ctx, x, list(MOVABLE))
    ctx.require(y.type_code == x.type_code, f"output type {y.type_name}, input {x.type_name}")
    in_dims = len(x.shape)
    ctx.require(in_dims <= SLICE_MAX_RANK, f"rank {in_dims} (TFLite slices up to rank {SLICE_MAX_RANK})")
    tensors = [ctx.input(k) for k in (1, 2, 3)]
    begin_d, end_d, strides_d = (_const_ints(ctx, t, w) for t, w in zip(tensors, ("begin", "end", "strides")))
    ctx.require(all(t is not None and len(t.shape) == 1 for t in tensors), "begin, end and strides must be 1-D")
    count = len(begin_d)
    ctx.require(len(end_d) == count and len(strides_d) == count,
                f"begin, end and strides have {count}, {len(end_d)}, {len(strides_d)} values")
    begin_mask, end_mask = int(ctx.opt("BeginMask", 0)), int(ctx.opt("EndMask", 0))
    ellipsis_mask, new_axis_mask = int(ctx.opt("EllipsisMask", 0)), int(ctx.opt("NewAxisMask", 0))
    shrink_mask, offset = int(ctx.opt("ShrinkAxisMask", 0)), bool(ctx.opt("Offset", False))

    # BuildStridedSliceParams: new axes (not under the ellipsis) add dims of size 1
    num_add_axis = sum(1 for i in range(count) if not (ellipsis_mask >> i) & 1 and (new_axis_mask >> i) & 1)
    eff = in_dims + num_add_axis
    ctx.require(eff <= SLICE_MAX_RANK, f"{eff} dims with the new axes (TFLite allows {SLICE_MAX_RANK})")
    eff_ellipsis = eff_new_axis = 0
    ellipsis_start, expanded = eff, 0
    i = 0
    while i < eff:
        if (ellipsis_mask >> i) & 1:
            ellipsis_start = i
            end_idx = max(i + 1, min(i + 1 + num_add_axis + in_dims - count, eff))
            expanded = end_idx - ellipsis_start - 1
            while i < end_idx:
                eff_ellipsis |= 1 << i
                i += 1
            continue
        if i - expanded >= 0 and (new_axis_mask >> (i - expanded)) & 1:
            eff_new_axis |= 1 << i
        i += 1
    starts, stops, strides = [0] * eff, [0] * eff, [1] * eff
    bmask = emask = smask = 0
    shape: list[int] = []
    added_ellipsis = added_axes = 0
    for i in range(eff):
        if (eff_ellipsis >> i) & 1:
            added_ellipsis = max(0, i - ellipsis_start)
            bmask |= 1 << i
            emask |= 1 << i
            shape.append(x.shape[i - added_axes])
        elif (eff_new_axis >> i) & 1:
            stops[i] = 1
            shape.append(1)
            added_axes += 1
        elif i >= count + expanded:
            bmask |= 1 << i
            emask |= 1 << i
            shape.append(x.shape[i - added_axes])
        else:
            k = i - added_ellipsis
            ctx.require(0 <= k < count, "begin/end/strides too short for the masks")
            starts[i], stops[i], strides[i] = begin_d[k], end_d[k], strides_d[k]
            bmask |= ((begin_mask >> k) & 1) << i
            emask |= ((end_mask >> k) & 1) << i
            smask |= ((shrink_mask >> k) & 1) << i
            shape.append(x.shape[i - added_axes])
    ctx.require(all(s != 0 for s in strides), "stride 0")

    def start_for(i: int, start: int) -> int:  # StridedSliceStartForAxis
        size, s = shape[i], strides[i]
        if start < 0:
            start = _i32(start + size)
        start = _clamp(start, 0, size) if s > 0 else _clamp(start, -1, size - 1)
        if (bmask >> i) & 1:
            start = 0 if s > 0 else size - 1
        return start

    def end_for(i: int, start: int, stop: int) -> int:  # StridedSliceEndForAxis
        size, s = shape[i], strides[i]
        if (smask >> i) & 1:
            return start if start >= size else start + 1
        if offset:
            stop = _i32(stop + start)
        if stop < 0:
            stop = _i32(stop + size)
        stop = _clamp(stop, 0, size) if s > 0 else _clamp(stop, -1, size - 1)
        if (emask >> i) & 1:
            stop = size if s > 0 else -1
        return stop

    # the output shape as ResizeOutputTensor computes it (with offset, start/stop are not read)
    out_shape = []
    for i in range(eff):
        if (smask >> i) & 1:
            continue
        if offset:
            ctx.require(i < count, "offset with an end tensor shorter than the sliced dims")
            dim = end_d[i]
        else:
            b = start_for(i, starts[i])
            dim = end_for(i, b, stops[i]) - b
        dim = int(np.ceil(np.float32(dim) / np.float32(strides[i])))
        out_shape.append(max(dim, 0))
    _require_shape(ctx, y, out_shape)

    # what the reference kernel iterates: for (i = start; stride > 0 ? i < stop : i > stop; i += stride)
    begin, counts = [], []
    for i in range(eff):
        b = start_for(i, starts[i])
        e = end_for(i, b, stops[i])
        s = strides[i]
        n = max(0, -(-(e - b) // s)) if s > 0 else max(0, -(-(b - e) // -s))
        begin.append(b if n else 0)
        counts.append(n)
    kept = [n for i, n in enumerate(counts) if not (smask >> i) & 1]
    ctx.require(kept == out_shape and all(counts[i] == 1 for i in range(eff) if (smask >> i) & 1),
                f"TFLite's output shape {out_shape} and the elements its kernel writes ({counts}) "
                "disagree (part of its output would be left unwritten)")
    return _slice_lowered(ctx, x, y, shape, begin, strides, counts)


@register("SLICE", max_version=6, types="float32, int8, uint8, int16, int32, int64, bool")
def slice_(ctx: LowerCtx) -> Lowered:
    """Runs as STRIDED_SLICE with stride 1; size -1 takes the rest of the dimension."""
    x, y = ctx.input(0), ctx.output(0)
    _require_type(ctx, x, list(MOVABLE))
    ctx.require(y.type_code == x.type_code, f"output type {y.type_name}, input {x.type_name}")
    rank = len(x.shape)
    ctx.require(rank <= SLICE_MAX_RANK, f"rank {rank} (TFLite slices up to rank {SLICE_MAX_RANK})")
    bt, st = ctx.input(1), ctx.input(2)
    begin = _const_ints(ctx, bt, "begin", (INT32, INT64))
    size = _const_ints(ctx, st, "size", (INT32, INT64))
    ctx.require(bt.type_code == st.type_code, "begin and size tensors differ in type")
    ctx.require(len(bt.shape) == 1 and len(st.shape) == 1 and len(begin) == rank and len(size) == rank,
                f"begin {begin} and size {size} must have one value per input dim ({rank})")
    for d in range(rank):
        ctx.require(0 <= begin[d] <= x.shape[d], f"begin {begin} out of range for shape {list(x.shape)}")
        if size[d] == -1:
            size[d] = x.shape[d] - begin[d]
        ctx.require(0 <= size[d] and begin[d] + size[d] <= x.shape[d],
                    f"begin {begin} and size {size} do not fit shape {list(x.shape)}")
    _require_shape(ctx, y, size)
    return _slice_lowered(ctx, x, y, list(x.shape), [b if n else 0 for b, n in zip(begin, size)],
                          [1] * rank, size)


# -- GATHER ---------------------------------------------------------------------------------------

@register("GATHER", max_version=6, types="float32, int8, uint8, int16, int32, int64, bool; int16/int32/int64 indices")
def gather(ctx: LowerCtx) -> Lowered:
    """Indices may be non-constant: the kernel checks their range at run time."""
    x, ix, y = ctx.input(0), ctx.input(1), ctx.output(0)
    _require_type(ctx, x, list(MOVABLE))
    _require_type(ctx, ix, (INT16, INT32, INT64), "indices")
    ctx.require(y.type_code == x.type_code, f"output type {y.type_name}, input {x.type_name}")
    axis = _norm_axis(ctx, int(ctx.opt("Axis", 0)), len(x.shape))
    batch_dims = int(ctx.opt("BatchDims", 0))
    if batch_dims < 0:
        batch_dims += len(ix.shape)
    ctx.require(0 <= batch_dims <= len(ix.shape) and batch_dims <= axis,
                f"batch_dims {ctx.opt('BatchDims')} with axis {axis} and indices rank {len(ix.shape)}")
    ctx.require(tuple(x.shape[:batch_dims]) == tuple(ix.shape[:batch_dims]),
                f"batch dims of input {list(x.shape)} and indices {list(ix.shape)} differ")
    _require_shape(ctx, y, list(x.shape[:axis]) + list(ix.shape[batch_dims:]) + list(x.shape[axis + 1:]))
    if ix.is_const:
        bad = [int(v) for v in np.asarray(ix.data).reshape(-1) if not 0 <= v < x.shape[axis]]
        ctx.require(not bad, f"constant indices {bad[:4]} outside [0, {x.shape[axis]})")
    return Lowered("GATHER", [x, ix], [y], ctx.params("pe_gather_params", axis=axis, batch_dims=batch_dims))


# -- GATHER_ND ------------------------------------------------------------------------------------

@register("GATHER_ND", max_version=4, types="float32, int8, uint8, int16, int32, int64; int16/int32/int64 indices")
def gather_nd(ctx: LowerCtx) -> Lowered:
    """reference_ops::GatherNd: indices [..., K] name slices of params; indices may be non-constant
    (the kernel checks their range at run time and fails the invoke, as TFLite does)."""
    x, ix, y = ctx.input(0), ctx.input(1), ctx.output(0)
    _require_type(ctx, x, (FLOAT32, INT8, UINT8, INT16, INT32, INT64))
    _require_type(ctx, ix, (INT16, INT32, INT64), "indices")
    ctx.require(y.type_code == x.type_code, f"output type {y.type_name}, input {x.type_name}")
    ctx.require(len(ix.shape) >= 1, "scalar indices (TFLite requires rank >= 1)")
    k = ix.shape[-1]
    ctx.require(1 <= k <= len(x.shape), f"index depth {k} outside [1, params rank {len(x.shape)}]")
    _require_shape(ctx, y, list(ix.shape[:-1]) + list(x.shape[k:]))
    if ix.is_const:
        # TFLite checks the flat position only (reference_ops::GatherNd)
        below = [int(np.prod(x.shape[j + 1:k], dtype=np.int64)) for j in range(k)]
        slices = int(np.prod(x.shape[:k], dtype=np.int64))
        tuples = np.asarray(ix.data).reshape(-1, k)
        bad = [list(map(int, t)) for t in tuples
               if min(t) < 0 or not sum(int(v) * b for v, b in zip(t, below)) < slices]
        ctx.require(not bad, f"constant indices {bad[:3]} outside the params shape {list(x.shape)}")
    return Lowered("GATHER_ND", [x, ix], [y], ctx.params("pe_gather_nd_params"))


# -- CAST -----------------------------------------------------------------------------------------

CAST_TYPES = (FLOAT32, INT8, UINT8, INT16, INT32, INT64, BOOL)


@register("CAST", max_version=6, types="float32, int8, uint8, int16, int32, int64, bool (to and from each)")
def cast(ctx: LowerCtx) -> Lowered:
    """cast.cc: static_cast per element (quantization parameters play no part); to bool: != 0."""
    x, y = ctx.input(0), ctx.output(0)
    _require_type(ctx, x, CAST_TYPES)
    _require_type(ctx, y, CAST_TYPES, "output")
    _require_shape(ctx, y, list(x.shape))
    return Lowered("CAST", [x], [y], ctx.params("pe_cast_params"))

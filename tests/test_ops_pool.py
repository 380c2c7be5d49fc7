"""Pooling, reductions, arg-min/max and resize ops: pyedge against TFLite's reference kernels."""
from __future__ import annotations

from typing import Any

import struct
import zlib

import numpy as np
import pytest
import tflite

import pyedge
from optest import check_model
from oracle import MicroInterpreter, reference_interpreter, run_model
from tflite_builder import single_op_model

SAME, VALID = tflite.Padding.SAME, tflite.Padding.VALID
NONE, RELU, RELU6, RELU_N1 = (tflite.ActivationFunctionType.NONE, tflite.ActivationFunctionType.RELU,
                              tflite.ActivationFunctionType.RELU6,
                              tflite.ActivationFunctionType.RELU_N1_TO_1)
TANH = tflite.ActivationFunctionType.TANH


def q(shape, dtype: str, scale: float | None = None, zero_point: int | None = None) -> dict[str, Any]:
    """Tensor spec; int types get quantization unless scale is None."""
    spec: dict[str, Any] = dict(shape=list(shape), dtype=dtype)
    if scale is not None:
        spec.update(scale=scale, zero_point=zero_point or 0)
    return spec


def const(values, dtype: str = "int32") -> dict[str, Any]:
    return dict(shape=None, data=np.array(values, dtype=dtype), dtype=dtype)


def assert_unsupported(model: bytes, match: str) -> None:
    with pytest.raises(pyedge.UnsupportedOpError, match=match):
        pyedge.Interpreter(model_content=model)


# ---------------------------------------------------------------------------------------------
# AVERAGE_POOL_2D, MAX_POOL_2D
# ---------------------------------------------------------------------------------------------

def _out_size(padding: int, size: int, filt: int, stride: int) -> int:
    return -(-size // stride) if padding == SAME else (size - filt) // stride + 1


def pool_model(op: str, shape, filt, stride, padding: int, act: int = NONE, dtype: str = "int8",
               scale: float = 0.05, zero_point: int = 0) -> bytes:
    n, h, w, c = shape
    out = [n, _out_size(padding, h, filt[0], stride[0]), _out_size(padding, w, filt[1], stride[1]), c]
    opts = {"Padding": padding, "StrideH": stride[0], "StrideW": stride[1], "FilterHeight": filt[0],
            "FilterWidth": filt[1], "FusedActivationFunction": act}
    return single_op_model(op, [q(shape, dtype, scale, zero_point)], [q(out, dtype, scale, zero_point)],
                           ("Pool2DOptions", opts))


POOL_GEOMETRY = [
    # shape, filter, stride, padding
    ([1, 1, 1, 1], (1, 1), (1, 1), VALID),
    ([1, 5, 7, 3], (2, 2), (2, 2), SAME),
    ([1, 5, 7, 3], (3, 3), (1, 1), SAME),
    ([2, 6, 5, 2], (3, 2), (2, 3), SAME),
    ([1, 7, 7, 4], (3, 3), (2, 2), VALID),
    ([1, 4, 9, 1], (4, 5), (3, 1), SAME),
    ([1, 3, 3, 5], (3, 3), (2, 2), VALID),   # person_detect's final pool
    ([1, 6, 6, 2], (6, 6), (1, 1), VALID),   # global pool
    ([1, 4, 4, 3], (5, 5), (1, 1), SAME),    # filter larger than the input
    ([1, 9, 2, 2], (1, 1), (4, 1), SAME),
]


@pytest.mark.parametrize("op", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
@pytest.mark.parametrize("shape, filt, stride, padding", POOL_GEOMETRY)
@pytest.mark.parametrize("dtype, zero_point", [("int8", -128), ("int8", 5), ("uint8", 128), ("int16", 0)])
def test_pool_geometry(op, shape, filt, stride, padding, dtype, zero_point) -> None:
    check_model(pool_model(op, shape, filt, stride, padding, dtype=dtype, zero_point=zero_point))


@pytest.mark.parametrize("op", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
@pytest.mark.parametrize("act", [RELU, RELU6, RELU_N1])
@pytest.mark.parametrize("dtype, scale, zero_point", [
    ("int8", 0.05, -128), ("int8", 0.01, 20), ("int8", 0.1, 127), ("uint8", 0.02, 100),
    ("int16", 0.001, 0), ("int16", 0.0002, 0)])
def test_pool_activation(op, act, dtype, scale, zero_point) -> None:
    check_model(pool_model(op, [1, 5, 6, 3], (2, 3), (2, 2), SAME, act, dtype, scale, zero_point))


def test_person_detect_average_pool() -> None:
    """The exact AVERAGE_POOL_2D of tflm_person_detect.tflite."""
    check_model(pool_model("AVERAGE_POOL_2D", [1, 3, 3, 256], (3, 3), (2, 2), VALID,
                           scale=0.01860933005809784, zero_point=-128))


def test_pool_float_runs_and_tanh_rejected() -> None:
    model = single_op_model("MAX_POOL_2D", [q([1, 4, 4, 1], "float32")], [q([1, 2, 2, 1], "float32")],
                            ("Pool2DOptions", {"Padding": VALID, "StrideH": 2, "StrideW": 2,
                                               "FilterHeight": 2, "FilterWidth": 2}))
    check_model(model)  # float32 pooling: the float ops of dynamic-range models (tests/test_hybrid.py)
    assert_unsupported(pool_model("AVERAGE_POOL_2D", [1, 4, 4, 1], (2, 2), (2, 2), VALID, TANH),
                       "fused activation")


# ---------------------------------------------------------------------------------------------
# MEAN, SUM
# ---------------------------------------------------------------------------------------------

def reduce_model(op: str, shape, axes, keep_dims: bool, dtype: str, in_q=(0.05, 0), out_q=(0.05, 0)) -> bytes:
    rank = len(shape)
    resolved = {a + rank if a < 0 else a for a in axes}
    if keep_dims:
        out = [1 if d in resolved else s for d, s in enumerate(shape)]
    else:
        out = [s for d, s in enumerate(shape) if d not in resolved]
    if dtype == "int32":
        ins, outs = q(shape, dtype), q(out, dtype)
    else:
        ins, outs = q(shape, dtype, *in_q), q(out, dtype, *out_q)
    return single_op_model(op, [ins, const(axes)], [outs], ("ReducerOptions", {"KeepDims": keep_dims}))


REDUCE_AXES = [
    # shape, axes
    ([1, 7, 7, 16], [1, 2]),      # MobileNet global average
    ([2, 5, 3, 4], [2, 1]),
    ([2, 5, 3, 4], [-3, -2]),
    ([2, 5, 3, 4], [0]),
    ([2, 5, 3, 4], [3]),
    ([2, 5, 3, 4], [-1, 1, -1]),  # negative and duplicate axes
    ([2, 5, 3, 4], [0, 1, 2, 3]),
    ([1, 1, 1, 1], [1, 2]),
    ([13], [0]),
    ([3, 9], [1]),
    ([4, 3, 5], [0, 2]),
    ([2, 3, 2, 3, 2], [0, 2, 4]),
    ([37, 45, 1], [0, 1]),         # 1665 elements per output
    ([2, 3, 2, 3, 2], [4, 3, 2, 1, 0, -1]),  # more than 4 axis values
    ([1, 2, 1, 3, 2, 2], [1, 3, 5]),          # rank 6
]

QUANT_PAIRS_8 = [
    ((0.05, 0), (0.05, 0)),        # same quantization
    ((0.05, -128), (0.05, -128)),
    ((0.05, 3), (0.02, -7)),       # multiplier above one
    ((0.02, 127), (0.09, -128)),   # multiplier below one, extreme zero points
    ((1.5, -20), (0.004, 100)),    # large multiplier (left shift)
]
QUANT_PAIRS_16 = [((0.001, 0), (0.001, 0)), ((0.001, 0), (0.0004, 0)), ((0.0002, 0), (0.003, 0))]


@pytest.mark.parametrize("shape, axes", REDUCE_AXES)
@pytest.mark.parametrize("keep_dims", [True, False])
@pytest.mark.parametrize("dtype, in_q, out_q", [("int8", *p) for p in QUANT_PAIRS_8] +
                         [("int16", *p) for p in QUANT_PAIRS_16] +
                         [("uint8", (0.05, 128), (0.05, 128)), ("uint8", (0.02, 0), (0.2, 30)),
                          ("uint8", (0.1, 255), (0.03, 7))])
def test_mean(shape, axes, keep_dims, dtype, in_q, out_q) -> None:
    check_model(reduce_model("MEAN", shape, axes, keep_dims, dtype, in_q, out_q), seeds=(0, 1))


@pytest.mark.parametrize("shape, axes", REDUCE_AXES)
@pytest.mark.parametrize("keep_dims", [True, False])
@pytest.mark.parametrize("dtype, in_q, out_q", [
    ("int8", *QUANT_PAIRS_8[0]), ("int8", *QUANT_PAIRS_8[2]), ("int8", *QUANT_PAIRS_8[3]),
    ("int8", (0.5, -20), (0.7, 5)), ("uint8", (0.05, 128), (0.05, 128)), ("uint8", (0.02, 0), (0.2, 30)),
    ("int16", (0.001, 0), (0.001, 0)), ("int32", None, None)])
def test_sum(shape, axes, keep_dims, dtype, in_q, out_q) -> None:
    # int8 against TFLite Micro: TFLite 2.14's reference int8 SUM adds the bytes as uint8 (a bug
    # fixed in TFLM and newer LiteRT; docs/oracles.md), pyedge adds int8 values
    oracle = reference_interpreter
    if dtype == "int8":
        pytest.importorskip("tflite_micro", reason="int8 SUM's oracle is TFLite Micro (the test extra)")
        oracle = MicroInterpreter
    check_model(reduce_model("SUM", shape, axes, keep_dims, dtype, in_q, out_q), seeds=(0, 1), oracle=oracle)


@pytest.mark.parametrize("shape, axes", REDUCE_AXES[:6] + REDUCE_AXES[8:])
@pytest.mark.parametrize("keep_dims", [True, False])
def test_mean_int32(shape, axes, keep_dims) -> None:
    check_model(reduce_model("MEAN", shape, axes, keep_dims, "int32"), seeds=(0, 1))


@pytest.mark.parametrize("shape, axes", [
    ([1, 7, 7, 1283], [1, 2]),    # the row-sum kernels' 64/32/16-column blocks and a tail
    ([2, 9, 11, 67], [1, 2]),
    ([1, 17, 17, 100], [1, 2]),   # 289 rows: past one run of 256 int16 partial sums
    ([3, 300, 33], [1]),
    ([257, 70], [0]),
])
@pytest.mark.parametrize("in_q, out_q", QUANT_PAIRS_8)
def test_mean_rows(shape, axes, in_q, out_q) -> None:
    """int8 MEAN over contiguous axes: the row-sum variants (mean_rows_*) on every tier."""
    check_model(reduce_model("MEAN", shape, axes, True, "int8", in_q, out_q), seeds=(0,))


def test_mobilenet_v2_mean() -> None:
    """The exact MEAN of tflm_mobilenet_v2_quantized (version 2, keep_dims, axes [1, 2])."""
    qp = (0.07054788619279861, -9)
    check_model(reduce_model("MEAN", [1, 7, 7, 1280], [1, 2], True, "int8", qp, qp))


def test_sum_int8_small_values() -> None:
    """Non-negative int8 inputs (the common case after ReLU), where sums stay in range."""
    model = reduce_model("SUM", [2, 4, 3], [1], False, "int8", (0.1, -3), (0.3, 2))
    x = np.random.default_rng(3).integers(0, 40, size=(2, 4, 3)).astype(np.int8)
    check_model(model, inputs=[x])


def test_reduce_rejections() -> None:
    assert_unsupported(reduce_model("MEAN", [2, 3], [1], False, "int16", (0.01, 3), (0.01, 0)),
                       "zero points 0")
    assert_unsupported(reduce_model("SUM", [2, 3], [1], False, "int16", (0.01, 0), (0.02, 0)),
                       "different input and output scales")
    assert_unsupported(reduce_model("MEAN", [2, 3], [2], False, "int8"), "axis 2 out of range")
    model = single_op_model("MEAN", [q([2, 3], "float32"), const([1])], [q([2], "float32")],
                            ("ReducerOptions", {"KeepDims": False}))
    check_model(model)  # float32 MEAN runs (tests/test_hybrid.py)
    mb_axes = single_op_model("MEAN", [q([2, 3], "int8", 0.1, 0), q([1], "int32")], [q([2], "int8", 0.1, 0)],
                              ("ReducerOptions", {"KeepDims": False}))
    assert_unsupported(mb_axes, "axis input must be a constant")


# ---------------------------------------------------------------------------------------------
# ARG_MAX, ARG_MIN
# ---------------------------------------------------------------------------------------------

def arg_model(op: str, shape, axis: int, dtype: str, out_type: str = "int32", axis_type: str = "int32") -> bytes:
    rank = len(shape)
    a = axis + rank if axis < 0 else axis
    out = [s for d, s in enumerate(shape) if d != a]
    ins = q(shape, dtype, 0.1, 0) if dtype in ("int8", "uint8") else q(shape, dtype)
    options = "ArgMaxOptions" if op == "ARG_MAX" else "ArgMinOptions"
    return single_op_model(op, [ins, const([axis], axis_type)], [q(out, out_type)],
                           (options, {"OutputType": getattr(tflite.TensorType, out_type.upper())}))


@pytest.mark.parametrize("op", ["ARG_MAX", "ARG_MIN"])
@pytest.mark.parametrize("shape, axis", [([7], 0), ([1], 0), ([3, 5], 1), ([3, 5], 0), ([2, 3, 4], -2),
                                         ([2, 1, 4, 3], 3), ([2, 4, 3, 5], 0), ([1, 6, 6, 9], -1)])
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "float32"])
def test_arg_min_max(op, shape, axis, dtype) -> None:
    check_model(arg_model(op, shape, axis, dtype))


@pytest.mark.parametrize("op", ["ARG_MAX", "ARG_MIN"])
@pytest.mark.parametrize("out_type, axis_type", [("int64", "int32"), ("int32", "int64"), ("int64", "int64")])
def test_arg_types(op, out_type, axis_type) -> None:
    check_model(arg_model(op, [3, 4, 5], 1, "int8", out_type, axis_type))


@pytest.mark.parametrize("op", ["ARG_MAX", "ARG_MIN"])
def test_arg_ties_take_first_index(op) -> None:
    model = arg_model(op, [4, 6], 1, "int8")
    x = np.random.default_rng(0).integers(-2, 3, size=(4, 6)).astype(np.int8)  # many ties
    x[0] = 5
    out = check_model(model, inputs=[x])
    assert out[0][0][0] == 0  # first invoke, first output, row 0


def test_arg_rejects_int16() -> None:
    assert_unsupported(arg_model("ARG_MAX", [3, 4], 1, "int16"), "input type INT16")


# ---------------------------------------------------------------------------------------------
# RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR
# ---------------------------------------------------------------------------------------------

def resize_model(op: str, shape, size, dtype: str, align: bool = False, half: bool = False) -> bytes:
    n, _, _, c = shape
    out = [n, size[0], size[1], c]
    if dtype == "float32":
        ins, outs = q(shape, dtype), q(out, dtype)
    else:
        ins, outs = q(shape, dtype, 0.05, 0), q(out, dtype, 0.05, 0)
    options = "ResizeBilinearOptions" if op == "RESIZE_BILINEAR" else "ResizeNearestNeighborOptions"
    return single_op_model(op, [ins, const(size)], [outs],
                           (options, {"AlignCorners": align, "HalfPixelCenters": half}))


RESIZE_SIZES = [
    # input shape, output size
    ([1, 1, 1, 3], [4, 5]),
    ([1, 3, 4, 2], [6, 8]),
    ([2, 3, 3, 1], [7, 5]),
    ([1, 5, 7, 3], [3, 2]),      # downscale
    ([1, 8, 6, 2], [1, 1]),
    ([1, 4, 4, 1], [4, 4]),
    ([1, 2, 9, 2], [5, 4]),      # up in H, down in W
    ([1, 13, 11, 1], [29, 31]),
]
NN_FLAGS = [(False, False), (True, False), (False, True), (True, True)]


@pytest.mark.parametrize("shape, size", RESIZE_SIZES)
@pytest.mark.parametrize("align, half", NN_FLAGS)
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "float32"])
def test_resize_nearest_neighbor(shape, size, align, half, dtype) -> None:
    check_model(resize_model("RESIZE_NEAREST_NEIGHBOR", shape, size, dtype, align, half), seeds=(0,))


@pytest.mark.parametrize("shape, size", RESIZE_SIZES)
@pytest.mark.parametrize("align, half", NN_FLAGS[:3])
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16"])
def test_resize_bilinear(shape, size, align, half, dtype) -> None:
    check_model(resize_model("RESIZE_BILINEAR", shape, size, dtype, align, half), seeds=(0, 1))


def test_resize_rejections() -> None:
    assert_unsupported(resize_model("RESIZE_BILINEAR", [1, 2, 2, 1], [4, 4], "float32"), "float32 RESIZE_BILINEAR")
    assert_unsupported(resize_model("RESIZE_BILINEAR", [1, 2, 2, 1], [4, 4], "int8", True, True),
                       "align_corners and half_pixel_centers")
    dynamic = single_op_model("RESIZE_NEAREST_NEIGHBOR", [q([1, 2, 2, 1], "int8", 0.1, 0), q([2], "int32")],
                              [q([1, 4, 4, 1], "int8", 0.1, 0)],
                              ("ResizeNearestNeighborOptions", {"AlignCorners": False}))
    assert_unsupported(dynamic, "size input must be a constant")


# ---------------------------------------------------------------------------------------------
# The kernels' check functions reject hostile parameters at load
# ---------------------------------------------------------------------------------------------

def patch_params(blob: bytes, values: dict[int, int]) -> bytes:
    """Overwrite int32 fields of the first op's params struct and fix the blob checksum."""
    b = bytearray(blob)
    params_offset, _ = struct.unpack_from("<II", b, 64 + 4 * 8)  # sections[PE_SEC_PARAMS]
    op_params, = struct.unpack_from("<I", b, struct.unpack_from("<I", b, 64 + 1 * 8)[0] + 12)
    for field, value in values.items():
        struct.pack_into("<i", b, params_offset + op_params + 4 * field, value)
    struct.pack_into("<I", b, 16, 0)
    struct.pack_into("<I", b, 16, zlib.crc32(bytes(b)))
    return bytes(b)


@pytest.mark.parametrize("model, fields, status", [
    # pe_pool_params: stride_h, stride_w, filter_h, filter_w, pad_h, pad_w, act_min, act_max
    (pool_model("AVERAGE_POOL_2D", [1, 5, 5, 1], (3, 3), (2, 2), SAME), {4: 3}, "PE_ERR_BAD_PARAMS"),
    (pool_model("MAX_POOL_2D", [1, 5, 5, 1], (3, 3), (2, 2), SAME), {0: 0}, "PE_ERR_BAD_PARAMS"),
    (pool_model("MAX_POOL_2D", [1, 5, 5, 1], (3, 3), (2, 2), SAME), {0: 9}, "PE_ERR_SHAPE"),
    (pool_model("MAX_POOL_2D", [1, 5, 5, 1], (3, 3), (2, 2), SAME), {7: 300}, "PE_ERR_BAD_PARAMS"),
    # pe_reduce_params: mode, axis_mask, keep_dims, multiplier, shift
    (reduce_model("MEAN", [2, 3], [1], False, "int8"), {1: 4}, "PE_ERR_BAD_PARAMS"),
    (reduce_model("MEAN", [2, 3], [1], False, "int8"), {1: 1}, "PE_ERR_SHAPE"),
    (reduce_model("MEAN", [2, 3], [1], False, "int8"), {0: 7}, "PE_ERR_BAD_PARAMS"),
    (reduce_model("MEAN", [2, 3], [1], False, "int8"), {4: 31}, "PE_ERR_BAD_PARAMS"),
    (reduce_model("SUM", [2, 3], [1], False, "int8"), {0: 0}, "PE_ERR_SHAPE"),
    # pe_arg_params: axis
    (arg_model("ARG_MAX", [3, 4], 1, "int8"), {0: 2}, "PE_ERR_BAD_PARAMS"),
    (arg_model("ARG_MIN", [3, 4], 1, "int8"), {0: 0}, "PE_ERR_SHAPE"),
    # pe_resize_params: align_corners, half_pixel_centers
    (resize_model("RESIZE_BILINEAR", [1, 2, 2, 1], [4, 4], "int8"), {0: 1, 1: 1}, "PE_ERR_BAD_PARAMS"),
    (resize_model("RESIZE_NEAREST_NEIGHBOR", [1, 2, 2, 1], [4, 4], "int8"), {1: 2}, "PE_ERR_BAD_PARAMS"),
])
def test_check_rejects_hostile_params(model, fields, status) -> None:
    blob = pyedge.pack_tflite(model)
    pyedge.Interpreter(model_content=blob)  # the unpatched blob loads
    with pytest.raises(pyedge.BlobError) as err:
        pyedge.Interpreter(model_content=patch_params(blob, fields))
    assert err.value.status == status


def test_int8_sum_adds_int8_values_not_bytes():
    """[-4, -1, 2] sums to -3, as in TFLite Micro. TFLite 2.14's reference kernel (the oracle
    everywhere else) runs QuantizedMeanOrSum<uint8_t> on the int8 bytes: 252 + 255 + 2 clamps to
    255, read back as -1. pyedge follows the fixed semantics (docs/oracles.md)."""
    pytest.importorskip("tflite_micro", reason="int8 SUM's oracle is TFLite Micro (the test extra)")
    m = single_op_model("SUM", [dict(shape=[1, 3], dtype="int8", scale=0.5, zero_point=0),
                                dict(shape=[1], dtype="int32", data=np.array([1], np.int32))],
                        [dict(shape=[1], dtype="int8", scale=0.5, zero_point=0)],
                        ("ReducerOptions", {"KeepDims": False}))
    x = [np.array([[-4, -1, 2]], np.int8)]
    assert run_model(pyedge.Interpreter, m, x)[0][0].tolist() == [-3]
    assert run_model(MicroInterpreter, m, x)[0][0].tolist() == [-3]
    assert run_model(reference_interpreter, m, x)[0][0].tolist() == [-1]  # the known 2.14 bug
    check_model(m, inputs=x, oracle=MicroInterpreter)
"""Data-movement ops against TFLite's reference kernels, bit for bit: RESHAPE, SQUEEZE,
EXPAND_DIMS, CONCATENATION, PACK, SPLIT, SPLIT_V, UNPACK, PAD, PADV2, TRANSPOSE,
STRIDED_SLICE, SLICE, GATHER."""
from __future__ import annotations

import struct
import zlib
from typing import Any

import numpy as np
import pytest

import pyedge
from pyedge import _native
from pyedge.blob import (CHECKSUM_OFFSET, ELEMENT_SIZE, HEADER, OP, OP_FIELDS, SEC_OPS, SEC_PARAMS, SEC_TENSORS,
                         STORE_ARENA, TENSOR, read_blob)
from pyedge.pack import pack_tflite
from pyedge.plan import check_plan, pad_inplace_shift
from optest import check_model
from oracle import assert_bit_exact, random_inputs, reference_interpreter, run_model
from tflite_builder import ModelBuilder, single_op_model

ALL_TYPES = ["float32", "int8", "uint8", "int16", "int32", "int64", "bool"]
# (scale, zero point) per quantized type: extreme zero points included
QUANT = {"int8": [(0.05, -3), (0.5, 127), (1e-3, -128)], "uint8": [(0.1, 0), (0.02, 255), (1.5, 128)],
         "int16": [(0.01, 0), (3e-5, 0)]}


def t(shape, dtype: str, q: tuple[float, int] | None = None, data: Any = None) -> dict[str, Any]:
    """Tensor spec for single_op_model; q = (scale, zero point) for quantized types."""
    spec: dict[str, Any] = dict(shape=list(shape), dtype=dtype)
    if q is not None:
        spec.update(scale=q[0], zero_point=q[1])
    if data is not None:
        spec["data"] = data
    return spec


def i32(values) -> dict[str, Any]:
    a = np.asarray(values, np.int32)
    return t(a.shape, "int32", data=a)


def i64(values) -> dict[str, Any]:
    a = np.asarray(values, np.int64)
    return t(a.shape, "int64", data=a)


def default_q(dtype: str) -> tuple[float, int] | None:
    return QUANT[dtype][0] if dtype in QUANT else None


def tflite_runs(model: bytes) -> bool:
    """Whether TFLite's reference interpreter prepares and invokes `model` (on zero inputs)."""
    interp = reference_interpreter(model)
    try:
        interp.allocate_tensors()
        for d in interp.get_input_details():
            interp.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
        interp.invoke()
    except (RuntimeError, ValueError):
        return False
    return True


def assert_unsupported(model: bytes, match: str) -> None:
    with pytest.raises(pyedge.UnsupportedOpError, match=match):
        pyedge.Interpreter(model_content=model)


# -- RESHAPE, SQUEEZE, EXPAND_DIMS ------------------------------------------------------------------

@pytest.mark.parametrize("in_shape, new_shape, out_shape", [
    ([2, 3, 4], [4, -1], [4, 6]),
    ([1, 1960], [-1, 49, 40, 1], [1, 49, 40, 1]),
    ([5], [1, 5, 1], [1, 5, 1]),
    ([1, 1, 1, 7], [7], [7]),
    ([1], [], []),
    ([3, 1, 5], [-1], [15]),
])
@pytest.mark.parametrize("via", ["tensor", "option", "both"])
def test_reshape(in_shape, new_shape, out_shape, via: str) -> None:
    inputs = [t(in_shape, "int8", (0.1, -5))]
    options = None
    if via in ("tensor", "both"):
        inputs.append(i32(new_shape))
    if via in ("option", "both"):
        options = ("ReshapeOptions", {"NewShape": new_shape if via == "option" else [99]})
    if via == "option" and not new_shape:
        options = ("ReshapeOptions", {"NewShape": [0]})  # legacy scalar encoding
    check_model(single_op_model("RESHAPE", inputs, [t(out_shape, "int8", (0.1, -5))], options))


@pytest.mark.parametrize("dtype", ALL_TYPES)
def test_reshape_dtypes(dtype: str) -> None:
    q = default_q(dtype)
    check_model(single_op_model("RESHAPE", [t([3, 1, 4], dtype, q), i32([2, 6])], [t([2, 6], dtype, q)]))


@pytest.mark.parametrize("in_shape, dims, out_shape", [
    ([1, 3, 1, 2], [0, 2], [3, 2]),
    ([1, 3, 1, 2], [], [3, 2]),
    ([1, 3, 1, 2], [-2], [1, 3, 2]),
    ([1, 1, 1], [], []),
    ([4, 1], [1], [4]),
])
@pytest.mark.parametrize("dtype", ["int8", "int16", "float32"])
def test_squeeze(in_shape, dims, out_shape, dtype: str) -> None:
    q = default_q(dtype)
    check_model(single_op_model("SQUEEZE", [t(in_shape, dtype, q)], [t(out_shape, dtype, q)],
                                ("SqueezeOptions", {"SqueezeDims": dims})))


@pytest.mark.parametrize("in_shape, axis, out_shape", [
    ([3, 4], 0, [1, 3, 4]), ([3, 4], 2, [3, 4, 1]), ([3, 4], -1, [3, 4, 1]), ([3, 4], -3, [1, 3, 4]),
    ([], 0, [1]), ([5], 1, [5, 1]),
])
@pytest.mark.parametrize("axis_type", ["int32", "int64"])
def test_expand_dims(in_shape, axis, out_shape, axis_type: str) -> None:
    ax = i32([axis]) if axis_type == "int32" else i64([axis])
    check_model(single_op_model("EXPAND_DIMS", [t(in_shape, "uint8", (0.5, 200)), ax],
                                [t(out_shape, "uint8", (0.5, 200))]))


@pytest.mark.parametrize("shape_tensor", [i32(6), i64([3, 2])])
def test_reshape_shape_tensor_not_an_int32_vector_falls_back_to_option(shape_tensor) -> None:
    model = single_op_model("RESHAPE", [t([2, 3], "int8"), shape_tensor], [t([3, 2], "int8")],
                            ("ReshapeOptions", {"NewShape": [3, 2]}))
    check_model(model)


def test_reshape_rejects_dynamic_shape_and_mismatch() -> None:
    dynamic = single_op_model("RESHAPE", [t([2, 3], "int8"), t([2], "int32")], [t([3, 2], "int8")])
    assert_unsupported(dynamic, "not constant")
    # TFLite resizes the output to [3, 2]; a declared [6] would change the output's shape
    wrong = single_op_model("RESHAPE", [t([2, 3], "int8"), i32([3, 2])], [t([6], "int8")])
    assert_unsupported(wrong, "differs from the shape TFLite computes")


# -- CONCATENATION, PACK -----------------------------------------------------------------------------

@pytest.mark.parametrize("shapes, axis", [
    ([[2, 3], [2, 5]], 1),
    ([[2, 3], [2, 5]], -1),
    ([[1, 3], [4, 3], [2, 3]], 0),
    ([[2, 1, 3], [2, 4, 3], [2, 1, 3], [2, 2, 3]], -2),
    ([[7]], 0),
    ([[1, 2, 3, 1, 2, 1], [1, 2, 3, 1, 2, 3]], 5),
    ([[3, 2, 1, 5, 1], [3, 2, 1, 5, 1]], 2),
    ([[2, 0, 3], [2, 4, 3]], 1),
])
@pytest.mark.parametrize("dtype", ALL_TYPES)
def test_concatenation(shapes, axis: int, dtype: str) -> None:
    q = default_q(dtype)
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    model = single_op_model("CONCATENATION", [t(s, dtype, q) for s in shapes], [t(out, dtype, q)],
                            ("ConcatenationOptions", {"Axis": axis}))
    check_model(model)


@pytest.mark.parametrize("q", QUANT["int8"])
def test_concatenation_int8_quant(q) -> None:
    check_model(single_op_model("CONCATENATION", [t([1, 3, 3, 5], "int8", q), t([1, 3, 3, 2], "int8", q)],
                                [t([1, 3, 3, 7], "int8", q)], ("ConcatenationOptions", {"Axis": 3})))


@pytest.mark.parametrize("in_q, out_q", [
    ([(0.1, 0), (0.1, 0)], (0.1, 0)),           # plain copies
    ([(0.05, 10), (0.3, 255)], (0.1, 128)),     # rescale down and up
    ([(0.1, 128), (0.1, 100)], (0.1, 128)),     # one input copied, one shifted
    ([(1.0, 0), (0.0039, 3), (2.5, 250)], (0.02, 7)),
    ([(0.1, 3), (0.1, 3)], (0.1000001, 3)),     # scale differs by one ulp: rescaled
])
def test_concatenation_uint8_rescaling(in_q, out_q) -> None:
    shapes = [[2, 3, 4]] * len(in_q)
    model = single_op_model("CONCATENATION", [t(s, "uint8", q) for s, q in zip(shapes, in_q)],
                            [t([2, 3 * len(in_q), 4], "uint8", out_q)], ("ConcatenationOptions", {"Axis": 1}))
    check_model(model)
    # every input value, so each rounding case is met
    x = np.arange(256, dtype=np.uint8).reshape(2, 4, 32)
    model = single_op_model("CONCATENATION", [t([2, 4, 32], "uint8", q) for q in in_q],
                            [t([2, 4 * len(in_q), 32], "uint8", out_q)], ("ConcatenationOptions", {"Axis": 1}))
    check_model(model, inputs=[x] * len(in_q))


def test_concatenation_int16() -> None:
    check_model(single_op_model("CONCATENATION", [t([3, 5], "int16", (0.01, 0)), t([3, 1], "int16", (0.02, 0))],
                                [t([3, 6], "int16", (0.01, 0))], ("ConcatenationOptions", {"Axis": 1})))


def test_concatenation_constant_input() -> None:
    c = np.arange(-3, 3, dtype=np.int32).reshape(2, 3)
    check_model(single_op_model("CONCATENATION", [t([2, 3], "int32", data=c), t([2, 4], "int32")],
                                [t([2, 7], "int32")], ("ConcatenationOptions", {"Axis": 1})))


@pytest.mark.parametrize("case, match", [
    ("relu", "fused activation"),
    ("int8_scale", "TFLite rejects int8 rescaling"),
    ("int8_zp", "TFLite rejects int8 rescaling"),
    ("int16_zp", "zero point"),
])
def test_concatenation_rejects_what_tflite_rejects(case: str, match: str) -> None:
    dt, qa, qb, act = {"relu": ("float32", None, None, 1), "int8_scale": ("int8", (0.1, 0), (0.2, 0), 0),
                       "int8_zp": ("int8", (0.1, 0), (0.1, 1), 0), "int16_zp": ("int16", (0.1, 1), (0.1, 1), 0)}[case]
    model = single_op_model("CONCATENATION", [t([2], dt, qa), t([3], dt, qb)], [t([5], dt, qa)],
                            ("ConcatenationOptions", {"Axis": 0, "FusedActivationFunction": act}))
    assert not tflite_runs(model)
    assert_unsupported(model, match)


@pytest.mark.parametrize("shape, n, axis", [
    ([3], 2, 0), ([3], 2, 1), ([3], 2, -1), ([2, 3], 3, 1), ([2, 3], 1, -3), ([1, 2, 1, 3], 4, 2), ([], 5, 0),
    ([2, 1, 3, 1, 2], 2, 5),
])
@pytest.mark.parametrize("dtype", ["float32", "int8", "uint8", "int16", "int32", "int64"])
def test_pack(shape, n: int, axis: int, dtype: str) -> None:
    q = default_q(dtype)
    a = axis + len(shape) + 1 if axis < 0 else axis
    out = list(shape[:a]) + [n] + list(shape[a:])
    check_model(single_op_model("PACK", [t(shape, dtype, q)] * n, [t(out, dtype, q)],
                                ("PackOptions", {"ValuesCount": n, "Axis": axis})))


def test_pack_rejects_mixed_quantization_and_bool() -> None:
    model = single_op_model("PACK", [t([2], "int8", (0.1, 0)), t([2], "int8", (0.1, 1))], [t([2, 2], "int8", (0.1, 0))],
                            ("PackOptions", {"ValuesCount": 2, "Axis": 0}))
    assert not tflite_runs(model)
    assert_unsupported(model, "quantized unlike the output")
    model = single_op_model("PACK", [t([2], "bool")] * 2, [t([2, 2], "bool")], ("PackOptions", {"ValuesCount": 2}))
    assert not tflite_runs(model)
    assert_unsupported(model, "input type BOOL")


# -- SPLIT, SPLIT_V, UNPACK ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape, axis, n", [
    ([6], 0, 3), ([4, 6], 1, 2), ([4, 6], -1, 6), ([4, 6], -2, 1), ([2, 3, 5, 1], 2, 5), ([1, 9, 2], 1, 3),
    ([2, 1, 2, 1, 2, 2], 4, 1), ([0, 4], 1, 2),
])
@pytest.mark.parametrize("dtype", ["float32", "int8", "uint8", "int16", "int32"])
def test_split(shape, axis: int, n: int, dtype: str) -> None:
    q = default_q(dtype)
    out = list(shape)
    out[axis] //= n
    check_model(single_op_model("SPLIT", [i32(axis), t(shape, dtype, q)], [t(out, dtype, q)] * n,
                                ("SplitOptions", {"NumSplits": n})))


@pytest.mark.parametrize("shape, axis, sizes", [
    ([7], 0, [2, -1, 4]), ([3, 10], 1, [1, 2, 3, 4]), ([3, 10], -1, [-1]), ([5, 2, 3], 0, [5, 0]),
    ([2, 9, 2], -2, [8, -1]), ([4, 1, 3], 0, [0, -1, 3]),
])
@pytest.mark.parametrize("dtype", ["float32", "int8", "uint8", "int16", "int32", "int64"])
@pytest.mark.parametrize("size_type", ["int32", "int64"])
def test_split_v(shape, axis: int, sizes, dtype: str, size_type: str) -> None:
    q = default_q(dtype)
    rest = shape[axis] - sum(s for s in sizes if s != -1)
    outs = []
    for s in sizes:
        o = list(shape)
        o[axis] = rest if s == -1 else s
        outs.append(t(o, dtype, q))
    ss = i32(sizes) if size_type == "int32" else i64(sizes)
    check_model(single_op_model("SPLIT_V", [t(shape, dtype, q), ss, i32(axis)], outs,
                                ("SplitVOptions", {"NumSplits": len(sizes)})))


@pytest.mark.parametrize("shape, axis", [
    ([3], 0), ([2, 3], 0), ([2, 3], 1), ([2, 3], -1), ([4, 1, 3], -2), ([1, 2, 3, 4, 5], 3), ([1, 5], 0),
])
@pytest.mark.parametrize("dtype", ["float32", "int8", "uint8", "int16", "int32", "bool"])
def test_unpack(shape, axis: int, dtype: str) -> None:
    q = default_q(dtype)
    n = shape[axis]
    out = [d for i, d in enumerate(shape) if i != (axis % len(shape))]
    check_model(single_op_model("UNPACK", [t(shape, dtype, q)], [t(out, dtype, q)] * n,
                                ("UnpackOptions", {"Num": n, "Axis": axis})))


def test_split_rejects_uneven_and_dynamic_axis() -> None:
    model = single_op_model("SPLIT", [i32(0), t([5], "int8")], [t([2], "int8")] * 2, ("SplitOptions", {"NumSplits": 2}))
    assert_unsupported(model, "does not split evenly")
    model = single_op_model("SPLIT", [t([], "int32"), t([4], "int8")], [t([2], "int8")] * 2,
                            ("SplitOptions", {"NumSplits": 2}))
    assert_unsupported(model, "axis tensor is not constant")
    model = single_op_model("SPLIT_V", [t([4], "int8"), i32([-1, -1]), i32(0)], [t([2], "int8")] * 2,
                            ("SplitVOptions", {"NumSplits": 2}))
    assert not tflite_runs(model)
    assert_unsupported(model, "more than one -1")


# -- PAD, PADV2 -----------------------------------------------------------------------------------

PAD_CASES = [
    ([1, 224, 224, 3], [[0, 0], [0, 1], [0, 1], [0, 0]]),   # MobileNetV2's stride-2 padding
    ([1, 5, 7, 3], [[0, 0], [1, 1], [2, 3], [0, 0]]),
    ([3], [[2, 0]]),
    ([3], [[0, 0]]),
    ([2, 3], [[1, 2], [0, 4]]),
    ([1, 1], [[3, 3], [3, 3]]),
    ([2, 1, 3, 2, 1], [[1, 0], [0, 1], [1, 1], [0, 2], [2, 0]]),
    ([2, 3, 4], [[1, 0], [0, 0], [0, 1]]),
    ([2, 0, 3], [[1, 1], [1, 0], [0, 2]]),
]


@pytest.mark.parametrize("shape, paddings", PAD_CASES)
@pytest.mark.parametrize("q", QUANT["int8"])
@pytest.mark.parametrize("pad_type", ["int32", "int64"])
def test_pad_int8(shape, paddings, q, pad_type: str) -> None:
    out = [d + a + b for d, (a, b) in zip(shape, paddings)]
    p = i32(paddings) if pad_type == "int32" else i64(paddings)
    check_model(single_op_model("PAD", [t(shape, "int8", q), p], [t(out, "int8", q)]), seeds=(0,))


@pytest.mark.parametrize("dtype, q", [(d, q) for d in ALL_TYPES if d != "bool" for q in QUANT.get(d, [None])] +
                         [("int8", None), ("int16", None)])
def test_pad_dtypes(dtype: str, q) -> None:
    shape, paddings = [2, 3, 2], [[1, 0], [2, 1], [0, 1]]
    out = [d + a + b for d, (a, b) in zip(shape, paddings)]
    check_model(single_op_model("PAD", [t(shape, dtype, q), i32(paddings)], [t(out, dtype, q)]))


@pytest.mark.parametrize("dtype", [d for d in ALL_TYPES if d != "bool"])
@pytest.mark.parametrize("const_value", [True, False])
def test_padv2(dtype: str, const_value: bool) -> None:
    q = default_q(dtype)
    shape, paddings = [3, 1, 4], [[0, 2], [1, 1], [3, 0]]
    out = [d + a + b for d, (a, b) in zip(shape, paddings)]
    value = {"float32": -1.5, "int64": -(2**40)}.get(dtype, 77)
    vspec = t([], dtype, q, data=np.array(value, dtype=dtype) if const_value else None)
    check_model(single_op_model("PADV2", [t(shape, dtype, q), i32(paddings), vspec], [t(out, dtype, q)]))


def test_pad_rejects() -> None:
    rank6 = single_op_model("PAD", [t([1] * 6, "int8", (0.1, 0)), i32([[1, 1]] * 6)], [t([3] * 6, "int8", (0.1, 0))])
    assert not tflite_runs(rank6)
    assert_unsupported(rank6, "TFLite pads up to rank 5")
    dyn = single_op_model("PAD", [t([2], "int8", (0.1, 0)), t([1, 2], "int32")], [t([4], "int8", (0.1, 0))])
    assert_unsupported(dyn, "paddings tensor is not constant")
    value_q = single_op_model("PADV2", [t([2], "int8", (0.1, 0)), i32([[1, 1]]), t([], "int8", (0.1, 5), np.int8(3))],
                              [t([4], "int8", (0.1, 0))])
    # TFLite's int8 Eval ignores the failed check and leaves the output unwritten
    assert_unsupported(value_q, "constant value quantized unlike the output")


# -- PAD in place ----------------------------------------------------------------------------------
# When PAD's input is an intermediate that dies at the PAD, the planner puts it inside the output,
# `pad_inplace_shift` bytes past its start (the padding before element 0, rounded down to 16), and
# the kernel moves its runs last to first, then fills the padding.

INPLACE_PAD_CASES = [
    ([1, 12, 12, 8], [[0, 0], [1, 1], [1, 1], [0, 0]]),     # MobileNetV2-like: lead 120 elements
    ([1, 11, 11, 3], [[0, 0], [0, 1], [0, 1], [0, 0]]),     # nothing before: the input at the start
    ([1, 9, 9, 3], [[0, 0], [1, 1], [1, 1], [0, 0]]),       # lead 36 elements, rounded down
    ([7], [[5, 2]]),
    ([3, 5], [[2, 1], [3, 0]]),
    ([2, 3, 4], [[1, 0], [0, 0], [0, 1]]),                  # runs spanning two dims
    ([2, 3, 4], [[0, 0], [2, 1], [0, 0]]),
    ([4, 4], [[0, 0], [0, 0]]),                             # no padding: exactly the input's bytes
    ([2, 4], [[3, 3], [3, 3]]),
    ([2, 1, 3, 2, 1], [[1, 0], [0, 1], [1, 1], [0, 2], [2, 0]]),
    ([3, 2, 2, 2, 5], [[0, 1], [2, 0], [0, 0], [1, 1], [0, 0]]),
    ([2, 0, 3], [[1, 1], [1, 0], [0, 2]]),                  # empty input
]
INPLACE_PAD_DTYPES = ["int8", "int16", "float32", "int32", "uint8", "int64"]


def _pad_chain(shape, paddings, dtype: str, op: str = "PAD", value: Any = 77, const_value: bool = True) -> bytes:
    """x -> PAD (no padding: a copy) -> t -> op(paddings) -> y, so that t is an intermediate the
    second PAD may take over. PADV2 gets `value` as a constant or as a second model input."""
    q = default_q(dtype) if dtype in ("int8", "uint8", "int16") else None
    qkw = dict(scale=q[0], zero_point=q[1]) if q else {}
    rank = len(shape)
    mb = ModelBuilder(f"in-place {op}")
    x = mb.add_tensor(list(shape), dtype, **qkw)
    t_ = mb.add_tensor(list(shape), dtype, **qkw)
    mb.add_operator("PAD", [x, mb.add_tensor([rank, 2], "int32", data=np.zeros((rank, 2), np.int32))], [t_])
    out = [d + a + b for d, (a, b) in zip(shape, paddings)]
    y = mb.add_tensor(out, dtype, **qkw)
    pads = mb.add_tensor([rank, 2], "int32", data=np.asarray(paddings, np.int32).reshape(rank, 2))
    graph_in = [x]
    if op == "PADV2":
        if const_value:
            v = mb.add_tensor([], dtype, data=np.array(value, dtype=dtype), **qkw)
        else:
            v = mb.add_tensor([1], dtype, **qkw)
            graph_in.append(v)
        mb.add_operator("PADV2", [t_, pads, v], [y])
    else:
        mb.add_operator("PAD", [t_, pads], [y])
    mb.set_io(graph_in, [y])
    return mb.build()


def _assert_pad_in_place(blob: bytes) -> int:
    """The last op is a PAD whose input lies at pad_inplace_shift bytes into its output; returns
    that shift."""
    info = read_blob(blob)
    op = info.ops[-1]
    assert _native.op_names()[op["code"]] == "PAD"
    i, o = info.tensors[op["inputs"][0]], info.tensors[op["outputs"][0]]
    before = struct.unpack_from("<6i", blob, info.sections[SEC_PARAMS][0] + _params_offset(blob, len(info.ops) - 1))
    shift = pad_inplace_shift(o["shape"], before, ELEMENT_SIZE[o["type_code"]])
    assert i["storage"] == o["storage"] == STORE_ARENA
    assert i["offset"] == o["offset"] + shift, (i["offset"], o["offset"], shift)
    assert i["offset"] + i["bytes"] <= o["offset"] + o["bytes"]
    return shift


def _params_offset(blob: bytes, op_index: int) -> int:
    info = read_blob(blob)
    rec = OP.unpack_from(blob, info.sections[SEC_OPS][0] + op_index * OP.size)
    return rec[[f for f, _ in OP_FIELDS].index("params")]


@pytest.mark.parametrize("shape, paddings", INPLACE_PAD_CASES)
@pytest.mark.parametrize("dtype", INPLACE_PAD_DTYPES)
def test_pad_in_place_is_bit_exact(shape, paddings, dtype: str, monkeypatch) -> None:
    monkeypatch.setenv("PYEDGE_CHECK_PLAN", "1")
    model = _pad_chain(shape, paddings, dtype)
    blob = pack_tflite(model)
    if int(np.prod(shape)):
        _assert_pad_in_place(blob)
    assert check_plan(blob) == []
    check_model(model, seeds=(0, 1), context=f"{dtype} {shape} {paddings}")


def test_pad_in_place_shifts() -> None:
    """The input lies at the output position of its element 0, rounded down to 16 bytes."""
    cases = {  # (INPLACE_PAD_CASES index, dtype): bytes from the output's start to the input's
        (0, "int8"): 112, (0, "float32"): 480,        # lead 120 elements
        (1, "int8"): 0,
        (2, "int8"): 32, (2, "int16"): 64, (2, "float32"): 144,   # lead 36 elements
        (3, "int8"): 0, (3, "int64"): 32,             # lead 5 elements
        (4, "int32"): 64,                             # lead 19 elements
        (7, "int8"): 0,
    }
    for (k, dtype), want in cases.items():
        shape, paddings = INPLACE_PAD_CASES[k]
        assert _assert_pad_in_place(pack_tflite(_pad_chain(shape, paddings, dtype))) == want, (k, dtype)


@pytest.mark.parametrize("dtype", ["int8", "int16", "float32", "int32"])
@pytest.mark.parametrize("const_value", [True, False])
def test_padv2_in_place_is_bit_exact(dtype: str, const_value: bool, monkeypatch) -> None:
    monkeypatch.setenv("PYEDGE_CHECK_PLAN", "1")
    value = {"float32": -1.5}.get(dtype, 77)
    model = _pad_chain([2, 5, 3], [[1, 0], [2, 1], [0, 1]], dtype, "PADV2", value, const_value)
    blob = pack_tflite(model)
    _assert_pad_in_place(blob)
    assert check_plan(blob) == []
    check_model(model, seeds=(0, 1))


def test_pad_of_a_model_input_is_not_in_place() -> None:
    """The caller reads the inputs after invoke: a PAD never writes over one."""
    blob = pack_tflite(single_op_model("PAD", [t([4, 6], "int8", (0.1, 0)), i32([[1, 1], [2, 2]])],
                                       [t([6, 10], "int8", (0.1, 0))]))
    info = read_blob(blob)
    i, o = info.tensors[info.ops[0]["inputs"][0]], info.tensors[info.ops[0]["outputs"][0]]
    assert i["offset"] + i["bytes"] <= o["offset"] or o["offset"] + o["bytes"] <= i["offset"]


def _move_tensor(blob: bytes, index: int, offset: int) -> bytes:
    """The blob with tensor `index` at arena `offset` (the arena grown to hold it), re-checksummed."""
    b = bytearray(blob)
    info = read_blob(blob)
    base = info.sections[SEC_TENSORS][0] + index * TENSOR.size
    rec = list(TENSOR.unpack_from(b, base))
    rec[10] = offset  # after dtype, rank, storage, flags, dims[6]
    TENSOR.pack_into(b, base, *rec)
    hdr = list(HEADER.unpack_from(b, 0))
    hdr[9] = max(hdr[9], (offset + info.tensors[index]["bytes"] + 15) // 16 * 16)  # arena_size
    HEADER.pack_into(b, 0, *hdr)
    struct.pack_into("<I", b, CHECKSUM_OFFSET, 0)
    struct.pack_into("<I", b, CHECKSUM_OFFSET, zlib.crc32(bytes(b)) & 0xFFFFFFFF)
    return bytes(b)


@pytest.mark.parametrize("delta", [16, -16, "start", "end"])
def test_pad_refuses_any_other_overlap(delta) -> None:
    """A blob whose PAD input overlaps its output anywhere but at the planned shift is refused at
    load (the kernel would move runs over bytes it has not read), and check_plan says why."""
    model = _pad_chain([1, 9, 9, 4], [[0, 0], [1, 1], [1, 1], [0, 0]], "int8")
    blob = pack_tflite(model)
    shift = _assert_pad_in_place(blob)
    info = read_blob(blob)
    i, o = info.ops[-1]["inputs"][0], info.ops[-1]["outputs"][0]
    out_off, out_bytes, in_bytes = info.tensors[o]["offset"], info.tensors[o]["bytes"], info.tensors[i]["bytes"]
    where = {"start": out_off, "end": out_off + (out_bytes - in_bytes) // 16 * 16}.get(delta)
    bad = _move_tensor(blob, i, where if where is not None else out_off + shift + delta)
    assert any(f"overlaps its input tensor {i}" in p for p in check_plan(bad))
    with pytest.raises(pyedge.BlobError) as err:
        pyedge.Interpreter(model_content=bad)
    assert err.value.status == "PE_ERR_CORRUPT"


def test_pad_with_separate_buffers_still_runs() -> None:
    """The same PAD with its input moved out of the output (to new bytes past the arena): the
    kernel sees no overlap and pads out of place, bit-exact."""
    model = _pad_chain([1, 9, 9, 4], [[0, 0], [1, 1], [1, 1], [0, 0]], "int8")
    blob = pack_tflite(model)
    info = read_blob(blob)
    i = info.ops[-1]["inputs"][0]
    moved = _move_tensor(blob, i, info.header["arena_size"])
    assert check_plan(moved) == []
    x = random_inputs(model, np.random.default_rng(0))
    want = run_model(reference_interpreter, model, x)[0]
    got = run_model(lambda model_content: pyedge.Interpreter(model_content=moved), model, x)[0]
    assert_bit_exact(got, want)


# -- TRANSPOSE ------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, perm", [
    ([1, 3, 7, 9], [0, 2, 3, 1]),       # NCHW -> NHWC
    ([2, 3], [1, 0]),
    ([5], [0]),
    ([2, 3, 4], [2, 0, 1]),
    ([1, 2, 3, 5], [3, 1, 0, 2]),
    ([2, 1, 3, 2, 3], [4, 2, 0, 3, 1]),
    ([2, 3, 1, 2, 3, 2], [5, 0, 4, 2, 1, 3]),
    ([3, 2, 2, 1, 2, 3], [0, 1, 2, 3, 4, 5]),
    # the 1-byte tile kernels (x8_transpose.h): plane interleaves and splits past their SIMD
    # widths with odd tails, 16x16 blocks with edges, batched tiles, contiguous runs
    ([1, 3, 17, 23], [0, 2, 3, 1]),     # NCHW -> NHWC, C = 3
    ([2, 4, 9, 13], [0, 2, 3, 1]),      # C = 4, two images
    ([1, 2, 11, 7], [0, 2, 3, 1]),      # C = 2
    ([2, 19, 11, 3], [0, 3, 1, 2]),     # NHWC -> NCHW, C = 3
    ([1, 5, 7, 4], [0, 3, 1, 2]),       # C = 4, 35 pixels
    ([37, 45], [1, 0]),
    ([3, 40, 33], [0, 2, 1]),
    ([2, 3, 4, 5], [0, 2, 1, 3]),       # the last dim stays: runs
])
@pytest.mark.parametrize("dtype", ALL_TYPES)
def test_transpose(shape, perm, dtype: str) -> None:
    q = default_q(dtype)
    out = [shape[p] for p in perm]
    check_model(single_op_model("TRANSPOSE", [t(shape, dtype, q), i32(perm)], [t(out, dtype, q)]), seeds=(0, 1))


def test_transpose_mobilenet_v2_input() -> None:
    """MobileNetV2 (in /work/shared/models) starts with this NCHW -> NHWC transpose."""
    q = (0.0078125, -1)
    check_model(single_op_model("TRANSPOSE", [t([1, 3, 224, 224], "int8", q), i32([0, 2, 3, 1])],
                                [t([1, 224, 224, 3], "int8", q)]), seeds=(0,))


def test_transpose_rejects_repeated_axis_and_dynamic_perm() -> None:
    # TFLite accepts a repeated axis and produces a diagonal-like read; pyedge wants a permutation
    dup = single_op_model("TRANSPOSE", [t([2, 3], "int8"), i32([0, 0])], [t([2, 2], "int8")])
    assert_unsupported(dup, "not a permutation")
    dyn = single_op_model("TRANSPOSE", [t([2, 3], "int8"), t([2], "int32")], [t([3, 2], "int8")])
    assert_unsupported(dyn, "perm tensor is not constant")


# -- STRIDED_SLICE, SLICE ---------------------------------------------------------------------------

def _tf_strided_slice_shape(model: bytes, inputs) -> tuple[int, ...]:
    return run_model(reference_interpreter, model, inputs)[0][0].shape


SS_CASES = [
    # shape, begin, end, strides, options
    ([10], [1], [8], [2], {}),
    ([10], [-3], [-1], [1], {}),
    ([10], [8], [1], [-3], {}),
    ([10], [0], [0], [-1], {"BeginMask": 1, "EndMask": 1}),
    ([10], [20], [-20], [-2], {}),
    ([10], [-20], [20], [3], {}),
    ([10], [4], [0], [1], {"ShrinkAxisMask": 1}),
    ([10], [-1], [0], [1], {"ShrinkAxisMask": 1}),
    ([4, 6], [1, 0], [3, 6], [1, 2], {}),
    ([4, 6], [1, 5], [0, 0], [1, -1], {"EndMask": 2}),
    ([4, 6], [2, 1], [3, 4], [1, 1], {"ShrinkAxisMask": 1}),
    ([4, 6], [2, 1], [0, 0], [1, 1], {"ShrinkAxisMask": 3}),
    ([3, 4, 5], [0, 1, 0], [0, 3, 0], [1, 1, 1], {"BeginMask": 5, "EndMask": 5}),
    ([3, 4, 5], [1], [2], [1], {}),                                      # fewer specs than dims
    ([3, 4, 5], [0, 1], [0, 3], [1, 2], {"EllipsisMask": 1}),             # [..., 1:3:2]
    ([3, 4, 5], [1, 0, 2], [2, 0, 4], [1, 1, 1], {"EllipsisMask": 2}),    # [1:2, ..., 2:4]
    ([3, 4, 5], [0, 1, 0], [0, 2, 0], [1, 1, 1], {"EllipsisMask": 1, "ShrinkAxisMask": 2}),
    ([3, 4], [0, 0, 1], [0, 0, 3], [1, 1, 1], {"NewAxisMask": 1, "BeginMask": 2, "EndMask": 2}),
    ([3, 4], [1, 0, 0], [3, 0, 0], [1, 1, 1], {"NewAxisMask": 2, "BeginMask": 4, "EndMask": 4}),
    ([3, 4], [0, 0], [0, 0], [1, 1], {"NewAxisMask": 2, "EllipsisMask": 1}),   # [..., newaxis]
    ([2, 3, 4, 5], [1, 2, 0, 4], [2, 0, 4, 0], [1, -1, 2, -2], {"EndMask": 2}),
    ([2, 3, 2, 3, 2], [0, 1, 1, 0, 1], [2, 3, 2, 3, 2], [1, 1, 1, 2, 1], {"ShrinkAxisMask": 4}),
    ([8], [2], [3], [1], {"Offset": True}),
    ([4, 6], [1, 1], [2, 4], [1, 2], {"Offset": True}),
    ([6, 5], [-2, 0], [1, 5], [1, 1], {"Offset": True}),
    ([1, 257], [0, 0], [1, 129], [1, 1], {}),
]


@pytest.mark.parametrize("shape, begin, end, strides, options", SS_CASES)
def test_strided_slice(shape, begin, end, strides, options) -> None:
    q = (0.25, -7)
    probe = single_op_model("STRIDED_SLICE", [t(shape, "int8", q), i32(begin), i32(end), i32(strides)],
                            [t([1], "int8", q)], ("StridedSliceOptions", options))
    x = np.arange(np.prod(shape), dtype=np.int64).astype(np.int8).reshape(shape)
    out_shape = _tf_strided_slice_shape(probe, [x])  # the shape TFLite computes
    model = single_op_model("STRIDED_SLICE", [t(shape, "int8", q), i32(begin), i32(end), i32(strides)],
                            [t(out_shape, "int8", q)], ("StridedSliceOptions", options))
    check_model(model, inputs=[x])
    check_model(model)


@pytest.mark.parametrize("dtype", ALL_TYPES)
def test_strided_slice_dtypes(dtype: str) -> None:
    q = default_q(dtype)
    model = single_op_model("STRIDED_SLICE", [t([3, 5, 4], dtype, q), i32([2, 0, 1]), i32([0, 5, 4]), i32([-1, 2, 2])],
                            [t([3, 3, 2], dtype, q)], ("StridedSliceOptions", {"EndMask": 1}))
    check_model(model)


def test_strided_slice_of_constant_feeds_concatenation() -> None:
    """TFLite computes a slice of a constant once, in Prepare; pyedge slices at run time."""
    mb = ModelBuilder("constant slice")
    c = mb.add_tensor([4, 3], "int32", data=np.arange(12, dtype=np.int32).reshape(4, 3))
    b, e, s = (mb.add_tensor([2], "int32", data=np.array(v, np.int32)) for v in ([3, 0], [0, 3], [-2, 1]))
    sl = mb.add_tensor([2, 3], "int32")
    mb.add_operator("STRIDED_SLICE", [c, b, e, s], [sl], ("StridedSliceOptions", {}))
    x = mb.add_tensor([1, 3], "int32")
    y = mb.add_tensor([3, 3], "int32")
    mb.add_operator("CONCATENATION", [sl, x], [y], ("ConcatenationOptions", {"Axis": 0}))
    mb.set_io([x], [y])
    check_model(mb.build())


def test_strided_slice_rejects_unwritten_output_and_dynamic_begin() -> None:
    # shrinking an axis at begin 5 of size 3: TFLite's shape drops the axis but writes nothing
    model = single_op_model("STRIDED_SLICE", [t([3, 2], "int8"), i32([5, 0]), i32([6, 2]), i32([1, 1])],
                            [t([2], "int8")], ("StridedSliceOptions", {"ShrinkAxisMask": 1}))
    assert_unsupported(model, "left unwritten")
    model = single_op_model("STRIDED_SLICE", [t([3, 2], "int8"), t([2], "int32"), i32([2, 2]), i32([1, 1])],
                            [t([2, 2], "int8")], ("StridedSliceOptions", {}))
    assert_unsupported(model, "begin tensor is not constant")


@pytest.mark.parametrize("shape, begin, size", [
    ([10], [2], [5]), ([10], [0], [-1]), ([10], [10], [0]), ([4, 6], [1, 2], [2, -1]), ([4, 6], [0, 0], [4, 6]),
    ([2, 3, 4], [1, 0, 3], [1, 3, 1]), ([2, 3, 4, 5], [0, 1, 1, 2], [-1, 2, 3, -1]),
    ([2, 2, 3, 2, 3], [1, 0, 1, 1, 0], [1, -1, 2, 1, 3]),
])
@pytest.mark.parametrize("index_type", ["int32", "int64"])
def test_slice(shape, begin, size, index_type: str) -> None:
    out = [d - b if s == -1 else s for d, b, s in zip(shape, begin, size)]
    idx = i32 if index_type == "int32" else i64
    check_model(single_op_model("SLICE", [t(shape, "int16", (0.01, 0)), idx(begin), idx(size)],
                                [t(out, "int16", (0.01, 0))]))


@pytest.mark.parametrize("dtype", ALL_TYPES)
def test_slice_dtypes(dtype: str) -> None:
    q = default_q(dtype)
    check_model(single_op_model("SLICE", [t([3, 4, 5], dtype, q), i32([1, 1, 0]), i32([2, -1, 3])],
                                [t([2, 3, 3], dtype, q)]))


def test_slice_rejects_out_of_range() -> None:
    # TFLite reads past the end of the input here
    model = single_op_model("SLICE", [t([4], "int8"), i32([2]), i32([3])], [t([3], "int8")])
    assert_unsupported(model, "do not fit shape")
    model = single_op_model("SLICE", [t([4], "int8"), i32([-1]), i32([2])], [t([2], "int8")])
    assert_unsupported(model, "out of range")


# -- GATHER ---------------------------------------------------------------------------------------

GATHER_CASES = [
    # params shape, indices shape, axis, batch_dims
    ([5], [3], 0, 0),
    ([5, 3], [4], 0, 0),
    ([5, 3], [2, 2], 1, 0),
    ([5, 3], [], 0, 0),
    ([2, 4, 3], [2], -2, 0),
    ([2, 4, 3], [2, 3], 1, 1),
    ([2, 4, 3], [2, 5], -1, 1),
    ([2, 3, 4, 2], [2, 3, 2], 2, 2),
    ([2, 3, 4], [2, 3], 2, -1),
    ([2, 3], [2], 1, 1),
    ([1, 7, 1], [3, 1, 2], 1, 0),
]


def _gather_model(params_shape, idx_shape, axis, batch_dims, dtype, idx_type, const_indices, rng):
    rank = len(params_shape)
    a = axis + rank if axis < 0 else axis
    bd = batch_dims + len(idx_shape) if batch_dims < 0 else batch_dims
    out = list(params_shape[:a]) + list(idx_shape[bd:]) + list(params_shape[a + 1:])
    idx = rng.integers(0, params_shape[a], size=idx_shape).astype(idx_type)
    q = default_q(dtype)
    spec = t(idx_shape, idx_type, data=idx if const_indices else None)
    model = single_op_model("GATHER", [t(params_shape, dtype, q), spec], [t(out, dtype, q)],
                            ("GatherOptions", {"Axis": axis, "BatchDims": batch_dims}))
    return model, idx


@pytest.mark.parametrize("params_shape, idx_shape, axis, batch_dims", GATHER_CASES)
@pytest.mark.parametrize("idx_type", ["int32", "int64"])
@pytest.mark.parametrize("const_indices", [True, False])
def test_gather(params_shape, idx_shape, axis, batch_dims, idx_type: str, const_indices: bool) -> None:
    rng = np.random.default_rng(len(params_shape) * 10 + axis)
    model, idx = _gather_model(params_shape, idx_shape, axis, batch_dims, "int8", idx_type, const_indices, rng)
    x = rng.integers(-128, 128, size=params_shape).astype(np.int8)
    check_model(model, inputs=[x] if const_indices else [x, idx])


@pytest.mark.parametrize("dtype", ALL_TYPES)
@pytest.mark.parametrize("idx_type", ["int16", "int32", "int64"])
def test_gather_dtypes(dtype: str, idx_type: str) -> None:
    model, _ = _gather_model([4, 3, 2], [5], 1, 0, dtype, idx_type, True, np.random.default_rng(3))
    check_model(model)


@pytest.mark.parametrize("bad", [4, -1, 2**31 - 1])
def test_gather_index_out_of_range_fails_at_invoke(bad: int) -> None:
    model, _ = _gather_model([4, 3], [2], 0, 0, "int8", "int32", False, np.random.default_rng(0))
    x, idx = np.zeros((4, 3), np.int8), np.array([1, bad], np.int32)
    with pytest.raises(RuntimeError):
        run_model(reference_interpreter, model, [x, idx])
    with pytest.raises(pyedge.InvokeError):
        run_model(pyedge.Interpreter, model, [x, idx])
    # a later invoke with good indices works
    check_model(model, inputs=[x, np.array([3, 0], np.int32)])


def test_gather_rejects_constant_index_out_of_range() -> None:
    model = single_op_model("GATHER", [t([4], "int8"), i32([4])], [t([1], "int8")], ("GatherOptions", {"Axis": 0}))
    assert_unsupported(model, "outside")


# -- GATHER_ND ------------------------------------------------------------------------------------

def _values(shape, dtype: str, rng: np.random.Generator) -> np.ndarray:
    if dtype == "float32":
        return rng.standard_normal(size=shape).astype(np.float32)
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


def _gather_nd_model(params_shape, idx_shape, dtype: str, idx_type: str, const_indices: bool,
                     rng: np.random.Generator) -> tuple[bytes, np.ndarray]:
    k = idx_shape[-1]
    idx = np.stack([rng.integers(0, params_shape[j], size=idx_shape[:-1]) for j in range(k)], axis=-1)
    idx = idx.astype(idx_type)
    out_shape = list(idx_shape[:-1]) + list(params_shape[k:])
    ins = [t(params_shape, dtype, default_q(dtype)),
           t(idx.shape, idx_type, data=idx) if const_indices else t(idx.shape, idx_type)]
    return single_op_model("GATHER_ND", ins, [t(out_shape, dtype, default_q(dtype))]), idx


@pytest.mark.parametrize("params_shape, idx_shape", [
    ([5], [3, 1]),              # elements of a vector
    ([4, 3], [2, 2]),           # elements of a matrix
    ([4, 3], [2, 1]),           # rows
    ([2, 3, 4], [5, 2]),        # rows of the second level
    ([2, 3, 4], [2, 2, 3]),     # elements, indices of rank 3
    ([3, 4, 5, 2], [7, 1]),     # the largest slices
    ([1, 1], [1, 2]),
    ([6, 17, 2], [3, 4, 2, 1]),
])
@pytest.mark.parametrize("const_indices", [True, False], ids=["const", "input"])
def test_gather_nd(params_shape, idx_shape, const_indices: bool) -> None:
    rng = np.random.default_rng(len(params_shape) * 7 + idx_shape[-1])
    model, idx = _gather_nd_model(params_shape, idx_shape, "int8", "int32", const_indices, rng)
    x = _values(params_shape, "int8", rng)
    check_model(model, inputs=[x] if const_indices else [x, idx])


@pytest.mark.parametrize("dtype", ["float32", "int8", "uint8", "int16", "int32", "int64"])
@pytest.mark.parametrize("idx_type", ["int16", "int32", "int64"])
def test_gather_nd_dtypes(dtype: str, idx_type: str) -> None:
    rng = np.random.default_rng(5)
    model, _ = _gather_nd_model([4, 3, 2], [5, 2], dtype, idx_type, True, rng)
    check_model(model, inputs=[_values([4, 3, 2], dtype, rng)])


def test_gather_nd_checks_the_flat_position_as_tflite() -> None:
    """TFLite refuses negative indices but checks only sum_j index[j] * stride[j] against the
    params, not each index: [1, 3] of a 4x3 matrix reads element (2, 0), [0, 11] element (3, 2)."""
    model, _ = _gather_nd_model([4, 3], [3, 2], "int8", "int32", False, np.random.default_rng(0))
    x = np.arange(12, dtype=np.int8).reshape(4, 3)
    out = check_model(model, inputs=[x, np.array([[1, 3], [0, 0], [0, 11]], np.int32)])
    assert out[0][0].tolist() == [6, 0, 11]


@pytest.mark.parametrize("bad", [[4, 0], [0, -1], [3, 3], [-1, 5], [0, 12]])
def test_gather_nd_index_out_of_range_fails_at_invoke(bad) -> None:
    model, _ = _gather_nd_model([4, 3], [2, 2], "int8", "int32", False, np.random.default_rng(0))
    x, idx = np.zeros((4, 3), np.int8), np.array([[1, 1], bad], np.int32)
    with pytest.raises(RuntimeError):
        run_model(reference_interpreter, model, [x, idx])
    with pytest.raises(pyedge.InvokeError):
        run_model(pyedge.Interpreter, model, [x, idx])
    check_model(model, inputs=[x, np.array([[3, 2], [0, 0]], np.int32)])


def test_gather_nd_rejections() -> None:
    model = single_op_model("GATHER_ND", [t([4, 3], "int8"), i32([[4, 0]])], [t([1], "int8")])
    assert_unsupported(model, "outside the params shape")
    model = single_op_model("GATHER_ND", [t([4, 3], "int8"), i32([[1, 0, 0]])], [t([1], "int8")])
    assert_unsupported(model, "index depth 3")


# -- CAST -----------------------------------------------------------------------------------------

CAST_TYPES = ["float32", "int8", "uint8", "int16", "int32", "int64", "bool"]


def _cast_inputs(dtype: str, shape, rng: np.random.Generator) -> np.ndarray:
    if dtype == "float32":
        # fractions of both signs (truncation toward zero), exact integers, and values within
        # every target's range
        v = rng.uniform(-120, 120, size=shape).astype(np.float32)
        v.reshape(-1)[:6] = [0.0, -0.0, 0.5, -0.5, -1.75, 127.99]
        return v
    return _values(shape, dtype, rng)


@pytest.mark.parametrize("src", CAST_TYPES)
@pytest.mark.parametrize("dst", CAST_TYPES)
def test_cast(src: str, dst: str) -> None:
    model = single_op_model("CAST", [t([3, 4, 5], src)], [t([3, 4, 5], dst)])
    if not tflite_runs(model):
        assert_unsupported_or_runs = True  # noqa: F841 (TFLite refuses the pair: nothing to compare)
        pytest.skip(f"TFLite 2.14 does not cast {src} to {dst}")
    for seed in (0, 1):
        check_model(model, inputs=[_cast_inputs(src, [3, 4, 5], np.random.default_rng(seed))])


def test_cast_wraps_integers_as_static_cast() -> None:
    x = np.array([-129, 128, 255, 256, -1, 70000, -2**31, 2**31 - 1], np.int32)
    for dst in ("int8", "uint8", "int16", "bool", "float32", "int64"):
        check_model(single_op_model("CAST", [t([8], "int32")], [t([8], dst)]), inputs=[x])
    y = np.array([-2**63, 2**63 - 1, 2**40 + 3, -7], np.int64)
    for dst in ("int32", "int8", "float32"):
        check_model(single_op_model("CAST", [t([4], "int64")], [t([4], dst)]), inputs=[y])


# -- ops chained in one graph ---------------------------------------------------------------------

def test_chain_transpose_pad_split_concat() -> None:
    """NCHW input -> NHWC -> pad -> split channels -> concat reversed -> strided slice."""
    q = (0.02, -10)
    mb = ModelBuilder("shape chain")
    x = mb.add_tensor([1, 4, 5, 6], "int8", scale=q[0], zero_point=q[1])
    perm = mb.add_tensor([4], "int32", data=np.array([0, 2, 3, 1], np.int32))
    xt = mb.add_tensor([1, 5, 6, 4], "int8", scale=q[0], zero_point=q[1])
    mb.add_operator("TRANSPOSE", [x, perm], [xt])
    pads = mb.add_tensor([4, 2], "int32", data=np.array([[0, 0], [1, 1], [0, 2], [0, 0]], np.int32))
    xp = mb.add_tensor([1, 7, 8, 4], "int8", scale=q[0], zero_point=q[1])
    mb.add_operator("PAD", [xt, pads], [xp])
    axis = mb.add_tensor([], "int32", data=np.array(3, np.int32))
    parts = [mb.add_tensor([1, 7, 8, 2], "int8", scale=q[0], zero_point=q[1]) for _ in range(2)]
    mb.add_operator("SPLIT", [axis, xp], parts, ("SplitOptions", {"NumSplits": 2}))
    cat = mb.add_tensor([1, 7, 8, 4], "int8", scale=q[0], zero_point=q[1])
    mb.add_operator("CONCATENATION", parts[::-1], [cat], ("ConcatenationOptions", {"Axis": -1}))
    b, e, s = (mb.add_tensor([4], "int32", data=np.array(v, np.int32))
               for v in ([0, 6, 0, 1], [1, 0, 8, 4], [1, -2, 3, 2]))
    y = mb.add_tensor([1, 3, 3, 2], "int8", scale=q[0], zero_point=q[1])
    mb.add_operator("STRIDED_SLICE", [cat, b, e, s], [y], ("StridedSliceOptions", {}))
    mb.set_io([x], [y, parts[0]])
    check_model(mb.build())


# -- hostile blobs: each check rejects params the kernel could not run safely --------------------------

def _tampered_blob(model: bytes, ctype: str, field: str, index: int, value: int) -> bytes:
    """The model's blob (one pe op) with params field[index] of its op set to value, re-checksummed."""
    blob = bytearray(pack_tflite(model))
    info = read_blob(bytes(blob))
    assert info.header["n_ops"] == 1
    off = info.sections[SEC_PARAMS][0] + _native.ffi.offsetof(ctype, field) + 4 * index
    struct.pack_into("<i", blob, off, value)
    struct.pack_into("<I", blob, CHECKSUM_OFFSET, 0)
    struct.pack_into("<I", blob, CHECKSUM_OFFSET, zlib.crc32(bytes(blob)) & 0xFFFFFFFF)
    return bytes(blob)


_SS = single_op_model("STRIDED_SLICE", [t([4, 6], "int8"), i32([1, 0]), i32([3, 6]), i32([1, 2])],
                      [t([2, 3], "int8")], ("StridedSliceOptions", {}))


@pytest.mark.parametrize("model, ctype, field, index, value", [
    (_SS, "pe_slice_params", "begin", 0, 4),          # begin past the dim
    (_SS, "pe_slice_params", "stride", 1, 3),         # last index 0 + 2 * 3 past the dim
    (_SS, "pe_slice_params", "stride", 0, 0),
    (_SS, "pe_slice_params", "count", 0, 3),          # more elements than the output holds
    (_SS, "pe_slice_params", "dims", 0, 2**30),       # view larger than the input
    (_SS, "pe_slice_params", "rank", 0, 7),
    (single_op_model("TRANSPOSE", [t([2, 3, 4], "int8"), i32([2, 0, 1])], [t([4, 2, 3], "int8")]),
     "pe_transpose_params", "perm", 1, 2),            # repeated axis
    (single_op_model("PAD", [t([2, 3], "int8"), i32([[1, 0], [0, 2]])], [t([3, 5], "int8")]),
     "pe_pad_params", "before", 1, 1),                # output too small for the padding
    (single_op_model("PAD", [t([2, 3], "int8"), i32([[1, 0], [0, 2]])], [t([3, 5], "int8")]),
     "pe_pad_params", "after", 0, -1),
    (single_op_model("CONCATENATION", [t([2, 3], "int8"), t([2, 4], "int8")], [t([2, 7], "int8")],
                     ("ConcatenationOptions", {"Axis": 1})), "pe_concat_params", "axis", 0, 0),
    (single_op_model("CONCATENATION", [t([2, 3], "int8"), t([2, 4], "int8")], [t([2, 7], "int8")],
                     ("ConcatenationOptions", {"Axis": 1})), "pe_concat_params", "axis", 0, 2),
    (single_op_model("SPLIT", [i32(1), t([2, 4], "int8")], [t([2, 2], "int8")] * 2, ("SplitOptions", {"NumSplits": 2})),
     "pe_split_params", "axis", 0, 0),
    (single_op_model("GATHER", [t([3, 4], "int8"), i32([[0, 1], [2, 0], [1, 1]])], [t([3, 2], "int8")],
                     ("GatherOptions", {"Axis": 1, "BatchDims": 1})), "pe_gather_params", "batch_dims", 0, 2),
    (single_op_model("GATHER", [t([3, 4], "int8"), i32([[0, 1], [2, 0], [1, 1]])], [t([3, 2], "int8")],
                     ("GatherOptions", {"Axis": 1, "BatchDims": 1})), "pe_gather_params", "axis", 0, 2),
])
def test_check_rejects_tampered_params(model: bytes, ctype: str, field: str, index: int, value: int) -> None:
    pyedge.Interpreter(model_content=model)  # the untampered blob loads
    with pytest.raises(pyedge.BlobError) as err:
        pyedge.Interpreter(model_content=_tampered_blob(model, ctype, field, index, value))
    assert err.value.status in ("PE_ERR_BAD_PARAMS", "PE_ERR_SHAPE")


def test_cast_div_floor_div_sqrt_resize_batch() -> None:
    """resize_tensor_input re-plans CAST, FLOOR_DIV, DIV and SQRT (a batch of 3 instead of 1) as
    TFLite's Prepare does: the same outputs."""
    mb = ModelBuilder("cast div chain")
    x = mb.add_tensor([1, 4], "int32", shape_signature=[-1, 4])
    d = mb.add_tensor([4], "int32", data=np.array([3, -2, 5, 7], np.int32))
    q = mb.add_tensor([1, 4], "int32", shape_signature=[-1, 4])
    mb.add_operator("FLOOR_DIV", [x, d], [q])
    f = mb.add_tensor([1, 4], "float32", shape_signature=[-1, 4])
    mb.add_operator("CAST", [q], [f])
    s = mb.add_tensor([1, 4], "float32", shape_signature=[-1, 4])
    mb.add_operator("SQRT", [f], [s])
    r = mb.add_tensor([1, 4], "float32", shape_signature=[-1, 4])
    mb.add_operator("DIV", [s, f], [r], ("DivOptions", {"FusedActivationFunction": 0}))
    mb.set_io([x], [q, r])
    model = mb.build()
    xs = np.array([[10, -7, 3, 100], [0, 5, -11, 49], [-3, -3, 25, 1]], np.int32)
    outs = []
    for make in (reference_interpreter, pyedge.Interpreter):
        it = make(model_content=model)
        it.resize_tensor_input(it.get_input_details()[0]["index"], [3, 4])
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], xs)
        it.invoke()
        outs.append([it.get_tensor(o["index"]) for o in it.get_output_details()])
    for g, w in zip(outs[1], outs[0]):
        assert_bit_exact(g, w)

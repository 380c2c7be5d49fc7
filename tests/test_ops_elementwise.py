"""ADD, SUB, MUL, MINIMUM, MAXIMUM and PRELU against TFLite's reference kernels, bit for bit."""
from __future__ import annotations

import struct
import zlib
from typing import Any, Sequence

import numpy as np
import pytest
import tflite

import pyedge
from optest import check_model
from oracle import reference_interpreter, run_model
from pyedge import blob
from pyedge._native import ffi
from pyedge.pack import pack_tflite
from pyedge.quant import quantize_multiplier
from tflite_builder import ModelBuilder, single_op_model

NONE = tflite.ActivationFunctionType.NONE
RELU = tflite.ActivationFunctionType.RELU
RELU_N1_TO_1 = tflite.ActivationFunctionType.RELU_N1_TO_1
RELU6 = tflite.ActivationFunctionType.RELU6
TANH = tflite.ActivationFunctionType.TANH
ACTIVATIONS = [NONE, RELU, RELU_N1_TO_1, RELU6]
OPTIONS = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions"}

Q = tuple[float, int]  # (scale, zero point)

# (input 1 shape, input 2 shape): same shapes, scalars, channel vectors, two-sided broadcasts,
# odd sizes and size 1, ranks 0 to 6.
SHAPES = [
    ([1], [1]),
    ([7], [7]),
    ([3, 5], [3, 5]),
    ([2, 3, 4, 5], [2, 3, 4, 5]),
    ([2, 5, 3, 7], [7]),
    ([1, 4, 1, 3], [2, 1, 5, 1]),
    ([], [2, 3]),
    ([3, 1, 5], []),
    ([1], [3, 1, 5]),
    ([3, 1], [1, 4]),
    ([1, 1, 3], [3]),
    ([2, 1, 3, 1, 2], [1, 2, 1, 2, 1]),
    ([2, 1, 3, 1, 2, 1], [1, 2, 1, 2, 1, 2]),
    ([2, 1, 2, 3, 1, 3], [2, 1, 2, 3, 1, 3]),
]
# TFLite 2.14's reference kernels broadcast ADD up to rank 6, SUB/MINIMUM/MAXIMUM up to 5 and MUL
# up to 4 (same shapes run flat at any rank).
BROADCAST_RANK = {"ADD": 6, "SUB": 5, "MUL": 4, "MINIMUM": 5, "MAXIMUM": 5}


def _shapes_for(op: str) -> list[tuple[list[int], list[int]]]:
    return [(a, b) for a, b in SHAPES if a == b or max(len(a), len(b)) <= BROADCAST_RANK[op]]


def _sid(shapes: Sequence[Sequence[int]]) -> str:
    return "+".join("x".join(map(str, s)) or "scalar" for s in shapes)


def _op_shapes(*ops: str) -> list[Any]:
    """pytest params (op, shapes) for every shape pair TFLite runs the op on."""
    return [pytest.param(op, shapes, id=f"{op}-{_sid(shapes)}") for op in ops for shapes in _shapes_for(op)]


def _out_shape(a: Sequence[int], b: Sequence[int]) -> list[int]:
    return list(np.broadcast_shapes(tuple(a), tuple(b)))


def _tensor(shape: Sequence[int], dtype: str, q: Q | None = None, data: np.ndarray | None = None
            ) -> dict[str, Any]:
    spec: dict[str, Any] = dict(shape=list(shape), dtype=dtype)
    if q is not None:
        spec.update(scale=q[0], zero_point=q[1])
    if data is not None:
        spec["data"] = data
    return spec


def _random(shape: Sequence[int], dtype: str, seed: int) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.random.default_rng(seed).integers(info.min, info.max, size=tuple(shape), dtype=dtype,
                                                endpoint=True)


def binary_model(op: str, shapes: Sequence[Sequence[int]], dtype: str, qs: Sequence[Q] | None = None,
                 act: int | None = NONE, const: int | None = None, out_dtype: str | None = None,
                 options: dict[str, Any] | None = None) -> bytes:
    """One binary op; qs = (input 1, input 2, output) quantization, None for int32; `const` makes
    that input a constant with random data; act=None writes no options table at all."""
    qs = qs or [None, None, None]
    ins = []
    for k, shape in enumerate(shapes):
        data = _random(shape, dtype, seed=10 + k) if const == k else None
        ins.append(_tensor(shape, dtype, qs[k], data))
    out = _tensor(_out_shape(*shapes), out_dtype or dtype, qs[2])
    opts = None
    if op in OPTIONS and act is not None:
        opts = (OPTIONS[op], {"FusedActivationFunction": act, **(options or {})})
    return single_op_model(op, ins, [out], opts)


# ---- ADD, SUB int8 -------------------------------------------------------------------------------

# (input 1, input 2, output): per-input real multipliers (input scale / output scale) above and
# below one, zero points at the extremes, equal and very different input scales.
Q8 = [
    [(0.1, 1), (0.2, -3), (0.3, 2)],
    [(0.05, -128), (0.05, 127), (0.1, 0)],
    [(0.1, 0), (0.003, 5), (0.08, -10)],
    [(0.0078125, 0), (0.0078125, 0), (0.015625, 0)],
    [(0.5, 127), (0.25, -128), (1.0, 64)],
]
# a fused activation per set, chosen so that it clamps part of the outputs, not all
Q8_ACT = [NONE, RELU, RELU6, RELU_N1_TO_1, NONE]


@pytest.mark.parametrize("qi", range(len(Q8)))
@pytest.mark.parametrize("op, shapes", _op_shapes("ADD", "SUB"))
def test_add_sub_int8(op: str, shapes, qi: int) -> None:
    check_model(binary_model(op, shapes, "int8", Q8[qi], act=Q8_ACT[qi]))


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("op", ["ADD", "SUB"])
def test_add_sub_int8_activations(op: str, act: int) -> None:
    for qs in (Q8[3], [(0.02, 3), (0.03, -5), (0.05, 1)]):
        check_model(binary_model(op, ([2, 5, 3, 7], [7]), "int8", qs, act=act))


@pytest.mark.parametrize("const", [0, 1])
@pytest.mark.parametrize("op", ["ADD", "SUB"])
def test_add_sub_int8_constant_operand(op: str, const: int) -> None:
    for shapes in (([2, 5, 3, 7], [7]), ([3, 5], [3, 5]), ([1, 4, 1, 3], [])):
        check_model(binary_model(op, shapes, "int8", Q8[1], const=const))


def test_add_same_tensor_twice() -> None:
    mb = ModelBuilder()
    x = mb.add_tensor([3, 5], "int8", scale=0.1, zero_point=-7)
    y = mb.add_tensor([3, 5], "int8", scale=0.15, zero_point=3)
    mb.add_operator("ADD", [x, x], [y], ("AddOptions", {}))
    mb.set_io([x], [y])
    check_model(mb.build())


# ---- ADD, SUB int16 ------------------------------------------------------------------------------

# General int16 path (zero points must be 0): real multipliers above and below one.
Q16 = [
    [(0.1, 0), (0.2, 0), (0.3, 0)],
    [(1e-3, 0), (2e-4, 0), (8e-4, 0)],
    [(0.7, 0), (1e-4, 0), (0.9, 0)],
]
Q16_ACT = [RELU, NONE, RELU]


@pytest.mark.parametrize("qi", range(len(Q16)))
@pytest.mark.parametrize("op, shapes", _op_shapes("ADD", "SUB"))
def test_add_sub_int16_general(op: str, shapes, qi: int) -> None:
    check_model(binary_model(op, shapes, "int16", Q16[qi], act=Q16_ACT[qi]))


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("op", ["ADD", "SUB"])
def test_add_sub_int16_activations(op: str, act: int) -> None:
    for qs in ([(1e-4, 0), (2e-4, 0), (5e-5, 0)], [(2e-4, 0), (3e-4, 0), (3e-4, 0)]):
        check_model(binary_model(op, ([2, 5, 3, 7], [7]), "int16", qs, act=act))


# Power-of-two scales: one input on the output's scale, the other on it or a finer one.
POT = [
    [(2**-10, 0), (2**-12, 0), (2**-10, 0)],
    [(2**-15, 0), (2**-8, 0), (2**-8, 0)],
    [(2**-8, 0), (2**-8, 0), (2**-8, 0)],
    [(2**-3, 0), (2**-18, 0), (2**-3, 0)],
    [(2**-14, 0), (2**-14, 0), (2**-14, 0)],
    [(2**-13, 0), (2**-16, 0), (2**-13, 0)],
]
POT_ACT = [RELU, NONE, NONE, RELU, RELU_N1_TO_1, RELU6]


@pytest.mark.parametrize("options", ["default", "pot", "general", "none"])
@pytest.mark.parametrize("qi", range(len(POT)))
@pytest.mark.parametrize("op", ["ADD", "SUB"])
def test_add_sub_int16_power_of_two_scales(op: str, qi: int, options: str) -> None:
    """TFLite takes the power-of-two path unless PotScaleInt16 is false or the options table is
    missing (then the general one): the two round differently."""
    opts = {"default": {}, "pot": {"PotScaleInt16": True}, "general": {"PotScaleInt16": False},
            "none": None}[options]
    act = None if opts is None else POT_ACT[qi]
    for shapes in (([64], [64]), ([1, 5, 7], [5, 7]), ([3, 1, 4, 2], [3, 1, 4, 2])):
        check_model(binary_model(op, shapes, "int16", POT[qi], act=act, options=opts))


@pytest.mark.parametrize("shapes", [([4, 1, 3], [5, 1]), ([2, 5, 3], [3]), ([2, 1, 3, 1, 2], [1, 2, 1, 2, 1])],
                         ids=_sid)
def test_sub_int16_power_of_two_broadcast(shapes) -> None:
    for qs in POT[:2]:
        check_model(binary_model("SUB", shapes, "int16", qs, act=RELU_N1_TO_1))


# ---- int32 ADD, SUB, MUL -------------------------------------------------------------------------

@pytest.mark.parametrize("act", ACTIVATIONS + [TANH])
@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
def test_int32_arithmetic(op: str, act: int) -> None:
    for shapes in _shapes_for(op)[::2]:
        check_model(binary_model(op, shapes, "int32", act=act))


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
def test_int32_small_values(op: str) -> None:
    """Values that do not overflow, so the activations clamp something meaningful."""
    a = np.arange(-12, 12, dtype=np.int32).reshape(2, 3, 4)
    b = np.array([-3, 0, 2, 5], np.int32)
    for act in ACTIVATIONS:
        check_model(binary_model(op, (a.shape, b.shape), "int32", act=act), inputs=[a, b])


# ---- MUL -----------------------------------------------------------------------------------------

# Output scales that keep most products of full-range inputs in range (real multipliers
# input1_scale * input2_scale / output_scale below one); extreme zero points.
QMUL8 = [
    [(0.1, 1), (0.2, -3), (1.5, 2)],
    [(0.5, -128), (0.5, 127), (100.0, 0)],
    [(0.02, 127), (0.003, -128), (0.03, -5)],
]
QMUL8_ACT = [RELU, NONE, RELU_N1_TO_1]
QMUL16 = [
    [(0.1, 0), (0.2, 0), (600.0, 0)],
    [(0.01, 0), (0.02, 0), (6.5, 0)],
    [(3e-5, 0), (1e-3, 0), (1e-3, 0)],
]
QMUL16_ACT = [RELU, NONE, RELU6]


@pytest.mark.parametrize("qi", range(len(QMUL8)))
@pytest.mark.parametrize("shapes", _shapes_for("MUL"), ids=_sid)
def test_mul_int8(shapes, qi: int) -> None:
    check_model(binary_model("MUL", shapes, "int8", QMUL8[qi], act=QMUL8_ACT[qi]))


@pytest.mark.parametrize("qi", range(len(QMUL16)))
@pytest.mark.parametrize("shapes", _shapes_for("MUL"), ids=_sid)
def test_mul_int16(shapes, qi: int) -> None:
    check_model(binary_model("MUL", shapes, "int16", QMUL16[qi], act=QMUL16_ACT[qi]))


@pytest.mark.parametrize("dtype, qs, zero_points", [
    ("int8", [(1.0, 0), (1.0, 0), (0.5, -128)], (0, 0)),
    ("int8", [(0.3, -100), (0.2, 90), (0.0123, 7)], (-100, 90)),
    ("int16", [(0.01, 0), (0.02, 0), (1e-4, 0)], (0, 0)),
    ("int16", [(0.5, 0), (0.25, 0), (0.0039, 0)], (0, 0)),
])
def test_mul_multiplier_above_one(dtype: str, qs, zero_points) -> None:
    """Real multipliers above one saturate full-range inputs: small inputs around the zero points."""
    model = binary_model("MUL", ([3, 1, 20], [4, 1]), dtype, qs, act=NONE)
    rng = np.random.default_rng(7)
    for seed in range(3):
        a = (rng.integers(-11, 12, size=(3, 1, 20)) + zero_points[0]).astype(dtype)
        b = (rng.integers(-11, 12, size=(4, 1)) + zero_points[1]).astype(dtype)
        check_model(model, inputs=[a, b])


@pytest.mark.parametrize("const", [0, 1])
def test_mul_int8_constant_operand(const: int) -> None:
    for shapes in (([2, 5, 3, 7], [7]), ([], [3, 4]), ([3, 4], [])):
        check_model(binary_model("MUL", shapes, "int8", QMUL8[2], act=RELU, const=const))


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("out_q", [(0.3, 0), (0.01, -128), (1.0, 127), (0.05, 17)])
def test_mul_int16_to_int8(out_q: Q, act: int) -> None:
    """TFLite's int16 x int16 -> int8 MUL ignores every scale (Q0.15 inputs, /2^8)."""
    for shapes in (([2, 3, 5], [2, 3, 5]), ([1, 7], [7]), ([1], [1])):
        check_model(binary_model("MUL", shapes, "int16", [(0.1, 0), (0.2, 0), out_q],
                                 act=act, out_dtype="int8"))


def test_mul_int16_to_int8_extremes() -> None:
    a = np.array([-32768, -32768, 32767, 32767, 0, 128, -129, 255, 1000], np.int16)
    b = np.array([-32768, 32767, 32767, -32768, 5, 128, 128, -255, -1000], np.int16)
    model = binary_model("MUL", (a.shape, b.shape), "int16", [(1.0, 0), (1.0, 0), (0.1, 3)],
                         out_dtype="int8")
    check_model(model, inputs=[a, b])


def test_mul_and_prelu_multipliers_come_from_float32_scale_products() -> None:
    """TFLite computes input_scale * other_scale / output_scale in float32, then quantizes that:
    with these scales 32 * 51 lands on 6 where the double-precision multiplier gives 7."""
    qa, qb, qy = (0.38344154, 0), (0.001087509, 0), (0.10476106, 0)
    as_float = quantize_multiplier(float(np.float32(qa[0]) * np.float32(qb[0]) / np.float32(qy[0])))
    assert as_float != quantize_multiplier(qa[0] * qb[0] / qy[0])
    a, b = np.array([32, -32, 48, 51], np.int8), np.array([51, 51, 34, 32], np.int8)
    out = check_model(binary_model("MUL", (a.shape, b.shape), "int8", [qa, qb, qy]), inputs=[a, b])
    assert out[0][0].tolist() == [6, -6, 6, 6]
    x, alpha = np.array([-32, -32, -48, -51], np.int8), np.array([-51, 51, -34, -32], np.int8)
    prelu = single_op_model("PRELU", [_tensor([4], "int8", qa), _tensor([4], "int8", qb, alpha)],
                            [_tensor([4], "int8", qy)])
    out = check_model(prelu, inputs=[x])
    assert out[0][0].tolist() == [6, -6, 6, 6]


# ---- uint8 ADD, SUB, MUL (TFLite's legacy asymmetric kernels) -------------------------------------

# (input 1, input 2, output) with uint8 zero points across 0..255
QU8 = [
    [(0.1, 128), (0.2, 125), (0.3, 130)],
    [(0.05, 0), (0.05, 255), (0.1, 128)],
    [(0.1, 255), (0.003, 5), (0.08, 0)],
    [(0.0078125, 17), (0.0078125, 200), (0.015625, 99)],
]
QU8_ACT = [NONE, RELU, RELU6, NONE]
QMULU8 = [
    [(0.1, 128), (0.2, 120), (1.5, 131)],
    [(0.02, 255), (0.003, 0), (0.03, 123)],
    [(0.05, 0), (0.05, 0), (0.1, 0)],
]
QMULU8_ACT = [RELU, NONE, RELU6]
U8_SHAPES = [([7], [7]), ([2, 3, 4, 5], [2, 3, 4, 5]), ([2, 5, 3, 7], [7]), ([1, 4, 1, 3], [2, 1, 5, 1]),
             ([], [2, 3]), ([3, 1], [1, 4])]


@pytest.mark.parametrize("qi", range(len(QU8)))
@pytest.mark.parametrize("shapes", U8_SHAPES, ids=_sid)
@pytest.mark.parametrize("op", ["ADD", "SUB"])
def test_add_sub_uint8(op: str, shapes, qi: int) -> None:
    check_model(binary_model(op, shapes, "uint8", QU8[qi], act=QU8_ACT[qi]))


@pytest.mark.parametrize("shapes", [([3, 3001], [3, 3001]), ([9001], []), ([], [257]), ([255], [255])], ids=_sid)
@pytest.mark.parametrize("op", ["ADD", "SUB"])
def test_add_sub_uint8_pieces_and_chunks(op: str, shapes) -> None:
    """Sizes around the vadd driver's uint8 pieces (256) and chunks (8192), a broadcast scalar."""
    check_model(binary_model(op, shapes, "uint8", QU8[1], act=RELU))


@pytest.mark.parametrize("qi", range(len(QMULU8)))
@pytest.mark.parametrize("shapes", U8_SHAPES, ids=_sid)
def test_mul_uint8(shapes, qi: int) -> None:
    check_model(binary_model("MUL", shapes, "uint8", QMULU8[qi], act=QMULU8_ACT[qi]))


@pytest.mark.parametrize("op", ["MINIMUM", "MAXIMUM"])
def test_minimum_maximum_uint8(op: str) -> None:
    for shapes in (([2, 5, 3, 7], [7]), ([3, 1], [1, 4]), ([4], [4])):
        check_model(binary_model(op, shapes, "uint8", [(0.1, 3), (0.2, 200), (0.3, 128)], act=None))


# ---- MINIMUM, MAXIMUM ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["int8", "int16", "int32"])
@pytest.mark.parametrize("op, shapes", _op_shapes("MINIMUM", "MAXIMUM"))
def test_minimum_maximum(op: str, shapes, dtype: str) -> None:
    qs = None if dtype == "int32" else [(0.1, 3), (0.2, -1), (0.3, 0)]  # raw compare: scales ignored
    check_model(binary_model(op, shapes, dtype, qs, act=None))


@pytest.mark.parametrize("op", ["MINIMUM", "MAXIMUM"])
def test_minimum_maximum_constant_operand(op: str) -> None:
    for const, shapes in ((1, ([2, 4, 3], [3])), (0, ([], [5, 2])), (1, ([3, 4], [3, 4]))):
        check_model(binary_model(op, shapes, "int8", [(0.05, 0)] * 3, act=None, const=const))


# ---- PRELU ---------------------------------------------------------------------------------------

PRELU_SHAPES = [
    ([1, 4, 5, 3], [3]),
    ([1, 4, 5, 3], [1, 1, 3]),
    ([2, 4, 5, 3], [4, 5, 3]),
    ([1, 4, 5, 3], [4, 1, 1]),
    ([2, 7], [2, 7]),
    ([5], [1]),
    ([1, 1], [1]),
    ([2, 3, 2, 2, 3], [2, 3, 2, 2, 3]),
    # the SIMD rows: per-channel alpha on rows grouped against a repeated alpha, rows of 512 and
    # more taken one by one, and an image split over several work items (threads)
    ([1, 9, 11, 40], [40]),
    ([2, 33, 17], [33, 17]),
    ([1, 48, 48, 16], [1, 1, 16]),
]
# (input, alpha, output): identity multiplier (input / output scale) above and below one
QPRELU = [
    [(0.1, 1), (0.01, -3), (0.05, 2)],
    [(0.02, 0), (0.004, -128), (0.1, -50)],
    [(0.5, 10), (0.01, 127), (1.0, 0)],
    [(0.03, 0), (0.01, -128), (0.03, 0)],
]


@pytest.mark.parametrize("const_alpha", [True, False])
@pytest.mark.parametrize("qi", range(len(QPRELU)))
@pytest.mark.parametrize("shapes", PRELU_SHAPES, ids=_sid)
def test_prelu_int8(shapes, qi: int, const_alpha: bool) -> None:
    x_shape, a_shape = shapes
    qx, qa, qy = QPRELU[qi]
    alpha = _random(a_shape, "int8", seed=qi) if const_alpha else None
    model = single_op_model("PRELU", [_tensor(x_shape, "int8", qx), _tensor(a_shape, "int8", qa, alpha)],
                            [_tensor(x_shape, "int8", qy)])
    check_model(model)


# ---- what pyedge refuses, and hostile params -----------------------------------------------------

UNSUPPORTED = {
    "int16 add with zero points": lambda: binary_model("ADD", ([2, 3], [3]), "int16",
                                                       [(0.1, 3), (0.2, 0), (0.3, 0)]),
    "mixed input types": lambda: single_op_model(
        "ADD", [_tensor([3], "int8", (0.1, 0)), _tensor([3], "int16", (0.1, 0))],
        [_tensor([3], "int8", (0.1, 0))], ("AddOptions", {})),
    "tanh on int8 add": lambda: binary_model("ADD", ([3], [3]), "int8", Q8[0], act=TANH),
    "output scale too small": lambda: binary_model("ADD", ([3], [3]), "int8",
                                                   [(1.0, 0), (1.0, 0), (1e-8, 0)]),
    "power-of-two add broadcast": lambda: binary_model("ADD", ([2, 3], [3]), "int16", POT[0]),
    "power-of-two add, both inputs shifted": lambda: binary_model(
        "ADD", ([3], [3]), "int16", [(2**-10, 0), (2**-12, 0), (2**-9, 0)]),
    "power-of-two sub, scale ratio beyond 2^15": lambda: binary_model(
        "SUB", ([3], [3]), "int16", [(2**-3, 0), (2**-20, 0), (2**-3, 0)]),
    "mul broadcast at rank 5": lambda: binary_model("MUL", ([2, 1, 3, 1, 2], [1, 2, 1, 2, 1]), "int8",
                                                    QMUL8[0]),
    "int16 to int8 mul broadcast": lambda: binary_model("MUL", ([2, 3], [3]), "int16",
                                                        [(0.1, 0), (0.2, 0), (0.3, 0)], out_dtype="int8"),
    "int16 prelu": lambda: single_op_model(
        "PRELU", [_tensor([2, 3], "int16", (0.1, 0)), _tensor([3], "int16", (0.2, 0))],
        [_tensor([2, 3], "int16", (0.3, 0))]),
    "per-channel alpha": lambda: single_op_model(
        "PRELU", [_tensor([1, 2, 3], "int8", (0.1, 0)),
                  dict(shape=[1, 1, 3], dtype="int8", data=np.ones((1, 1, 3), np.int8),
                       scale=[0.1, 0.2, 0.3], zero_point=0, quantized_dimension=2)],
        [_tensor([1, 2, 3], "int8", (0.1, 0))]),
}


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_unsupported_variants_raise_at_load(case: str) -> None:
    with pytest.raises(pyedge.UnsupportedOpError):
        pyedge.Interpreter(model_content=UNSUPPORTED[case]())


def _with_params(packed: bytes, ctype: str, **fields: int) -> bytes:
    """The blob with fields of its single op's params struct overwritten (checksum redone)."""
    bad = bytearray(packed)
    base = blob.read_blob(packed).sections[blob.SEC_PARAMS][0]
    for name, value in fields.items():
        struct.pack_into("<i", bad, base + ffi.offsetof(ctype, name), value)
    struct.pack_into("<I", bad, blob.CHECKSUM_OFFSET, 0)
    struct.pack_into("<I", bad, blob.CHECKSUM_OFFSET, zlib.crc32(bytes(bad)) & 0xFFFFFFFF)
    return bytes(bad)


BAD, SHAPE = "PE_ERR_BAD_PARAMS", "PE_ERR_SHAPE"
HOSTILE = [
    ("ADD", "pe_add_params", {"kind": 7}, BAD),
    ("ADD", "pe_add_params", {"left_shift": 31}, BAD),
    ("ADD", "pe_add_params", {"input1_offset": 1 << 20}, BAD),
    ("ADD", "pe_add_params", {"output_shift": 3}, BAD),
    ("ADD", "pe_add_params", {"activation_min": 5, "activation_max": 4}, BAD),
    ("ADD", "pe_add_params", {"kind": 1}, SHAPE),  # power-of-two kind on int8 tensors
    ("ADD", "pe_add_params", {"kind": 2}, SHAPE),  # int32 kind on int8 tensors
    ("MUL", "pe_mul_params", {"output_shift": 32}, BAD),
    ("MUL", "pe_mul_params", {"input1_offset": 1 << 24}, BAD),
    ("MUL", "pe_mul_params", {"kind": 1}, SHAPE),
    ("MUL", "pe_mul_params", {"activation_max": 300}, BAD),
    ("PRELU", "pe_prelu_params", {"alpha_shift": 40}, BAD),
    ("PRELU", "pe_prelu_params", {"identity_multiplier": -5}, BAD),
    ("PRELU", "pe_prelu_params", {"output_offset": 128}, BAD),
]


@pytest.mark.parametrize("op, ctype, fields, status", HOSTILE, ids=lambda v: str(v))
def test_hostile_params_are_rejected(op: str, ctype: str, fields: dict[str, int], status: str) -> None:
    packed = pack_tflite(binary_model(op, ([2, 3], [3]), "int8", Q8[0]))
    pyedge.Interpreter(model_content=packed)  # the untampered blob loads
    with pytest.raises(pyedge.BlobError) as e:
        pyedge.Interpreter(model_content=_with_params(packed, ctype, **fields))
    assert e.value.status == status


def test_hostile_power_of_two_shift_is_rejected() -> None:
    packed = pack_tflite(binary_model("ADD", ([64], [64]), "int16", POT[0]))
    pyedge.Interpreter(model_content=packed)
    with pytest.raises(pyedge.BlobError) as e:
        pyedge.Interpreter(model_content=_with_params(packed, "pe_add_params", input2_shift=-40))
    assert e.value.status == BAD


# ---- FLOOR_DIV, DIV, SQRT (raw values: no quantization) ----------------------------------------

def _nonzero(shape, dtype: str, rng: np.random.Generator, small: bool = False) -> np.ndarray:
    if dtype == "float32":
        v = rng.uniform(-50, 50, size=tuple(shape)).astype(np.float32)
        v[np.abs(v) < 0.01] = 1.5
        return v
    info = np.iinfo(dtype)
    lo, hi = (-9, 9) if small else (info.min, info.max)
    v = rng.integers(lo, hi, size=tuple(shape), dtype=dtype, endpoint=True)
    v[v == 0] = 3
    return v


PLAIN_SHAPES = [([7], [7]), ([2, 3, 4], [2, 3, 4]), ([2, 5, 3, 7], [7]), ([1, 4, 1, 3], [2, 1, 5, 1]), ([], [2, 3]),
                ([3, 1], [1, 4])]


@pytest.mark.parametrize("shapes", PLAIN_SHAPES, ids=_sid)
@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "float32"])
def test_floor_div(shapes, dtype: str) -> None:
    model = binary_model("FLOOR_DIV", shapes, dtype, act=None)
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        a = _nonzero(shapes[0], dtype, rng)
        b = _nonzero(shapes[1], dtype, rng, small=seed == 1)
        check_model(model, inputs=[a, b])


def test_floor_div_extremes_and_zero() -> None:
    for dtype in ("int8", "int16", "int32"):
        info = np.iinfo(dtype)
        a = np.array([info.min, info.min, info.max, -7, 7, -7, 7, 0], dtype)
        b = np.array([-1, 1, -1, 2, -2, -2, 2, -5], dtype)
        check_model(binary_model("FLOOR_DIV", (a.shape, b.shape), dtype, act=None), inputs=[a, b])
    model = binary_model("FLOOR_DIV", ([3], [3]), "int32", act=None)
    x, zero = np.array([1, 2, 3], np.int32), np.array([1, 0, 1], np.int32)
    with pytest.raises(RuntimeError):
        run_model(reference_interpreter, model, [x, zero])
    with pytest.raises(pyedge.InvokeError):
        run_model(pyedge.Interpreter, model, [x, zero])


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("shapes", PLAIN_SHAPES, ids=_sid)
@pytest.mark.parametrize("dtype", ["int32", "float32"])
def test_div(shapes, dtype: str, act: int) -> None:
    model = single_op_model("DIV", [_tensor(shapes[0], dtype), _tensor(shapes[1], dtype)],
                            [_tensor(_out_shape(*shapes), dtype)], ("DivOptions", {"FusedActivationFunction": act}))
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        a = _nonzero(shapes[0], dtype, rng)
        b = _nonzero(shapes[1], dtype, rng, small=seed == 1)
        check_model(model, inputs=[a, b])


def test_div_float_special_values() -> None:
    a = np.array([1.0, -1.0, 0.0, np.inf, 3.0, -0.0, np.nan, 7.5], np.float32)
    b = np.array([0.0, 0.0, 0.0, 2.0, np.inf, 5.0, 1.0, -2.5], np.float32)
    for act in (NONE, RELU6):
        model = single_op_model("DIV", [_tensor([8], "float32"), _tensor([8], "float32")], [_tensor([8], "float32")],
                                ("DivOptions", {"FusedActivationFunction": act}))
        check_model(model, inputs=[a, b])


@pytest.mark.parametrize("shape", [[1], [7], [3, 5, 2]])
def test_sqrt(shape) -> None:
    model = single_op_model("SQRT", [_tensor(shape, "float32")], [_tensor(shape, "float32")])
    x = np.random.default_rng(len(shape)).uniform(0, 1000, size=shape).astype(np.float32)
    check_model(model, inputs=[x])
    special = np.array([0.0, -0.0, 1e-38, 2.0, np.inf, -1.0, np.nan, 3e38], np.float32)
    check_model(single_op_model("SQRT", [_tensor([8], "float32")], [_tensor([8], "float32")]), inputs=[special])


def test_div_int32_zero_and_overflow_do_not_crash() -> None:
    """TFLite 2.14's int32 DIV dies of SIGFPE on a zero denominator (and on INT32_MIN / -1);
    pyedge fails the invoke on a zero, gives INT32_MIN for INT32_MIN / -1 (docs/oracles.md), and
    matches TFLite everywhere else."""
    model = single_op_model("DIV", [_tensor([4], "int32"), _tensor([4], "int32")], [_tensor([4], "int32")],
                            ("DivOptions", {"FusedActivationFunction": NONE}))
    with pytest.raises(pyedge.InvokeError):
        run_model(pyedge.Interpreter, model, [np.array([1, 2, 3, 4], np.int32), np.array([1, 0, 1, 1], np.int32)])
    got = run_model(pyedge.Interpreter, model, [np.array([-2**31, 7, -7, 2**31 - 1], np.int32),
                                                np.array([-1, -2, 2, -1], np.int32)])
    assert got[0][0].tolist() == [-2**31, -3, -3, -(2**31 - 1)]
    check_model(model, inputs=[np.array([-2**31 + 1, 7, -7, 2**31 - 1], np.int32), np.array([-1, -2, 2, -1], np.int32)])
    const_zero = single_op_model("DIV", [_tensor([2], "int32"), _tensor([2], "int32", data=np.array([3, 0], np.int32))],
                                 [_tensor([2], "int32")], ("DivOptions", {"FusedActivationFunction": NONE}))
    with pytest.raises(pyedge.UnsupportedOpError, match="zero in the constant denominator"):
        pyedge.Interpreter(model_content=const_zero)

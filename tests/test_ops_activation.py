"""Activations and (de)quantization: pyedge against TFLite's reference kernels, bit for bit.

Elementwise 8-bit ops get an input holding every value of the type (so every table entry and
every case of the requantization is hit), elementwise int16 ops every int16 value, plus
seeded full-range random inputs of odd shapes; each parameter sweep covers multipliers above
and below one and extreme zero points.
"""
from __future__ import annotations

import numpy as np
import pytest

import pyedge
from pyedge import _native
from optest import check_model
from tflite_builder import single_op_model

ALL = {"int8": np.arange(-128, 128, dtype=np.int8), "uint8": np.arange(256, dtype=np.uint8),
       "int16": np.arange(-32768, 32768, dtype=np.int16)}


def spec(dtype: str, scale=None, zero_point=0, shape=(2, 128), **kw) -> dict:
    """add_tensor kwargs of a tensor (quantized when `scale` is given)."""
    return dict(shape=list(shape), dtype=dtype, scale=scale, zero_point=zero_point if scale is not None else None,
                **kw)


def model(op: str, x: dict, y: dict, options=None, **kw) -> bytes:
    """A one-input one-output model of `op` (`kw`: add_operator's, e.g. version)."""
    return single_op_model(op, [x], [y], options, **kw)


def run(content: bytes, *inputs: np.ndarray, seeds=(0, 1)) -> None:
    """pyedge == TFLite on each given input of the one-input model and on seeded full-range
    random inputs."""
    for x in inputs:
        check_model(content, inputs=[x])
    if seeds:
        check_model(content, seeds=seeds)


def all_values(dtype: str, shape) -> np.ndarray:
    """Every value of `dtype`, tiled or cut to `shape`."""
    n = int(np.prod(shape))
    return np.resize(ALL[dtype], n).reshape(shape)


# Quantization parameter sets (in_scale, in_zp, out_scale, out_zp) for 8-bit ops:
# identity, multiplier above 1, extreme zero points, large and tiny multipliers.
Q8 = [
    (0.05, 0, 0.05, 0),
    (0.1, 3, 0.05, -10),
    (0.02, -128, 0.1, 127),
    (0.5, 127, 0.004, -128),
    (1e-3, -50, 0.2, 100),
    (3.0, 0, 0.011, 1),
]
Q16 = [(0.1, 0.05), (1e-3, 2e-3), (1e-4, 3e-4), (2.0, 1e-3)]
SHAPES = [(1,), (7,), (3, 5), (2, 3, 5, 1), (1, 1, 1, 1)]


def uint8_q(q):
    """The int8 parameter set moved to uint8 zero points."""
    return q[0], q[1] + 128, q[2], q[3] + 128


# ---- SOFTMAX ---------------------------------------------------------------------------------

# includes the SOFTMAX inputs of the models in /work/shared/models (person_detect,
# keyword_scrambled, trained_lstm, micro_speech)
SOFTMAX_INT8_SCALES = [(0.001, 0), (0.012518751, -1), (0.06996273, 2), (0.17366046, 3), (0.09173192, 14),
                       (0.5, -128), (1.0, 127), (40.0, 0)]


@pytest.mark.parametrize("in_scale, in_zp", SOFTMAX_INT8_SCALES)
@pytest.mark.parametrize("beta", [1.0, 0.35, 2.5])
def test_softmax_int8(in_scale: float, in_zp: int, beta: float) -> None:
    opts = ("SoftmaxOptions", {"Beta": beta})
    row = model("SOFTMAX", spec("int8", in_scale, in_zp, (1, 256)), spec("int8", 1 / 256, -128, (1, 256)), opts)
    run(row, ALL["int8"].reshape(1, 256), np.sort(ALL["int8"]).reshape(1, 256)[:, ::-1], seeds=())
    rows = model("SOFTMAX", spec("int8", in_scale, in_zp, (3, 2, 7)), spec("int8", 1 / 256, -128, (3, 2, 7)), opts)
    run(rows, seeds=(0, 1, 2))


@pytest.mark.parametrize("shape", [(1,), (1, 1), (5,), (1, 2), (4, 10), (2, 1, 3, 33), (1, 1001)])
def test_softmax_int8_shapes(shape) -> None:
    content = model("SOFTMAX", spec("int8", 0.0699, 2, shape), spec("int8", 1 / 256, -128, shape),
                    ("SoftmaxOptions", {"Beta": 1.0}))
    run(content, np.full(shape, 17, np.int8), seeds=(0, 1, 2))


@pytest.mark.parametrize("in_scale, in_zp", SOFTMAX_INT8_SCALES)
@pytest.mark.parametrize("beta", [1.0, 0.35])
@pytest.mark.parametrize("dtypes", ["int8->int8", "int8->int16", "uint8->uint8"])
def test_softmax_8bit_long_rows(in_scale: float, in_zp: int, beta: float, dtypes: str) -> None:
    """Rows longer than their range of input values (1000 classes) take each distinct
    input - max's exp and output from a per-row table: the same results, for every scale (so
    every diff_min cut-off), narrow and full-range rows, and a row of one value."""
    src, dst = dtypes.split("->")
    zp = in_zp + 128 if src == "uint8" else in_zp
    out = {"int8": spec("int8", 1 / 256, -128, (4, 1000)), "int16": spec("int16", 1 / 32768, 0, (4, 1000)),
           "uint8": spec("uint8", 1 / 256, 0, (4, 1000))}[dst]
    content = model("SOFTMAX", spec(src, in_scale, zp, (4, 1000)), out, ("SoftmaxOptions", {"Beta": beta}))
    rng = np.random.default_rng(3)
    lo, hi = (0, 255) if src == "uint8" else (-128, 127)
    x = rng.integers(lo, hi + 1, (4, 1000)).astype(src)
    x[1] = np.clip(np.round(rng.normal((lo + hi) / 2, 6, 1000)), lo, hi).astype(src)  # a narrow range
    x[2] = (lo + hi) // 2                                                                 # one value
    x[3, ::2] = hi
    run(content, x, seeds=())


@pytest.mark.parametrize("n", [511, 512, 513, 1000, 4097, 5000])
@pytest.mark.parametrize("out_type", ["int8", "int16"])
def test_softmax_int8_long_tied_rows(n: int, out_type: str) -> None:
    """From 512 entries tied at a row's maximum TFLite's int8-output shift exceeds 31 (UB in
    its C++) and its x86 build saturates; beyond 4096 the Q12 sum of exps wraps. pyedge
    reproduces both."""
    out = spec("int8", 1 / 256, -128, (2, n)) if out_type == "int8" else spec("int16", 1 / 32768, -32768, (2, n))
    content = model("SOFTMAX", spec("int8", 0.0699, 2, (2, n)), out, ("SoftmaxOptions", {"Beta": 1.0}))
    x = np.full((2, n), 17, np.int8)
    x[0, :7] = [-100, 16, 15, 0, 10, -128, 14]
    x[1, ::3] = 16
    run(content, x, seeds=())


@pytest.mark.parametrize("in_scale, in_zp", SOFTMAX_INT8_SCALES[1:5])
@pytest.mark.parametrize("out_zp", [-32768, 0])
def test_softmax_int8_to_int16(in_scale: float, in_zp: int, out_zp: int) -> None:
    """int8 -> int16 ignores the output's quantization (fixed 1/65536, offset -32768), as TFLite."""
    opts = ("SoftmaxOptions", {"Beta": 1.0})
    row = model("SOFTMAX", spec("int8", in_scale, in_zp, (2, 128)), spec("int16", 1 / 32768, out_zp, (2, 128)), opts)
    run(row, ALL["int8"].reshape(2, 128), seeds=(0, 1))


@pytest.mark.parametrize("in_scale, in_zp", [(0.02, 0), (0.17, 128), (1.0, 255)])
@pytest.mark.parametrize("out_type", ["uint8", "int16"])
def test_softmax_uint8(in_scale: float, in_zp: int, out_type: str) -> None:
    out = spec("uint8", 1 / 256, 0, (2, 128)) if out_type == "uint8" else spec("int16", 1 / 32768, -32768, (2, 128))
    content = model("SOFTMAX", spec("uint8", in_scale, in_zp, (2, 128)), out, ("SoftmaxOptions", {"Beta": 1.0}))
    run(content, ALL["uint8"].reshape(2, 128), seeds=(0,))


@pytest.mark.parametrize("in_scale", [2**-12, 0.001, 0.0173, 0.1, 1 / 3, 4.0])
@pytest.mark.parametrize("beta", [1.0, 0.7, 3.0])
def test_softmax_int16(in_scale: float, beta: float) -> None:
    opts = ("SoftmaxOptions", {"Beta": beta})
    for shape in [(1, 1), (3, 9), (2, 1, 2, 65)]:
        content = model("SOFTMAX", spec("int16", in_scale, 0, shape), spec("int16", 1 / 32768, 0, shape), opts)
        run(content, seeds=(0, 1))
    # rows of small differences from the maximum walk the exp table
    ramp = (np.arange(-2000, 1, dtype=np.int64) * max(1, int(0.002 / in_scale))).clip(-32768, 32767)
    content = model("SOFTMAX", spec("int16", in_scale, 0, (1, ramp.size)),
                    spec("int16", 1 / 32768, 0, (1, ramp.size)), opts)
    run(content, ramp.astype(np.int16).reshape(1, -1), seeds=())


def test_softmax_int16_rank5_rejected() -> None:
    shape = (1, 1, 1, 2, 3)
    content = model("SOFTMAX", spec("int16", 0.01, 0, shape), spec("int16", 1 / 32768, 0, shape),
                    ("SoftmaxOptions", {"Beta": 1.0}))
    with pytest.raises(pyedge.UnsupportedOpError, match="1D to 4D"):
        pyedge.Interpreter(model_content=content)


def test_softmax_int8_tiny_input_scale_rejected() -> None:
    """beta * scale * 2^26 <= 1 makes TFLite abort in Prepare; pyedge refuses at load."""
    content = model("SOFTMAX", spec("int8", 1e-8, 0), spec("int8", 1 / 256, -128), ("SoftmaxOptions", {"Beta": 1.0}))
    with pytest.raises(pyedge.UnsupportedOpError, match="must exceed 1"):
        pyedge.Interpreter(model_content=content)


# ---- LOGISTIC and TANH -------------------------------------------------------------------------

SIGMOID_IN = [(0.03877529, -2),  # dtln_noise_suppression
              (0.003, 0), (0.1, 127), (0.25, -128), (1.7, 5), (1e-5, 0)]


@pytest.mark.parametrize("in_scale, in_zp", SIGMOID_IN)
@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_logistic_8bit(in_scale: float, in_zp: int, dtype: str) -> None:
    offset = 128 if dtype == "uint8" else 0
    for out_zp in (-128 + offset, 0 + offset):
        content = model("LOGISTIC", spec(dtype, in_scale, in_zp + offset, (1, 256)),
                        spec(dtype, 1 / 256, out_zp, (1, 256)))
        run(content, ALL[dtype].reshape(1, 256), seeds=())
    content = model("LOGISTIC", spec(dtype, in_scale, in_zp + offset, (3, 5, 7)), spec(dtype, 1 / 256, -128 + offset,
                                                                                        (3, 5, 7)))
    run(content, seeds=(0,))


@pytest.mark.parametrize("in_scale, in_zp", SIGMOID_IN)
@pytest.mark.parametrize("out_scale, out_zp", [(1 / 128, 0), (0.008, -3), (0.02, 100), (1e-4, 0)])
def test_tanh_int8(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> None:
    content = model("TANH", spec("int8", in_scale, in_zp, (16, 16)), spec("int8", out_scale, out_zp, (16, 16)))
    run(content, ALL["int8"].reshape(16, 16), seeds=())


def test_tanh_uint8() -> None:
    content = model("TANH", spec("uint8", 0.03, 130, (256,)), spec("uint8", 1 / 128, 128, (256,)))
    run(content, ALL["uint8"], seeds=(0,))


# Power-of-two scales (the kernel's shift path), one just off a power of two (TFLite's
# CheckedLog2 tolerance still calls it one) and general scales (multiplier path).
INT16_SIGMOID_SCALES = [2**-12, 2**-11, 2**-13, 2**-10, 2**-12 * 1.0004, 1e-3, 3.0517578e-5, 1.234e-4, 0.01, 0.5, 20.0]


@pytest.mark.parametrize("op", ["LOGISTIC", "TANH"])
@pytest.mark.parametrize("in_scale", INT16_SIGMOID_SCALES)
def test_logistic_tanh_int16(op: str, in_scale: float) -> None:
    content = model(op, spec("int16", in_scale, 0, (65536,)), spec("int16", 2**-15, 0, (65536,)))
    run(content, ALL["int16"], seeds=())
    content = model(op, spec("int16", in_scale, 0, (3, 7)), spec("int16", 2**-15, 0, (3, 7)))
    run(content, seeds=(0,))


def test_logistic_int8_output_scale_rejected() -> None:
    content = model("LOGISTIC", spec("int8", 0.1, 0), spec("int8", 1 / 128, 0))
    with pytest.raises(pyedge.UnsupportedOpError, match="1/256"):
        pyedge.Interpreter(model_content=content)


# ---- RELU family ---------------------------------------------------------------------------------

RELU_OPS = ["RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1"]


@pytest.mark.parametrize("op", RELU_OPS)
@pytest.mark.parametrize("q", Q8)
@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_relu_8bit(op: str, q, dtype: str) -> None:
    in_scale, in_zp, out_scale, out_zp = uint8_q(q) if dtype == "uint8" else q
    # every value, three times over: 768 elements, above the size where the kernel tabulates the
    # function of each byte (LUT_MIN in activation_scalar.c); test_relu_shapes takes the direct path
    content = model(op, spec(dtype, in_scale, in_zp, (3, 256)), spec(dtype, out_scale, out_zp, (3, 256)))
    run(content, all_values(dtype, (3, 256)), seeds=())


@pytest.mark.parametrize("op", RELU_OPS)
@pytest.mark.parametrize("shape", SHAPES)
def test_relu_shapes(op: str, shape) -> None:
    content = model(op, spec("int8", 0.03, -7, shape), spec("int8", 0.02, 9, shape))
    run(content, seeds=(0, 1))


@pytest.mark.parametrize("op", ["RELU", "RELU6"])
@pytest.mark.parametrize("in_scale, out_scale", Q16)
def test_relu_int16(op: str, in_scale: float, out_scale: float) -> None:
    content = model(op, spec("int16", in_scale, 0, (65536,)), spec("int16", out_scale, 0, (65536,)))
    run(content, ALL["int16"], seeds=())


def test_relu6_output_scale_too_fine() -> None:
    """6 / scale overflows int32: TFLite's float->int conversion gives INT32_MIN (x86), so the
    upper bound wraps far below the lower one; pyedge reproduces the outputs."""
    content = model("RELU6", spec("int8", 0.05, 0, (256,)), spec("int8", 1e-9, 0, (256,)))
    run(content, ALL["int8"], seeds=())


def test_relu_float_runs() -> None:
    """float32 RELU runs as TFLite's (the float ops of dynamic-range models, tests/test_hybrid.py)."""
    content = model("RELU", spec("float32", shape=(4,)), spec("float32", shape=(4,)))
    check_model(content)


def test_relu_n1_to_1_int16_rejected() -> None:
    content = model("RELU_N1_TO_1", spec("int16", 0.01, 0), spec("int16", 0.01, 0))
    with pytest.raises(pyedge.UnsupportedOpError, match="INT16 RELU_N1_TO_1"):
        pyedge.Interpreter(model_content=content)


# ---- HARD_SWISH --------------------------------------------------------------------------------

HARD_SWISH_Q = [
    (0.05, 3, 0.03, -10),
    (0.02, -128, 0.02, -128),
    (1e-4, 0, 5e-5, 0),       # reluish exponent < 0
    (0.5, 127, 0.05, 0),      # large reluish left shift
    (0.1, -20, 0.004, -128),
    (2.0, 0, 0.1, 5),
    (0.0235, 14, 0.0235 / 100, 60),  # output multiplier just below 1
]


@pytest.mark.parametrize("q", HARD_SWISH_Q)
@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_hard_swish(q, dtype: str) -> None:
    in_scale, in_zp, out_scale, out_zp = uint8_q(q) if dtype == "uint8" else q
    content = model("HARD_SWISH", spec(dtype, in_scale, in_zp, (4, 64)), spec(dtype, out_scale, out_zp, (4, 64)))
    run(content, ALL[dtype].reshape(4, 64), seeds=())
    # 768 elements: the tabulated path (activation_scalar.c's LUT_MIN)
    content = model("HARD_SWISH", spec(dtype, in_scale, in_zp, (3, 256)), spec(dtype, out_scale, out_zp, (3, 256)))
    run(content, all_values(dtype, (3, 256)), seeds=())
    content = model("HARD_SWISH", spec(dtype, in_scale, in_zp, (1, 3, 3, 5)), spec(dtype, out_scale, out_zp,
                                                                                    (1, 3, 3, 5)))
    run(content, seeds=(0,))


def test_hard_swish_int16_rejected() -> None:
    content = model("HARD_SWISH", spec("int16", 0.01, 0), spec("int16", 0.01, 0))
    with pytest.raises(pyedge.UnsupportedOpError, match="INT16 HARD_SWISH"):
        pyedge.Interpreter(model_content=content)


# ---- LEAKY_RELU --------------------------------------------------------------------------------

ALPHAS = [0.2, 0.01, 1.5, -0.5, 0.0]


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("q", Q8)
def test_leaky_relu_int8(alpha: float, q) -> None:
    in_scale, in_zp, out_scale, out_zp = q
    content = model("LEAKY_RELU", spec("int8", in_scale, in_zp, (256,)), spec("int8", out_scale, out_zp, (256,)),
                    ("LeakyReluOptions", {"Alpha": alpha}))
    run(content, ALL["int8"], seeds=())
    # 768 elements: the tabulated path (activation_scalar.c's LUT_MIN)
    content = model("LEAKY_RELU", spec("int8", in_scale, in_zp, (768,)), spec("int8", out_scale, out_zp, (768,)),
                    ("LeakyReluOptions", {"Alpha": alpha}))
    run(content, all_values("int8", (768,)), seeds=())


@pytest.mark.parametrize("alpha", [0.2, -0.5])
@pytest.mark.parametrize("q", Q8[1:4])
def test_leaky_relu_uint8(alpha: float, q) -> None:
    in_scale, in_zp, out_scale, out_zp = uint8_q(q)
    for n in (256, 768):  # direct, and tabulated (activation_scalar.c's LUT_MIN)
        content = model("LEAKY_RELU", spec("uint8", in_scale, in_zp, (n,)), spec("uint8", out_scale, out_zp, (n,)),
                        ("LeakyReluOptions", {"Alpha": alpha}))
        run(content, all_values("uint8", (n,)), seeds=())


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("in_scale, out_scale", Q16)
def test_leaky_relu_int16(alpha: float, in_scale: float, out_scale: float) -> None:
    content = model("LEAKY_RELU", spec("int16", in_scale, 0, (65536,)), spec("int16", out_scale, 0, (65536,)),
                    ("LeakyReluOptions", {"Alpha": alpha}))
    run(content, ALL["int16"], seeds=())


@pytest.mark.parametrize("shape", SHAPES)
def test_leaky_relu_shapes(shape) -> None:
    content = model("LEAKY_RELU", spec("int8", 0.03, -7, shape), spec("int8", 0.02, 9, shape),
                    ("LeakyReluOptions", {"Alpha": 0.3}))
    run(content, seeds=(0, 1))


# ---- RSQRT (int8, version 2) ------------------------------------------------------------------

# (in_scale, in_zp, out_scale, out_zp): layer-norm variances (small scales, zero point -128),
# outputs that clamp at 127, a zero point inside the range, output multiplier shifts from -1 to
# 30 (above 20 the kernel's left shift of MultiplyByQuantizedMultiplier wraps, as TFLite's does).
RSQRT_Q = [
    (1e-4, -128, 0.8, -128),
    (0.02, -128, 0.05, -20),
    (3.0, -100, 0.002, 5),
    (0.5, 0, 0.01, -128),
    (1e-3, 64, 0.3, 0),
    (7e-6, -128, 3.0, -128),
    (1e-6, -128, 1e-3, -128),
    (4.0, -128, 2.0, 0),
    (1e-8, -128, 1e-5, -128),
]


def rsqrt_inputs(in_zp: int, n: int) -> np.ndarray:
    """Every int8 value at or above the zero point (RSQRT is only defined there), tiled to n."""
    return np.resize(np.arange(in_zp, 128, dtype=np.int8), n)


@pytest.mark.parametrize("q", RSQRT_Q)
def test_rsqrt_int8(q) -> None:
    in_scale, in_zp, out_scale, out_zp = q
    for n in (256, 768):  # direct, and tabulated (activation_scalar.c's LUT_MIN)
        content = model("RSQRT", spec("int8", in_scale, in_zp, (n,)), spec("int8", out_scale, out_zp, (n,)),
                        version=2)
        run(content, rsqrt_inputs(in_zp, n), np.sort(rsqrt_inputs(in_zp, n))[::-1].copy(), seeds=())


@pytest.mark.parametrize("shape", SHAPES)
def test_rsqrt_shapes(shape) -> None:
    content = model("RSQRT", spec("int8", 0.01, -128, shape), spec("int8", 0.1, -30, shape), version=2)
    x = np.random.default_rng(3).integers(-128, 128, size=shape).astype(np.int8)
    run(content, x, seeds=())


def test_rsqrt_below_the_zero_point_fails_the_invoke_as_in_tflite() -> None:
    """TFLite: "Rsqrt is only defined for positive values" and the invoke fails; pyedge raises an
    InvokeError naming RSQRT, for the small (direct) and the large (tabulated) kernel path."""
    from oracle import reference_interpreter

    for n in (16, 768):
        content = model("RSQRT", spec("int8", 0.01, 0, (n,)), spec("int8", 0.1, 0, (n,)), version=2)
        x = np.full((n,), 5, np.int8)
        x[n - 1] = -1
        ref = reference_interpreter(content)
        ref.allocate_tensors()
        ref.set_tensor(ref.get_input_details()[0]["index"], x)
        with pytest.raises(RuntimeError, match="positive values"):
            ref.invoke()
        pe = pyedge.Interpreter(model_content=content)
        pe.allocate_tensors()
        pe.set_tensor(pe.get_input_details()[0]["index"], x)
        with pytest.raises(pyedge.InvokeError, match="RSQRT"):
            pe.invoke()
        x[n - 1] = 0  # the same interpreter then runs (the zero point maps to 127), as TFLite's does
        pe.set_tensor(pe.get_input_details()[0]["index"], x)
        pe.invoke()
        ref.set_tensor(ref.get_input_details()[0]["index"], x)
        ref.invoke()
        got = pe.get_tensor(pe.get_output_details()[0]["index"])
        assert got[n - 1] == 127 and (got == ref.get_tensor(ref.get_output_details()[0]["index"])).all()


def test_rsqrt_float_and_int16_are_refused_by_name() -> None:
    content = model("RSQRT", spec("int16", 0.01, 0), spec("int16", 0.01, 0), version=2)
    with pytest.raises(pyedge.UnsupportedOpError, match="INT16 RSQRT"):
        pyedge.Interpreter(model_content=content)
    content = model("RSQRT", spec("float32"), spec("float32"), version=1)
    with pytest.raises(pyedge.UnsupportedOpError, match="FLOAT32 RSQRT"):
        pyedge.Interpreter(model_content=content)


# ---- QUANTIZE ----------------------------------------------------------------------------------

def float_probe(scale: float, n_random: int = 301) -> np.ndarray:
    """Floats for QUANTIZE: exact .5 ties, values around the clamp limits, random values and
    specials (signed zeros, huge, tiny, infinities, NaN)."""
    rng = np.random.default_rng(7)
    ties = (np.arange(-40, 40) + 0.5) * scale
    limits = np.array([-40000.5, -32768.5, -32767.5, -128.5, -127.5, 127.5, 128.5, 255.5, 32767.5]) * scale
    specials = [0.0, -0.0, 1e30, -1e30, 1e-30, 3e9 * scale, -3e9 * scale, np.inf, -np.inf, np.nan]
    values = np.concatenate([ties, limits, rng.standard_normal(n_random) * 300 * scale, specials])
    return values.astype(np.float32)


FLOAT_Q = {
    "int8": [(0.01, 5), (0.25, -128), (1e-5, 127), (3.3, 0)],
    "uint8": [(0.01, 128), (0.25, 0), (3.3, 255)],
    "int16": [(0.25, 0), (1e-4, 0), (0.0123, 100)],
}


@pytest.mark.parametrize("dtype, scale, zp", [(d, s, z) for d, qs in FLOAT_Q.items() for s, z in qs])
def test_quantize_from_float(dtype: str, scale: float, zp: int) -> None:
    x = float_probe(scale)
    content = model("QUANTIZE", spec("float32", shape=x.shape), spec(dtype, scale, zp, x.shape))
    run(content, x, seeds=())
    content = model("QUANTIZE", spec("float32", shape=(2, 3, 5)), spec(dtype, scale, zp, (2, 3, 5)))
    run(content, seeds=(0,))


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16"])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_quantize_from_float_per_channel(dtype: str, axis: int) -> None:
    shape = (3, 4, 5)
    n = shape[axis]
    scales = [0.01 * (k + 1) for k in range(n)]
    zps = {"int8": [(-1) ** k * 10 * k for k in range(n)], "uint8": [100 + 10 * k for k in range(n)],
           "int16": [0] * n}[dtype]
    y = dict(shape=list(shape), dtype=dtype, scale=scales, zero_point=zps, quantized_dimension=axis)
    content = single_op_model("QUANTIZE", [spec("float32", shape=shape)], [y])
    x = (np.random.default_rng(axis).standard_normal(shape) * 3).astype(np.float32)
    run(content, x, seeds=(0,))


# (input type, output type, in_scale, in_zp, out_scale, out_zp)
REQUANTIZE = [
    ("int8", "int8", 0.1, 3, 0.05, -10),
    ("int8", "int8", 0.02, -128, 0.1, 127),
    ("int8", "int8", 0.5, 0, 0.5, 0),
    ("int8", "uint8", 0.1, 3, 0.1, 131),     # the same scale, zero point + 128
    ("int8", "uint8", 0.3, -5, 0.07, 0),
    ("uint8", "int8", 0.1, 131, 0.1, 3),
    ("uint8", "int8", 0.01, 0, 0.2, -128),
    ("uint8", "uint8", 0.05, 255, 0.011, 0),
    ("int16", "int8", 0.000625, 0, 0.0592, -128),   # keyword_scrambled's QUANTIZE
    ("int16", "int8", 1e-3, 7, 1e-4, 3),
    ("int16", "int16", 1e-3, 0, 3e-4, 0),
    ("int16", "int16", 1e-4, 0, 0.05, 0),
    ("int16", "int32", 1.5259022e-05, -32768, 3.0518509e-05, 0),   # keyword_scrambled's QUANTIZE
    ("int16", "int32", 0.02, 5, 1e-4, -9),
    ("int32", "int8", 1e-6, 0, 0.01, -3),
    ("int32", "int8", 1e-9, 100, 1e-8, 4),
    ("int32", "int16", 2e-7, -11, 1e-3, 0),
]


@pytest.mark.parametrize("src, dst, in_scale, in_zp, out_scale, out_zp", REQUANTIZE)
def test_requantize(src: str, dst: str, in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> None:
    shape = (256,) if src in ("int8", "uint8") else (5, 13)
    content = model("QUANTIZE", spec(src, in_scale, in_zp, shape), spec(dst, out_scale, out_zp, shape))
    run(content, *([ALL[src]] if src in ALL and src != "int16" else []), seeds=(0, 1))
    if src == "int16":
        content = model("QUANTIZE", spec(src, in_scale, in_zp, (65536,)), spec(dst, out_scale, out_zp, (65536,)))
        run(content, ALL["int16"], seeds=())


def test_requantize_int32_input_extremes() -> None:
    x = np.array([-(2**31), -(2**31) + 1, -1, 0, 1, 2**31 - 1, 123456789, -987654321], np.int32)
    content = model("QUANTIZE", spec("int32", 1e-6, 0, x.shape), spec("int16", 1e-3, 0, x.shape))
    run(content, x, seeds=())


def test_quantize_int8_to_int16_rejected() -> None:
    content = model("QUANTIZE", spec("int8", 0.1, 0), spec("int16", 0.01, 0))
    with pytest.raises(pyedge.UnsupportedOpError, match="INT8 to INT16 is not supported"):
        pyedge.Interpreter(model_content=content)


# ---- DEQUANTIZE --------------------------------------------------------------------------------

DEQUANT_Q = {
    "int8": [(0.1, 3), (0.0123, -128), (1e-7, 127), (3.3e5, 0)],
    "uint8": [(0.1, 0), (0.0123, 128), (7.0, 255)],
    "int16": [(1e-4, 0), (0.37, 0), (3.0517578e-05, 0)],
}


@pytest.mark.parametrize("dtype, scale, zp", [(d, s, z) for d, qs in DEQUANT_Q.items() for s, z in qs])
def test_dequantize(dtype: str, scale: float, zp: int) -> None:
    x = ALL[dtype]
    content = model("DEQUANTIZE", spec(dtype, scale, zp, x.shape), spec("float32", shape=x.shape))
    run(content, x, seeds=())
    content = model("DEQUANTIZE", spec(dtype, scale, zp, (1, 3, 1, 7)), spec("float32", shape=(1, 3, 1, 7)))
    run(content, seeds=(0,))


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
@pytest.mark.parametrize("axis", [0, 1, 3])
def test_dequantize_per_channel(dtype: str, axis: int) -> None:
    shape = (3, 2, 5, 4)
    n = shape[axis]
    scales = [0.0137 * (k + 1) ** 2 for k in range(n)]
    zps = [(k * 37) % 20 - (10 if dtype == "int8" else -100) for k in range(n)]
    x = dict(shape=list(shape), dtype=dtype, scale=scales, zero_point=zps, quantized_dimension=axis)
    content = single_op_model("DEQUANTIZE", [x], [spec("float32", shape=shape)])
    run(content, all_values(dtype, shape), seeds=(0,))


def test_dequantize_int16_zero_point_rejected() -> None:
    content = model("DEQUANTIZE", spec("int16", 0.1, 3), spec("float32", shape=(2, 128)))
    with pytest.raises(pyedge.UnsupportedOpError, match="zero point must be 0"):
        pyedge.Interpreter(model_content=content)


# ---- chained ops and hostile blobs -------------------------------------------------------------

def test_quantize_softmax_dequantize_chain() -> None:
    """float -> QUANTIZE -> SOFTMAX -> DEQUANTIZE, as at a quantized model's boundary."""
    from tflite_builder import ModelBuilder
    mb = ModelBuilder()
    x = mb.add_tensor([3, 11], "float32")
    q = mb.add_tensor([3, 11], "int8", scale=0.05, zero_point=-3)
    s = mb.add_tensor([3, 11], "int8", scale=1 / 256, zero_point=-128)
    y = mb.add_tensor([3, 11], "float32")
    mb.add_operator("QUANTIZE", [x], [q])
    mb.add_operator("SOFTMAX", [q], [s], ("SoftmaxOptions", {"Beta": 1.0}))
    mb.add_operator("DEQUANTIZE", [s], [y])
    mb.set_io([x], [y])
    run(mb.build(), seeds=(0, 1, 2))


def _corrupt(content: bytes, mutate) -> bytes:
    """Pack `content`, letting `mutate(packer, lowered)` alter the first lowered op."""
    from pyedge.pack import Packer
    from pyedge.tflite_reader import read_tflite

    class Corrupting(Packer):
        def lower(self) -> None:
            super().lower()
            mutate(self, self.ops[0][0].lowered)

    return Corrupting(read_tflite(content)).build()


def _short_table(packer, lw) -> None:
    lw.inputs[1] = packer.new_const(np.zeros(255, np.int8), "short table")


def _int8_tables(packer, lw) -> None:
    lw.inputs[1] = packer.new_const(np.zeros(513, np.int8), "int8 table")


def _huge_shift(packer, lw) -> None:
    lw.params = _native.params_bytes("pe_softmax_params", input_multiplier=1 << 30, input_left_shift=40)


def _bad_axis(packer, lw) -> None:
    lw.params = _native.params_bytes("pe_quantize_params", axis=5)


def _missing_tables(packer, lw) -> None:
    del lw.inputs[1:]


CORRUPTIONS = [
    ("LOGISTIC", spec("int8", 0.1, 0), spec("int8", 1 / 256, -128), None, _short_table, "PE_ERR_SHAPE"),
    ("SOFTMAX", spec("int16", 0.01, 0), spec("int16", 1 / 32768, 0), ("SoftmaxOptions", {"Beta": 1.0}),
     _int8_tables, "PE_ERR_SHAPE"),
    ("SOFTMAX", spec("int8", 0.1, 0), spec("int8", 1 / 256, -128), ("SoftmaxOptions", {"Beta": 1.0}),
     _huge_shift, "PE_ERR_BAD_PARAMS"),
    ("DEQUANTIZE", dict(shape=[2, 3], dtype="int8", scale=[0.1, 0.2], zero_point=[0, 0], quantized_dimension=0),
     spec("float32", shape=(2, 3)), None, _bad_axis, "PE_ERR_BAD_PARAMS"),
    ("DEQUANTIZE", dict(shape=[2, 3], dtype="int8", scale=[0.1, 0.2], zero_point=[0, 0], quantized_dimension=0),
     spec("float32", shape=(2, 3)), None, _missing_tables, "PE_ERR_BAD_PARAMS"),
]


@pytest.mark.parametrize("op, x, y, options, mutate, status", CORRUPTIONS)
def test_hostile_blob_rejected_at_load(op: str, x: dict, y: dict, options, mutate, status: str) -> None:
    """The kernels' check functions refuse blobs whose tables or params do not fit the op."""
    broken = _corrupt(single_op_model(op, [x], [y], options), mutate)
    with pytest.raises(pyedge.BlobError, match=status):
        pyedge.Interpreter(model_content=broken)


def test_supported_ops_registered() -> None:
    from pyedge.lower import supported_ops
    ops = supported_ops()
    for name in ["SOFTMAX", "LOGISTIC", "TANH", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "HARD_SWISH",
                 "LEAKY_RELU", "QUANTIZE", "DEQUANTIZE"]:
        assert name in ops, name

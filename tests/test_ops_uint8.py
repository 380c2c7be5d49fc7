"""uint8 models (TFLite's legacy asymmetric quantization: uint8 activations and weights, each
with a zero point in [0, 255]) against TFLite's reference kernels, bit for bit, on every kernel
path (tests/optest.py: each ISA tier, 3 threads, packed layouts run by their scalar twins).

CONV_2D, DEPTHWISE_CONV_2D (one input channel) and FULLY_CONNECTED run uint8 on the int8 GEMM
microkernels (the identity is in native/kernels/gemm_drivers.c); test_uint8_gemm_identity checks
it on its own in NumPy, and the sweeps below check it against TFLite over weight zero points
0, 128 (the row term vanishes), 255 and others, and input/output zero points across 0..255."""
from __future__ import annotations

import numpy as np
import pytest
import tflite

import pyedge
from pyedge.quant import activation_range, quantize_multiplier
from optest import check_model, interpreter_factory, kernel_paths
from oracle import assert_bit_exact, random_inputs, reference_interpreter, run_model
from tflite_builder import ModelBuilder, single_op_model

SAME, VALID = tflite.Padding.SAME, tflite.Padding.VALID
A = tflite.ActivationFunctionType
NONE, RELU, RELU6 = A.NONE, A.RELU, A.RELU6

# (input zp, weights zp, output zp)
ZPS = {
    "mid": (128, 128, 128),
    "tf1": (0, 131, 0),          # a ReLU6-style input and output, the weights zp TF1 tends to pick
    "w0": (37, 0, 200),          # weights zp 0: (128 - zw) = 128, the largest row term
    "w255": (255, 255, 3),       # weights zp 255, input zp at the top
    "mixed": (91, 74, 255),
}


def _u8_weights(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.integers(0, 256, size=shape).astype(np.uint8)


def _out_scale(in_scale: float, w_scale: float, taps: int, factor: float = 1.0) -> float:
    """Spread a typical accumulator (uniform uint8 inputs and weights, std ~74) over a quarter
    of the uint8 range."""
    return float(in_scale * w_scale * 74.0 * 74.0 * np.sqrt(max(taps, 1)) / 64.0 * factor)


def _bias(rng: np.random.Generator, n: int, taps: int, scale: float) -> dict:
    hi = int(74 * 74 * np.sqrt(max(taps, 1)))
    return dict(shape=[n], dtype="int32", data=rng.integers(-hi, hi + 1, size=n).astype(np.int32),
                scale=scale, zero_point=0)


def _out_dim(padding: int, size: int, k: int, stride: int, dilation: int) -> int:
    eff = (k - 1) * dilation + 1
    return -(-size // stride) if padding == SAME else (size - eff + stride) // stride


def conv_u8_model(in_shape, out_c, k, *, stride=(1, 1), dilation=(1, 1), padding=SAME, act=NONE,
                  zps="mid", bias=True, seed=0, factor=1.0) -> bytes:
    rng = np.random.default_rng(seed)
    n, h, w, c = in_shape
    kh, kw = k
    zx, zw, zy = ZPS[zps]
    in_scale, w_scale = 0.02, 0.004
    taps = kh * kw * c
    inputs = [dict(shape=list(in_shape), dtype="uint8", scale=in_scale, zero_point=zx),
              dict(shape=[out_c, kh, kw, c], dtype="uint8", data=_u8_weights(rng, (out_c, kh, kw, c)),
                   scale=w_scale, zero_point=zw)]
    if bias:
        inputs.append(_bias(rng, out_c, taps, in_scale * w_scale))
    out_shape = [n, _out_dim(padding, h, kh, stride[0], dilation[0]),
                 _out_dim(padding, w, kw, stride[1], dilation[1]), out_c]
    opts = {"Padding": padding, "StrideH": stride[0], "StrideW": stride[1],
            "DilationHFactor": dilation[0], "DilationWFactor": dilation[1], "FusedActivationFunction": act}
    return single_op_model("CONV_2D", inputs,
                           [dict(shape=out_shape, dtype="uint8",
                                 scale=_out_scale(in_scale, w_scale, taps, factor), zero_point=zy)],
                           ("Conv2DOptions", opts))


def dw_u8_model(in_shape, k, depth_multiplier=1, *, stride=(1, 1), dilation=(1, 1), padding=SAME,
                act=NONE, zps="mid", seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    n, h, w, c = in_shape
    kh, kw = k
    out_c = c * depth_multiplier
    zx, zw, zy = ZPS[zps]
    in_scale, w_scale = 0.02, 0.004
    taps = kh * kw
    inputs = [dict(shape=list(in_shape), dtype="uint8", scale=in_scale, zero_point=zx),
              dict(shape=[1, kh, kw, out_c], dtype="uint8", data=_u8_weights(rng, (1, kh, kw, out_c)),
                   scale=w_scale, zero_point=zw),
              _bias(rng, out_c, taps, in_scale * w_scale)]
    out_shape = [n, _out_dim(padding, h, kh, stride[0], dilation[0]),
                 _out_dim(padding, w, kw, stride[1], dilation[1]), out_c]
    opts = {"Padding": padding, "StrideH": stride[0], "StrideW": stride[1], "DepthMultiplier": depth_multiplier,
            "DilationHFactor": dilation[0], "DilationWFactor": dilation[1], "FusedActivationFunction": act}
    return single_op_model("DEPTHWISE_CONV_2D", inputs,
                           [dict(shape=out_shape, dtype="uint8", scale=_out_scale(in_scale, w_scale, taps),
                                 zero_point=zy)],
                           ("DepthwiseConv2DOptions", opts))


def fc_u8_model(batches: int, depth: int, units: int, *, act=NONE, zps="mid", bias=True, seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    zx, zw, zy = ZPS[zps]
    in_scale, w_scale = 0.02, 0.004
    inputs = [dict(shape=[batches, depth], dtype="uint8", scale=in_scale, zero_point=zx),
              dict(shape=[units, depth], dtype="uint8", data=_u8_weights(rng, (units, depth)),
                   scale=w_scale, zero_point=zw)]
    inputs.append(_bias(rng, units, depth, in_scale * w_scale) if bias else None)
    return single_op_model("FULLY_CONNECTED", inputs,
                           [dict(shape=[batches, units], dtype="uint8",
                                 scale=_out_scale(in_scale, w_scale, depth), zero_point=zy)],
                           ("FullyConnectedOptions", {"FusedActivationFunction": act}))


# ----------------------------------------------------------------------------- the identity

@pytest.mark.parametrize("zx, zw", [(0, 0), (128, 128), (255, 255), (3, 250), (200, 17)])
def test_uint8_gemm_identity(zx: int, zw: int) -> None:
    """The int32 accumulator of uint8 weights v and inputs x equals, mod 2^32, the int8 GEMM's
    sum over the panel a = x of a * (v - 128), plus its init term (bias - zx * wsum
    - (128 - zw) * K * zx), plus the row term (128 - zw) * sum_k a: what gemm_drivers.c runs."""
    rng = np.random.default_rng(zx * 256 + zw)
    k, oc, rows = 37, 5, 6
    x = rng.integers(0, 256, size=(rows, k)).astype(np.int64)
    x[0] = zx  # a row of padding taps
    v = rng.integers(0, 256, size=(oc, k)).astype(np.int64)
    bias = rng.integers(-2**31, 2**31, size=oc).astype(np.int64)
    want = ((x - zx) @ (v - zw).T + bias) % 2**32
    w8 = v - 128
    assert w8.min() >= -128 and w8.max() <= 127
    init = bias - zx * w8.sum(axis=1) - (128 - zw) * k * zx
    row_term = (128 - zw) * x.sum(axis=1)
    got = (x @ w8.T + init[None, :] + row_term[:, None]) % 2**32
    np.testing.assert_array_equal(got, want)


# ----------------------------------------------------------------------------- CONV_2D

@pytest.mark.parametrize("zps", list(ZPS))
def test_conv_uint8_zero_points(zps: str) -> None:
    check_model(conv_u8_model([1, 6, 5, 3], 4, (3, 3), zps=zps))


@pytest.mark.parametrize("in_shape, out_c, k, stride, dilation, padding", [
    ([1, 1, 1, 1], 1, (1, 1), (1, 1), (1, 1), SAME),        # size 1 everywhere
    ([1, 8, 8, 16], 8, (1, 1), (1, 1), (1, 1), VALID),      # 1x1 (reads the input rows directly)
    ([1, 7, 9, 3], 17, (3, 3), (2, 2), (1, 1), SAME),       # stride 2 SAME, 17 channels: two blocks
    ([2, 7, 9, 3], 5, (3, 3), (2, 2), (1, 1), VALID),
    ([1, 9, 8, 2], 3, (3, 3), (1, 1), (2, 2), SAME),        # dilation 2
    ([1, 4, 4, 3], 2, (7, 7), (1, 1), (1, 1), SAME),        # filter larger than the input
    ([1, 5, 11, 33], 33, (1, 1), (1, 1), (1, 1), SAME),     # K 33, 55 rows: tiles of 8 and a tail
])
@pytest.mark.parametrize("zps", ["tf1", "w0"])
def test_conv_uint8_geometry(in_shape, out_c, k, stride, dilation, padding, zps) -> None:
    check_model(conv_u8_model(in_shape, out_c, k, stride=stride, dilation=dilation, padding=padding, zps=zps))


@pytest.mark.parametrize("act", [RELU, RELU6])
@pytest.mark.parametrize("zps", ["tf1", "mixed"])
def test_conv_uint8_activation(act: int, zps: str) -> None:
    check_model(conv_u8_model([1, 5, 5, 4], 3, (3, 3), act=act, zps=zps, factor=0.5))


def test_conv_uint8_multiplier_above_one() -> None:
    """An output scale below input * filter scale (multiplier > 1: a left shift); inputs near
    their zero point so that not every output saturates."""
    model = conv_u8_model([1, 5, 5, 2], 3, (2, 2), zps="mixed", factor=0.002)
    for seed in (0, 1):
        x = np.clip(91 + np.random.default_rng(seed).integers(-3, 4, size=(1, 5, 5, 2)), 0, 255)
        check_model(model, inputs=[x.astype(np.uint8)])


def test_conv_uint8_runs_the_gemm_kernels() -> None:
    """uint8 CONV_2D takes the same SIMD variant as int8, and its graph edges stay uint8."""
    model = conv_u8_model([1, 6, 6, 8], 16, (3, 3), zps="tf1")
    ip = pyedge.Interpreter(model_content=model)
    ip.allocate_tensors()
    variants = ip.op_variants()
    assert any("gemm" in str(v) for v in variants), variants
    assert ip.get_input_details()[0]["dtype"] == np.uint8
    assert ip.get_output_details()[0]["dtype"] == np.uint8


# ----------------------------------------------------------------------------- DEPTHWISE_CONV_2D

@pytest.mark.parametrize("zps", list(ZPS))
@pytest.mark.parametrize("in_shape, k, dm, stride, padding", [
    ([1, 7, 6, 5], (3, 3), 1, (1, 1), SAME),
    ([1, 9, 8, 3], (3, 3), 2, (2, 2), SAME),
    ([2, 6, 7, 1], (3, 3), 4, (1, 2), VALID),              # one input channel: the GEMM kernels
    ([1, 8, 8, 1], (5, 5), 17, (2, 2), SAME),              # ... with two channel blocks
])
def test_depthwise_uint8(zps, in_shape, k, dm, stride, padding) -> None:
    check_model(dw_u8_model(in_shape, k, dm, stride=stride, padding=padding, zps=zps))


@pytest.mark.parametrize("act", [RELU, RELU6])
def test_depthwise_uint8_activation_dilation(act: int) -> None:
    check_model(dw_u8_model([1, 9, 9, 4], (3, 3), 1, dilation=(2, 2), act=act, zps="tf1"))


# ----------------------------------------------------------------------------- FULLY_CONNECTED

@pytest.mark.parametrize("zps", list(ZPS))
@pytest.mark.parametrize("batches, depth, units", [(1, 1, 1), (1, 37, 17), (3, 64, 33), (9, 129, 16)])
def test_fully_connected_uint8(zps, batches, depth, units) -> None:
    check_model(fc_u8_model(batches, depth, units, zps=zps))


@pytest.mark.parametrize("act", [RELU, RELU6])
def test_fully_connected_uint8_activation_no_bias(act: int) -> None:
    check_model(fc_u8_model(2, 40, 10, act=act, bias=False, zps="mixed"))


# ----------------------------------------------------------------------------- a MobileNetV1 stack

@pytest.mark.parametrize("size, alpha, depth", [(32, 0.25, 13), (48, 0.5, 4)])
def test_mobilenet_v1_uint8_stack(size: int, alpha: float, depth: int) -> None:
    """A TF1-style uint8 MobileNetV1 (conv, depthwise, average pool, reshape, FC, softmax) with
    random weights: every path bit-exact, and every layer's output checked, not only the
    softmax (whose outputs could hide a wrong layer by saturating)."""
    from tflite_builder import mobilenet_v1
    model = mobilenet_v1("uint8", alpha=alpha, size=size, classes=10, seed=size, depth=depth)
    check_model(model, seeds=(0, 1))
    # the intermediate layers: the reference interpreter with every tensor preserved
    x = random_inputs(model, np.random.default_rng(5))
    ref = reference_interpreter(model, experimental_preserve_all_tensors=True)
    ref.allocate_tensors()
    ref.set_tensor(ref.get_input_details()[0]["index"], x[0])
    ref.invoke()
    ip = pyedge.Interpreter(model_content=model, experimental_preserve_all_tensors=True)
    ip.allocate_tensors()
    ip.set_tensor(ip.get_input_details()[0]["index"], x[0])
    ip.invoke()
    checked = 0
    for d in ref.get_tensor_details():
        if d["dtype"] != np.uint8 or len(d["shape"]) == 0:
            continue
        want = ref.get_tensor(d["index"])
        assert_bit_exact(ip.get_tensor(d["index"]), want, context=d["name"])
        checked += 1
        if len(d["shape"]) == 4 and d["shape"][1] > 1:
            # no layer saturates: a spread of values
            assert len(np.unique(want)) > 8, (d["name"], np.unique(want))
    assert checked > 2 * depth


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_uint8_threads(threads: int) -> None:
    """The threaded ops (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD) in uint8 give the
    reference kernels' bytes on 1, 2 and 3 threads."""
    from tflite_builder import mobilenet_v1
    models = [mobilenet_v1("uint8", alpha=0.25, size=32, classes=10, seed=7, depth=6),
              conv_u8_model([2, 9, 7, 5], 33, (3, 3), stride=(2, 1), zps="w0"),
              fc_u8_model(5, 70, 40, zps="mixed")]
    for model in models:
        x = random_inputs(model, np.random.default_rng(threads))
        want = run_model(reference_interpreter, model, x)
        got = run_model(lambda model_content: pyedge.Interpreter(model_content=model_content,
                                                                 num_threads=threads), model, x)
        for g, w in zip(got, want):
            assert_bit_exact(g, w, context=f"{threads} threads")


def _mobilenet_v2_block_u8(seed: int = 0) -> bytes:
    """A uint8 inverted-residual stack as TF1's quantized MobileNetV2 has it: CONV_2D 1x1 expand
    (ReLU6), DEPTHWISE_CONV_2D 3x3 (ReLU6), CONV_2D 1x1 project (no activation, zero point near
    the middle), ADD with the block input, then MEAN over H, W and FULLY_CONNECTED."""
    rng = np.random.default_rng(seed)
    mb = ModelBuilder("uint8 inverted residual")
    relu6 = (6.0 / 255.0, 0)
    lin = (0.05, 128)

    def act(shape, q):
        return mb.add_tensor(shape, "uint8", scale=q[0], zero_point=q[1])

    def w(shape, taps):
        return mb.add_tensor(shape, "uint8", data=rng.integers(0, 256, size=shape).astype(np.uint8),
                             scale=float(3.0 * np.sqrt(2.0 / taps) / 74.0), zero_point=int(rng.integers(90, 170)))

    def b(n, s_in, wt):
        s = s_in * mb._subgraphs[0].tensors[wt].scale[0]
        return mb.add_tensor([n], "int32", data=rng.integers(-3000, 3000, size=n).astype(np.int32), scale=s,
                             zero_point=0)

    def conv(x, s_in, shape, out_c, q_out, relu):
        n, h, wd, c = shape
        f = w([out_c, 1, 1, c], c)
        y = act([n, h, wd, out_c], q_out)
        mb.add_operator("CONV_2D", [x, f, b(out_c, s_in, f)], [y], ("Conv2DOptions", {
            "Padding": VALID, "StrideH": 1, "StrideW": 1, "FusedActivationFunction": RELU6 if relu else NONE}))
        return y

    shape = [1, 10, 9, 16]
    x = act(shape, lin)
    inp = x
    for _ in range(2):
        e = conv(x, lin[0], shape, 48, relu6, True)
        f = w([1, 3, 3, 48], 9)
        d = act([1, 10, 9, 48], relu6)
        mb.add_operator("DEPTHWISE_CONV_2D", [e, f, b(48, relu6[0], f)], [d], ("DepthwiseConv2DOptions", {
            "Padding": SAME, "StrideH": 1, "StrideW": 1, "DepthMultiplier": 1, "FusedActivationFunction": RELU6}))
        p = conv(d, relu6[0], [1, 10, 9, 48], 16, lin, False)
        s = act(shape, (0.07, 127))
        mb.add_operator("ADD", [p, x], [s], ("AddOptions", {"FusedActivationFunction": NONE}))
        x, lin = s, (0.07, 127)
    m = act([1, 16], lin)
    axes = mb.add_tensor([2], "int32", data=np.array([1, 2], np.int32))
    mb.add_operator("MEAN", [x, axes], [m], ("ReducerOptions", {"KeepDims": False}))
    fw = w([5, 16], 16)
    out = act([1, 5], (0.1, 120))
    mb.add_operator("FULLY_CONNECTED", [m, fw, b(5, lin[0], fw)], [out], ("FullyConnectedOptions", {}))
    mb.set_io([inp], [out])
    return mb.build()


def test_mobilenet_v2_style_uint8_residual_blocks() -> None:
    """CONV_2D, DEPTHWISE_CONV_2D, ADD (the residual, on the vadd microkernels), MEAN and
    FULLY_CONNECTED in uint8, bit-exact on every path."""
    check_model(_mobilenet_v2_block_u8(), seeds=(0, 1, 2))


# ----------------------------------------------------------------------------- hostile blobs

def _hostile_cases():
    from test_ops_conv import _tamper
    conv = conv_u8_model([1, 5, 5, 2], 3, (3, 3), zps="mixed")
    dw = dw_u8_model([1, 5, 5, 4], (3, 3), 1, zps="mixed")
    fc = fc_u8_model(2, 6, 3, zps="mixed")
    return [
        (lambda: _tamper(conv, "pe_conv_params", input_offset=1), "PE_ERR_BAD_PARAMS"),
        (lambda: _tamper(conv, "pe_conv_params", input_offset=-256), "PE_ERR_BAD_PARAMS"),
        (lambda: _tamper(conv, "pe_conv_params", output_offset=256), "PE_ERR_BAD_PARAMS"),
        (lambda: _tamper(conv, "pe_conv_params", act_min=-1), "PE_ERR_BAD_PARAMS"),
        (lambda: _tamper(dw, "pe_conv_params", act_max=256), "PE_ERR_BAD_PARAMS"),
        (lambda: _tamper(dw, "pe_conv_params", output_offset=-1), "PE_ERR_BAD_PARAMS"),
        (lambda: _tamper(fc, "pe_fc_params", filter_offset=1), "PE_ERR_BAD_PARAMS"),
        (lambda: _tamper(fc, "pe_fc_params", filter_offset=-256), "PE_ERR_BAD_PARAMS"),
        (lambda: _tamper(fc, "pe_fc_params", input_offset=7), "PE_ERR_BAD_PARAMS"),
    ]


@pytest.mark.parametrize("case", range(9))
def test_uint8_hostile_params_are_rejected_at_load(case: int) -> None:
    from test_ops_conv import _tamper
    make, status = _hostile_cases()[case]
    with pytest.raises(pyedge.BlobError) as e:
        pyedge.Interpreter(model_content=make())
    assert e.value.status == status
    for model in (conv_u8_model([1, 5, 5, 2], 3, (3, 3), zps="mixed"), fc_u8_model(2, 6, 3, zps="mixed")):
        pyedge.Interpreter(model_content=_tamper(model))  # untampered: loads


# ---- DIV ---------------------------------------------------------------------------------------

# (input 1, input 2, output) quantization: s1 / (s2 * s_out) from ~2^-12 (every quotient rounds
# to a few steps) through ~1 to ~2^22 (just below the 2^23 the kernel accepts)
DIV_QS = {
    "unit": ((1 / 255, 0), (1 / 255, 0), (1 / 255, 0)),
    "tf1": ((0.0235, 0), (0.0118, 3), (0.071, 11)),
    "mid": ((0.02, 128), (0.01, 128), (0.05, 128)),
    "small": ((0.001, 37), (0.5, 200), (2.0, 90)),
    "large": ((2.0, 255), (0.003, 1), (0.0009, 0)),
    "top": ((8.0, 250), (0.0011, 128), (0.0011, 17)),
}


def _div_u8_model(shapes, qs, act=NONE, const_b: np.ndarray | None = None) -> bytes:
    t = lambda shape, q, data=None: dict(shape=list(shape), dtype="uint8", scale=q[0], zero_point=q[1],
                                         **({} if data is None else {"data": data}))
    out = list(np.broadcast_shapes(tuple(shapes[0]), tuple(shapes[1])))
    return single_op_model("DIV", [t(shapes[0], qs[0]), t(shapes[1], qs[1], const_b)], [t(out, qs[2])],
                           ("DivOptions", {"FusedActivationFunction": act}))


def _u8_denominator(shape, zero_point: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 values other than the zero point (a real zero denominator)."""
    v = rng.integers(0, 255, size=tuple(shape))
    return (v + (v >= zero_point)).astype(np.uint8)


def _div_u8_exponent(a: np.ndarray, b: np.ndarray, q) -> np.ndarray:
    """The right shift DivElementwise's last RoundingDivideByPOT takes for each element:
    recip_shift (GetReciprocal's 31 - clz(y)) + CountLeadingSignBits(x) - output_shift."""
    x = a.astype(np.int64) - q[0][1]
    y = b.astype(np.int64) - q[1][1]
    x = np.where(y < 0, -x, x)
    y = np.abs(y)
    bits = lambda v: np.array([int(t).bit_length() for t in v.ravel()]).reshape(v.shape)
    recip_shift = bits(y) - 1
    headroom = 31 - bits(np.where(x < 0, ~x, x))
    _, shift = quantize_multiplier(float(np.float32(np.float32(q[0][0]) / (np.float32(q[1][0]) * np.float32(q[2][0])))))
    return recip_shift + headroom - shift


def check_div_u8(model: bytes, a: np.ndarray, b: np.ndarray, q, act=NONE) -> int:
    """pyedge on every kernel path against BUILTIN_REF with its one known fault fixed: where the
    last shift reaches 32 or more, TFLite 2.14's RoundingDivideByPOT (undefined there: 32-bit
    shifts by the count mod 32) returns garbage; the exact quotient rescaled rounds to 0, so the
    fixed reference is the output zero point, clamped to the activation range. Returns how many
    elements TFLite got wrong."""
    want = run_model(reference_interpreter, model, [a, b])
    ab, bb = np.broadcast_arrays(a, b)
    wrong = _div_u8_exponent(ab, bb, q) >= 32
    _, yq = q[2]
    lo, hi = activation_range(act, q[2][0], yq, np.uint8)
    fixed = [np.where(wrong, np.uint8(min(max(yq, lo), hi)), want[0][0])]
    for label, kw in kernel_paths():
        got = run_model(interpreter_factory(**kw), model, [a, b])
        assert_bit_exact(got[0], fixed, context=f"[{label}]")
    return int(np.count_nonzero(fixed[0] != want[0][0]))


@pytest.mark.parametrize("qs", sorted(DIV_QS))
def test_div_uint8_every_pair(qs):
    """Every (numerator, denominator) byte pair but the zero denominators, for each scale set."""
    q = DIV_QS[qs]
    a = np.repeat(np.arange(256, dtype=np.uint8), 255)
    b = np.tile(np.array([v for v in range(256) if v != q[1][1]], np.uint8), 256)
    wrong = check_div_u8(_div_u8_model(([a.size], [a.size]), q), a, b, q)
    assert (wrong > 0) == (qs in ("mid", "small", "tf1")), wrong  # where TFLite 2.14 errs


@pytest.mark.parametrize("act", [NONE, RELU, RELU6, A.RELU_N1_TO_1])
@pytest.mark.parametrize("shapes", [([1], [1]), ([7], [1]), ([1], [7]), ([2, 3, 5], [3, 1]),
                                    ([4, 1, 3], [1, 5, 1]), ([2, 1, 3, 1, 2], [1, 2, 1, 4, 1]),
                                    ([1, 9, 9, 3], [1, 9, 9, 3])], ids=str)
@pytest.mark.parametrize("qs", ["tf1", "mid", "large"])
def test_div_uint8(qs, shapes, act):
    q = DIV_QS[qs]
    model = _div_u8_model(shapes, q, act)
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        a = rng.integers(0, 256, size=tuple(shapes[0])).astype(np.uint8)
        check_div_u8(model, a, _u8_denominator(shapes[1], q[1][1], rng), q, act)


def test_div_uint8_constant_denominator():
    q = DIV_QS["tf1"]
    rng = np.random.default_rng(3)
    model = _div_u8_model(([2, 8], [8]), q, const_b=_u8_denominator([8], q[1][1], rng))
    check_model(model, inputs=[rng.integers(0, 256, size=(2, 8)).astype(np.uint8)])
    zero = np.full(8, 17, np.uint8)
    zero[5] = q[1][1]
    with pytest.raises(pyedge.UnsupportedOpError, match="constant denominator holds its zero point 3"):
        pyedge.Interpreter(model_content=_div_u8_model(([8], [8]), q, const_b=zero))


def test_div_uint8_zero_denominator_fails_the_invoke():
    """A denominator at its zero point is a real zero: TFLite 2.14 computes GetReciprocal(0)
    (a 32-bit shift, undefined) and stores whatever results; pyedge fails the invoke
    (docs/oracles.md)."""
    q = DIV_QS["mid"]
    model = _div_u8_model(([4], [4]), q)
    a, b = np.array([1, 2, 200, 4], np.uint8), np.array([1, 128, 3, 9], np.uint8)
    run_model(reference_interpreter, model, [a, b])  # no crash, an arbitrary value
    with pytest.raises(pyedge.InvokeError):
        run_model(pyedge.Interpreter, model, [a, b])
    b[1] = 129
    check_model(model, inputs=[a, b])


def test_div_uint8_refuses_an_output_scale_it_cannot_reach():
    model = _div_u8_model(([4], [4]), ((1.0, 0), (1e-4, 0), (1e-4, 0)))
    with pytest.raises(pyedge.UnsupportedOpError, match="above 2\\^23"):
        pyedge.Interpreter(model_content=model)

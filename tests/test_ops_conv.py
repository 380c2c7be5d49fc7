"""CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and BATCH_MATMUL against TFLite's reference
kernels, bit for bit (int8 and int16x8)."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import tflite

import pyedge
from pyedge import blob
from pyedge._native import ffi
from pyedge.inspector import inspect_model
from pyedge.pack import pack_tflite
from optest import check_model
from oracle import assert_bit_exact, random_inputs, reference_interpreter, run_model
from tflite_builder import single_op_model

SAME, VALID = tflite.Padding.SAME, tflite.Padding.VALID
A = tflite.ActivationFunctionType
NONE, RELU, RELU6, RELU_N1 = A.NONE, A.RELU, A.RELU6, A.RELU_N1_TO_1

# (input zero point, output zero point, output-scale factor): the factor scales the output
# scale chosen to spread typical accumulators over the int8 range (8: a compressed output).
# MULT_GT_1 instead sets requantization multipliers around 2.5 (0.5 to 5 per channel: a left
# shift for most); its models get weights in [-2, 2] and its inputs stay within 4 of the zero
# point (see _check), so that the outputs do not all saturate.
MULT_GT_1 = "mult_gt_1"
QUANT = {
    "mid": (-3, 4, 1.0),
    "zp_extreme": (-128, 127, 1.0),
    "zp_extreme_rev": (127, -128, 0.5),
    MULT_GT_1: (5, -7, None),
    "coarse": (0, 0, 8.0),
}
INT16_QUANT = {"mid": 1.0, MULT_GT_1: None, "coarse": 8.0}


def _weights(rng: np.random.Generator, shape: tuple[int, ...], quant: str = "") -> np.ndarray:
    hi = 2 if quant == MULT_GT_1 else 127
    return rng.integers(-hi, hi + 1, size=shape).astype(np.int8)


def _near_zero_point(model: bytes, rng: np.random.Generator, radius: int = 4) -> list[np.ndarray]:
    """Random inputs within `radius` of each input's zero point."""
    out = []
    for d in reference_interpreter(model).get_input_details():
        info = np.iinfo(d["dtype"])
        zp = int(d["quantization"][1])
        x = zp + rng.integers(-radius, radius + 1, size=tuple(d["shape"]))
        out.append(np.clip(x, info.min, info.max).astype(d["dtype"]))
    return out


def _check(model: bytes, quant: str) -> None:
    """check_model, with inputs near the zero points for the multiplier > 1 models."""
    if quant != MULT_GT_1:
        check_model(model)
        return
    for seed in (0, 1, 2):
        check_model(model, inputs=_near_zero_point(model, np.random.default_rng(seed)))


def _scales(rng: np.random.Generator, n: int, per_channel: bool) -> list[float]:
    return [float(s) for s in rng.uniform(0.002, 0.02, size=n if per_channel else 1)]


def _out_scale(in_scale: float, w_scale: float, taps: int, factor: float | None, int16: bool = False,
               w_std: float = 74.0) -> float:
    """An output scale that spreads a typical accumulator (uniform random inputs) over a third
    of the output range, times `factor`; factor None: input * weights scale / 2.5."""
    if factor is None:
        return float(in_scale * w_scale / 2.5)
    in_std, q_max = (18918.0, 32767.0) if int16 else (74.0, 127.0)
    acc_std = in_std * w_std * np.sqrt(max(taps, 1))
    return float(in_scale * w_scale * acc_std / (q_max / 3) * factor)


def _bias(rng: np.random.Generator, n: int, taps: int, dtype: str, scales, quant: str = "") -> dict:
    hi = int(74 * 74 * np.sqrt(max(taps, 1))) * (100 if dtype == "int64" else 1)
    if quant == MULT_GT_1:
        hi = 8
    data = rng.integers(-hi, hi + 1, size=n).astype(dtype)
    return dict(shape=[n], dtype=dtype, data=data, scale=scales, zero_point=0)


def _out_dim(padding: int, size: int, k: int, stride: int, dilation: int) -> int:
    """Output size of a window op (TensorFlow's GetWindowedOutputSize)."""
    eff = (k - 1) * dilation + 1
    return -(-size // stride) if padding == SAME else (size - eff + stride) // stride


# ----------------------------------------------------------------------------- CONV_2D

def conv_model(in_shape, out_c, k, *, stride=(1, 1), dilation=(1, 1), padding=SAME, act=NONE,
               quant="mid", per_channel=True, groups=1, dtype="int8", bias="int32", seed=0,
               options=None, out_shape=None) -> bytes:
    """A CONV_2D model; bias is a dtype name, None (omitted input) or "zeros"."""
    rng = np.random.default_rng(seed)
    n, h, w, c = in_shape
    kh, kw = k
    filter_c = c // groups
    weights = _weights(rng, (out_c, kh, kw, filter_c), quant)
    w_scales = _scales(rng, out_c, per_channel)
    in_scale = 0.05 if dtype == "int8" else 0.0005
    taps = kh * kw * filter_c
    if dtype == "int8":
        in_zp, out_zp, factor = QUANT[quant]
    else:
        in_zp, out_zp, factor = 0, 0, INT16_QUANT[quant]
    out_scale = _out_scale(in_scale, float(np.mean(w_scales)), taps, factor, dtype == "int16")
    bias_scales = [in_scale * s for s in w_scales]
    inputs = [dict(shape=list(in_shape), dtype=dtype, scale=in_scale, zero_point=in_zp),
              dict(shape=list(weights.shape), dtype="int8", data=weights, scale=w_scales, zero_point=0)]
    if bias == "zeros":
        zeros = np.zeros(out_c, np.int32 if dtype == "int8" else np.int64)
        inputs.append(dict(shape=[out_c], dtype=zeros.dtype.name, data=zeros, scale=bias_scales,
                           zero_point=0))
    elif bias is not None:
        inputs.append(_bias(rng, out_c, taps, bias, bias_scales, quant))
    if out_shape is None:
        out_shape = [n, _out_dim(padding, h, kh, stride[0], dilation[0]),
                     _out_dim(padding, w, kw, stride[1], dilation[1]), out_c]
    opts = {"Padding": padding, "StrideH": stride[0], "StrideW": stride[1],
            "DilationHFactor": dilation[0], "DilationWFactor": dilation[1], "FusedActivationFunction": act}
    opts.update(options or {})
    return single_op_model("CONV_2D", inputs,
                           [dict(shape=out_shape, dtype=dtype, scale=out_scale, zero_point=out_zp)],
                           ("Conv2DOptions", opts))


@pytest.mark.parametrize("quant", list(QUANT))
@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
def test_conv_int8_quant(quant: str, per_channel: bool) -> None:
    _check(conv_model([1, 6, 5, 3], 4, (3, 3), quant=quant, per_channel=per_channel), quant)


@pytest.mark.parametrize("in_shape, out_c, k, stride, dilation, padding", [
    ([1, 1, 1, 1], 1, (1, 1), (1, 1), (1, 1), SAME),        # size 1 everywhere
    ([1, 8, 8, 16], 8, (1, 1), (1, 1), (1, 1), VALID),      # 1x1 conv (pointwise)
    ([1, 7, 9, 3], 5, (3, 3), (2, 2), (1, 1), SAME),        # 3x3 stride 2 SAME, odd sizes
    ([2, 7, 9, 3], 5, (3, 3), (2, 2), (1, 1), VALID),
    ([1, 9, 8, 2], 3, (3, 3), (1, 1), (2, 2), SAME),        # dilation 2
    ([1, 9, 8, 2], 3, (3, 2), (1, 2), (2, 3), VALID),
    ([1, 5, 6, 4], 2, (5, 4), (3, 2), (1, 1), SAME),        # padding larger than 1, uneven
    ([1, 4, 4, 3], 2, (7, 7), (1, 1), (1, 1), SAME),        # filter larger than the input
    ([3, 5, 3, 7], 6, (2, 3), (2, 1), (1, 1), SAME),        # batch 3, even filter
    ([1, 6, 6, 1], 1, (3, 3), (3, 3), (1, 1), VALID),
])
def test_conv_int8_geometry(in_shape, out_c, k, stride, dilation, padding) -> None:
    check_model(conv_model(in_shape, out_c, k, stride=stride, dilation=dilation, padding=padding))


@pytest.mark.parametrize("act", [RELU, RELU6, RELU_N1])
@pytest.mark.parametrize("quant", ["mid", "zp_extreme_rev", "coarse"])
def test_conv_int8_activation(act: int, quant: str) -> None:
    check_model(conv_model([1, 5, 5, 4], 3, (3, 3), act=act, quant=quant))


@pytest.mark.parametrize("groups, in_c, out_c", [(2, 4, 6), (3, 6, 3), (4, 4, 8)])
@pytest.mark.parametrize("dtype", ["int8", "int16"])
def test_conv_grouped(groups: int, in_c: int, out_c: int, dtype: str) -> None:
    bias = "int32" if dtype == "int8" else "int64"
    check_model(conv_model([1, 5, 4, in_c], out_c, (3, 3), groups=groups, dtype=dtype, bias=bias))


@pytest.mark.parametrize("quant", list(INT16_QUANT))
@pytest.mark.parametrize("bias", ["int64", "int32"])
@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
def test_conv_int16x8(quant: str, bias: str, per_channel: bool) -> None:
    _check(conv_model([1, 7, 6, 3], 4, (3, 3), stride=(2, 1), dtype="int16", bias=bias,
                      quant=quant, per_channel=per_channel), quant)


@pytest.mark.parametrize("act", [NONE, RELU, RELU6, RELU_N1])
def test_conv_int16x8_activation_dilation(act: int) -> None:
    check_model(conv_model([2, 8, 7, 2], 3, (3, 2), dilation=(2, 2), act=act, dtype="int16",
                           bias="int64"))


@pytest.mark.parametrize("dtype", ["int8", "int16"])
def test_conv_without_bias_equals_zero_bias(dtype: str) -> None:
    """TFLite 2.14 refuses a CONV_2D without bias; pyedge runs it (as TFLite Micro does) and
    must match TFLite on the same model with an explicit zero bias."""
    no_bias = conv_model([1, 6, 5, 3], 4, (3, 3), bias=None, dtype=dtype, act=RELU)
    zero_bias = conv_model([1, 6, 5, 3], 4, (3, 3), bias="zeros", dtype=dtype, act=RELU)
    for seed in (0, 1):
        x = random_inputs(zero_bias, np.random.default_rng(seed))
        assert_bit_exact(run_model(pyedge.Interpreter, no_bias, x)[0],
                         run_model(reference_interpreter, zero_bias, x)[0])


# ----------------------------------------------------------------------------- DEPTHWISE_CONV_2D

def dw_model(in_shape, k, depth_multiplier=1, *, stride=(1, 1), dilation=(1, 1), padding=SAME,
             act=NONE, quant="mid", per_channel=True, dtype="int8", bias="int32", seed=0,
             option_multiplier=None, weights_zp=0) -> bytes:
    rng = np.random.default_rng(seed)
    n, h, w, c = in_shape
    kh, kw = k
    out_c = c * depth_multiplier
    weights = _weights(rng, (1, kh, kw, out_c), quant)
    w_scales = _scales(rng, out_c, per_channel)
    in_scale = 0.05 if dtype == "int8" else 0.0005
    taps = kh * kw
    if dtype == "int8":
        in_zp, out_zp, factor = QUANT[quant]
    else:
        in_zp, out_zp, factor = 0, 0, INT16_QUANT[quant]
    out_scale = _out_scale(in_scale, float(np.mean(w_scales)), taps, factor, dtype == "int16")
    inputs = [dict(shape=list(in_shape), dtype=dtype, scale=in_scale, zero_point=in_zp),
              dict(shape=list(weights.shape), dtype="int8", data=weights, scale=w_scales,
                   zero_point=weights_zp, quantized_dimension=3)]
    if bias is not None:
        inputs.append(_bias(rng, out_c, taps, bias, [in_scale * s for s in w_scales], quant))
    out_shape = [n, _out_dim(padding, h, kh, stride[0], dilation[0]),
                 _out_dim(padding, w, kw, stride[1], dilation[1]), out_c]
    opts = {"Padding": padding, "StrideH": stride[0], "StrideW": stride[1],
            "DilationHFactor": dilation[0], "DilationWFactor": dilation[1], "FusedActivationFunction": act,
            "DepthMultiplier": depth_multiplier if option_multiplier is None else option_multiplier}
    return single_op_model("DEPTHWISE_CONV_2D", inputs,
                           [dict(shape=out_shape, dtype=dtype, scale=out_scale, zero_point=out_zp)],
                           ("DepthwiseConv2DOptions", opts))


@pytest.mark.parametrize("quant", list(QUANT))
@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
def test_depthwise_int8_quant(quant: str, per_channel: bool) -> None:
    _check(dw_model([1, 6, 5, 3], (3, 3), 2, quant=quant, per_channel=per_channel), quant)


@pytest.mark.parametrize("in_shape, k, dm, stride, dilation, padding, act", [
    ([1, 96, 96, 1], (3, 3), 8, (2, 2), (1, 1), VALID, RELU6),   # person_detect's first layer
    ([1, 49, 40, 1], (10, 8), 8, (2, 2), (1, 1), SAME, RELU),    # micro_speech's conv layer
    ([1, 9, 9, 8], (3, 3), 1, (2, 2), (1, 1), SAME, RELU6),      # MobileNet stride-2 block
    ([1, 1, 1, 1], (1, 1), 1, (1, 1), (1, 1), SAME, NONE),       # size 1
    ([2, 7, 5, 3], (3, 3), 3, (1, 2), (2, 1), SAME, NONE),       # dilation, multiplier 3
    ([1, 8, 9, 2], (2, 3), 2, (3, 2), (2, 2), VALID, RELU_N1),
    ([1, 3, 4, 5], (5, 5), 1, (1, 1), (1, 1), SAME, NONE),       # filter larger than the input
    # columns [N, H, 1, C] through KH x 1 (audio models' temporal convs; the row kernels take
    # them as one row): stride, dilation, SAME padding, channel blocks and tails
    ([1, 28, 1, 128], (5, 1), 1, (1, 1), (1, 1), VALID, RELU),
    ([2, 24, 1, 40], (10, 1), 1, (1, 1), (1, 1), VALID, NONE),
    ([1, 31, 1, 37], (3, 1), 1, (2, 1), (2, 1), SAME, RELU6),
    ([1, 17, 1, 8], (4, 1), 1, (3, 1), (1, 1), SAME, NONE),
    ([1, 2, 1, 33], (5, 1), 1, (1, 1), (1, 1), SAME, NONE),      # filter longer than the column
])
def test_depthwise_int8_geometry(in_shape, k, dm, stride, dilation, padding, act) -> None:
    check_model(dw_model(in_shape, k, dm, stride=stride, dilation=dilation, padding=padding, act=act))


@pytest.mark.parametrize("in_shape, k, dm, stride, dilation, padding", [
    ([2, 11, 9, 1], (3, 3), 1, (1, 1), (1, 1), SAME),
    ([1, 12, 10, 1], (5, 3), 3, (2, 1), (1, 2), SAME),
    ([1, 9, 13, 1], (3, 3), 17, (1, 2), (2, 1), VALID),
    ([2, 7, 7, 1], (4, 4), 33, (2, 2), (1, 1), SAME),
])
@pytest.mark.parametrize("quant", ["mid", "zp_extreme", MULT_GT_1])
@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
def test_depthwise_one_input_channel(in_shape, k, dm, stride, dilation, padding, quant, per_channel) -> None:
    """One input channel: packed as a conv of `dm` outputs (qs8_gemm_n16k4) on SIMD targets."""
    _check(dw_model(in_shape, k, dm, stride=stride, dilation=dilation, padding=padding, quant=quant,
                    per_channel=per_channel), quant)


@pytest.mark.parametrize("in_shape, k, dm, stride", [
    ([1, 96, 96, 1], (3, 3), 8, (2, 2)),   # person detection's first layer
    ([1, 49, 40, 1], (10, 8), 8, (2, 2)),  # micro_speech's
    ([2, 9, 23, 1], (3, 3), 12, (1, 1)),
    ([1, 8, 30, 1], (2, 5), 17, (1, 3)),   # stride 3: the gathering path
])
def test_depthwise_one_input_channel_layouts(in_shape, k, dm, stride) -> None:
    """The two packed layouts of a one-input-channel depthwise conv, bit-exact on every tier and
    thread count: the x86 kernels' tap-pair layout (output pixels in the vector lanes) and the
    GEMM layout Arm targets get (here built with layouts="packed" and run by the x86 GEMM
    kernels and the scalar twins)."""
    model = dw_model(in_shape, k, dm, stride=stride, padding=SAME, act=RELU6)
    rng = np.random.default_rng(7)
    x = random_inputs(model, rng)
    want = run_model(reference_interpreter, model, x)[0]
    tiers = pyedge.cpu.tiers_available()
    blobs = {"qs8_dwdm_pairs": pyedge.pack_tflite(model, target=tiers[-1], threads=3),
             "qs8_gemm_n16k4": pyedge.pack_tflite(model, target="scalar", layouts="packed", threads=3)}
    for layout, blob_bytes in blobs.items():
        for isa in tiers:
            for threads in (1, 3):
                it = pyedge.Interpreter(model_content=blob_bytes, isa=isa, num_threads=threads)
                it.allocate_tensors()
                variant = it.op_variants()[0]
                if tiers[-1] != "scalar":
                    assert variant.startswith("dwdm_row__" if layout == "qs8_dwdm_pairs" else "gemm_"), variant
                it.set_tensor(it.get_input_details()[0]["index"], x[0])
                it.invoke()
                got = it.get_tensor(it.get_output_details()[0]["index"])
                assert_bit_exact([got], want, context=f"{layout} on {isa} x{threads} ({variant})")


@pytest.mark.parametrize("option_multiplier", [0, 1, 5])
def test_depthwise_multiplier_option_is_ignored(option_multiplier: int) -> None:
    """TFLite derives the depth multiplier from the filter and input channels."""
    check_model(dw_model([1, 5, 5, 2], (3, 3), 3, option_multiplier=option_multiplier))


@pytest.mark.parametrize("dtype", ["int8", "int16"])
def test_depthwise_weights_zero_point_is_ignored(dtype: str) -> None:
    """TFLite accepts depthwise filter zero points and ignores them (per-channel kernel)."""
    check_model(dw_model([1, 5, 4, 2], (3, 3), 2, dtype=dtype, bias="int32" if dtype == "int8" else "int64",
                         weights_zp=9))


@pytest.mark.parametrize("quant", list(INT16_QUANT))
@pytest.mark.parametrize("act", [NONE, RELU6])
@pytest.mark.parametrize("dm", [1, 4])
def test_depthwise_int16x8(quant: str, act: int, dm: int) -> None:
    _check(dw_model([1, 7, 6, 2], (3, 3), dm, stride=(2, 2), dilation=(1, 1), act=act,
                    quant=quant, dtype="int16", bias="int64"), quant)


def test_depthwise_int16x8_dilation_per_tensor() -> None:
    check_model(dw_model([2, 9, 8, 3], (3, 2), 2, dilation=(2, 3), padding=VALID, dtype="int16",
                         bias="int64", per_channel=False))


@pytest.mark.parametrize("dtype", ["int8", "int16"])
def test_depthwise_without_bias(dtype: str) -> None:
    check_model(dw_model([1, 5, 6, 3], (3, 3), 2, dtype=dtype, bias=None))


# ----------------------------------------------------------------------------- FULLY_CONNECTED

def fc_model(in_shape, units, *, depth=None, keep_num_dims=False, act=NONE, quant="mid",
             per_channel=False, weights_zp=0, dtype="int8", bias="int32", seed=0,
             const_weights=True) -> bytes:
    """A FULLY_CONNECTED model; `depth` (weights dim 1) defaults to the input's last dim."""
    rng = np.random.default_rng(seed)
    depth = in_shape[-1] if depth is None else depth
    weights = _weights(rng, (units, depth), quant)
    w_scales = _scales(rng, units, per_channel)
    in_scale = 0.05 if dtype == "int8" else 0.0005
    if dtype == "int8":
        in_zp, out_zp, factor = QUANT[quant]
    else:
        in_zp, out_zp, factor = 0, 0, INT16_QUANT[quant]
    out_scale = _out_scale(in_scale, float(np.mean(w_scales)), depth, factor, dtype == "int16")
    wspec = dict(shape=[units, depth], dtype="int8", scale=w_scales, zero_point=weights_zp)
    if const_weights:
        wspec["data"] = weights
    inputs = [dict(shape=list(in_shape), dtype=dtype, scale=in_scale, zero_point=in_zp), wspec]
    inputs.append(None if bias is None else _bias(rng, units, depth, bias, [in_scale * s for s in w_scales],
                                                  quant))
    batches = int(np.prod(in_shape)) // depth
    out_shape = list(in_shape[:-1]) + [units] if keep_num_dims else [batches, units]
    return single_op_model("FULLY_CONNECTED", inputs,
                           [dict(shape=out_shape, dtype=dtype, scale=out_scale, zero_point=out_zp)],
                           ("FullyConnectedOptions", {"FusedActivationFunction": act,
                                                      "KeepNumDims": keep_num_dims}))


@pytest.mark.parametrize("quant", list(QUANT))
@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
def test_fc_int8_quant(quant: str, per_channel: bool) -> None:
    _check(fc_model([3, 17], 5, quant=quant, per_channel=per_channel), quant)


@pytest.mark.parametrize("weights_zp", [-128, 7, 127])
@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
@pytest.mark.parametrize("dtype", ["int8", "int16"])
def test_fc_weights_zero_point(weights_zp: int, per_channel: bool, dtype: str) -> None:
    """Per-tensor FC subtracts the weights zero point; the per-channel kernels ignore it."""
    check_model(fc_model([2, 9], 4, weights_zp=weights_zp, per_channel=per_channel, dtype=dtype,
                         bias="int32" if dtype == "int8" else "int64"))


@pytest.mark.parametrize("in_shape, units, depth, keep_num_dims", [
    ([1, 1], 1, None, False),
    ([1, 25, 20, 8], 4, 4000, False),  # micro_speech: rank-4 input read as [1, 4000]
    ([2, 3, 6], 5, None, False),       # read as 6 rows of depth 6
    ([2, 3, 6], 5, 9, False),          # read as 4 rows of depth 9 (crossing the input's rows)
    ([2, 3, 6], 5, None, True),        # keep_num_dims: output [2, 3, 5]
    ([1, 1, 128], 7, None, True),      # dtln's shape
    ([5, 1], 3, None, False),
    ([7, 33], 1, None, False),
])
def test_fc_int8_shapes(in_shape, units: int, depth, keep_num_dims: bool) -> None:
    check_model(fc_model(in_shape, units, depth=depth, keep_num_dims=keep_num_dims))


@pytest.mark.parametrize("act", [RELU, RELU6, RELU_N1])
@pytest.mark.parametrize("dtype", ["int8", "int16"])
def test_fc_activation(act: int, dtype: str) -> None:
    check_model(fc_model([3, 10], 6, act=act, dtype=dtype, bias="int32" if dtype == "int8" else "int64"))


@pytest.mark.parametrize("quant", list(INT16_QUANT))
@pytest.mark.parametrize("bias", ["int64", "int32"])
@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
def test_fc_int16x8(quant: str, bias: str, per_channel: bool) -> None:
    _check(fc_model([3, 13], 5, quant=quant, per_channel=per_channel, dtype="int16", bias=bias), quant)


@pytest.mark.parametrize("dtype", ["int8", "int16"])
@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
def test_fc_no_bias(dtype: str, per_channel: bool) -> None:
    check_model(fc_model([2, 3, 7], 4, bias=None, dtype=dtype, per_channel=per_channel))


def test_fc_runtime_weights() -> None:
    """Weights that are a graph input (not constant)."""
    check_model(fc_model([3, 8], 4, const_weights=False, bias=None))


def test_int32_accumulators_wrap_like_tflite() -> None:
    """Where TFLite accumulates in int32 (int8 ops; 16x8 FULLY_CONNECTED without an int64 bias;
    16x8 CONV_2D with an int32 bias) overflow wraps around, and pyedge wraps the same way."""
    depth, units = 3000, 3
    w = np.full((units, depth), 127, np.int8)
    w[1] = -127
    w[2, ::2] = 100
    x = np.full((2, depth), 32767, np.int16)
    x[1] = -32768
    for bias in (None, np.array([5, -7, 2**30], np.int32)):
        inputs = [dict(shape=[2, depth], dtype="int16", scale=0.001, zero_point=0),
                  dict(shape=[units, depth], dtype="int8", data=w, scale=0.01, zero_point=0),
                  None if bias is None else dict(shape=[units], dtype="int32", data=bias, scale=1e-5)]
        model = single_op_model("FULLY_CONNECTED", inputs,
                                [dict(shape=[2, units], dtype="int16", scale=30.0, zero_point=0)],
                                ("FullyConnectedOptions", {}))
        check_model(model, inputs=[x])
    # int8 conv: a bias next to the int32 limits overflows when added to the sum
    wc = np.full((2, 3, 3, 4), 127, np.int8)
    wc[1] = -127
    conv = single_op_model(
        "CONV_2D",
        [dict(shape=[1, 4, 4, 4], dtype="int8", scale=0.05, zero_point=0),
         dict(shape=[2, 3, 3, 4], dtype="int8", data=wc, scale=[0.01, 0.01], zero_point=0),
         dict(shape=[2], dtype="int32", data=np.array([2**31 - 1000, -(2**31) + 1000], np.int32),
              scale=[0.0005, 0.0005], zero_point=0)],
        [dict(shape=[1, 4, 4, 2], dtype="int8", scale=1e6, zero_point=0)],
        ("Conv2DOptions", {"Padding": SAME, "StrideH": 1, "StrideW": 1}))
    check_model(conv, inputs=[np.full((1, 4, 4, 4), 127, np.int8)])
    check_model(conv)


# ----------------------------------------------------------------------------- BATCH_MATMUL

BMM_QUANT = {"mid": ((-3, 5, 2), 1.0), "zp_extreme": ((-128, 127, -128), 1.0),
             MULT_GT_1: ((1, -1, 0), None), "coarse": ((0, 0, 0), 8.0)}


def bmm_model(lhs_shape, rhs_shape, *, adj_x=False, adj_y=False, dtype="int8", quant="mid",
              const_rhs=False, seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    (zl, zr, zo), factor = BMM_QUANT[quant]
    if dtype == "int16":
        zl = zr = zo = 0
    k = lhs_shape[-2] if adj_x else lhs_shape[-1]
    m = lhs_shape[-1] if adj_x else lhs_shape[-2]
    n = rhs_shape[-2] if adj_y else rhs_shape[-1]
    rank = max(len(lhs_shape), len(rhs_shape))
    lb = [1] * (rank - len(lhs_shape)) + list(lhs_shape[:-2])
    rb = [1] * (rank - len(rhs_shape)) + list(rhs_shape[:-2])
    out_shape = [max(a, b) for a, b in zip(lb, rb)] + [m, n]
    ls, rs = (0.05, 0.04) if dtype == "int8" else (0.0005, 0.0004)
    out_scale = _out_scale(ls, rs, k, factor, dtype == "int16", w_std=74.0 if dtype == "int8" else 18918.0)
    rspec = dict(shape=list(rhs_shape), dtype=dtype, scale=rs, zero_point=zr)
    if const_rhs:
        info = np.iinfo(dtype)
        lo, hi = (zr - 4, zr + 4) if quant == MULT_GT_1 else (info.min, info.max)
        rspec["data"] = rng.integers(max(lo, info.min), min(hi, info.max), size=rhs_shape,
                                     endpoint=True).astype(dtype)
    return single_op_model("BATCH_MATMUL",
                           [dict(shape=list(lhs_shape), dtype=dtype, scale=ls, zero_point=zl), rspec],
                           [dict(shape=out_shape, dtype=dtype, scale=out_scale, zero_point=zo)],
                           ("BatchMatMulOptions", {"AdjX": adj_x, "AdjY": adj_y}))


def _mat(shape_batch, rows, cols, adj):
    return list(shape_batch) + ([cols, rows] if adj else [rows, cols])


def _bmm_cases() -> list:
    """(adj_x, adj_y, lhs batch dims, rhs batch dims) over ranks 2..5 and broadcasts, without the
    adj_x case TFLite gets wrong (see test_batch_matmul_rejects_tflite_bug_case)."""
    batch_dims = [
        ([], []),                  # plain 2-D
        ([3], [3]),
        ([2, 3], [3]),             # rhs broadcast over the leading dim
        ([1, 3], [2, 1]),          # both broadcast
        ([2], []),                 # rank 3 x rank 2
        ([], [4]),                 # rank 2 x rank 3
        ([2, 1, 3], [1, 2, 1]),    # rank 5
        ([2, 1, 3], [1, 2, 3]),    # rank 5, no size-1 rhs dim -3 (so also run with adj_x)
    ]
    cases = []
    for adj_x in (False, True):
        for adj_y in (False, True):
            for lb, rb in batch_dims:
                if adj_x and lb and rb and rb[-1] == 1:
                    continue
                cases.append(pytest.param(adj_x, adj_y, lb, rb, id=f"x{int(adj_x)}y{int(adj_y)}-{lb}-{rb}"))
    return cases


@pytest.mark.parametrize("adj_x, adj_y, lb, rb", _bmm_cases())
@pytest.mark.parametrize("dtype", ["int8", "int16"])
def test_batch_matmul_broadcast(adj_x: bool, adj_y: bool, lb, rb, dtype: str) -> None:
    m, k, n = 3, 5, 4
    check_model(bmm_model(_mat(lb, m, k, adj_x), _mat(rb, k, n, adj_y), adj_x=adj_x, adj_y=adj_y,
                          dtype=dtype))


@pytest.mark.parametrize("quant", list(BMM_QUANT))
@pytest.mark.parametrize("const_rhs", [False, True], ids=["runtime_rhs", "const_rhs"])
def test_batch_matmul_int8_quant(quant: str, const_rhs: bool) -> None:
    _check(bmm_model([2, 3, 7], [2, 7, 5], quant=quant, const_rhs=const_rhs), quant)


@pytest.mark.parametrize("quant", list(INT16_QUANT))
@pytest.mark.parametrize("adj_y", [False, True])
@pytest.mark.parametrize("const_rhs", [False, True], ids=["runtime_rhs", "const_rhs"])
def test_batch_matmul_int16(quant: str, adj_y: bool, const_rhs: bool) -> None:
    _check(bmm_model([2, 1, 4, 6], [3, 5, 6] if adj_y else [3, 6, 5], adj_y=adj_y, dtype="int16",
                     quant=quant, const_rhs=const_rhs), quant)


@pytest.mark.parametrize("lhs_shape, rhs_shape", [
    ([9, 33], [33, 17]),            # rank 2, tiles of 16 channels and 4-deep K broken
    ([2, 3, 5, 20], [20, 40]),      # lhs batch dims over one rhs matrix
    ([1, 64], [1, 64, 48]),         # one row (the bandwidth-bound case), rhs with a batch dim of 1
])
@pytest.mark.parametrize("adj_y", [False, True])
@pytest.mark.parametrize("quant", list(BMM_QUANT))
def test_batch_matmul_const_rhs_as_fully_connected(lhs_shape, rhs_shape, adj_y: bool, quant: str) -> None:
    """One constant int8 rhs for every batch lowers to FULLY_CONNECTED (its packed GEMM layout and
    SIMD kernels when the rhs zero point is 0); rhs zero points other than 0 take its scalar path."""
    if adj_y:
        rhs_shape = rhs_shape[:-2] + [rhs_shape[-1], rhs_shape[-2]]
    model = bmm_model(lhs_shape, rhs_shape, adj_y=adj_y, quant=quant, const_rhs=True, seed=len(lhs_shape))
    ops = inspect_model(model)["ops"]
    assert [(op["tflite_op"], op["pe_op"]) for op in ops] == [("BATCH_MATMUL", "FULLY_CONNECTED")]
    # MACs are the matmul's whatever it lowers to
    assert ops[0]["macs"] == int(np.prod(lhs_shape)) * rhs_shape[-2 if adj_y else -1]
    _check(model, quant)


@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (1, 9, 1), (7, 1, 3)])
def test_batch_matmul_small(m: int, k: int, n: int) -> None:
    check_model(bmm_model([m, k], [k, n]))


# ----------------------------------------------------------------------------- scale arithmetic

# Scales whose requantization multiplier depends on TFLite's arithmetic: in double,
# 0.0005 * 0.01498679 / 2.997358e-06 = 2.50000006 (multiplier 1342177314), but with the first
# product rounded to float32 it is exactly 2.5 (1342177280). Small weights and inputs near the
# zero point then make many accumulators land on the .5 ties where the two differ.
TIE_SCALES = (0.0005, 0.01498679, 2.997358e-06)


def _tie_model(op: str, dtype: str, per_channel: bool) -> bytes:
    rng = np.random.default_rng(4)
    in_scale, w_scale, out_scale = TIE_SCALES
    zp = 0 if dtype == "int16" else -5
    out = dict(dtype=dtype, scale=out_scale, zero_point=0 if dtype == "int16" else 3)
    bias_type = "int32" if dtype == "int8" else "int64"
    if op == "BATCH_MATMUL":
        return single_op_model(op, [dict(shape=[2, 5, 6], dtype=dtype, scale=in_scale, zero_point=zp),
                                    dict(shape=[2, 6, 3], dtype=dtype, scale=w_scale, zero_point=0)],
                               [dict(shape=[2, 5, 3], **out)], ("BatchMatMulOptions", {}))
    shape, in_shape, out_shape, n, options = {
        "CONV_2D": ([4, 3, 3, 3], [1, 4, 4, 3], [1, 4, 4, 4], 4,
                    ("Conv2DOptions", {"Padding": SAME, "StrideH": 1, "StrideW": 1})),
        "DEPTHWISE_CONV_2D": ([1, 3, 3, 4], [1, 4, 4, 2], [1, 4, 4, 4], 4,
                              ("DepthwiseConv2DOptions", {"Padding": SAME, "StrideH": 1, "StrideW": 1,
                                                          "DepthMultiplier": 2})),
        "FULLY_CONNECTED": ([4, 7], [6, 7], [6, 4], 4, ("FullyConnectedOptions", {})),
    }[op]
    w_scales = [w_scale] * (n if per_channel else 1)
    qdim = 3 if op == "DEPTHWISE_CONV_2D" else 0
    bias = rng.integers(-8, 9, size=n).astype(bias_type)
    return single_op_model(op, [
        dict(shape=in_shape, dtype=dtype, scale=in_scale, zero_point=zp),
        dict(shape=shape, dtype="int8", data=_weights(rng, tuple(shape), MULT_GT_1), scale=w_scales,
             zero_point=0, quantized_dimension=qdim),
        dict(shape=[n], dtype=bias_type, data=bias, scale=[in_scale * w_scale] * len(w_scales), zero_point=0),
    ], [dict(shape=out_shape, **out)], options)


@pytest.mark.parametrize("op, per_channel", [
    ("CONV_2D", False), ("CONV_2D", True),                  # double (per-channel code path)
    ("DEPTHWISE_CONV_2D", False), ("DEPTHWISE_CONV_2D", True),
    ("FULLY_CONNECTED", False),                              # float32 product
    ("FULLY_CONNECTED", True),                               # double
    ("BATCH_MATMUL", False),                                 # float32 product
])
@pytest.mark.parametrize("dtype", ["int8", "int16"])
def test_multiplier_arithmetic_matches_tflite(op: str, per_channel: bool, dtype: str) -> None:
    _check(_tie_model(op, dtype, per_channel), MULT_GT_1)


# ----------------------------------------------------------------------------- rejected variants

def _float_conv() -> bytes:
    w = np.ones((2, 3, 3, 1), np.float32)
    return single_op_model("CONV_2D", [dict(shape=[1, 4, 4, 1], dtype="float32"),
                                       dict(shape=None, dtype="float32", data=w),
                                       dict(shape=None, dtype="float32", data=np.zeros(2, np.float32))],
                           [dict(shape=[1, 4, 4, 2], dtype="float32")],
                           ("Conv2DOptions", {"Padding": SAME, "StrideH": 1, "StrideW": 1}))


def _hybrid_fc() -> bytes:
    w = np.ones((2, 3), np.int8)
    return single_op_model("FULLY_CONNECTED", [dict(shape=[1, 3], dtype="float32"),
                                               dict(shape=None, dtype="int8", data=w, scale=0.1),
                                               None],
                           [dict(shape=[1, 2], dtype="float32")], ("FullyConnectedOptions", {}))


def _tanh_conv() -> bytes:
    return conv_model([1, 4, 4, 2], 2, (3, 3), options={"FusedActivationFunction": A.TANH})


def _bmm_int32_out() -> bytes:
    return single_op_model("BATCH_MATMUL", [dict(shape=[2, 3], dtype="int8", scale=0.1),
                                            dict(shape=[3, 4], dtype="int8", scale=0.1)],
                           [dict(shape=[2, 4], dtype="int32")], ("BatchMatMulOptions", {}))


def _shuffled_fc() -> bytes:
    w = np.ones((4, 16), np.int8)
    return single_op_model("FULLY_CONNECTED", [dict(shape=[1, 16], dtype="int8", scale=0.1),
                                               dict(shape=None, dtype="int8", data=w, scale=0.1),
                                               None],
                           [dict(shape=[1, 4], dtype="int8", scale=0.2)],
                           ("FullyConnectedOptions", {"WeightsFormat": 1}))


def _int4_conv() -> bytes:
    """int4 weights run with int8 activations only (tests/test_int4.py)."""
    w = bytes(2 * 3 * 3 * 2 // 2)
    return single_op_model("CONV_2D", [dict(shape=[1, 4, 4, 2], dtype="int16", scale=0.1),
                                       dict(shape=[2, 3, 3, 2], dtype="int4", data=w, scale=[0.1, 0.1]),
                                       dict(shape=None, dtype="int64", data=np.zeros(2, np.int64),
                                            scale=[0.01, 0.01])],
                           [dict(shape=[1, 4, 4, 2], dtype="int16", scale=0.2)],
                           ("Conv2DOptions", {"Padding": SAME, "StrideH": 1, "StrideW": 1}))


@pytest.mark.parametrize("make, reason", [
    (_tanh_conv, "fused activation TANH"),
    (_bmm_int32_out, r"int32 \(unrequantized\) output"),
    (_shuffled_fc, "SHUFFLED4x16INT8"),
    (_int4_conv, "int4 filter with INT16 activations"),
    (lambda: dw_model([1, 5, 5, 2], (3, 3), 2, dtype="int16", bias="int32"), "bias type INT32"),
    (lambda: conv_model([1, 5, 5, 2], 3, (3, 3), out_shape=[1, 5, 4, 3]), "differs from the shape TFLite"),
    (lambda: bmm_model([2, 4, 3], [1, 4, 5], adj_x=True), "adj_x with a size-1"),
])
def test_unsupported_variants_raise_at_load(make, reason: str) -> None:
    with pytest.raises(pyedge.UnsupportedOpError, match=reason):
        pyedge.Interpreter(model_content=make())


@pytest.mark.parametrize("make", [_float_conv, _hybrid_fc], ids=["float32", "hybrid"])
def test_float_and_hybrid_variants_run(make) -> None:
    """float32 and hybrid (float input, int8 weights) convs and FCs run as TFLite's
    (native/kernels/hybrid.h; swept in tests/test_hybrid.py)."""
    check_model(make())


def test_batch_matmul_rejects_tflite_bug_case() -> None:
    """TFLite 2.14 folds lhs batch dims into rows when the rhs dim -3 is 1, which is wrong under
    adj_x: its kernel then writes only the first output matrix and leaves the others holding
    whatever the memory held (here: unchanged across invokes with new inputs), so there is no
    reference to match and pyedge refuses the model."""
    adj = bmm_model([2, 4, 3], [1, 4, 5], adj_x=True)
    plain = bmm_model([2, 3, 4], [1, 4, 5])
    steps = [random_inputs(adj, np.random.default_rng(seed)) for seed in (0, 1)]
    stale = run_model(reference_interpreter, adj, steps, invokes=2)
    transposed = [[np.ascontiguousarray(np.swapaxes(lhs, 1, 2)), rhs] for lhs, rhs in steps]
    correct = run_model(reference_interpreter, plain, transposed, invokes=2)
    assert not np.array_equal(correct[0][0][1], correct[1][0][1])
    assert np.array_equal(stale[0][0][1], stale[1][0][1])
    with pytest.raises(pyedge.UnsupportedOpError, match="adj_x"):
        pyedge.Interpreter(model_content=adj)


# ----------------------------------------------------------------------------- hostile blobs

def _tamper(model: bytes, ctype: str | None = None, input_k: int | None = None, value: int = 0,
            **fields: int) -> bytes:
    """Pack `model`, then overwrite fields of its first op's params struct (`ctype`) or element 0
    of its constant input `input_k`, and reseal the checksum: only the kernel's check can object."""
    b = bytearray(pack_tflite(model))
    info = blob.read_blob(bytes(b))
    op = blob.OP.unpack_from(b, info.sections[blob.SEC_OPS][0])
    for name, v in fields.items():
        struct.pack_into("<i", b, info.sections[blob.SEC_PARAMS][0] + op[5] + ffi.offsetof(ctype, name), v)
    if input_k is not None:
        t = info.tensors[info.ops[0]["inputs"][input_k]]
        assert t["storage"] == blob.STORE_CONST
        struct.pack_into("<i", b, info.sections[blob.SEC_CONST][0] + t["offset"], value)
    struct.pack_into("<I", b, blob.CHECKSUM_OFFSET, 0)
    struct.pack_into("<I", b, blob.CHECKSUM_OFFSET, zlib.crc32(bytes(b)) & 0xFFFFFFFF)
    return bytes(b)


_CONV = conv_model([1, 5, 5, 2], 3, (3, 3), dtype="int8")
_CONV16 = conv_model([1, 5, 5, 2], 3, (3, 3), dtype="int16", bias="int64")
_DW = dw_model([1, 5, 5, 2], (3, 3), 2)
_FC = fc_model([2, 6], 3)
_BMM = bmm_model([2, 3, 4], [2, 4, 5])


@pytest.mark.parametrize("make, status", [
    (lambda: _tamper(_CONV, "pe_conv_params", stride_h=0), "PE_ERR_BAD_PARAMS"),
    (lambda: _tamper(_CONV, "pe_conv_params", dilation_w=-2), "PE_ERR_BAD_PARAMS"),
    (lambda: _tamper(_CONV, "pe_conv_params", pad_w=-1), "PE_ERR_BAD_PARAMS"),
    (lambda: _tamper(_CONV, "pe_conv_params", dilation_h=1 << 30), "PE_ERR_BAD_PARAMS"),
    (lambda: _tamper(_CONV, "pe_conv_params", act_min=10, act_max=5), "PE_ERR_BAD_PARAMS"),
    (lambda: _tamper(_CONV, "pe_conv_params", act_max=300), "PE_ERR_BAD_PARAMS"),
    (lambda: _tamper(_CONV, "pe_conv_params", input_offset=1000), "PE_ERR_BAD_PARAMS"),
    (lambda: _tamper(_CONV16, "pe_conv_params", output_offset=3), "PE_ERR_BAD_PARAMS"),
    (lambda: _tamper(_CONV, input_k=4, value=31), "PE_ERR_BAD_PARAMS"),    # shift
    (lambda: _tamper(_CONV16, input_k=4, value=15), "PE_ERR_BAD_PARAMS"),  # 64-bit shift
    (lambda: _tamper(_CONV, input_k=3, value=-5), "PE_ERR_BAD_PARAMS"),    # multiplier
    (lambda: _tamper(_DW, "pe_conv_params", depth_multiplier=3), "PE_ERR_SHAPE"),
    (lambda: _tamper(_DW, "pe_conv_params", depth_multiplier=0), "PE_ERR_BAD_PARAMS"),
    (lambda: _tamper(_FC, "pe_fc_params", filter_offset=500), "PE_ERR_BAD_PARAMS"),
    (lambda: _tamper(_FC, input_k=4, value=-32), "PE_ERR_BAD_PARAMS"),
    (lambda: _tamper(_BMM, "pe_batch_matmul_params", adj_x=2), "PE_ERR_BAD_PARAMS"),
    (lambda: _tamper(_BMM, "pe_batch_matmul_params", adj_y=1), "PE_ERR_SHAPE"),
    (lambda: _tamper(_BMM, "pe_batch_matmul_params", output_shift=40), "PE_ERR_BAD_PARAMS"),
])
def test_hostile_params_are_rejected_at_load(make, status: str) -> None:
    with pytest.raises(pyedge.BlobError) as e:
        pyedge.Interpreter(model_content=make())
    assert e.value.status == status


def test_untampered_blob_loads() -> None:
    """The tampering helper itself leaves a valid blob when it changes nothing."""
    for model in (_CONV, _CONV16, _DW, _FC, _BMM):
        pyedge.Interpreter(model_content=_tamper(model))

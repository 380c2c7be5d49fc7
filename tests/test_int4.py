"""INT4 weights (TFLite's TensorType INT4: two values per byte, low nibble first): reading and
writing .tflite, what TFLite 2.14's reference kernels run, the quantizer's int4 weights and the
C kernels that read the packed nibbles."""
from __future__ import annotations

import numpy as np
import pytest
import tflite

from pyedge import tflite_reader, tflite_writer
from pyedge.errors import ModelError
from pyedge.graph import INT4, pack_int4, unpack_int4
from oracle import random_inputs, reference_interpreter, run_model
from tflite_builder import single_op_model
import test_ops_conv as ops


def as_int4(model: bytes, clip: bool = True) -> tuple[bytes, bytes]:
    """(int8 model, the same model with its op-0 weights as INT4), weights clipped to [-8, 7]."""
    g = tflite_reader.read_tflite(model)
    sg = g.subgraphs[0]
    w = sg.tensors[sg.operators[0].inputs[1]]
    if clip:
        w.data = np.clip(w.data, -8, 7).astype(np.int8)
    int8 = tflite_writer.write_tflite(g)
    w.type_code = INT4
    return int8, tflite_writer.write_tflite(g)


def _weight_buffer(model: bytes) -> bytes:
    m = tflite.Model.GetRootAs(model, 0)
    sg = m.Subgraphs(0)
    t = sg.Tensors(sg.Operators(0).Inputs(1))
    assert t.Type() == tflite.TensorType.INT4
    return m.Buffers(t.Buffer()).DataAsNumpy().tobytes()


# ----------------------------------------------------------------------------- packing, reader, writer

def test_pack_low_nibble_first() -> None:
    # PackInt8IntoDenseInt4: byte i = (v[2i] & 15) | (v[2i+1] << 4); an odd tail leaves the high nibble 0
    assert pack_int4(np.array([1, -1, -8, 7, 3], np.int8)) == bytes([0xF1, 0x78, 0x03])
    assert unpack_int4(np.frombuffer(bytes([0xF1, 0x78, 0x03]), np.uint8), 5).tolist() == [1, -1, -8, 7, 3]
    v = np.arange(-8, 8, dtype=np.int8).repeat(3)[:-1]
    assert np.array_equal(unpack_int4(np.frombuffer(pack_int4(v), np.uint8), v.size), v)
    with pytest.raises(ValueError, match=r"\[-8, 7\]"):
        pack_int4(np.array([8], np.int8))


def test_read_write_round_trip_odd_count() -> None:
    int8, int4 = as_int4(ops.conv_model((1, 5, 5, 3), 5, (3, 3)))  # 135 weights: odd
    w8 = tflite_reader.read_tflite(int8).subgraphs[0].tensors[1].data
    raw = _weight_buffer(int4)
    assert len(raw) == 68 and raw == pack_int4(w8)
    g = tflite_reader.read_tflite(int4)
    w = g.subgraphs[0].tensors[1]
    assert w.type_code == INT4 and w.data.dtype == np.int8 and w.data.shape == (5, 3, 3, 3)
    assert np.array_equal(w.data, w8)
    assert tflite_writer.write_tflite(g) == int4


def test_reader_refuses_wrong_int4_buffer_size() -> None:
    def fc(raw: bytes) -> bytes:
        return single_op_model("FULLY_CONNECTED", [
            dict(shape=[2, 4], dtype="int8", scale=0.1, zero_point=0),
            dict(shape=[4, 4], dtype="int4", data=raw, scale=0.1, zero_point=0)],
            [dict(shape=[2, 4], dtype="int8", scale=0.5, zero_point=0)],
            ("FullyConnectedOptions", {}))
    assert tflite_reader.read_tflite(fc(bytes(8))).subgraphs[0].tensors[1].data.shape == (4, 4)
    with pytest.raises(ModelError, match=r"tensor 1 .*INT4 \(two values per byte\) needs 8"):
        tflite_reader.read_tflite(fc(bytes(16)))  # the bytes of int8 weights, declared INT4


# ----------------------------------------------------------------------------- what TFLite 2.14 runs

ORACLE_CASES = {
    "conv_3x3": (lambda: ops.conv_model((1, 5, 5, 3), 5, (3, 3)), True),
    "conv_1x1_per_tensor": (lambda: ops.conv_model((1, 4, 4, 7), 9, (1, 1), per_channel=False), True),
    "depthwise": (lambda: ops.dw_model((1, 5, 5, 3), (3, 3)), True),
    "depthwise_multiplier_2": (lambda: ops.dw_model((1, 5, 5, 3), (3, 3), 2), True),
    "fc_per_tensor": (lambda: ops.fc_model((2, 7), 5), True),
    # refused at prepare (fully_connected.cc: filter->type == kTfLiteInt8)
    "fc_per_channel": (lambda: ops.fc_model((2, 7), 5, per_channel=True), None),
    # 16x8 runs, but reads the packed bytes as int8: not the int8-weight result
    "conv_int16x8": (lambda: ops.conv_model((1, 5, 5, 3), 5, (3, 3), dtype="int16", bias="int64"), False),
    "depthwise_int16x8": (lambda: ops.dw_model((1, 5, 5, 3), (3, 3), dtype="int16", bias="int64"), False),
    "fc_int16x8": (lambda: ops.fc_model((2, 7), 5, dtype="int16", bias="int64"), False),
}


@pytest.mark.parametrize("case", list(ORACLE_CASES))
def test_what_tflite_reference_runs_with_int4(case: str) -> None:
    """docs/oracles.md's int4 rows: where BUILTIN_REF runs int4 weights, its result equals the
    int8 model's with the same values (the oracle for pyedge's int4 kernels)."""
    make, expect = ORACLE_CASES[case]
    int8, int4 = as_int4(make())
    x = [random_inputs(int8, np.random.default_rng(s)) for s in (0, 1)]
    if expect is None:
        with pytest.raises(RuntimeError, match="kTfLiteInt8"):
            run_model(reference_interpreter, int4, x, invokes=2)
        return
    a = run_model(reference_interpreter, int8, x, invokes=2)
    b = run_model(reference_interpreter, int4, x, invokes=2)
    same = all(np.array_equal(p, q) for ra, rb in zip(a, b) for p, q in zip(ra, rb))
    assert same == expect


# ----------------------------------------------------------------------------- the quantizer's int4 weights

import functools  # noqa: E402

from pyedge.quantize import QuantizationError, calibrate  # noqa: E402
from pyedge.quantize import int4 as q4  # noqa: E402
from pyedge.quantize.report import compare  # noqa: E402
from quantize_models import digits_calibration, digits_held_out, float_model  # noqa: E402


@functools.cache
def _digits_calibration():
    return calibrate(float_model("digits_cnn_float"), digits_calibration(), show_progress=False)


@functools.cache
def digits_int4() -> bytes:
    return _digits_calibration().quantize(weights="int4")


def _weighted(model: bytes):
    sg = tflite_reader.read_tflite(model).subgraphs[0]
    return [(op, sg.tensors[op.inputs[1]], sg.tensors[op.inputs[2]] if len(op.inputs) > 2 else None, sg)
            for op in sg.operators if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")]


def test_int4_weights_follow_the_spec() -> None:
    ops = _weighted(digits_int4())
    assert [op.opcode for op, *_ in ops] == ["CONV_2D", "CONV_2D", "FULLY_CONNECTED"]
    for op, w, b, sg in ops:
        assert w.type_code == INT4 and w.data.min() >= -8 and w.data.max() <= 7
        assert len(w.scales) == w.shape[0] and not np.any(w.zero_points) and w.quantized_dimension == 0
        assert len(np.unique(w.data)) > 8, "the range search leaves the levels in use"
        x = sg.tensors[op.inputs[0]]
        assert b.type_code == 2 and np.allclose(b.scales, np.float32(x.scale) * w.scales.astype(np.float64),
                                                rtol=1e-6)


def test_mse_range_search_beats_min_max() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_t(4, size=(16, 3, 3, 8)).astype(np.float32)  # heavy tails, as trained weights
    q, s = q4.quantize_weights(w, 0)
    err = np.sum((w - q * s[:, None, None, None]) ** 2)
    s_mm = np.abs(w).reshape(16, -1).max(axis=1) / 7
    q_mm = np.clip(np.round(w / s_mm[:, None, None, None]), -8, 7)
    err_mm = np.sum((w - q_mm * s_mm[:, None, None, None]) ** 2)
    assert err < 0.85 * err_mm


def test_gptq_reduces_the_layer_output_error() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(512, 24)) @ rng.normal(size=(24, 24))  # correlated inputs
    w = rng.normal(size=(10, 24))
    b = rng.normal(size=10)
    xa = np.concatenate([x, np.ones((512, 1))], axis=1)
    h = xa.T @ xa
    q0, s = q4.quantize_weights(w, 0)
    q1, s1, b1 = q4.quantize_weights_gptq(w, 0, b, h, "FULLY_CONNECTED")
    assert q1.min() >= -8 and q1.max() <= 7
    ref = x @ w.T + b
    e0 = np.sum((x @ (q0 * s[:, None]).T + b - ref) ** 2)
    e1 = np.sum((x @ (q1 * s1[:, None]).T + b1 - ref) ** 2)
    assert e1 < 0.6 * e0


def test_sequential_target_fits_the_float_output_on_quantized_inputs() -> None:
    from pyedge.quantize.int4_seq import SequentialStats, target_weights

    rng = np.random.default_rng(2)
    xf = rng.normal(size=(400, 12)) @ rng.normal(size=(12, 12))
    xq = np.round(xf * 2) / 2 + 0.1  # coarse inputs, shifted as clipped/rounded activations are
    w, b = rng.normal(size=(6, 12)), rng.normal(size=6)
    af, aq = (np.concatenate([x, np.ones((400, 1))], axis=1) for x in (xf, xq))
    st = SequentialStats(aq.T @ aq, aq.T @ af)
    ref = xf @ w.T + b
    err = {"float": np.sum((xq @ w.T + b - ref) ** 2)}
    for mode in ("full", "bias"):
        tw, tb = target_weights("FULLY_CONNECTED", w, b, st, mode)
        err[mode] = np.sum((xq @ tw.T + tb - ref) ** 2)
    assert err["full"] < err["bias"] < err["float"] and err["full"] < 0.6 * err["float"], err
    with pytest.raises(ValueError, match="sequential mode"):
        target_weights("FULLY_CONNECTED", w, b, st, "partial")


def test_sequential_gptq_fits_the_calibration_data_better() -> None:
    """Sequential GPTQ against plain GPTQ, output SQNR on the calibration samples (the data both
    fit; measured: 45.5 dB plain, 48.9 dB "full", 46.9 dB "bias", 48.8 dB int8). On held-out
    digits it is the other way round (docs/quantize.md)."""
    import dataclasses

    raw, xs = float_model("digits_cnn_float"), digits_calibration()
    plain = _digits_calibration()
    assert plain.sequential is None
    seqs = [dataclasses.replace(plain, sequential=m, _sequential={}) for m in ("full", "bias")]
    db = [compare(raw, c.quantize(weights="int4"), xs, show_progress=False)["outputs"][0]["sqnr_db"]
          for c in (plain, *seqs)]
    assert db[1] > db[0] + 2.0 and db[2] > db[0] + 0.7, db


def test_per_op_weights_dict() -> None:
    cal = _digits_calibration()
    fc = next(op.index for op in cal.graph.subgraphs[0].operators if op.opcode == "FULLY_CONNECTED")
    types = [w.type_code for _, w, _, _ in _weighted(cal.quantize(weights={fc: "int4"}))]
    assert types == [9, 9, INT4]
    types = [w.type_code for _, w, _, _ in _weighted(cal.quantize(weights={fc: "int8"}))]
    assert types == [9, 9, 9]


@pytest.mark.parametrize("weights, match", [
    ("int2", "unknown weight type 'int2'"),
    ({0: "int3"}, "unknown weight type 'int3'"),
    ({99: "int4"}, "operator 99, which is not a CONV_2D"),
    (["int4"], "weights must be"),
])
def test_bad_weights_argument(weights, match: str) -> None:
    with pytest.raises(QuantizationError, match=match):
        _digits_calibration().quantize(weights=weights)


def test_int4_with_int16_activations_is_refused() -> None:
    with pytest.raises(QuantizationError, match="int4 weights need int8 activations"):
        _digits_calibration().quantize(activations="int16", weights="int4")


def test_int4_digits_accuracy_and_sqnr() -> None:
    """Floors a little under what was measured (35.9 dB, accuracy 0.989; docs/quantize.md)."""
    xs, ys = digits_held_out()
    r = compare(float_model("digits_cnn_float"), digits_int4(), xs, labels=ys, show_progress=False)
    assert r["outputs"][0]["sqnr_db"] >= 34.0
    assert r["quant_accuracy"] >= r["float_accuracy"] - 0.01


# ----------------------------------------------------------------------------- the C kernels, single ops

import pyedge  # noqa: E402
from optest import check_model, kernel_paths, interpreter_factory  # noqa: E402
from oracle import assert_bit_exact  # noqa: E402
from test_ops_conv import NONE, QUANT, RELU6, VALID  # noqa: E402


def int8_twin_oracle(model_content: bytes, **kw):
    """TFLite's reference kernels on the model's INT8 twin (the same weight values): the oracle
    where BUILTIN_REF refuses int4 weights (per-channel FULLY_CONNECTED; docs/oracles.md)."""
    return reference_interpreter(q4.int8_twin(model_content), **kw)


def to_int4(model: bytes, factor: int = 18) -> bytes:
    """The op-0 weights of an int8 model divided by `factor` into [-8, 7] (scales times `factor`,
    so the output range stays what the model was built for), as INT4."""
    g = tflite_reader.read_tflite(model)
    sg = g.subgraphs[0]
    w = sg.tensors[sg.operators[0].inputs[1]]
    w.data = np.clip(np.round(w.data / factor), -8, 7).astype(np.int8)
    w.scales = (w.scales * factor).astype(np.float32)
    w.type_code = INT4
    op = sg.operators[0]
    if len(op.inputs) > 2 and op.inputs[2] >= 0:  # TFLite checks bias scale = input x weight scale
        b = sg.tensors[op.inputs[2]]
        b.scales = (b.scales * factor).astype(np.float32)
    return tflite_writer.write_tflite(g)


CONV_CASES = [
    # in_shape, out_c, k, stride, dilation, padding
    ((1, 6, 6, 3), 5, (3, 3), (1, 1), (1, 1), 0),       # K = 27: a lone last k-group
    ((2, 5, 7, 20), 33, (1, 1), (1, 1), (1, 1), 0),     # 1x1 read directly, K = 20
    ((1, 9, 9, 8), 17, (3, 3), (2, 2), (1, 1), 0),      # K = 72
    ((1, 8, 8, 5), 16, (3, 3), (1, 2), (2, 1), VALID),  # dilation, VALID
    ((1, 7, 7, 16), 129, (1, 1), (2, 2), (1, 1), 0),    # strided 1x1 through the panel
    ((1, 4, 4, 31), 7, (2, 2), (1, 1), (1, 1), 0),      # K = 124
]


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
@pytest.mark.parametrize("quant", ["mid", "zp_extreme", "zp_extreme_rev"])
def test_conv_int4_against_tflite(case: int, quant: str) -> None:
    in_shape, out_c, k, stride, dilation, padding = CONV_CASES[case]
    m = ops.conv_model(in_shape, out_c, k, stride=stride, dilation=dilation, padding=padding, quant=quant,
                       act=RELU6 if case % 2 else NONE, seed=case)
    check_model(to_int4(m), seeds=(0, 1), context=f"conv int4 {CONV_CASES[case]} {quant}")


def test_conv_int4_per_tensor_and_without_bias() -> None:
    check_model(to_int4(ops.conv_model((1, 5, 5, 6), 9, (3, 3), per_channel=False)), seeds=(0,))
    # BUILTIN_REF's per-channel conv needs a bias (conv.cc: has_bias); no bias runs as zero bias
    no_bias = to_int4(ops.conv_model((1, 5, 5, 6), 9, (3, 3), bias=None))
    zeros = to_int4(ops.conv_model((1, 5, 5, 6), 9, (3, 3), bias="zeros"))
    x = random_inputs(zeros, np.random.default_rng(0))
    want = check_model(zeros, inputs=x)[0]
    for label, kw in kernel_paths():
        assert_bit_exact(run_model(interpreter_factory(**kw), no_bias, x)[0], want, context=label)


DW_CASES = [
    # in_shape, k, multiplier, stride, dilation
    ((1, 6, 6, 3), (3, 3), 1, (1, 1), (1, 1)),
    ((1, 9, 9, 70), (3, 3), 1, (2, 2), (1, 1)),   # channels past one 64-accumulator chunk
    ((2, 5, 5, 4), (5, 5), 2, (1, 1), (1, 1)),
    ((1, 8, 7, 3), (3, 3), 3, (1, 2), (2, 1)),
    ((1, 7, 7, 1), (3, 3), 8, (1, 1), (1, 1)),    # one input channel: the int4 GEMM
    ((1, 10, 8, 1), (5, 3), 17, (2, 1), (1, 1)),
]


@pytest.mark.parametrize("case", range(len(DW_CASES)))
@pytest.mark.parametrize("quant", ["mid", "zp_extreme"])
def test_depthwise_int4_against_tflite(case: int, quant: str) -> None:
    in_shape, k, dm, stride, dilation = DW_CASES[case]
    m = ops.dw_model(in_shape, k, dm, stride=stride, dilation=dilation, quant=quant, seed=case,
                     act=RELU6 if case % 2 else NONE)
    check_model(to_int4(m, factor=16), seeds=(0, 1), context=f"depthwise int4 {DW_CASES[case]} {quant}")


FC_CASES = [((1, 13), 17), ((3, 64), 16), ((5, 20), 33), ((2, 3, 12), 129), ((9, 1000), 7)]


@pytest.mark.parametrize("case", range(len(FC_CASES)))
@pytest.mark.parametrize("per_channel", [False, True], ids=["per_tensor", "per_channel"])
def test_fully_connected_int4(case: int, per_channel: bool) -> None:
    """Per tensor against BUILTIN_REF itself; per channel (which it refuses) against its INT8 twin."""
    in_shape, units = FC_CASES[case]
    m = to_int4(ops.fc_model(in_shape, units, per_channel=per_channel, quant=list(QUANT)[case % 3], seed=case))
    check_model(m, seeds=(0, 1), context=f"fc int4 {FC_CASES[case]}",
                oracle=int8_twin_oracle if per_channel else reference_interpreter)


def test_int4_variants_and_layouts() -> None:
    m = to_int4(ops.conv_model((1, 6, 6, 8), 16, (3, 3)))
    tiers = pyedge.cpu.tiers_available()
    want = {"scalar": "gemm4_1x16c8__scalar", "avx2": "gemm4_4x16c8__avx2", "avx512": "gemm4_4x16c8__avx2",
            "avx512vnni": "gemm4_8x16c8__avx512vnni"}
    for tier in tiers:
        if tier in want:
            it = pyedge.Interpreter(model_content=m, isa=tier)
            it.allocate_tensors()
            assert it.op_variants() == [want[tier]], tier
    it = pyedge.Interpreter(model_content=to_int4(ops.dw_model((1, 5, 5, 4), (3, 3))))
    it.allocate_tensors()
    assert it.op_variants() == ["dw4__scalar"]
    # pack --layouts generic keeps TFLite's layouts, except int4's: no other kernel reads them
    generic = pyedge.Interpreter(model_content=pyedge.pack_tflite(m, layouts="generic"))
    generic.allocate_tensors()
    assert generic.op_variants() == [want[tiers[-1]]] if tiers[-1] in want else True


def test_int4_errors_name_the_problem() -> None:
    from pyedge.errors import PyedgeError

    m16 = to_int4(ops.conv_model((1, 5, 5, 3), 5, (3, 3), dtype="int16", bias="int64"))
    with pytest.raises(PyedgeError, match="int4 filter with INT16 activations"):
        pyedge.Interpreter(model_content=m16)
    grouped = to_int4(ops.conv_model((1, 5, 5, 4), 6, (3, 3), groups=2))
    with pytest.raises(PyedgeError, match="grouped convolution with int4 weights"):
        pyedge.Interpreter(model_content=grouped)


# ----------------------------------------------------------------------------- whole int4 models

from quantize_models import smooth_images  # noqa: E402


def _int8_input(model: bytes, x: np.ndarray) -> np.ndarray:
    d = reference_interpreter(q4.int8_twin(model)).get_input_details()[0]
    scale, zp = d["quantization"]
    return np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8)


def _check_every_path(model: bytes, x: np.ndarray, context: str, oracle) -> None:
    check_model(model, inputs=[x], context=context, oracle=oracle)
    want = run_model(oracle, model, [x])
    for tier in pyedge.cpu.tiers_available():
        got = run_model(interpreter_factory(isa=tier, num_threads=2), model, [x])
        assert_bit_exact(got[0], want[0], context=f"{context} [{tier} x2 threads]")


def test_digits_int4_model_bit_exact_on_every_path() -> None:
    """The digits CNN quantized with int4 weights (two CONV_2D, a per-channel int4 FULLY_CONNECTED):
    every ISA tier, 1, 2 and 3 threads, against BUILTIN_REF on its INT8 twin (BUILTIN_REF refuses
    per-channel int4 FULLY_CONNECTED)."""
    m = digits_int4()
    xs, _ = digits_held_out()
    for k in (0, 7, 100):
        _check_every_path(m, _int8_input(m, xs[k:k + 1]), f"digits int4 sample {k}", int8_twin_oracle)


def test_face_landmark_int4_bit_exact_on_every_path() -> None:
    """MediaPipe's face landmark model (CONV_2D, DEPTHWISE_CONV_2D, PRELU) with int4 weights,
    against BUILTIN_REF running the int4 model itself (it has no FULLY_CONNECTED)."""
    raw = float_model("mediapipe_face_landmark")
    cal = calibrate(raw, smooth_images(6, 192, 0, 1), show_progress=False)
    m = cal.quantize(weights="int4")
    ops4 = [op.opcode for op, w, _, _ in _weighted(m) if w.type_code == INT4]
    assert "FULLY_CONNECTED" not in ops4 and {"CONV_2D", "DEPTHWISE_CONV_2D"} <= set(ops4)
    x = _int8_input(m, smooth_images(1, 192, 0, 1, seed=9))
    _check_every_path(m, x, "face landmark int4", reference_interpreter)


# ----------------------------------------------------------------------------- sizes

from pyedge.blob import LAYOUT_QS4_GEMM_N16K8, LAYOUT_QS8_GEMM_N16K4, read_blob  # noqa: E402
from pyedge.cformat import blob_to_c  # noqa: E402
from pyedge.inspector import inspect_model  # noqa: E402


def _packed_weights(blob: bytes) -> list[tuple[int, int]]:
    """(layout, bytes of the packed weight tensor) of every op carrying a packed layout."""
    info = read_blob(blob)
    return [(op["layout"], info.tensors[op["inputs"][1]]["bytes"]) for op in info.ops if op.get("layout")]


@pytest.mark.parametrize("target", ["avx512vnni", "scalar", "rpi4"])
def test_int4_weight_sections_are_half(target: str) -> None:
    """The digits CNN's three weighted ops: conv 16 x 9, conv 32 x 144, FC 10 x 512. Each packed
    layout is 16 bytes per padded channel (init, wsum, multiplier, shift) plus the weights: one byte
    each for int8 (K padded to 4), half a byte for int4 (K padded to 8)."""
    int8 = _digits_calibration().quantize()
    b8, b4 = pyedge.pack_tflite(int8, target=target), pyedge.pack_tflite(digits_int4(), target=target)
    want4 = [(LAYOUT_QS4_GEMM_N16K8, n) for n in (16 * 16 + 16 * 16 // 2, 16 * 32 + 32 * 144 // 2,
                                                   16 * 16 + 16 * 512 // 2)]
    assert _packed_weights(b4) == want4
    if target == "scalar":  # no SIMD kernel to pack int8 for: TFLite's layout, weights and bias
        w8 = [16 * 9 + 16 * 4, 32 * 144 + 32 * 4, 10 * 512 + 10 * 4]
        assert _packed_weights(b8) == []
    else:
        w8 = [16 * 16 + 16 * 12, 16 * 32 + 32 * 144, 16 * 16 + 16 * 512]
        assert _packed_weights(b8) == [(LAYOUT_QS8_GEMM_N16K4, n) for n in w8]
    # the constant section shrinks by exactly the weight bytes saved (the rest is the same graph)
    const8, const4 = read_blob(b8).sections[6][1], read_blob(b4).sections[6][1]
    assert const8 - const4 == sum(w8) - sum(n for _, n in want4)
    if target != "scalar":  # the same tensors and records otherwise: the blob shrinks by as much
        assert len(b8) - len(b4) == const8 - const4
    # the C header's array is the blob
    h8, h4 = blob_to_c(b8, "digits")[0], blob_to_c(b4, "digits")[0]
    assert f"#define DIGITS_BLOB_SIZE {len(b4)}u" in h4 and f"#define DIGITS_BLOB_SIZE {len(b8)}u" in h8


def test_inspect_shows_int4_layers() -> None:
    r = inspect_model(pyedge.pack_tflite(digits_int4()))
    w4 = [op for op in r["ops"] if op["weight_type"] == "int4"]
    assert [op["tflite_op"] for op in w4] == ["CONV_2D", "CONV_2D", "FULLY_CONNECTED"]
    assert {op["layout"] for op in w4} == {"qs4_gemm_n16k8"}
    assert r["totals"]["int4_ops"] == 3 and r["totals"]["int4_layout_bytes"] == 384 + 2816 + 4352


# ----------------------------------------------------------------------------- hostile blobs

import test_hostile_blobs as hostile  # noqa: E402
from pyedge import blob as blob_mod  # noqa: E402


def _int4_blobs() -> dict[str, bytes]:
    dw = to_int4(ops.dw_model((1, 6, 6, 5), (3, 3), 2), factor=16)
    return {"digits_int4": pyedge.pack_tflite(digits_int4()), "dw4": pyedge.pack_tflite(dw)}


def test_int4_layouts_swapped_or_resized_are_refused() -> None:
    """Every weighted op of int4 blobs given each other layout, and its packed tensor's recorded
    size moved by 16 bytes either way (resealed): refused at load with a status, never run."""
    cases = []
    for name, data in _int4_blobs().items():
        a = hostile.Anatomy(data, blob_mod.read_blob(data))
        for i, op in enumerate(a.info.ops):
            if not op["layout"]:
                continue
            base = a.op_at(i)
            for v in (0, 1, 2, 3, 4, 5):
                if v != op["layout"]:
                    cases.append((f"{name} op {i} layout {op['layout']} -> {v}",
                                  hostile.reseal(hostile.put(data, base + hostile.OPR["layout"][0], "I", v)),
                                  hostile.REJECT("PE_ERR_LAYOUT", "PE_ERR_SHAPE", "PE_ERR_BAD_PARAMS")))
            w = op["inputs"][1]
            t = a.tensor_at(w)
            fields = hostile._offsets(blob_mod.TENSOR_FIELDS)
            dims_off, bytes_off = fields["dims"][0], fields["bytes"][0]
            n = a.info.tensors[w]["bytes"]
            for delta in (-16, 16):
                bad = hostile.put(data, t + bytes_off, "I", n + delta)
                bad = hostile.put(bad, t + dims_off, "i", n + delta)
                cases.append((f"{name} op {i} packed bytes {n} -> {n + delta}", hostile.reseal(bad),
                              hostile.REJECT("PE_ERR_SHAPE", "PE_ERR_CORRUPT", "PE_ERR_BAD_PARAMS")))
    counts = hostile.run_cases(iter(cases), seed=4)
    assert counts["_total"] == len(cases) >= 20


@pytest.mark.parametrize("name", ["digits_int4", "dw4"])
def test_int4_blobs_survive_the_hostile_families(name: str) -> None:
    """The generic damage of tests/test_hostile_blobs.py (op records, tensor records, resealed bit
    flips) on int4 blobs: every one refused with a status or run cleanly."""
    data = _int4_blobs()[name]
    a = hostile.Anatomy(data, blob_mod.read_blob(data))
    rng = np.random.default_rng(10)
    for family in (hostile.op_cases(a, rng, 60), hostile.tensor_cases(a, rng, 60),
                   hostile.resealed_flip_cases(a, rng, 60)):
        hostile.run_cases(family, seed=11)


def test_cli_weights_int4(tmp_path, capsys) -> None:
    from pyedge.cli import main

    cal = tmp_path / "cal.npy"
    np.save(cal, digits_calibration(40))
    out = tmp_path / "int4.tflite"
    from pathlib import Path

    src = str(Path(__file__).parent / "models" / "float" / "digits_cnn_float.tflite")
    assert main(["quantize", src, "--calibration", str(cal), "--weights", "int4", "-o", str(out), "-q"]) == 0
    assert "int4 weights" in capsys.readouterr().out
    types = [w.type_code for _, w, _, _ in _weighted(out.read_bytes())]
    assert types == [INT4, INT4, INT4]
    with pytest.raises(SystemExit, match="--weights"):
        main(["quantize", src, "--dynamic", "--weights", "int4", "-o", str(tmp_path / "d.tflite")])

"""The quantizer on openWakeWord's float models (the pinned pyopen-wakeword 1.1.0 wheel, fetched,
not stored: tests/quantize_models.py) with synthetic speech data (tests/models/float/oww_mels.npz,
tools/oww_calibration.py), and the two range/bias features they motivated: clamp ranges
(pyedge/quantize/tune.py) and bias correction (pyedge/quantize/biascorr.py).

Accuracy floors are the figures these tests' own subsets measure (docs/quantize.md has the full
table), less a small margin, so a regression fails."""
from __future__ import annotations

import functools

import numpy as np
import pytest

import pyedge
import quantize_models as Q
from optest import check_model
from oracle import assert_bit_exact, reference_interpreter
from pyedge.quantize import calibrate
from pyedge.quantize.biascorr import weight_shift
from pyedge.quantize.reference import ReferenceRunner
from pyedge.tflite_reader import read_tflite
from tflite_builder import ModelBuilder


def _model(name: str) -> bytes:
    try:
        return Q.oww_model_path(name).read_bytes()
    except Q.OwwUnavailable as exc:
        pytest.skip(str(exc))


def _sqnr(f: np.ndarray, q: np.ndarray) -> float:
    f, q = f.astype(np.float64).reshape(-1), q.astype(np.float64).reshape(-1)
    return float(10 * np.log10(np.sum(f * f) / np.sum((f - q) ** 2)))


def _run_int8(model: bytes, xs: np.ndarray, runtime: str) -> np.ndarray:
    """Dequantized outputs of an int8-io model (pyedge, or TFLite's reference kernels)."""
    ref = reference_interpreter(model)
    ref.allocate_tensors()
    it = ref if runtime == "tflite" else pyedge.Interpreter(model_content=model)
    if it is not ref:
        it.allocate_tensors()
    di, do = ref.get_input_details()[0], ref.get_output_details()[0]
    (s_in, z_in), (s_out, z_out) = di["quantization"], do["quantization"]
    ii, oi = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    out = []
    for x in xs:
        it.set_tensor(ii, np.clip(np.round(x[None] / s_in) + z_in, -128, 127).astype(np.int8))
        it.invoke()
        out.append(it.get_tensor(oi).copy())
    q = np.concatenate(out)
    return q, (q.astype(np.float64) - z_out) * s_out


def _float(model: bytes, xs: np.ndarray) -> np.ndarray:
    r = ReferenceRunner(model)
    return np.concatenate([r.run([x[None]])[0][0] for x in xs])


def test_oww_models_are_float_and_tflite_runs_them():
    for name in Q.OWW_SHA256:
        raw = _model(name)
        sg = read_tflite(raw).subgraphs[0]
        assert {t.type_name for t in sg.tensors if not t.is_const} == {"FLOAT32"}, name
    emb = read_tflite(_model("embedding_model")).subgraphs[0]
    assert sum(op.opcode == "LEAKY_RELU" for op in emb.operators) == 19
    # the mel features of a clip are what the stored data holds: the melspectrogram model, run
    # again here on a chirp, gives frames of the same form and range
    r = reference_interpreter(_model("melspectrogram"))
    r.resize_tensor_input(r.get_input_details()[0]["index"], [1, 1760])
    r.allocate_tensors()
    t = np.arange(1760) / 16000
    r.set_tensor(r.get_input_details()[0]["index"], (3000 * np.sin(2 * np.pi * (200 + 2000 * t) * t))[None]
                 .astype(np.float32))
    r.invoke()
    mel = r.get_tensor(r.get_output_details()[0]["index"]).reshape(-1, 32) / 10 + 2
    assert mel.shape == (8, 32)
    stored = np.concatenate([m for m, _, _ in Q.oww_clips()])
    assert stored.min() - 1 < mel.min() and mel.max() < stored.max() + 1


@functools.cache
def _embedding_calibration():
    cal_x, _ = Q.oww_data("oww_embedding_model", 32, 1)
    return calibrate(_model("embedding_model"), cal_x, show_progress=False)


def _embedding_eval() -> np.ndarray:
    return Q.oww_data("oww_embedding_model", 2, 16)[1]


def test_oww_embedding_int8_fully_integer_bit_exact_and_accurate():
    raw = _model("embedding_model")
    q = _embedding_calibration().quantize()
    sg = read_tflite(q).subgraphs[0]
    assert {t.type_name for t in sg.tensors} <= {"INT8", "INT32"}
    assert sum(op.opcode == "LEAKY_RELU" for op in sg.operators) == 19
    ev = _embedding_eval()
    got, deq = _run_int8(q, ev, "pyedge")
    want, _ = _run_int8(q, ev, "tflite")
    assert_bit_exact([got], [want], context="oww embedding int8")
    x0 = np.clip(np.round(ev[:1] / sg.tensors[sg.inputs[0]].scale) + sg.tensors[sg.inputs[0]].zero_point,
                 -128, 127).astype(np.int8)
    check_model(q, seeds=(), inputs=[x0], context="oww embedding int8")
    s = _sqnr(_float(raw, ev), deq)
    assert s >= 18.0, s  # measured 18.9 on this subset (clamp ranges off: 12.8, bias correction off: 17.1)


@pytest.mark.parametrize("feature", ["clamp_ranges", "bias_correction"])
def test_each_feature_raises_the_oww_embedding_sqnr(feature):
    raw = _model("embedding_model")
    cal = _embedding_calibration()
    ev = _embedding_eval()
    f = _float(raw, ev)
    with_it = _sqnr(f, _run_int8(cal.quantize(), ev, "tflite")[1])
    setattr(cal, feature, False)
    try:
        without = _sqnr(f, _run_int8(cal.quantize(), ev, "tflite")[1])
    finally:
        setattr(cal, feature, True)
    assert with_it > without + 0.5, (feature, with_it, without)


# held-out clips for the head test: wake-phrase clips the float head fires on and others
HEAD_CAL_CLIPS = [2, 10, 12, 24, 32, 42]
HEAD_EVAL_CLIPS = [9, 13, 17, 25, 29, 41, 45]


def test_oww_head_int8_keeps_its_detections_bit_exact_in_pyedge():
    raw = _model("okay_nabu")
    cal = calibrate(raw, Q.oww_head_inputs(HEAD_CAL_CLIPS), show_progress=False)
    q = cal.quantize()
    sg = read_tflite(q).subgraphs[0]
    assert {t.type_name for t in sg.tensors} <= {"INT8", "INT32"}
    assert "RSQRT" in {op.opcode for op in sg.operators}
    fs, qs = [], []
    for c in HEAD_EVAL_CLIPS:
        x = Q.oww_head_inputs([c])
        f, (raw_q, d) = _float(raw, x), _run_int8(q, x, "tflite")
        raw_pe, _ = _run_int8(q, x, "pyedge")  # its int8 RSQRT (the layer norms) included
        np.testing.assert_array_equal(raw_pe, raw_q, err_msg=f"clip {c}")
        fs.append(f), qs.append(d)
        wake = Q.oww_clips()[c][1]
        assert (f.max() > 0.5) == (d.max() > 0.5) == bool(wake), (c, f.max(), d.max())
    s = _sqnr(np.concatenate(fs), np.concatenate(qs))
    assert s >= 23.5, s  # measured 24.5 on this subset (27.5 with bias correction off)
    d = reference_interpreter(q).get_input_details()[0]
    (s_in, z_in) = d["quantization"]
    x = Q.oww_head_inputs(HEAD_EVAL_CLIPS[:1])[:2]
    check_model(q, inputs=[np.clip(np.round(x[:1] / s_in) + z_in, -128, 127).astype(np.int8)],
                context="okay nabu head, every kernel path")


# -- the features on small graphs --------------------------------------------------------------

def _clamp_model(extra_reader: bool) -> bytes:
    rng = np.random.default_rng(0)
    mb = ModelBuilder("leaky relu then maximum by a constant (float32)")
    x = mb.add_tensor([1, 4, 4, 2], "float32", name="x")
    w = mb.add_tensor(None, "float32", name="w", data=rng.standard_normal((3, 1, 1, 2)).astype(np.float32))
    b = mb.add_tensor(None, "float32", name="b", data=np.zeros(3, np.float32))
    y = mb.add_tensor([1, 4, 4, 3], "float32", name="conv")
    mb.add_operator("CONV_2D", [x, w, b], [y], ("Conv2DOptions", {
        "Padding": 1, "StrideW": 1, "StrideH": 1, "FusedActivationFunction": 0}), version=1)
    lr = mb.add_tensor([1, 4, 4, 3], "float32", name="leaky")
    mb.add_operator("LEAKY_RELU", [y], [lr], ("LeakyReluOptions", {"Alpha": 0.2}))
    c = mb.add_tensor(None, "float32", name="floor", data=np.array(-0.1, np.float32))
    m = mb.add_tensor([1, 4, 4, 3], "float32", name="clamped")
    mb.add_operator("MAXIMUM", [lr, c], [m], version=1)
    outs = [m]
    if extra_reader:
        r = mb.add_tensor([1, 4, 4, 3], "float32", name="relu")
        mb.add_operator("RELU", [lr], [r], version=1)
        outs.append(r)
    mb.set_io([x], outs)
    return mb.build()


def _observer(cal, name: str):
    return next(cal.observers[t.index] for t in cal.graph.subgraphs[0].tensors if t.name == name)


@pytest.mark.parametrize("extra_reader", [False, True])
def test_clamp_ranges_give_the_clamped_input_the_output_range(extra_reader):
    raw = _clamp_model(extra_reader)
    xs = np.random.default_rng(1).standard_normal((16, 1, 4, 4, 2)).astype(np.float32) * 3
    cal = calibrate(raw, xs, show_progress=False)
    lr, out = _observer(cal, "leaky"), _observer(cal, "clamped")
    assert lr.min < -0.5 and abs(out.min + 0.1) < 1e-6  # the clamp cuts a real part of the range
    tensors = {t.name: t for t in read_tflite(cal.quantize("minmax")).subgraphs[0].tensors}
    scale = tensors["leaky"].scale
    assert tensors["clamped"].scale == scale  # MAXIMUM keeps one scale either way
    want = (out.max + 0.1) / 255 if not extra_reader else (lr.max - lr.min) / 255
    assert abs(scale - want) < 1e-3 * want, (scale, want)
    check_model(cal.quantize("minmax"), seeds=(0,), context=f"clamp extra_reader={extra_reader}")


def test_bias_correction_shift_is_the_mean_error_of_rounded_weights():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 3, 3, 4)).astype(np.float32)
    m = rng.uniform(0.5, 2.0, 4)
    # a spatially constant input with channel means m: every VALID output position sees m
    x = np.broadcast_to(m, (1, 3, 3, 4))
    q = np.round(w / (np.abs(w).reshape(5, -1).max(1) / 127).reshape(5, 1, 1, 1))
    wq = q * (np.abs(w).reshape(5, -1).max(1) / 127).reshape(5, 1, 1, 1)
    want = np.einsum("hwc,ohwc->o", x[0], wq) - np.einsum("hwc,ohwc->o", x[0], w.astype(np.float64))
    np.testing.assert_allclose(weight_shift("CONV_2D", w, m), want, rtol=1e-5, atol=1e-6)
    wd = rng.standard_normal((1, 3, 3, 8)).astype(np.float32)
    got = weight_shift("DEPTHWISE_CONV_2D", wd, m, depth_multiplier=2)
    s = np.abs(wd).reshape(-1, 8).max(0) / 127
    dwd = np.round(wd / s) * s - wd.astype(np.float64)
    np.testing.assert_allclose(got, dwd.sum((0, 1, 2)) * np.repeat(m, 2), rtol=1e-5, atol=1e-6)
    wf = rng.standard_normal((6, 4)).astype(np.float32)
    sf = np.abs(wf).max(1, keepdims=True) / 127
    np.testing.assert_allclose(weight_shift("FULLY_CONNECTED", wf, m), (np.round(wf / sf) * sf - wf) @ m,
                               rtol=1e-5, atol=1e-6)
    assert weight_shift("FULLY_CONNECTED", wf, m[:3]) is None

"""resize_tensor_input + allocate_tensors re-plan the model as TFLite does: bit-exact with TFLite's
reference kernels after the resize, and refused exactly where TFLite refuses (with the op named)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import pyedge
from models import model_path
from oracle import assert_bit_exact, reference_interpreter
from pyedge.tflite_reader import with_valid_quantized_dimension
from tflite_builder import ModelBuilder


def _run(it, shapes: list[list[int]], seed: int = 0, invokes: int = 2) -> list[list[np.ndarray]]:
    for d, s in zip(it.get_input_details(), shapes):
        it.resize_tensor_input(d["index"], s)
    it.allocate_tensors()
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(invokes):
        for d in it.get_input_details():
            assert list(d["shape"]) == shapes[0] or len(shapes) > 1
            it.set_tensor(d["index"], rng.integers(-128, 128, d["shape"], dtype=d["dtype"]))
        it.invoke()
        out.append([it.get_tensor(d["index"]) for d in it.get_output_details()])
    return out


def _both(raw: bytes, shapes: list[list[int]]):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pe = pyedge.Interpreter(model_content=raw)
    return pe, reference_interpreter(with_valid_quantized_dimension(raw))


def _conv_fc_model(signature: list[int] | None = None) -> bytes:
    """CONV_2D -> MAX_POOL_2D -> ADD (broadcast constant) -> RESHAPE [-1, 32] -> FULLY_CONNECTED
    -> SOFTMAX: every op takes a new batch, height and width."""
    rng = np.random.default_rng(5)
    mb = ModelBuilder()
    x = mb.add_tensor([1, 8, 8, 3], "int8", scale=0.05, zero_point=-1, shape_signature=signature)
    f = mb.add_tensor([8, 3, 3, 3], "int8", scale=[0.01 + 0.002 * k for k in range(8)], zero_point=[0] * 8,
                      quantized_dimension=0, data=rng.integers(-127, 128, (8, 3, 3, 3), dtype=np.int8))
    b = mb.add_tensor([8], "int32", scale=[0.0005 + 0.0001 * k for k in range(8)], zero_point=[0] * 8,
                      data=rng.integers(-300, 300, 8, dtype=np.int32))
    c = mb.add_tensor([1, 8, 8, 8], "int8", scale=0.08, zero_point=3)
    mb.add_operator("CONV_2D", [x, f, b], [c], ("Conv2DOptions", {"Padding": 0, "StrideW": 1, "StrideH": 1}))
    p = mb.add_tensor([1, 4, 4, 8], "int8", scale=0.08, zero_point=3)
    mb.add_operator("MAX_POOL_2D", [c], [p], ("Pool2DOptions", {"Padding": 1, "StrideW": 2, "StrideH": 2,
                                                                "FilterWidth": 2, "FilterHeight": 2}))
    k = mb.add_tensor([8], "int8", scale=0.05, zero_point=0, data=rng.integers(-100, 100, 8, dtype=np.int8))
    a = mb.add_tensor([1, 4, 4, 8], "int8", scale=0.1, zero_point=-2)
    mb.add_operator("ADD", [p, k], [a], ("AddOptions", {}))
    shape = mb.add_tensor([2], "int32", data=np.array([-1, 32], np.int32))
    r = mb.add_tensor([4, 32], "int8", scale=0.1, zero_point=-2)
    mb.add_operator("RESHAPE", [a, shape], [r], ("ReshapeOptions", {"NewShape": [-1, 32]}))
    w = mb.add_tensor([5, 32], "int8", scale=0.02, zero_point=0, data=rng.integers(-127, 128, (5, 32), dtype=np.int8))
    fc = mb.add_tensor([4, 5], "int8", scale=0.2, zero_point=4)
    mb.add_operator("FULLY_CONNECTED", [r, w, -1], [fc])
    y = mb.add_tensor([4, 5], "int8", scale=1 / 256, zero_point=-128)
    mb.add_operator("SOFTMAX", [fc], [y], ("SoftmaxOptions", {"Beta": 1.0}))
    mb.set_io([x], [y])
    return mb.build()


CASES = [
    ("tflm_micro_speech_quantized", [[3, 1960]]),                # batch
    ("tflm_dtln_noise_suppression", [[1, 4, 257]]),              # LSTM sequence length
    ("tflm_trained_lstm_int8", [[1, 56, 28]]),                   # LSTM sequence length
    ("tflm_mobilenet_v2_quantized_1x3x224x224", [[1, 3, 96, 128]]),  # image size
]


@pytest.mark.parametrize("name, shapes", CASES, ids=[c[0] for c in CASES])
def test_resize_runs_bit_exact(name, shapes):
    pe, ref = _both(model_path(name).read_bytes(), shapes)
    got, want = _run(pe, shapes), _run(ref, shapes)
    for g, w in zip(got, want):
        assert_bit_exact(g, w, context=f"{name} resized to {shapes}")
    assert [list(d["shape"]) for d in pe.get_output_details()] == [list(d["shape"]) for d in ref.get_output_details()]


@pytest.mark.parametrize("shape", [[4, 8, 8, 3], [2, 12, 10, 3], [1, 8, 8, 3]])
def test_resize_generated_model(shape):
    raw = _conv_fc_model()
    pe, ref = _both(raw, [shape])
    for g, w in zip(_run(pe, [shape]), _run(ref, [shape])):
        assert_bit_exact(g, w, context=f"resized to {shape}")


@pytest.mark.parametrize("name, shape, match", [
    ("tflm_person_detect", [2, 96, 96, 1], r"operator 29 \(RESHAPE\): 4 input elements do not make new shape \[1, 2\]"),
    ("tflm_mobilenet_v2_quantized_1x3x224x224", [2, 3, 224, 224], r"operator 82 \(RESHAPE\)"),
    ("tflm_keyword_scrambled", [2, 96], r"SVDF .* state shape"),
    ("tflm_dtln_noise_suppression", [2, 1, 257], r"UNIDIRECTIONAL_SEQUENCE_LSTM"),
    ("tflm_keyword_scrambled", [1, 192], r"SVDF"),
])
def test_resize_refused_where_tflite_refuses(name, shape, match):
    raw = model_path(name).read_bytes()
    pe, ref = _both(raw, [shape])
    ref.resize_tensor_input(ref.get_input_details()[0]["index"], shape)
    with pytest.raises(RuntimeError):
        ref.allocate_tensors()
    pe.resize_tensor_input(pe.get_input_details()[0]["index"], shape)
    with pytest.raises(pyedge.ResizeError, match=match) as e:
        pe.allocate_tensors()
    assert isinstance(e.value, RuntimeError) and f"to {shape}" in str(e.value)


def test_resize_api_details():
    raw = model_path("tflm_micro_speech_quantized").read_bytes()
    it = pyedge.Interpreter(model_content=raw)
    i = it.get_input_details()[0]["index"]
    it.allocate_tensors()
    it.resize_tensor_input(i, [2, 1960])
    assert it.get_input_details()[0]["shape"].tolist() == [2, 1960]  # before allocate, as TFLite
    it.allocate_tensors()
    assert it.get_output_details()[0]["shape"].tolist() == [2, 4]
    it.resize_tensor_input(i, [1, 1960])  # back to the packed shape
    it.allocate_tensors()
    assert it.get_output_details()[0]["shape"].tolist() == [1, 4]
    with pytest.raises(ValueError, match="only dimensions that are -1"):
        it.resize_tensor_input(i, [2, 1960], strict=True)  # the signature is [1, 1960]
    with pytest.raises(ValueError, match="not an input"):
        it.resize_tensor_input(it.get_output_details()[0]["index"], [2, 4])
    with pytest.raises(ValueError, match="negative"):
        it.resize_tensor_input(i, [-1, 1960])
    peb = pyedge.Interpreter(model_content=pyedge.pack_tflite(raw))
    peb.resize_tensor_input(i, [2, 1960])
    with pytest.raises(pyedge.ResizeError, match="load the .tflite"):
        peb.allocate_tensors()


def test_strict_resize_of_an_unknown_dimension():
    raw = _conv_fc_model(signature=[-1, 8, 8, 3])
    it, ref = _both(raw, [])
    assert it.get_input_details()[0]["shape_signature"].tolist() == [-1, 8, 8, 3]
    for x in (it, ref):
        x.resize_tensor_input(x.get_input_details()[0]["index"], [3, 8, 8, 3], strict=True)
    for g, w in zip(_run(it, [[3, 8, 8, 3]]), _run(ref, [[3, 8, 8, 3]])):
        assert_bit_exact(g, w, context="strict batch 3")
    with pytest.raises(ValueError, match="only dimensions that are -1"):
        it.resize_tensor_input(it.get_input_details()[0]["index"], [3, 9, 8, 3], strict=True)


def test_resize_same_shape_ops_rsqrt():
    """RSQRT (the openWakeWord head's layer norms) keeps its input's shape through a resize."""
    from tflite_builder import single_op_model

    raw = single_op_model("RSQRT", [dict(shape=[1, 16], dtype="int8", scale=0.01, zero_point=-128)],
                          [dict(shape=[1, 16], dtype="int8", scale=0.1, zero_point=-30)], version=2)
    pe, ref = _both(raw, [[3, 16]])
    for g, w in zip(_run(pe, [[3, 16]]), _run(ref, [[3, 16]])):
        assert_bit_exact(g, w, context="RSQRT resized to [3, 16]")

"""Bad models get a clear Python exception, never a crash."""
from __future__ import annotations

import numpy as np
import pytest

import pyedge
from models import model_path
from tflite_builder import single_op_model

SMALL = model_path("tflm_micro_speech_quantized")


def test_not_a_tflite_file():
    with pytest.raises(pyedge.ModelError, match="not a TFLite model"):
        pyedge.Interpreter(model_content=b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(pyedge.ModelError, match="only 0 bytes"):
        pyedge.Interpreter(model_content=b"")


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        pyedge.Interpreter(model_path=str(tmp_path / "nope.tflite"))


@pytest.mark.parametrize("keep", [8, 12, 64, 200, 1000, 4000, 9000, 15000, 18000])
def test_truncated_tflite(keep):
    raw = SMALL.read_bytes()[:keep]
    with pytest.raises(pyedge.PyedgeError):
        pyedge.Interpreter(model_content=raw)


def test_corrupted_tflite_never_crashes():
    """Random byte damage: every outcome is a pyedge exception or a model that still loads."""
    raw = SMALL.read_bytes()
    rng = np.random.default_rng(0)
    outcomes = {"error": 0, "loaded": 0}
    for _ in range(150):
        bad = bytearray(raw)
        for pos in rng.integers(8, 2000, size=4):  # the tables and vectors sit before the weights
            bad[pos] = int(rng.integers(0, 256))
        try:
            pyedge.Interpreter(model_content=bytes(bad))
            outcomes["loaded"] += 1
        except pyedge.PyedgeError:
            outcomes["error"] += 1
    assert outcomes["error"] > 0


def test_custom_ops_are_refused_by_name():
    with pytest.raises(pyedge.UnsupportedOpError) as e:
        pyedge.Interpreter(model_path=str(model_path("tflm_audio_preprocessor_int8")))
    msg = str(e.value)
    assert "custom op 'SignalWindow'" in msg
    assert "at operator index 0 in subgraph 0" in msg
    assert "supported ops:" in msg and "RESHAPE" in msg


def test_unsupported_builtin_op_is_refused_at_load():
    m = single_op_model("FLOOR", [dict(shape=[1, 4], dtype="float32")], [dict(shape=[1, 4], dtype="float32")])
    with pytest.raises(pyedge.UnsupportedOpError, match=r"op FLOOR \(builtin 8, version 1\) at operator index 0"):
        pyedge.Interpreter(model_content=m)


def test_too_new_op_version_is_refused():
    m = single_op_model("RESHAPE", [dict(shape=[2, 3], dtype="int8", scale=1.0, zero_point=0)],
                        [dict(shape=[3, 2], dtype="int8", scale=1.0, zero_point=0)],
                        ("ReshapeOptions", {"NewShape": [3, 2]}), version=99)
    with pytest.raises(pyedge.UnsupportedOpError, match="op version 99 is newer"):
        pyedge.Interpreter(model_content=m)


def test_inconsistent_tensor_data_is_a_model_error():
    """A constant buffer whose size does not match its shape is a corrupt model."""
    from tflite_builder import ModelBuilder

    mb = ModelBuilder()
    x = mb.add_tensor([2, 3], "int8", scale=1.0, zero_point=0)
    s = mb.add_tensor([4], "int32", data=np.array([3, 2], np.int32).tobytes())
    y = mb.add_tensor([3, 2], "int8", scale=1.0, zero_point=0)
    mb.add_operator("RESHAPE", [x, s], [y])
    mb.set_io([x], [y])
    with pytest.raises(pyedge.ModelError, match="buffer holds 8 bytes"):
        pyedge.Interpreter(model_content=mb.build())


def _fc_model(x_quant=None, version=None, inputs=None) -> bytes:
    from tflite_builder import ModelBuilder

    mb = ModelBuilder()
    x = mb.add_tensor([1, 4], "int8", **(x_quant or dict(scale=0.5, zero_point=0)))
    w = mb.add_tensor([2, 4], "int8", scale=0.25, zero_point=0, data=np.ones((2, 4), np.int8))
    y = mb.add_tensor([1, 2], "int8", scale=1.0, zero_point=0)
    mb.add_operator("FULLY_CONNECTED", inputs(x, w) if inputs else [x, w, -1], [y], version=version)
    mb.set_io([x], [y])
    return mb.build()


def test_zero_point_count_must_match_the_scales():
    import struct

    import tflite

    raw = bytearray(_fc_model(dict(scale=[0.5, 0.25], zero_point=[0, 0])))
    q = tflite.Model.GetRootAs(bytes(raw), 0).Subgraphs(0).Tensors(0).Quantization()
    zp_vector = q._tab.Vector(q._tab.Offset(10))  # QuantizationParameters.zero_point
    struct.pack_into("<I", raw, zp_vector - 4, 1)
    with pytest.raises(pyedge.ModelError, match=r"tensor 0 .* 1 zero point\(s\) and 2 scale\(s\)"):
        pyedge.Interpreter(model_content=bytes(raw))


@pytest.mark.parametrize("quant,match", [
    (dict(scale=0.5, zero_point=2**40), r"tensor 0 .* zero point 1099511627776 does not fit int32"),
    (dict(scale=float("inf"), zero_point=0), r"tensor 0 .* quantization scale inf is not finite"),
])
def test_bad_quantization_is_a_model_error_naming_the_tensor(quant, match):
    with pytest.raises(pyedge.ModelError, match=match):
        pyedge.Interpreter(model_content=_fc_model(quant))


def test_bad_op_fields_are_model_errors():
    with pytest.raises(pyedge.ModelError, match=r"operator code 0 \(builtin 9\) has version -1"):
        pyedge.Interpreter(model_content=_fc_model(version=-1))
    with pytest.raises(pyedge.ModelError, match=r"operator 0 \(FULLY_CONNECTED\) .* input 1 is absent"):
        pyedge.Interpreter(model_content=_fc_model(inputs=lambda x, w: [x, -1, -1]))
    from pyedge.quant import quantize_multiplier

    with pytest.raises(pyedge.ModelError, match="rescale factor inf is not finite"):
        quantize_multiplier(float("inf"))

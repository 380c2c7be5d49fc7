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

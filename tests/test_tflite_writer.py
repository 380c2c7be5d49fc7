"""pyedge.tflite_writer: Graph -> .tflite through the schema package's builders, read back by
pyedge's reader and run by TFLite itself with the same outputs."""
from __future__ import annotations

import os

import numpy as np
import pytest

from models import model_path
from oracle import assert_bit_exact, random_inputs, reference_interpreter, run_model
from pyedge.tflite_reader import read_tflite
from pyedge.tflite_writer import write_file_atomic, write_tflite

MODELS = ["tflm_micro_speech_quantized", "tflm_keyword_scrambled", "tflm_trained_lstm_int8",
          "float/digits_dwcnn_float"]


def _same_graph(a, b) -> None:
    assert len(a.subgraphs) == len(b.subgraphs)
    for sa, sb in zip(a.subgraphs, b.subgraphs):
        assert (sa.inputs, sa.outputs) == (sb.inputs, sb.outputs)
        for ta, tb in zip(sa.tensors, sb.tensors, strict=True):
            assert (ta.name, ta.shape, ta.type_code, ta.is_variable, ta.quantized_dimension) == \
                   (tb.name, tb.shape, tb.type_code, tb.is_variable, tb.quantized_dimension)
            np.testing.assert_array_equal(ta.scales, tb.scales)
            np.testing.assert_array_equal(ta.zero_points, tb.zero_points)
            assert (ta.data is None) == (tb.data is None)
            if ta.data is not None:
                assert ta.data.dtype == tb.data.dtype and ta.data.tobytes() == tb.data.tobytes()
        for oa, ob in zip(sa.operators, sb.operators, strict=True):
            assert (oa.opcode, oa.version, oa.inputs, oa.outputs, oa.options_type, oa.options,
                    oa.intermediates) == \
                   (ob.opcode, ob.version, ob.inputs, ob.outputs, ob.options_type, ob.options,
                    ob.intermediates)


@pytest.mark.parametrize("name", MODELS)
def test_round_trip_reads_back_and_runs_the_same(name):
    raw = model_path(name).read_bytes()
    g = read_tflite(raw)
    out = write_tflite(g)
    assert out[4:8] == b"TFL3"
    _same_graph(g, read_tflite(out))
    x = random_inputs(raw, np.random.default_rng(3))
    assert_bit_exact(run_model(reference_interpreter, out, x)[0],
                     run_model(reference_interpreter, raw, x)[0], context=name)


def test_constant_buffers_are_16_byte_aligned():
    raw = model_path("tflm_micro_speech_quantized").read_bytes()
    out = write_tflite(read_tflite(raw))
    import tflite
    m = tflite.Model.GetRootAs(out, 0)
    sizes = 0
    for k in range(1, m.BuffersLength()):
        b = m.Buffers(k)
        if b.DataLength():
            start = b._tab.Vector(b._tab.Offset(4))
            assert start % 16 == 0, f"buffer {k} starts at {start}"
            sizes += 1
    assert sizes > 0


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "m.tflite"
    target.write_bytes(b"old")

    def fail(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        write_file_atomic(target, b"new contents")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]
    monkeypatch.undo()
    write_file_atomic(target, b"new contents")
    assert target.read_bytes() == b"new contents"

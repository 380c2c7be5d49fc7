"""The packed GEMM layout's scratch: a panel of min(rows, PE_GEMM_MR_MAX) rows of depth k per
thread, so a single-row FULLY_CONNECTED (micro_speech: k = 4000) plans one row, not eight."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import pyedge
from models import model_path
from pyedge._native import lib
from pyedge.inspector import inspect_model

MR_MAX = 8


def _round(x: int, m: int) -> int:
    return (x + m - 1) // m * m


@pytest.mark.parametrize("k,rows,threads", [(4000, 1, 1), (4000, 3, 1), (4000, 8, 1), (4000, 9, 1), (5, 1, 1),
                                            (5, 100, 2), (129, 2, 4), (1, 1, 1)])
def test_scratch_bytes_bound_by_rows(k, rows, threads):
    want = _round(min(rows, MR_MAX) * _round(k, 4), 16) * threads
    assert lib.pe_gemm_scratch_bytes(k, rows, threads) == want


def test_scratch_bytes_of_nothing_is_zero():
    assert lib.pe_gemm_scratch_bytes(0, 4, 1) == 0
    assert lib.pe_gemm_scratch_bytes(16, 0, 1) == 0


def _pack(layouts: str) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pyedge.pack_tflite(model_path("tflm_micro_speech_quantized").read_bytes(), target="mps2-an386",
                                  layouts=layouts)


def test_micro_speech_packed_fc_plans_one_row_and_runs_bit_identical():
    packed, generic = _pack("packed"), _pack("generic")
    rep = inspect_model(packed)
    fc = [op for op in rep["ops"] if op["pe_op"] == "FULLY_CONNECTED"]
    assert len(fc) == 1 and fc[0]["scratch"]["bytes"] == 4000  # one row of k = 4000
    assert rep["totals"]["arena_bytes"] < 12_000, rep["totals"]["arena_bytes"]
    rng = np.random.default_rng(3)
    outs = []
    for blob in (packed, generic):
        it = pyedge.Interpreter(model_content=blob)
        it.allocate_tensors()
        d = it.get_input_details()[0]
        it.set_tensor(d["index"], rng.integers(-128, 127, size=tuple(d["shape"]), endpoint=True).astype(np.int8)
                      if not outs else x)
        x = it.get_tensor(d["index"])
        it.invoke()
        outs.append(it.get_tensor(it.get_output_details()[0]["index"]).copy())
    assert np.array_equal(outs[0], outs[1])

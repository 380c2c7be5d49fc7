"""pyedge.Interpreter is a drop-in for tflite_runtime's Interpreter."""
from __future__ import annotations

import numpy as np
import pytest

import pyedge
from oracle import reference_interpreter
from tflite_builder import ModelBuilder, single_op_model


def _reshape_model(signature: bool = False) -> bytes:
    mb = ModelBuilder()
    x = mb.add_tensor([1, 2, 3], "int8", name="x", scale=0.125, zero_point=-7)
    s = mb.add_tensor([2], "int32", name="shape", data=np.array([3, 2], np.int32))
    y = mb.add_tensor([3, 2], "int8", name="y", scale=0.125, zero_point=-7)
    mb.add_operator("RESHAPE", [x, s], [y], ("ReshapeOptions", {"NewShape": [3, 2]}))
    mb.set_io([x], [y])
    if signature:
        mb.add_signature("serving_default", {"x": x}, {"y": y})
    return mb.build()


def _same_detail(a: dict, b: dict) -> None:
    assert set(a) >= set(b) - {"sparsity_parameters"}
    for k in ("name", "index", "dtype", "quantization"):
        assert a[k] == b[k], k
    for k in ("shape", "shape_signature"):
        assert np.array_equal(a[k], b[k]) and a[k].dtype == b[k].dtype, k
    qa, qb = a["quantization_parameters"], b["quantization_parameters"]
    assert np.array_equal(qa["scales"], qb["scales"]) and qa["scales"].dtype == qb["scales"].dtype
    assert np.array_equal(qa["zero_points"], qb["zero_points"])
    assert qa["quantized_dimension"] == qb["quantized_dimension"]


def test_details_match_tflite():
    m = _reshape_model()
    ours, ref = pyedge.Interpreter(model_content=m), reference_interpreter(m)
    for a, b in zip(ours.get_input_details(), ref.get_input_details()):
        _same_detail(a, b)
    for a, b in zip(ours.get_output_details(), ref.get_output_details()):
        _same_detail(a, b)


def test_signatures_match_tflite():
    m = _reshape_model(signature=True)
    ours, ref = pyedge.Interpreter(model_content=m), reference_interpreter(m)
    assert ours.get_signature_list() == ref.get_signature_list()
    x = np.arange(6, dtype=np.int8).reshape(1, 2, 3)
    got = ours.get_signature_runner("serving_default")(x=x)
    want = ref.get_signature_runner("serving_default")(x=x)
    assert got.keys() == want.keys() and np.array_equal(got["y"], want["y"])


def test_set_tensor_checks_dtype_and_shape():
    it = pyedge.Interpreter(model_content=_reshape_model())
    it.allocate_tensors()
    idx = it.get_input_details()[0]["index"]
    with pytest.raises(ValueError, match="Got value of type INT16 but expected type INT8"):
        it.set_tensor(idx, np.zeros((1, 2, 3), np.int16))
    with pytest.raises(ValueError, match="Dimension mismatch"):
        it.set_tensor(idx, np.zeros((1, 3, 2), np.int8))
    with pytest.raises(ValueError, match="out of range"):
        it.set_tensor(99, np.zeros((1,), np.int8))


def test_invoke_before_allocate():
    it = pyedge.Interpreter(model_content=_reshape_model())
    with pytest.raises(RuntimeError, match="allocate_tensors"):
        it.invoke()


def test_tensor_view_and_get_tensor_copy():
    it = pyedge.Interpreter(model_content=_reshape_model())
    it.allocate_tensors()
    inp = it.get_input_details()[0]["index"]
    out = it.get_output_details()[0]["index"]
    it.tensor(inp)()[...] = np.arange(6, dtype=np.int8).reshape(1, 2, 3)
    it.invoke()
    y = it.get_tensor(out)
    assert np.array_equal(y, np.arange(6).reshape(3, 2))
    y[...] = 0
    assert np.array_equal(it.get_tensor(out), np.arange(6).reshape(3, 2))
    # constant tensors are readable as in TFLite
    assert np.array_equal(it.get_tensor(1), [3, 2])


def test_inputs_survive_invoke():
    """As in TFLite, inputs keep their values after invoke (the planner never reuses them)."""
    it = pyedge.Interpreter(model_content=_reshape_model())
    it.allocate_tensors()
    x = np.arange(6, dtype=np.int8).reshape(1, 2, 3)
    it.set_tensor(0, x)
    it.invoke()
    it.invoke()
    assert np.array_equal(it.get_tensor(0), x)


def test_model_path_and_constructor_arguments(tmp_path):
    p = tmp_path / "m.tflite"
    p.write_bytes(_reshape_model())
    it = pyedge.Interpreter(model_path=str(p), num_threads=1)
    it.allocate_tensors()
    with pytest.raises(ValueError, match="exactly one"):
        pyedge.Interpreter()
    it.resize_tensor_input(0, [1, 2, 3])  # same shape is fine
    it.resize_tensor_input(0, [2, 2, 3])  # 12 elements do not make the RESHAPE's [3, 2], as in TFLite
    with pytest.raises(pyedge.ResizeError, match=r"cannot resize input 0 to \[2, 2, 3\]: operator 0 \(RESHAPE\)"):
        it.allocate_tensors()


def test_unused_tensor_reports_no_data():
    m = single_op_model("RESHAPE", [dict(shape=[2, 3], dtype="int8", scale=1.0, zero_point=0)],
                        [dict(shape=[3, 2], dtype="int8", scale=1.0, zero_point=0)],
                        ("ReshapeOptions", {"NewShape": [3, 2]}))
    it = pyedge.Interpreter(model_content=m)
    it.allocate_tensors()
    with pytest.raises(ValueError, match="out of range"):
        it.get_tensor(5)


def test_preserve_all_tensors_matches_tflite_intermediates():
    """With experimental_preserve_all_tensors every intermediate keeps its value after invoke, and
    each equals TFLite's reference kernels' (layer-by-layer debugging)."""
    from models import model_path

    raw = model_path("tflm_micro_speech_quantized").read_bytes()
    ours = pyedge.Interpreter(model_content=raw, experimental_preserve_all_tensors=True)
    ref = reference_interpreter(raw, experimental_preserve_all_tensors=True)
    x = np.random.default_rng(3).integers(-128, 128, size=(1, 1960), dtype=np.int8)
    for it in (ours, ref):
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
    compared = 0
    for op in ref._get_ops_details():
        for t in op["outputs"]:
            assert np.array_equal(ours.get_tensor(int(t)), ref.get_tensor(int(t))), op["op_name"]
            compared += 1
    assert compared == len(ref._get_ops_details())


def test_variants_bound_once_at_set_up():
    """allocate_tensors() binds each op's kernel variant (pe_interp_bind_variants); the bound
    choice is the one the variant table gives per invoke, and the C call refuses a wrong op
    count or an uninitialised interpreter."""
    from pathlib import Path

    from pyedge._native import ffi, lib
    path = Path(__file__).parent / "models" / "tflm_person_detect.tflite"
    it = pyedge.Interpreter(model_path=str(path))
    it.allocate_tensors()
    n = int(it._info.header["n_ops"])
    bound = it.op_variants()
    assert it._interp.variants != ffi.NULL
    saved = it._interp.variants
    it._interp.variants = ffi.NULL  # the per-invoke search
    assert [ffi.string(lib.pe_op_variant(it._interp, i)).decode() for i in range(n)] == bound
    slots = ffi.new("void *[]", n + 1)
    assert lib.pe_interp_bind_variants(it._interp, ffi.cast("const void **", slots), n + 1) == lib.PE_ERR_BAD_PARAMS
    assert lib.pe_interp_bind_variants(it._interp, ffi.NULL, n) == lib.PE_ERR_BAD_PARAMS
    assert lib.pe_interp_bind_variants(ffi.new("pe_interp *"), ffi.cast("const void **", slots), n) \
        == lib.PE_ERR_STATE
    it._interp.variants = saved
    x = np.random.default_rng(0).integers(-128, 128, size=(1, 96, 96, 1), dtype=np.int8)
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    y = it.get_tensor(it.get_output_details()[0]["index"])
    it._interp.variants = ffi.NULL
    it.invoke()
    assert np.array_equal(it.get_tensor(it.get_output_details()[0]["index"]), y)

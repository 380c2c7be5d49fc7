"""get_tensor_details() and get_tensor() as tflite-runtime gives them, on the real models, also
for the tensors packing folded, dropped or fused away.

TFLite lists the model's tensors, then (after allocate_tensors) its kernels' temporaries: unnamed,
unquantized scratch tensors appended after the model's own (DTLN 45 + 12, keyword_scrambled
54 + 14, MobileNetV2 212 + 3 with BUILTIN_REF and + 4 with the default resolver). pyedge lists
the model's tensors, every field as TFLite has it; its own scratch is not a model tensor.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import pyedge
from models import MODELS, model_path
from oracle import reference_interpreter
from pyedge.tflite_reader import read_tflite, with_valid_quantized_dimension

NAMES = sorted(p.stem for p in MODELS.glob("*.tflite") if p.stem != "tflm_audio_preprocessor_int8")


def _pair(name: str):
    raw = model_path(name).read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pe = pyedge.Interpreter(model_content=raw)
        graph = read_tflite(raw)
    return raw, graph, pe, reference_interpreter(with_valid_quantized_dimension(raw))


def _same_detail(a: dict, b: dict) -> list[str]:
    bad = [k for k in ("index", "name", "dtype", "quantization") if a[k] != b[k]]
    bad += [k for k in ("shape", "shape_signature") if a[k].tolist() != b[k].tolist() or a[k].dtype != b[k].dtype]
    qa, qb = a["quantization_parameters"], b["quantization_parameters"]
    for k in ("scales", "zero_points"):
        if qa[k].tolist() != qb[k].tolist() or qa[k].dtype != qb[k].dtype:
            bad.append(k)
    if qa["quantized_dimension"] != qb["quantized_dimension"]:
        bad.append("quantized_dimension")
    return bad


@pytest.mark.parametrize("name", NAMES)
def test_tensor_details_are_tflites(name):
    raw, graph, pe, ref = _pair(name)
    n_model = len(graph.subgraphs[0].tensors)
    before = ref.get_tensor_details()
    assert len(pe.get_tensor_details()) == len(before) == n_model
    ref.allocate_tensors()
    pe.allocate_tensors()
    theirs = {d["index"]: d for d in ref.get_tensor_details()}
    ours = pe.get_tensor_details()
    assert [d["index"] for d in ours] == list(range(n_model))
    for d in ours:
        bad = _same_detail(d, theirs[d["index"]])
        assert not bad, f"{name} tensor {d['index']} ({d['name']!r}): {bad} differ: {d} vs {theirs[d['index']]}"
    extra = [d for i, d in theirs.items() if i >= n_model]
    assert all(d["name"] == "" and d["quantization"] == (0.0, 0) for d in extra), extra  # kernel temporaries


@pytest.mark.parametrize("name", NAMES)
def test_get_tensor_on_every_model_tensor(name):
    """Constants (kept, folded into other ops or dropped by packing) read back as TFLite's;
    activations have TFLite's shape and dtype; an activation packing fused away (a PAD folded
    into the convolution after it) is refused with how to keep it."""
    raw, graph, pe, ref = _pair(name)
    pe.allocate_tensors()
    ref.allocate_tensors()
    rng = np.random.default_rng(0)
    x = [rng.standard_normal(d["shape"]).astype(d["dtype"]) if np.issubdtype(d["dtype"], np.floating)
         else rng.integers(max(-128, np.iinfo(d["dtype"]).min), 128, d["shape"], dtype=d["dtype"])
         for d in pe.get_input_details()]  # float edges; int8 range, or uint8's lower half
    for it in (pe, ref):
        for d, v in zip(it.get_input_details(), x):
            it.set_tensor(d["index"], v)
        it.invoke()
    removed = []
    for t in graph.subgraphs[0].tensors:
        want = ref.get_tensor(t.index)
        try:
            got = pe.get_tensor(t.index)
        except ValueError as exc:
            assert t.data is None and "experimental_preserve_all_tensors=True" in str(exc), (t.index, exc)
            removed.append(t.index)
            continue
        assert got.dtype == want.dtype and got.shape == want.shape, (t.index, t.name, got.shape, want.shape)
        if t.data is not None:
            np.testing.assert_array_equal(got, want, err_msg=f"{name} constant {t.index} ({t.name!r})")
    for d in pe.get_output_details():
        np.testing.assert_array_equal(pe.get_tensor(d["index"]), ref.get_tensor(d["index"]))
    fused = sum(1 for op in graph.subgraphs[0].operators if op.opcode == "PAD")
    assert len(removed) <= fused, removed  # only activations of ops packing folded away
    if removed:
        kept = pyedge.Interpreter(model_content=raw, experimental_preserve_all_tensors=True)
        kept.allocate_tensors()
        for i in removed:
            assert kept.get_tensor(i).shape == ref.get_tensor(i).shape


def test_constants_packing_dropped_need_the_model():
    """From a .peb, a constant that packing dropped is gone: the error says where to read it."""
    raw, graph, pe, _ = _pair("tflm_mobilenet_v2_quantized_1x3x224x224")
    blob = pyedge.pack_tflite(raw)
    peb = pyedge.Interpreter(model_content=blob)
    dropped = [t for t in graph.subgraphs[0].tensors
               if t.data is not None and peb._info.tensors[t.index]["storage"] == 0]
    assert dropped, "MobileNetV2's PAD paddings are folded into the convolutions"
    for t in dropped[:3]:
        np.testing.assert_array_equal(pe.get_tensor(t.index), t.data)  # from the .tflite
        with pytest.raises(ValueError, match="load the .tflite model to read it"):
            peb.get_tensor(t.index)
    kept = next(t for t in graph.subgraphs[0].tensors if t.data is not None and t.index not in
                {d.index for d in dropped})
    np.testing.assert_array_equal(peb.get_tensor(kept.index), kept.data)

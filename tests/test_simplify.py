"""Pack-time simplifications (pyedge/simplify.py): dead ops, constant folding, unused constants.
Every simplified model must stay bit-identical to TFLite's reference kernels, and get smaller."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import pyedge
from models import model_path
from optest import check_model
from oracle import assert_bit_exact, random_inputs, run_model
from pyedge.blob import STORE_CONST, STORE_NONE, read_blob
from pyedge.pack import Packer
from pyedge.simplify import remove_dead_ops, simplify_graph
from pyedge.lower import supported_ops
from pyedge.tflite_reader import read_tflite
from tflite_builder import ModelBuilder

SHAPE = [1, 8, 8, 16]  # 1 KiB of int8
QX, QC, QY = (0.05, -3), (0.02, 4), (0.08, 1)


def _q(q: tuple[float, int]) -> dict:
    return dict(scale=q[0], zero_point=q[1])


def _const(mb: ModelBuilder, seed: int, q=QC, shape=SHAPE, name: str = "") -> int:
    data = np.random.default_rng(seed).integers(-128, 128, size=shape, dtype=np.int8)
    return mb.add_tensor(shape, "int8", data=data, name=name or f"c{seed}", **_q(q))


def _act(mb: ModelBuilder, name: str, q=QY, shape=SHAPE) -> int:
    return mb.add_tensor(shape, "int8", name=name, **_q(q))


def _add(mb: ModelBuilder, a: int, b: int, y: int, op: str = "ADD") -> None:
    mb.add_operator(op, [a, b], [y], ({"ADD": "AddOptions", "MUL": "MulOptions"}[op],
                                      {"FusedActivationFunction": 0}))


def unsimplified(model: bytes) -> bytes:
    """The blob the packer writes without the simplify hook."""
    return Packer(read_tflite(model)).build()


def simplified(blob: bytes) -> dict:
    return read_blob(blob).meta["simplified"]


def dead_ops_model() -> bytes:
    """y = x + c1; a dead branch (x * c2, then + c3, never read) hangs off the input."""
    mb = ModelBuilder("dead ops")
    x = mb.add_tensor(SHAPE, "int8", name="x", **_q(QX))
    c1, c2, c3 = _const(mb, 1), _const(mb, 2), _const(mb, 3)
    y, d1, d2 = _act(mb, "y"), _act(mb, "dead1"), _act(mb, "dead2")
    _add(mb, x, c2, d1, "MUL")
    _add(mb, x, c1, y)
    _add(mb, d1, c3, d2)
    mb.set_io([x], [y])
    return mb.build()


def test_dead_ops_are_dropped_bit_exact_and_smaller() -> None:
    model = dead_ops_model()
    check_model(model)
    blob = pyedge.pack_tflite(model)
    s = simplified(blob)
    assert s["dead_ops"] == 2 and s["folded_ops"] == 0
    assert [(r["index"], r["op"], r["action"]) for r in s["removed_ops"]] == [(0, "MUL", "dead"), (2, "ADD", "dead")]
    assert s["dropped_constants"] == 2 and s["dropped_constant_bytes"] == 2 * 1024  # c2, c3
    info = read_blob(blob)
    assert len(info.ops) == 1 and info.ops[0]["src_index"] == 1  # the source operator index is kept
    assert info.meta["ops"] == [{"name": "ADD", "subgraph": 0, "index": 1}]
    names = info.meta["names"]
    dropped = [names.index(n) for n in ("c2", "c3", "dead1", "dead2")]
    assert all(info.tensors[i]["storage"] == STORE_NONE for i in dropped)  # tensor table entries stay
    assert len(info.tensors) == len(read_blob(unsimplified(model)).tensors)
    plain = read_blob(unsimplified(model))
    assert info.sections[6][1] == plain.sections[6][1] - 2 * 1024  # const section: c2 and c3 gone
    assert len(blob) < len(unsimplified(model))
    assert info.header["arena_size"] < plain.header["arena_size"]  # dead1, dead2 no longer planned


def fold_model() -> bytes:
    """t = c1 + c2; u = t * c3 (both constant); y = x + u. A float constant quantized to int8
    feeds a second output: z = x + quantize(f)."""
    mb = ModelBuilder("constant folding")
    x = mb.add_tensor(SHAPE, "int8", name="x", **_q(QX))
    c1, c2, c3 = _const(mb, 1), _const(mb, 2), _const(mb, 3)
    t, u, y = _act(mb, "t", QC), _act(mb, "u", (0.03, -2)), _act(mb, "y")
    f = mb.add_tensor(SHAPE, "float32", name="f",
                      data=np.random.default_rng(4).standard_normal(SHAPE).astype(np.float32))
    fq, z = _act(mb, "f_q", (0.02, 0)), _act(mb, "z")
    _add(mb, c1, c2, t)
    _add(mb, t, c3, u, "MUL")
    _add(mb, x, u, y)
    mb.add_operator("QUANTIZE", [f], [fq])
    _add(mb, x, fq, z)
    mb.set_io([x], [y, z])
    return mb.build()


def test_constant_ops_are_folded_bit_exact_and_smaller() -> None:
    model = fold_model()
    check_model(model)
    blob = pyedge.pack_tflite(model)
    s = simplified(blob)
    assert s["folded_ops"] == 3 and s["dead_ops"] == 0 and s["fold_failed"] == 0
    assert {r["op"] for r in s["removed_ops"]} == {"ADD", "MUL", "QUANTIZE"}
    # c1, c2, c3, f (4 KiB of float) and the folded intermediate t are no longer stored
    assert s["dropped_constants"] == 5 and s["dropped_constant_bytes"] == 4 * 1024 + 4 * 1024
    assert s["folded_constant_bytes"] == 3 * 1024  # t, u, f_q
    info = read_blob(blob)
    names = info.meta["names"]
    assert info.tensors[names.index("u")]["storage"] == STORE_CONST
    assert info.tensors[names.index("f_q")]["storage"] == STORE_CONST
    assert [o["name"] for o in info.meta["ops"]] == ["ADD", "ADD"]
    plain = read_blob(unsimplified(model))
    # c1, c2, c3 and f (7 KiB) became u and f_q (2 KiB); t is gone
    assert info.sections[6][1] == plain.sections[6][1] - 5 * 1024
    assert len(blob) < len(unsimplified(model)) - 4 * 1024
    assert info.tensors[names.index("t")]["storage"] == STORE_NONE


def test_folded_constant_output_and_broadcast_growth_limit() -> None:
    """A graph output that is a folded constant; a broadcast whose result is far larger than its
    inputs is folded below the growth limit and left to run above it."""
    mb = ModelBuilder("constant output")
    x = mb.add_tensor([64, 64], "int8", name="x", **_q(QX))
    a, b = _const(mb, 5, shape=[64, 1]), _const(mb, 6, shape=[1, 64])
    k, y = _act(mb, "k", shape=[64, 64]), _act(mb, "y", shape=[64, 64])
    _add(mb, a, b, k)
    _add(mb, x, k, y)
    mb.set_io([x], [y, k])
    model = mb.build()
    check_model(model, seeds=(0,))
    assert simplified(pyedge.pack_tflite(model))["folded_ops"] == 1  # 4 KiB output < 16 KiB limit
    g = read_tflite(model)
    s = simplify_graph(g, max_fold_growth=1024)
    assert s["folded_ops"] == 0 and s["fold_skipped_growth"] == 1
    assert g.subgraphs[0].tensors[k].data is None


def test_fold_that_fails_is_left_to_the_normal_error() -> None:
    """A constant GATHER with an out-of-range index: folding fails, and the pack reports it."""
    mb = ModelBuilder("bad gather")
    x = mb.add_tensor([4], "int32", name="x")
    params = mb.add_tensor([4], "int32", data=np.arange(4, dtype=np.int32), name="params")
    idx = mb.add_tensor([2], "int32", data=np.array([1, 7], np.int32), name="idx")
    g, y = mb.add_tensor([2], "int32", name="g"), mb.add_tensor([2], "int32", name="y")
    mb.add_operator("GATHER", [params, idx], [g], ("GatherOptions", {"Axis": 0}))
    mb.add_operator("SLICE", [x, mb.add_tensor([1], "int32", data=np.array([0], np.int32)),
                              mb.add_tensor([1], "int32", data=np.array([2], np.int32))], [y])
    mb.set_io([x], [y, g])
    graph = read_tflite(mb.build())
    s = simplify_graph(graph)
    assert s["fold_failed"] == 1 and s["folded_ops"] == 0
    assert [op.opcode for op in graph.subgraphs[0].operators] == ["GATHER", "SLICE"]
    with pytest.raises(pyedge.UnsupportedOpError, match=r"constant indices \[7\]"):
        pyedge.pack_tflite(mb.build())


def variable_model() -> bytes:
    """Resource variable accumulator (CALL_ONCE init, READ, ADD, ASSIGN) plus a dead READ."""
    mb = ModelBuilder("accumulator")
    init = mb.add_subgraph("init")
    h0 = mb.add_tensor([], "resource", subgraph=init)
    v0 = mb.add_tensor(None, "int32", data=np.array([10, -20, 30], np.int32), subgraph=init)
    mb.add_operator("VAR_HANDLE", [], [h0], ("VarHandleOptions", {"SharedName": "acc"}), subgraph=init)
    mb.add_operator("ASSIGN_VARIABLE", [h0, v0], [], subgraph=init)
    mb.set_io([], [], subgraph=init)
    x = mb.add_tensor([3], "int32", name="x")
    h = mb.add_tensor([], "resource", name="h")
    value, unused, y = (mb.add_tensor([3], "int32", name=n) for n in ("value", "unused", "y"))
    mb.add_operator("CALL_ONCE", [], [], ("CallOnceOptions", {"InitSubgraphIndex": init}))
    mb.add_operator("VAR_HANDLE", [], [h], ("VarHandleOptions", {"SharedName": "acc"}))
    mb.add_operator("READ_VARIABLE", [h], [value])
    mb.add_operator("READ_VARIABLE", [h], [unused])
    mb.add_operator("ADD", [value, x], [y], ("AddOptions", {}))
    mb.add_operator("ASSIGN_VARIABLE", [h, y], [])
    mb.set_io([x], [y])
    return mb.build()


def test_side_effects_are_kept() -> None:
    """ASSIGN_VARIABLE and CALL_ONCE have no outputs but stay; only the dead READ goes. The
    accumulated state must match TFLite over several invokes."""
    model = variable_model()
    check_model(model, invokes=4)
    s = simplified(pyedge.pack_tflite(model))
    assert s["dead_ops"] == 1 and s["removed_ops"][0]["op"] == "READ_VARIABLE" and s["removed_ops"][0]["index"] == 3


def test_ops_touching_variable_tensors_are_kept() -> None:
    """An op reading a variable tensor (as SVDF/LSTM update their state inputs) is never dropped,
    even when nothing reads its output; the same op on a constant is."""
    mb = ModelBuilder("variable input")
    x = mb.add_tensor(SHAPE, "int8", name="x", **_q(QX))
    v = mb.add_tensor(SHAPE, "int8", name="v", is_variable=True, **_q(QC))
    t1, t2, y = _act(mb, "t1"), _act(mb, "t2"), _act(mb, "y")
    _add(mb, v, x, t1)
    _add(mb, _const(mb, 1), x, t2)
    _add(mb, x, x, y)
    mb.set_io([x], [y])
    model = mb.build()
    graph = read_tflite(model)
    report: list = []
    assert remove_dead_ops(graph, set(supported_ops()), report) == 1
    assert [op.index for op in graph.subgraphs[0].operators] == [0, 2]
    check_model(model, seeds=(0,))


def test_unsupported_dead_ops_are_still_reported() -> None:
    """Ops pyedge cannot lower are never dropped silently, even when dead."""
    mb = ModelBuilder("dead floor")
    x = mb.add_tensor([4], "float32", name="x")
    y, dead = mb.add_tensor([4], "float32", name="y"), mb.add_tensor([4], "float32", name="dead")
    mb.add_operator("FLOOR", [x], [dead])
    mb.add_operator("RESHAPE", [x], [y], ("ReshapeOptions", {"NewShape": [4]}))
    mb.set_io([x], [y])
    with pytest.raises(pyedge.UnsupportedOpError, match="op FLOOR"):
        pyedge.pack_tflite(mb.build())


def test_preserve_all_tensors_skips_simplification() -> None:
    model = dead_ops_model()
    it = pyedge.Interpreter(model_content=model, experimental_preserve_all_tensors=True)
    assert "simplified" not in it._info.meta
    it.allocate_tensors()
    x = random_inputs(model, np.random.default_rng(0))[0]
    it.set_tensor(0, x)
    it.invoke()
    names = [d["name"] for d in it.get_tensor_details()]
    assert it.get_tensor(names.index("dead2")).shape == tuple(SHAPE)  # a dead op's output stays readable


SMALL_MODELS = ["tflm_micro_speech_quantized", "tflm_person_detect", "tflm_trained_lstm_int8",
                "tflm_keyword_scrambled", "tflm_dtln_noise_suppression"]


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_real_models_unchanged(name: str) -> None:
    """The real models have nothing to simplify, and the simplified pack computes what the
    unsimplified one does (test_models.py checks them against TFLite)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = model_path(name).read_bytes()
        blob, plain = pyedge.pack_tflite(raw), unsimplified(raw)
    s = simplified(blob)
    assert s["dead_ops"] == s["folded_ops"] == s["dropped_constants"] == 0
    x = random_inputs(pyedge.Interpreter(model_content=blob), np.random.default_rng(0), count=2)
    for g, w in zip(run_model(pyedge.Interpreter, blob, x, invokes=2),
                    run_model(pyedge.Interpreter, plain, x, invokes=2)):
        assert_bit_exact(g, w, context=name)

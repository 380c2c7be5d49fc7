"""Pack-time simplifications (pyedge/simplify.py): dead ops, constant folding, PAD folded into
convolutions, activations fused into the op before them, unused constants. Every simplified model
must stay bit-identical to TFLite's reference kernels, and get smaller."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import tflite

import pyedge
from models import model_path
from optest import check_model
from oracle import assert_bit_exact, random_inputs, run_model
from pyedge.blob import STORE_CONST, STORE_NONE, read_blob
from pyedge.pack import Packer
from pyedge.simplify import _relu_matches_fused, remove_dead_ops, simplify_graph
from pyedge.lower import supported_ops
from pyedge.lower.conv import EXPLICIT_PADDING
from pyedge.quant import activation_range
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
    """Only folding runs (its results stay readable as constants): no dead op, fusion or dropped
    constant."""
    model = dead_ops_model()
    it = pyedge.Interpreter(model_content=model, experimental_preserve_all_tensors=True)
    s = it._info.meta["simplified"]
    assert s["dead_ops"] == s["fused_pads"] == s["fused_activations"] == s["dropped_constants"] == 0
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
    assert s["dead_ops"] == s["folded_ops"] == s["dropped_constants"] == s["fused_pads"] == 0
    assert s["fused_activations"] == 0
    x = random_inputs(pyedge.Interpreter(model_content=blob), np.random.default_rng(0), count=2)
    for g, w in zip(run_model(pyedge.Interpreter, blob, x, invokes=2),
                    run_model(pyedge.Interpreter, plain, x, invokes=2)):
        assert_bit_exact(g, w, context=name)


# ---- PAD folded into the convolution reading it ------------------------------------------------------
# The packed model runs the fused graph; check_model compares it with TFLite's reference kernels
# running the ORIGINAL model (PAD, then the convolution).
SAME, VALID = tflite.Padding.SAME, tflite.Padding.VALID
NONE, RELU, RELU_N1, RELU6 = 0, 1, 2, 3
HW = [[0, 0], [1, 1], [1, 1], [0, 0]]  # MobileNetV2's PADs


def _in_q(dtype: str) -> tuple[float, int]:
    return (0.05, -3) if dtype == "int8" else (0.0005, 0)


def _conv_out_scale(in_scale: float, w_scale: float, taps: int, dtype: str) -> float:
    """Spreads a typical accumulator of random inputs and weights over a third of the range."""
    in_std, q_max = (74.0, 127.0) if dtype == "int8" else (18918.0, 32767.0)
    return float(in_scale * w_scale * in_std * 74.0 * np.sqrt(max(taps, 1)) / (q_max / 3))


def _window_out(padding: int, size: int, k: int, stride: int, dilation: int) -> int:
    eff = (k - 1) * dilation + 1
    return -(-size // stride) if padding == SAME else (size - eff + stride) // stride


def _add_conv(mb: ModelBuilder, x: int, x_shape, x_q, *, op: str = "CONV_2D", k=(3, 3), out_c: int = 4,
              dm: int = 1, stride=(1, 1), dilation=(1, 1), padding=VALID, dtype: str = "int8", act: int = NONE,
              seed: int = 0, out_q=None, name: str = "y") -> tuple[int, list[int]]:
    """A CONV_2D or DEPTHWISE_CONV_2D (depth multiplier `dm`) reading tensor `x`; returns (output
    tensor, its shape)."""
    rng = np.random.default_rng(seed)
    n, h, w, c = x_shape
    kh, kw = k
    if op == "DEPTHWISE_CONV_2D":
        out_c, wshape, qdim, taps = c * dm, (1, kh, kw, c * dm), 3, kh * kw
    else:
        wshape, qdim, taps = (out_c, kh, kw, c), 0, kh * kw * c
    weights = rng.integers(-127, 128, size=wshape).astype(np.int8)
    w_scales = [float(s) for s in rng.uniform(0.002, 0.02, size=out_c)]
    wt = mb.add_tensor(list(wshape), "int8", data=weights, scale=w_scales, zero_point=[0] * out_c,
                       quantized_dimension=qdim)
    bias_t = "int32" if dtype == "int8" else "int64"
    bias = rng.integers(-3000, 3001, size=out_c).astype(bias_t)
    bt = mb.add_tensor([out_c], bias_t, data=bias, scale=[x_q[0] * s for s in w_scales], zero_point=[0] * out_c)
    out_shape = [n, _window_out(padding, h, kh, stride[0], dilation[0]),
                 _window_out(padding, w, kw, stride[1], dilation[1]), out_c]
    if out_q is None:
        out_q = (_conv_out_scale(x_q[0], float(np.mean(w_scales)), taps, dtype), 5 if dtype == "int8" else 0)
    y = mb.add_tensor(out_shape, dtype, name=name, **_q(out_q))
    opts = {"Padding": padding, "StrideH": stride[0], "StrideW": stride[1], "DilationHFactor": dilation[0],
            "DilationWFactor": dilation[1], "FusedActivationFunction": act}
    if op == "DEPTHWISE_CONV_2D":
        opts["DepthMultiplier"] = dm
    mb.add_operator(op, [x, wt, bt], [y], ("DepthwiseConv2DOptions" if op == "DEPTHWISE_CONV_2D"
                                           else "Conv2DOptions", opts))
    return y, out_shape


def _add_pad(mb: ModelBuilder, x: int, x_shape, pads, dtype: str, x_q, *, out_q=None, pad_op: str = "PAD",
             value=None, pads_type: str = "int32", name: str = "padded") -> tuple[int, list[int]]:
    """PAD (or PADV2 with constant `value`, default the zero point) of tensor x; returns (output,
    shape)."""
    out_q = x_q if out_q is None else out_q
    shape = [d + a + b for d, (a, b) in zip(x_shape, pads)]
    y = mb.add_tensor(shape, dtype, name=name, **_q(out_q))
    p = mb.add_tensor([len(pads), 2], pads_type, data=np.asarray(pads, pads_type))
    if pad_op == "PADV2":
        v = mb.add_tensor([], dtype, data=np.array(out_q[1] if value is None else value, dtype), **_q(out_q))
        mb.add_operator("PADV2", [x, p, v], [y])
    else:
        mb.add_operator("PAD", [x, p], [y])
    return y, shape


def pad_conv_model(in_shape, pads=HW, *, dtype: str = "int8", pad_op: str = "PAD", value=None, pad_out_q=None,
                   pads_type: str = "int32", **conv) -> bytes:
    """x -> PAD -> CONV_2D / DEPTHWISE_CONV_2D -> y."""
    mb = ModelBuilder("pad + conv")
    q = _in_q(dtype)
    x = mb.add_tensor(list(in_shape), dtype, name="x", **_q(q))
    t, t_shape = _add_pad(mb, x, in_shape, pads, dtype, q, out_q=pad_out_q, pad_op=pad_op, value=value,
                          pads_type=pads_type)
    y, _ = _add_conv(mb, t, t_shape, q if pad_out_q is None else pad_out_q, dtype=dtype, **conv)
    mb.set_io([x], [y])
    return mb.build()


def _fused(model: bytes, pads: int, acts: int = 0, ops: int | None = None) -> bytes:
    """Pack `model`; assert how many PADs and activations were fused and how many ops remain."""
    blob = pyedge.pack_tflite(model)
    s = simplified(blob)
    assert (s["fused_pads"], s["fused_activations"]) == (pads, acts), s
    info = read_blob(blob)
    if ops is not None:
        assert len(info.ops) == ops, info.meta["ops"]
    assert len(info.ops) == len(read_blob(unsimplified(model)).ops) - pads - acts
    return blob


def _check_pad_conv(model: bytes, fused: bool, seeds=(0, 1, 2)) -> None:
    check_model(model, seeds=seeds)
    _fused(model, pads=int(fused), ops=1 if fused else 2)


@pytest.mark.parametrize("in_shape, pads, kw", [
    ([1, 6, 7, 3], HW, dict()),                                                  # MobileNetV2's 3x3
    ([1, 7, 9, 3], HW, dict(stride=(2, 2))),                                     # its stride-2 first conv
    ([1, 6, 5, 2], [[0, 0], [2, 0], [0, 3], [0, 0]], dict()),                    # asymmetric: top, right only
    ([1, 6, 5, 2], [[0, 0], [0, 1], [3, 1], [0, 0]], dict(stride=(2, 3))),
    ([2, 8, 7, 3], [[0, 0], [1, 2], [2, 1], [0, 0]], dict(dilation=(2, 2), stride=(1, 2))),
    ([1, 5, 6, 2], [[0, 0], [4, 4], [5, 0], [0, 0]], dict(k=(2, 3))),           # padding wider than the window
    ([1, 4, 4, 3], [[0, 0], [0, 0], [1, 1], [0, 0]], dict(k=(1, 3))),           # one spatial dim only
    ([1, 5, 5, 4], HW, dict(k=(1, 1), out_c=3)),                                # 1x1: the ring is all zero point
    ([1, 6, 6, 2], [[0, 0], [3, 0], [0, 0], [0, 0]], dict(k=(3, 2), stride=(3, 1))),  # rows never reached
    ([1, 5, 4, 4], [[0, 0], [1, 1], [1, 1], [0, 0]], dict(act=RELU6)),          # fused activation kept
])
def test_pad_folds_into_conv_int8(in_shape, pads, kw) -> None:
    _check_pad_conv(pad_conv_model(in_shape, pads, **kw), fused=True)


@pytest.mark.parametrize("in_shape, pads, dm, stride, dilation", [
    ([1, 6, 7, 3], HW, 1, (1, 1), (1, 1)),
    ([1, 9, 8, 4], HW, 1, (2, 2), (1, 1)),
    ([1, 5, 6, 2], [[0, 0], [2, 1], [0, 2], [0, 0]], 3, (1, 2), (1, 1)),        # depth multiplier 3
    ([2, 7, 7, 3], [[0, 0], [1, 3], [2, 2], [0, 0]], 2, (2, 1), (2, 3)),
])
@pytest.mark.parametrize("dtype", ["int8", "int16"])
def test_pad_folds_into_depthwise(in_shape, pads, dm, stride, dilation, dtype: str) -> None:
    model = pad_conv_model(in_shape, pads, op="DEPTHWISE_CONV_2D", dm=dm, stride=stride, dilation=dilation,
                           dtype=dtype)
    _check_pad_conv(model, fused=True)


@pytest.mark.parametrize("pads, kw", [
    (HW, dict()),
    ([[0, 0], [2, 1], [0, 2], [0, 0]], dict(stride=(2, 2), dilation=(1, 1))),
    ([[0, 0], [1, 0], [1, 2], [0, 0]], dict(dilation=(2, 1), act=RELU)),
])
def test_pad_folds_into_conv_int16x8(pads, kw) -> None:
    _check_pad_conv(pad_conv_model([1, 6, 7, 3], pads, dtype="int16", **kw), fused=True)


@pytest.mark.parametrize("in_shape, pads, kw", [
    ([1, 6, 7, 3], HW, dict(k=(3, 3))),                                          # total SAME padding even
    ([1, 6, 7, 3], [[0, 0], [1, 0], [0, 2], [0, 0]], dict(k=(4, 2))),           # odd: the extra after
    ([1, 9, 8, 2], [[0, 0], [2, 1], [1, 1], [0, 0]], dict(stride=(2, 3), k=(3, 3))),
    ([1, 7, 6, 2], [[0, 0], [0, 3], [1, 0], [0, 0]], dict(dilation=(2, 2), k=(3, 2))),
    ([1, 4, 5, 3], [[0, 0], [1, 1], [0, 0], [0, 0]], dict(k=(1, 1), stride=(2, 2))),  # SAME adds nothing
    ([1, 3, 3, 2], [[0, 0], [1, 1], [1, 1], [0, 0]], dict(k=(7, 6))),           # window larger than the input
])
@pytest.mark.parametrize("op", ["CONV_2D", "DEPTHWISE_CONV_2D"])
def test_pad_folds_into_same_conv(in_shape, pads, kw, op: str) -> None:
    """SAME convolution after a PAD: its implicit padding (computed on the padded size) is added
    to the PAD's."""
    model = pad_conv_model(in_shape, pads, padding=SAME, op=op, dm=2 if op == "DEPTHWISE_CONV_2D" else 1, **kw)
    _check_pad_conv(model, fused=True)


@pytest.mark.parametrize("dtype", ["int8", "int16"])
@pytest.mark.parametrize("pads_type", ["int32", "int64"])
def test_padv2_with_the_zero_point_folds(dtype: str, pads_type: str) -> None:
    _check_pad_conv(pad_conv_model([1, 5, 6, 3], [[0, 0], [1, 2], [2, 1], [0, 0]], dtype=dtype, pad_op="PADV2",
                                   pads_type=pads_type, stride=(2, 1)), fused=True)


@pytest.mark.parametrize("case, model", [
    ("channel padding", lambda: pad_conv_model([1, 5, 5, 3], [[0, 0], [1, 1], [1, 1], [0, 1]])),
    ("batch padding", lambda: pad_conv_model([1, 5, 5, 3], [[1, 0], [1, 1], [1, 1], [0, 0]])),
    ("PADV2 value is not the zero point", lambda: pad_conv_model([1, 5, 5, 3], pad_op="PADV2", value=40)),
    ("int16 PADV2 value is not 0", lambda: pad_conv_model([1, 5, 5, 3], dtype="int16", pad_op="PADV2", value=-9)),
    ("PAD output zero point differs", lambda: pad_conv_model([1, 5, 5, 3], pad_out_q=(0.05, 7))),
    ("PAD output scale differs", lambda: pad_conv_model([1, 5, 5, 3], pad_out_q=(0.07, -3))),
])
def test_pad_that_must_not_fold(case: str, model) -> None:
    """Each is exact only unfused: padding outside H and W, padding with another value than the
    conv input's zero point, or a PAD that changes the quantization it passes on."""
    _check_pad_conv(model(), fused=False)


def _pad_conv_plus(extra: str) -> bytes:
    """x -> PAD -> t -> CONV_2D -> y, with t also read by another op or a graph output, or PAD
    feeding a MAX_POOL_2D instead."""
    mb = ModelBuilder(f"pad + {extra}")
    q = _in_q("int8")
    x = mb.add_tensor([1, 5, 6, 3], "int8", name="x", **_q(q))
    t, shape = _add_pad(mb, x, [1, 5, 6, 3], HW, "int8", q)
    outs = []
    if extra == "max_pool":
        y = mb.add_tensor([1, 6, 7, 3], "int8", name="y", **_q(q))
        mb.add_operator("MAX_POOL_2D", [t], [y], ("Pool2DOptions", {"Padding": VALID, "StrideH": 1, "StrideW": 1,
                                                                    "FilterHeight": 2, "FilterWidth": 2}))
        outs.append(y)
    else:
        y, _ = _add_conv(mb, t, shape, q)
        outs.append(y)
    if extra == "second_reader":
        z = mb.add_tensor(shape, "int8", name="z", **_q((0.1, 2)))
        mb.add_operator("ADD", [t, t], [z], ("AddOptions", {}))
        outs.append(z)
    elif extra == "graph_output":
        outs.append(t)
    elif extra == "two_convs":
        y2, _ = _add_conv(mb, t, shape, q, seed=1, name="y2")
        outs.append(y2)
    mb.set_io([x], outs)
    return mb.build()


@pytest.mark.parametrize("extra", ["second_reader", "graph_output", "two_convs", "max_pool"])
def test_pad_read_elsewhere_does_not_fold(extra: str) -> None:
    model = _pad_conv_plus(extra)
    check_model(model)
    assert simplified(pyedge.pack_tflite(model))["fused_pads"] == 0


def test_pad_chain_folds_into_one_conv() -> None:
    """PAD -> PAD -> conv: both fold, their paddings add up."""
    mb = ModelBuilder("pad chain")
    q = _in_q("int8")
    x = mb.add_tensor([1, 5, 4, 2], "int8", name="x", **_q(q))
    t1, s1 = _add_pad(mb, x, [1, 5, 4, 2], [[0, 0], [1, 0], [0, 2], [0, 0]], "int8", q, name="p1")
    t2, s2 = _add_pad(mb, t1, s1, [[0, 0], [2, 1], [1, 0], [0, 0]], "int8", q, pad_op="PADV2", name="p2")
    y, _ = _add_conv(mb, t2, s2, q, stride=(2, 1), padding=SAME)
    mb.set_io([x], [y])
    model = mb.build()
    check_model(model)
    _fused(model, pads=2, ops=1)
    graph = read_tflite(model)
    simplify_graph(graph)
    (conv,) = graph.subgraphs[0].operators
    # [top, bottom, left, right]: p1 + p2 + the SAME conv's own (1 each side: H 9 -> 5, W 7 -> 7)
    assert conv.options[EXPLICIT_PADDING] == [1 + 2 + 1, 0 + 1 + 1, 0 + 1 + 1, 2 + 0 + 1]
    assert conv.options["Padding"] == VALID


def test_explicit_padding_is_validated_by_the_lowering() -> None:
    """The conv lowering refuses explicit padding it cannot run exactly."""
    model = pad_conv_model([1, 5, 5, 3])

    def pack_with(**opts):
        graph = read_tflite(model)
        simplify_graph(graph)
        (conv,) = graph.subgraphs[0].operators
        conv.options = {**conv.options, **opts}
        return Packer(graph).build()

    pyedge.Interpreter(model_content=pack_with())  # as fused: [1, 1, 1, 1]
    for opts, match in [({EXPLICIT_PADDING: [1, 1, 1]}, "not four integers"),
                        ({EXPLICIT_PADDING: [1, -1, 1, 1]}, "outside"),
                        ({EXPLICIT_PADDING: [1, 1, 1, 1 << 31]}, "outside"),
                        ({EXPLICIT_PADDING: [1.0, 1, 1, 1]}, "not four integers"),
                        ({"Padding": SAME}, "needs VALID"),
                        ({EXPLICIT_PADDING: [1, 2, 1, 1]}, "differs from the shape TFLite computes"),
                        ({EXPLICIT_PADDING: [0, 0, 0, 0]}, "differs from the shape TFLite computes")]:
        with pytest.raises(pyedge.UnsupportedOpError, match=match):
            pack_with(**opts)


# ---- standalone RELU, RELU6, RELU_N1_TO_1 fused into the op before them ---------------------------------

ACT_NAMES = {RELU: "RELU", RELU6: "RELU6", RELU_N1: "RELU_N1_TO_1"}


def _producer(mb: ModelBuilder, producer: str, dtype: str, out_q, rng, act: int = NONE) -> tuple[int, int, list[int]]:
    """A graph input and the op `producer` computing t from it with fused activation `act`;
    returns (input, t, t's shape). Quantization: t gets out_q."""
    if producer in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        q = _in_q(dtype)
        x = mb.add_tensor([1, 6, 5, 3], dtype, name="x", **_q(q))
        t, shape = _add_conv(mb, x, [1, 6, 5, 3], q, op=producer, dm=2, padding=SAME, dtype=dtype, out_q=out_q,
                             act=act, name="t")
        return x, t, shape
    if producer == "FULLY_CONNECTED":
        q = _in_q(dtype)
        x = mb.add_tensor([2, 24], dtype, name="x", **_q(q))
        w = rng.integers(-127, 128, size=(7, 24)).astype(np.int8)
        wt = mb.add_tensor([7, 24], "int8", data=w, scale=0.01, zero_point=0)
        bias_t = "int32" if dtype == "int8" else "int64"
        bt = mb.add_tensor([7], bias_t, data=rng.integers(-2000, 2001, size=7).astype(bias_t),
                           scale=q[0] * 0.01, zero_point=0)
        t = mb.add_tensor([2, 7], dtype, name="t", **_q(out_q))
        mb.add_operator("FULLY_CONNECTED", [x, wt, bt], [t],
                        ("FullyConnectedOptions", {"FusedActivationFunction": act}))
        return x, t, [2, 7]
    # ADD, SUB, MUL of the input and a constant; ADD_POT, SUB_POT: int16 with power-of-two scales
    shape = [2, 3, 16]
    base = producer.replace("_POT", "")
    q = (2.0 ** -11, 0) if producer.endswith("_POT") else _in_q(dtype)
    x = mb.add_tensor(shape, dtype, name="x", **_q(q))
    info = np.iinfo(dtype)
    c = mb.add_tensor(shape, dtype, data=rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype),
                      name="c", **_q((2.0 ** -12, 0) if producer.endswith("_POT")
                                     else (0.04, 2 if dtype == "int8" else 0)))
    t = mb.add_tensor(shape, dtype, name="t", **_q(out_q))
    mb.add_operator(base, [x, c], [t], (f"{base.title()}Options", {"FusedActivationFunction": act}))
    return x, t, shape


# the producer's output quantization (so that each activation's clamp cuts off values at both
# ends where it has two) by (producer, dtype)
def _act_q(producer: str, dtype: str, act: int) -> tuple[float, int]:
    if dtype == "int16":
        # power of two: TFLite's shift-only path (the output on x's scale, the constant finer)
        return (2.0 ** -11, 0) if producer.endswith("_POT") else ({"MUL": 0.0002}.get(producer, 0.0004), 0)
    scale = {RELU: 0.1, RELU6: 0.1, RELU_N1: 0.02}[act]
    if producer in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        scale /= 4
    if producer == "MUL":
        scale *= 4
    return scale, 10


def act_model(producer: str, act: int, dtype: str = "int8", *, act_out_q=None, producer_act: int = NONE,
              extra: str = "") -> bytes:
    """x -> producer -> t -> RELU / RELU6 / RELU_N1_TO_1 -> z."""
    rng = np.random.default_rng(7)
    mb = ModelBuilder(f"{producer} + {ACT_NAMES[act]}")
    out_q = _act_q(producer, dtype, act)
    x, t, shape = _producer(mb, producer, dtype, out_q, rng, producer_act)
    z = mb.add_tensor(shape, dtype, name="z", **_q(act_out_q or out_q))
    mb.add_operator(ACT_NAMES[act], [t], [z])
    outs = [z]
    if extra == "graph_output":
        outs.append(t)
    elif extra == "second_reader":
        r = mb.add_tensor(shape, dtype, name="r", **_q(out_q))
        mb.add_operator("RELU6" if act != RELU6 else "RELU", [t], [r])
        outs.append(r)
    mb.set_io([x], outs)
    return mb.build()


def _inputs(model: bytes, seed: int) -> list[np.ndarray]:
    return random_inputs(model, np.random.default_rng(seed))


PRODUCERS = ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "SUB", "MUL"]


@pytest.mark.parametrize("act", [RELU, RELU6, RELU_N1])
@pytest.mark.parametrize("producer", PRODUCERS)
def test_activation_fuses_into_producer_int8(producer: str, act: int) -> None:
    model = act_model(producer, act)
    _fused(model, pads=0, acts=1, ops=1)
    for seed in (0, 1, 2):
        got = check_model(model, seeds=(seed,))[0][0]
        # the clamp is exercised: outputs sit at its bounds
        lo, hi = activation_range(act, *_act_q(producer, "int8", act), np.int8)
        assert (got == lo).any() and got.min() >= lo and got.max() <= hi
        if act != RELU:
            assert (got == hi).any()


@pytest.mark.parametrize("act", [RELU, RELU6])
@pytest.mark.parametrize("producer", PRODUCERS + ["ADD_POT", "SUB_POT"])
def test_activation_fuses_into_producer_int16(producer: str, act: int) -> None:
    model = act_model(producer, act, "int16")
    _fused(model, pads=0, acts=1, ops=1)
    got = check_model(model)[0][0]
    lo, hi = activation_range(act, *_act_q(producer, "int16", act), np.int16)
    assert (got == lo).any() and (act == RELU or (got == hi).any())


@pytest.mark.parametrize("case, model", [
    ("producer has an activation", lambda: act_model("CONV_2D", RELU, producer_act=RELU6)),
    ("producer output is a graph output", lambda: act_model("ADD", RELU6, extra="graph_output")),
    ("producer output read twice", lambda: act_model("FULLY_CONNECTED", RELU, extra="second_reader")),
    ("RELU requantizes (zero point)", lambda: act_model("MUL", RELU, act_out_q=(0.4, 11))),
    ("RELU6 requantizes (scale)", lambda: act_model("DEPTHWISE_CONV_2D", RELU6, act_out_q=(0.03, 10))),
    ("int16 RELU requantizes", lambda: act_model("CONV_2D", RELU, "int16", act_out_q=(0.0005, 0))),
])
def test_activation_that_must_not_fuse(case: str, model) -> None:
    m = model()
    check_model(m)
    assert simplified(pyedge.pack_tflite(m))["fused_activations"] == 0


def test_activation_after_other_ops_is_not_fused() -> None:
    """MAX_POOL_2D has no fused activation to take the RELU; RELU_0_TO_1 has no fused form."""
    mb = ModelBuilder("pool + relu")
    x = mb.add_tensor([1, 4, 4, 2], "int8", name="x", **_q(QX))
    p = mb.add_tensor([1, 2, 2, 2], "int8", name="p", **_q(QX))
    a = mb.add_tensor([1, 2, 2, 2], "int8", name="a", **_q(QX))
    t = mb.add_tensor([1, 2, 2, 2], "int8", name="t", **_q(QY))
    z = mb.add_tensor([1, 2, 2, 2], "int8", name="z", **_q(QY))
    mb.add_operator("MAX_POOL_2D", [x], [p], ("Pool2DOptions", {"Padding": VALID, "StrideH": 2, "StrideW": 2,
                                                                "FilterHeight": 2, "FilterWidth": 2}))
    mb.add_operator("RELU", [p], [a])
    mb.add_operator("ADD", [a, a], [t], ("AddOptions", {"FusedActivationFunction": 0}))
    mb.add_operator("RELU_0_TO_1", [t], [z])
    mb.set_io([x], [z])
    model = mb.build()
    check_model(model)
    assert simplified(pyedge.pack_tflite(model))["fused_activations"] == 0


def test_relu_range_check_refuses_a_wrapping_bound() -> None:
    """With a scale so fine that 6 / scale overflows int32, TFLite's RELU6 bound wraps
    (tests/test_ops_activation.py) while a fused RELU6's does not: never fused."""
    t = read_tflite(act_model("ADD", RELU6)).subgraphs[0].tensors[2]
    assert _relu_matches_fused("RELU6", t)
    t.scales = np.array([1e-9], np.float32)
    assert not _relu_matches_fused("RELU6", t)
    assert _relu_matches_fused("RELU", t)


def test_pad_and_activation_fuse_in_one_chain() -> None:
    """PAD -> DEPTHWISE_CONV_2D -> RELU6 -> PAD -> CONV_2D -> RELU: two ops left."""
    mb = ModelBuilder("chain")
    q = _in_q("int8")
    x = mb.add_tensor([1, 7, 6, 4], "int8", name="x", **_q(q))
    p1, s1 = _add_pad(mb, x, [1, 7, 6, 4], HW, "int8", q, name="p1")
    aq = (0.025, -20)
    d, sd = _add_conv(mb, p1, s1, q, op="DEPTHWISE_CONV_2D", dm=2, stride=(2, 2), out_q=aq, name="d")
    r1 = mb.add_tensor(sd, "int8", name="r1", **_q(aq))
    mb.add_operator("RELU6", [d], [r1])
    p2, s2 = _add_pad(mb, r1, sd, [[0, 0], [0, 1], [1, 0], [0, 0]], "int8", aq, name="p2")
    c, sc = _add_conv(mb, p2, s2, aq, k=(2, 2), out_q=(0.05, 3), name="c")
    z = mb.add_tensor(sc, "int8", name="z", **_q((0.05, 3)))
    mb.add_operator("RELU", [c], [z])
    mb.set_io([x], [z])
    model = mb.build()
    check_model(model)
    blob = _fused(model, pads=2, acts=2, ops=2)
    assert [o["name"] for o in read_blob(blob).meta["ops"]] == ["DEPTHWISE_CONV_2D", "CONV_2D"]


def test_mobilenet_v2_pads_fold_into_its_convolutions() -> None:
    """All 18 PAD+conv pairs of the PyTorch export fold: 66 ops instead of 84, a smaller arena, and
    the same outputs as the unfused pack (tests/test_models.py checks them against TFLite)."""
    raw = model_path("tflm_mobilenet_v2_quantized_1x3x224x224").read_bytes()
    blob, plain = pyedge.pack_tflite(raw), unsimplified(raw)
    s = simplified(blob)
    assert s["fused_pads"] == 18 and s["fused_activations"] == 0 and s["dead_ops"] == s["folded_ops"] == 0
    assert {(r["op"], r["into_op"]) for r in s["removed_ops"]} == {("PAD", "CONV_2D"), ("PAD", "DEPTHWISE_CONV_2D")}
    info, plain_info = read_blob(blob), read_blob(plain)
    assert len(info.ops) == len(plain_info.ops) - 18 == 66
    assert "PAD" not in {o["name"] for o in info.meta["ops"]}
    assert info.header["arena_size"] < plain_info.header["arena_size"]
    x = random_inputs(raw, np.random.default_rng(5))
    assert_bit_exact(run_model(pyedge.Interpreter, blob, x)[0], run_model(pyedge.Interpreter, plain, x)[0])

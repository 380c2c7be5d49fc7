"""SVDF (integer) and resource variables (VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE, CALL_ONCE):
pyedge against TFLite's reference kernels, bit for bit, over several invokes of persistent state."""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytest
import tflite

import pyedge
from pyedge import blob as peb
from pyedge._native import OP_CODES
from optest import check_model
from oracle import assert_bit_exact, random_inputs, reference_interpreter
from tflite_builder import ModelBuilder, single_op_model

RELU = tflite.ActivationFunctionType.RELU
NONE = tflite.ActivationFunctionType.NONE
MY_OPS = ("SVDF", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE")
KEYWORD_MODEL = Path(__file__).parent / "models" / "tflm_keyword_scrambled.tflite"


# ---- harness -----------------------------------------------------------------------------------

def load_or_skip(content: bytes, **kw: Any) -> pyedge.Interpreter:
    """pyedge interpreter for `content`; skips the test when only ops of other families are missing."""
    try:
        return pyedge.Interpreter(model_content=content, **kw)
    except pyedge.UnsupportedOpError as exc:
        lines = [ln for ln in str(exc).splitlines() if " is not supported: " in ln]
        if lines and not any(f"op {name} " in ln for ln in lines for name in MY_OPS):
            pytest.skip("needs ops of other families not implemented yet: " + "; ".join(lines))
        raise


def run_both(content: bytes, steps: Sequence[Sequence[np.ndarray] | str], watch: Sequence[int] = (),
             **kw: Any) -> list[list[np.ndarray]]:
    """Run pyedge and the reference side by side. Each step is a list of inputs (set them, invoke,
    then compare the outputs and the `watch` tensors) or "reset" (reset_all_variables()).
    Returns pyedge's outputs of each invoke."""
    ours = load_or_skip(content, **kw)
    ref = reference_interpreter(content, **kw)
    results = []
    for it in (ours, ref):
        it.allocate_tensors()
    for k, step in enumerate(steps):
        if isinstance(step, str):
            assert step == "reset", step
            ours.reset_all_variables()
            ref.reset_all_variables()
            continue
        got, want = [], []
        for it, out in ((ours, got), (ref, want)):
            for d, x in zip(it.get_input_details(), step):
                it.set_tensor(d["index"], np.asarray(x, dtype=d["dtype"]))
            it.invoke()
            out.extend(np.array(it.get_tensor(d["index"])) for d in it.get_output_details())
            out.extend(np.array(it.get_tensor(i)) for i in watch)
        assert_bit_exact(got, want, context=f"step {k}")
        results.append(got[:len(got) - len(watch)])
    return results


def rejects(content: bytes, match: str) -> None:
    with pytest.raises(pyedge.UnsupportedOpError, match=match):
        pyedge.Interpreter(model_content=content)


# ---- SVDF --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SvdfQuant:
    s_in: float
    zp_in: int
    s_wf: float
    s_wt: float
    s_state: float
    zp_out: int
    wt_max: int = 32767      # time weights drawn from [-wt_max, wt_max]
    bias_max: int = 40000
    spread: float = 100.0    # output scale chosen so 95% of |outputs - zp| fall below this


QUANT = {
    # keyword_scrambled's first SVDF: both effective scales < 1
    "kws": SvdfQuant(0.0592, -128, 0.00917, 0.0037, 0.00437, -128),
    # input * weights_feature / state > 1: part of the state saturates at the int16 limits
    "feature_mult_above_one": SvdfQuant(0.5, 3, 0.02, 0.01, 0.004, 5, wt_max=2000, bias_max=100000),
    # state * weights_time / output > 1: small state and time weights
    "time_mult_above_one": SvdfQuant(0.05, -7, 0.002, 0.5, 1.0, 0, wt_max=2, bias_max=20),
    # extreme zero points; tiny state scale (the state saturates)
    "extreme_zp": SvdfQuant(0.02, 127, 0.01, 0.002, 0.00001, -128),
    "extreme_zp_high_out": SvdfQuant(0.1, -128, 0.003, 0.0005, 0.002, 127),
    # outputs mostly clamped to int8 on both sides
    "saturating_output": SvdfQuant(0.0592, 0, 0.00917, 0.0037, 0.00437, 0, spread=1000.0),
}

# (batch, input size, filters, memory, rank, with bias)
SHAPES = [
    (1, 1, 1, 1, 1, True),      # everything size 1
    (1, 96, 64, 8, 1, True),    # keyword_scrambled's first layer
    (2, 3, 4, 5, 2, True),
    (3, 7, 6, 3, 3, False),     # odd sizes, no bias
    (2, 5, 8, 10, 4, True),
    (1, 13, 9, 1, 3, True),     # memory 1
    (4, 2, 3, 7, 1, False),
    (1, 33, 70, 9, 1, True),    # more filters than the dot driver's block of 64, odd lengths
    (2, 65, 132, 4, 2, True),   # 66 units: two blocks in the time step too
]


def svdf_model(batch: int, n_input: int, n_filter: int, n_memory: int, rank: int, with_bias: bool,
               q: SvdfQuant, seed: int = 0, activation: int = RELU, wt_dtype: str = "int16",
               state_dtype: str = "int16", in_dtype: str = "int8", s_out: float = 0.05) -> bytes:
    rng = np.random.default_rng(seed)
    n_unit = n_filter // rank
    wf = rng.integers(-127, 128, size=(n_filter, n_input), dtype=np.int8)
    # Mix of small and large time weights so both tiny and saturating products occur.
    wt = rng.integers(-q.wt_max, q.wt_max + 1, size=(n_filter, n_memory))
    wt >>= rng.integers(0, 12, size=wt.shape) if q.wt_max > 1000 else 0
    bias = rng.integers(-q.bias_max, q.bias_max + 1, size=n_unit).astype(np.int32)
    quant_in = dict(scale=q.s_in, zero_point=q.zp_in) if in_dtype == "int8" else {}
    quant_out = dict(scale=s_out, zero_point=q.zp_out) if in_dtype == "int8" else {}
    inputs = [
        dict(shape=[batch, n_input], dtype=in_dtype, name="input", **quant_in),
        dict(shape=None, dtype="int8", data=wf, scale=q.s_wf, zero_point=0, name="weights_feature"),
        dict(shape=None, dtype=wt_dtype, data=wt.astype(wt_dtype), scale=q.s_wt, zero_point=0,
             name="weights_time"),
        dict(shape=None, dtype="int32", data=bias, scale=q.s_in * q.s_wf, zero_point=0, name="bias")
        if with_bias else None,
        dict(shape=[batch, n_memory * n_filter], dtype=state_dtype, scale=q.s_state, zero_point=0,
             is_variable=True, name="state"),
    ]
    return single_op_model(
        "SVDF", inputs, [dict(shape=[batch, n_unit], dtype=in_dtype, name="output", **quant_out)],
        ("SVDFOptions", {"Rank": rank, "FusedActivationFunction": activation}))


def state_index(content: bytes) -> int:
    sg = tflite.Model.GetRootAs(content).Subgraphs(0)
    return next(i for i in range(sg.TensorsLength()) if sg.Tensors(i).IsVariable())


def calibrated_svdf(shape: tuple, q: SvdfQuant, steps: list, seed: int) -> bytes:
    """SVDF model whose output scale spreads the outputs over the int8 range for these inputs:
    the reference runs once to get the states (independent of the output scale), from which the
    time step's accumulators follow."""
    batch, _, n_filter, n_memory, rank, _ = shape
    probe = svdf_model(*shape, q, seed=seed)
    ref = reference_interpreter(probe)
    ref.allocate_tensors()
    model = tflite.Model.GetRootAs(probe)
    op_inputs = model.Subgraphs(0).Operators(0).InputsAsNumpy()

    def constant(k: int, dtype: type) -> np.ndarray:
        if op_inputs[k] < 0:
            return np.zeros(1, np.int64)
        buffer = model.Buffers(model.Subgraphs(0).Tensors(op_inputs[k]).Buffer())
        return np.frombuffer(buffer.DataAsNumpy().tobytes(), dtype).astype(np.int64)

    wt, bias = constant(2, np.int16).reshape(n_filter, n_memory), constant(3, np.int32)
    accs = []
    for (x,) in steps:
        ref.set_tensor(ref.get_input_details()[0]["index"], x)
        ref.invoke()
        state = ref.get_tensor(state_index(probe)).reshape(batch, n_filter, n_memory).astype(np.int64)
        accs.append((state * wt).sum(-1).reshape(batch, -1, rank).sum(-1) + bias)
    p95 = max(float(np.percentile(np.abs(np.concatenate(accs)), 95)), 1.0)
    return svdf_model(*shape, q, seed=seed, s_out=q.s_state * q.s_wt * p95 / q.spread)


def output_scale(content: bytes) -> float:
    sg = tflite.Model.GetRootAs(content).Subgraphs(0)
    return float(sg.Tensors(sg.Outputs(0)).Quantization().Scale(0))


@pytest.mark.parametrize("quant", QUANT.keys())
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "b{}_i{}_f{}_m{}_r{}{}".format(*s[:5], "" if s[5] else "_nobias"))
def test_svdf_int8(shape: tuple, quant: str) -> None:
    q = QUANT[quant]
    rng = np.random.default_rng(7)
    steps = [[rng.integers(-128, 128, size=shape[:2], dtype=np.int8)] for _ in range(5)]
    content = calibrated_svdf(shape, q, steps, seed=sum(shape))
    if quant == "time_mult_above_one":
        assert q.s_state * q.s_wt > output_scale(content)
    # outputs and the activation state itself must match after every invoke
    outs = run_both(content, steps, watch=[state_index(content)])
    assert len(outs) == 5


def test_svdf_state_reset_and_output_history() -> None:
    """reset_all_variables() clears the SVDF state as TFLite does; outputs depend on history."""
    content = svdf_model(2, 6, 6, 4, 2, True, QUANT["kws"], seed=3)
    x = random_inputs(content, np.random.default_rng(1), count=3)
    steps = [x[0], x[1], x[2], "reset", x[0], x[1], x[0]]
    outs = run_both(content, steps, watch=[state_index(content)])
    assert_bit_exact(outs[3], outs[0])            # after reset: same as the first invoke
    assert any(not np.array_equal(a, b) for a, b in zip(outs[3], outs[5]))  # x[0] again, other history


def test_svdf_allocate_twice_keeps_state() -> None:
    content = svdf_model(1, 4, 4, 3, 1, True, QUANT["kws"], seed=5)
    x = random_inputs(content, np.random.default_rng(2), count=3)
    ours, ref = pyedge.Interpreter(model_content=content), reference_interpreter(content)
    for it in (ours, ref):
        it.allocate_tensors()
    got, want = [], []
    for it, res in ((ours, got), (ref, want)):
        for step in x:
            it.allocate_tensors()  # a no-op once allocated: the state survives
            it.set_tensor(it.get_input_details()[0]["index"], step[0])
            it.invoke()
            res.append(it.get_tensor(it.get_output_details()[0]["index"]))
    assert_bit_exact(got, want)


def test_svdf_activation_none_fails_in_tflite_and_is_rejected() -> None:
    content = svdf_model(1, 4, 4, 3, 1, True, QUANT["kws"], activation=NONE)
    ref = reference_interpreter(content)
    ref.allocate_tensors()
    with pytest.raises(RuntimeError):
        ref.invoke()  # svdf.cc Eval: TF_LITE_ENSURE_EQ(activation, kTfLiteActRelu)
    rejects(content, "only with RELU")


@pytest.mark.parametrize("kw, match", [
    (dict(wt_dtype="int8"), "weights_time type INT8"),   # TFLite would read it as int16
    (dict(state_dtype="int8"), "state type INT8"),
])
def test_svdf_int8_time_or_state_rejected(kw: dict, match: str) -> None:
    rejects(svdf_model(1, 3, 4, 2, 1, True, QUANT["kws"], **kw), match)


@pytest.mark.parametrize("weights", ["float32", "int8"])
def test_svdf_float_rejected_hybrid_runs(weights: str) -> None:
    """float32 SVDF is refused; the hybrid one (int8 weights) runs (tests/test_hybrid.py)."""
    q = dict(scale=0.1) if weights == "int8" else {}
    content = single_op_model(
        "SVDF",
        [dict(shape=[1, 3], dtype="float32"),
         dict(shape=None, dtype=weights, data=np.ones((4, 3), weights), **q),
         dict(shape=None, dtype=weights, data=np.ones((4, 2), weights), **q),
         None,
         dict(shape=[1, 8], dtype="float32", is_variable=True)],
        [dict(shape=[1, 4], dtype="float32")], ("SVDFOptions", {"Rank": 1}))
    if weights == "int8":
        check_model(content, invokes=2)
    else:
        rejects(content, "float32 SVDF")


# ---- resource variables ------------------------------------------------------------------------

NP = {"int8": np.int8, "int32": np.int32, "float32": np.float32, "int16": np.int16}


def _init_subgraph(mb: ModelBuilder, variables: Sequence[tuple[str, str, np.ndarray]]) -> int:
    """Subgraph assigning constant initial values to (container, shared_name) variables."""
    init = mb.add_subgraph("init")
    for container, name, value in variables:
        h = mb.add_tensor([], "resource", subgraph=init)
        v = mb.add_tensor(None, value.dtype, data=value, subgraph=init)
        mb.add_operator("VAR_HANDLE", [], [h], ("VarHandleOptions", {"Container": container, "SharedName": name}),
                        subgraph=init)
        mb.add_operator("ASSIGN_VARIABLE", [h, v], [], subgraph=init)
    mb.set_io([], [], subgraph=init)
    return init


def _handle(mb: ModelBuilder, name: str, container: str = "") -> int:
    h = mb.add_tensor([], "resource", name=f"handle_{container}_{name}")
    mb.add_operator("VAR_HANDLE", [], [h], ("VarHandleOptions", {"Container": container, "SharedName": name}))
    return h


def delay_line_model(dtype: str, shape: list[int], depth: int, init_value: np.ndarray) -> bytes:
    """y = x delayed by `depth` invokes through a chain of variables v0..v{depth-1}:
    y = v_last; v_k = v_{k-1}; v0 = x. A CALL_ONCE init subgraph sets v_k = init_value + k."""
    mb = ModelBuilder("delay line")
    names = [f"v{k}" for k in range(depth)]
    init = _init_subgraph(mb, [("", n, np.asarray(init_value + k, init_value.dtype))
                               for k, n in enumerate(names)])
    mb.add_operator("CALL_ONCE", [], [], ("CallOnceOptions", {"InitSubgraphIndex": init}))
    x = mb.add_tensor(shape, dtype, name="x")
    handles = [_handle(mb, n) for n in names]
    values = [mb.add_tensor(shape, dtype, name=f"value_{n}") for n in names]
    for h, v in zip(handles, values):
        mb.add_operator("READ_VARIABLE", [h], [v])
    for k in range(depth - 1, 0, -1):
        mb.add_operator("ASSIGN_VARIABLE", [handles[k], values[k - 1]], [])
    mb.add_operator("ASSIGN_VARIABLE", [handles[0], x], [])
    mb.set_io([x], [values[-1]])
    return mb.build()


@pytest.mark.parametrize("dtype", ["int8", "int32", "float32", "int16"])
@pytest.mark.parametrize("shape, depth", [([1], 1), ([3, 5], 2), ([2, 1, 7], 3), ([], 1)])
def test_delay_line_with_call_once_init(dtype: str, shape: list[int], depth: int) -> None:
    init = (np.arange(int(np.prod(shape)), dtype=NP[dtype]) * 3 - 5).reshape(shape)
    content = delay_line_model(dtype, shape, depth, init)
    steps = random_inputs(content, np.random.default_rng(depth), count=depth + 3)
    outs = run_both(content, steps)
    for k in range(depth):  # the init values come out first, in order
        assert_bit_exact(outs[k], [np.asarray(init + (depth - 1 - k), init.dtype)])
    assert_bit_exact(outs[depth], [steps[0][0]])


def test_assign_then_read_without_init() -> None:
    """No CALL_ONCE: the variable is assigned before it is read within the same invoke."""
    mb = ModelBuilder()
    x = mb.add_tensor([2, 3], "int8", name="x")
    h = _handle(mb, "v")
    y = mb.add_tensor([2, 3], "int8", name="y")
    mb.add_operator("ASSIGN_VARIABLE", [h, x], [])
    mb.add_operator("READ_VARIABLE", [h], [y])
    mb.set_io([x], [y])
    content = mb.build()
    steps = random_inputs(content, np.random.default_rng(0), count=3)
    outs = run_both(content, steps)
    assert_bit_exact(outs[2], steps[2])


def test_variables_are_keyed_by_container_and_shared_name() -> None:
    """Two VAR_HANDLEs with the same (container, shared_name) share one variable; another container
    or name is another variable. Outputs: v("", "a") via a second handle, v("c", "a"), v("", "b")."""
    mb = ModelBuilder()
    init = _init_subgraph(mb, [("", "a", np.array([1, 2], np.int32)), ("c", "a", np.array([10, 20], np.int32)),
                               ("", "b", np.array([100, 200], np.int32))])
    mb.add_operator("CALL_ONCE", [], [], ("CallOnceOptions", {"InitSubgraphIndex": init}))
    x = mb.add_tensor([2], "int32", name="x")
    a1, a2, ca, b = _handle(mb, "a"), _handle(mb, "a"), _handle(mb, "a", "c"), _handle(mb, "b")
    ya, yca, yb = (mb.add_tensor([2], "int32", name=n) for n in ("ya", "yca", "yb"))
    mb.add_operator("READ_VARIABLE", [a2], [ya])
    mb.add_operator("READ_VARIABLE", [ca], [yca])
    mb.add_operator("READ_VARIABLE", [b], [yb])
    mb.add_operator("ASSIGN_VARIABLE", [a1, x], [])   # only ("", "a") follows the input
    mb.set_io([x], [ya, yca, yb])
    content = mb.build()
    steps = [[np.array([5, 6], np.int32)], [np.array([-7, 8], np.int32)], [np.array([0, 9], np.int32)]]
    outs = run_both(content, steps)
    assert [o.tolist() for o in outs[0]] == [[1, 2], [10, 20], [100, 200]]
    assert [o.tolist() for o in outs[2]] == [[-7, 8], [10, 20], [100, 200]]


def test_reset_all_variables_keeps_resource_variables_and_call_once() -> None:
    """TFLite's ResetVariableTensors() only clears variable tensors (e.g. SVDF state): resource
    variables keep their values and CALL_ONCE does not run its init subgraph again."""
    init_value = np.array([[4, -4, 9]], np.int8)
    content = delay_line_model("int8", [1, 3], 2, init_value)
    x = random_inputs(content, np.random.default_rng(3), count=4)
    outs = run_both(content, [x[0], "reset", x[1], x[2], "reset", x[3]])
    assert_bit_exact(outs[1], [init_value])  # second init value, not re-initialised by the reset
    assert_bit_exact(outs[2], x[0])


def test_call_once_runs_init_once_per_calling_subgraph() -> None:
    """Two CALL_ONCE ops of one subgraph share the done-flag: the second does not re-run init,
    so the value assigned between them survives."""
    mb = ModelBuilder()
    init = _init_subgraph(mb, [("", "v", np.array([7], np.int32))])
    x = mb.add_tensor([1], "int32", name="x")
    h = _handle(mb, "v")
    y = mb.add_tensor([1], "int32", name="y")
    mb.add_operator("CALL_ONCE", [], [], ("CallOnceOptions", {"InitSubgraphIndex": init}))
    mb.add_operator("ASSIGN_VARIABLE", [h, x], [])
    mb.add_operator("CALL_ONCE", [], [], ("CallOnceOptions", {"InitSubgraphIndex": init}))
    mb.add_operator("READ_VARIABLE", [h], [y])
    mb.set_io([x], [y])
    content = mb.build()
    steps = [[np.array([3], np.int32)], [np.array([-1], np.int32)]]
    outs = run_both(content, steps)
    assert [o[0].tolist() for o in outs] == [[3], [-1]]


def test_svdf_output_streamed_through_variable() -> None:
    """SVDF state and a resource variable together: y_prev is the previous invoke's SVDF output."""
    q = QUANT["kws"]
    rng = np.random.default_rng(11)
    mb = ModelBuilder()
    init = _init_subgraph(mb, [("", "prev", np.full((2, 3), -100, np.int8))])
    mb.add_operator("CALL_ONCE", [], [], ("CallOnceOptions", {"InitSubgraphIndex": init}))
    x = mb.add_tensor([2, 5], "int8", scale=q.s_in, zero_point=q.zp_in, name="x")
    wf = mb.add_tensor(None, "int8", data=rng.integers(-127, 128, (6, 5), dtype=np.int8), scale=q.s_wf)
    wt = mb.add_tensor(None, "int16", data=rng.integers(-3000, 3000, (6, 4)).astype(np.int16), scale=q.s_wt)
    state = mb.add_tensor([2, 24], "int16", scale=q.s_state, is_variable=True, name="state")
    y = mb.add_tensor([2, 3], "int8", scale=0.05, zero_point=0, name="y")
    h = _handle(mb, "prev")
    y_prev = mb.add_tensor([2, 3], "int8", scale=0.05, zero_point=0, name="y_prev")
    mb.add_operator("READ_VARIABLE", [h], [y_prev])
    mb.add_operator("SVDF", [x, wf, wt, -1, state], [y], ("SVDFOptions", {"Rank": 2, "FusedActivationFunction": RELU}))
    mb.add_operator("ASSIGN_VARIABLE", [h, y], [])
    mb.set_io([x], [y, y_prev])
    content = mb.build()
    steps = random_inputs(content, np.random.default_rng(4), count=4)
    outs = run_both(content, steps, watch=[state])
    for k in range(1, 4):
        assert_bit_exact([outs[k][1]], [outs[k - 1][0]])


def counter_model(dtype: str) -> bytes:
    """Streaming accumulator: init sets the variable, each invoke adds its input (needs ADD)."""
    mb = ModelBuilder("accumulator")
    q = dict(scale=0.5, zero_point=-3) if dtype == "int8" else {}
    init = _init_subgraph(mb, [("", "acc", np.array([10, -20, 30], NP[dtype]))])
    x = mb.add_tensor([3], dtype, name="x", **q)
    h = _handle(mb, "acc")
    value = mb.add_tensor([3], dtype, name="value", **q)
    y = mb.add_tensor([3], dtype, name="y", **q)
    mb.add_operator("CALL_ONCE", [], [], ("CallOnceOptions", {"InitSubgraphIndex": init}))
    mb.add_operator("READ_VARIABLE", [h], [value])
    mb.add_operator("ADD", [value, x], [y], ("AddOptions", {}))
    mb.add_operator("ASSIGN_VARIABLE", [h, y], [])
    mb.set_io([x], [y])
    return mb.build()


@pytest.mark.parametrize("dtype", ["int32", "int8"])
def test_streaming_accumulation(dtype: str) -> None:
    """Accumulates across invokes (and across a reset_all_variables(), which keeps it)."""
    content = counter_model(dtype)
    rng = np.random.default_rng(5)
    steps = [[rng.integers(-20, 20, size=3).astype(NP[dtype])] for _ in range(6)]
    outs = run_both(content, steps[:3] + ["reset"] + steps[3:])
    if dtype == "int32":
        assert_bit_exact(outs[-1], [np.array([10, -20, 30], np.int32) + sum(x for (x,) in steps)])


# ---- rejected variable models ------------------------------------------------------------------

def test_read_of_never_assigned_variable_is_rejected() -> None:
    mb = ModelBuilder()
    x = mb.add_tensor([1], "int32", name="x")
    h = _handle(mb, "never")
    y = mb.add_tensor([1], "int32", name="y")
    mb.add_operator("READ_VARIABLE", [h], [y])
    mb.set_io([x], [y])
    rejects(mb.build(), "never assigned")


def test_conflicting_assignments_are_rejected() -> None:
    mb = ModelBuilder()
    init = _init_subgraph(mb, [("", "v", np.zeros(4, np.int32))])
    mb.add_operator("CALL_ONCE", [], [], ("CallOnceOptions", {"InitSubgraphIndex": init}))
    x = mb.add_tensor([2, 2], "int32", name="x")
    h = _handle(mb, "v")
    y = mb.add_tensor([4], "int32", name="y")
    mb.add_operator("READ_VARIABLE", [h], [y])
    mb.add_operator("ASSIGN_VARIABLE", [h, x], [])
    mb.set_io([x], [y])
    rejects(mb.build(), "different shapes or types")


def test_read_type_mismatch_is_rejected() -> None:
    mb = ModelBuilder()
    x = mb.add_tensor([3], "int32", name="x")
    h = _handle(mb, "v")
    y = mb.add_tensor([3], "float32", name="y")
    mb.add_operator("ASSIGN_VARIABLE", [h, x], [])
    mb.add_operator("READ_VARIABLE", [h], [y])
    mb.set_io([x], [y])
    rejects(mb.build(), "output type FLOAT32 differs")


def test_call_once_of_subgraph_with_inputs_is_rejected() -> None:
    mb = ModelBuilder()
    sub = mb.add_subgraph("not an init graph")
    a = mb.add_tensor([1], "int32", subgraph=sub)
    mb.set_io([a], [a], subgraph=sub)
    x = mb.add_tensor([1], "int32", name="x")
    h = _handle(mb, "v")
    y = mb.add_tensor([1], "int32", name="y")
    mb.add_operator("CALL_ONCE", [], [], ("CallOnceOptions", {"InitSubgraphIndex": sub}))
    mb.add_operator("ASSIGN_VARIABLE", [h, x], [])
    mb.add_operator("READ_VARIABLE", [h], [y])
    mb.set_io([x], [y])
    rejects(mb.build(), "has inputs or outputs")


# ---- hostile blobs: the core's checks refuse what the kernels cannot run safely ----------------

def patch_params(blob: bytes, op: int, word: int, value: int) -> bytes:
    """Blob with int32 `word` of op `op`'s params replaced, checksum recomputed."""
    info = peb.read_blob(blob)
    buf = bytearray(blob)
    params = peb.OP.unpack_from(buf, info.sections[peb.SEC_OPS][0] + op * peb.OP.size)[5]
    struct.pack_into("<i", buf, info.sections[peb.SEC_PARAMS][0] + params + 4 * word, value)
    struct.pack_into("<I", buf, peb.CHECKSUM_OFFSET, 0)
    struct.pack_into("<I", buf, peb.CHECKSUM_OFFSET, zlib.crc32(bytes(buf[:info.header["total_size"]])))
    return bytes(buf)


@pytest.mark.parametrize("word, value", [
    (0, 3),       # rank that does not divide the 4 filters
    (0, 0),       # rank 0
    (1, 300),     # input zero point outside int8
    (4, 40),      # feature shift out of range
    (5, -1),      # negative time multiplier
])
def test_svdf_blob_with_bad_params_is_refused(word: int, value: int) -> None:
    blob = pyedge.pack_tflite(svdf_model(1, 3, 4, 2, 1, True, QUANT["kws"]))
    pyedge.Interpreter(model_content=blob)  # the unpatched blob loads
    with pytest.raises(pyedge.BlobError, match="PE_ERR_BAD_PARAMS"):
        pyedge.Interpreter(model_content=patch_params(blob, 0, word, value))


@pytest.mark.parametrize("subgraph", [0, 2, -1])
def test_call_once_blob_with_bad_subgraph_is_refused(subgraph: int) -> None:
    blob = pyedge.pack_tflite(delay_line_model("int32", [2], 1, np.array([1, 2], np.int32)))
    info = peb.read_blob(blob)
    k = next(i for i, op in enumerate(info.ops) if op["code"] == OP_CODES["CALL_ONCE"])
    with pytest.raises(pyedge.BlobError, match="PE_ERR_BAD_PARAMS"):
        pyedge.Interpreter(model_content=patch_params(blob, k, 0, subgraph))


# ---- the real model ----------------------------------------------------------------------------

def test_keyword_scrambled_streaming() -> None:
    """TFLM's keyword benchmark (7 int8 SVDFs with int16 state) over several invokes; its final
    softmax saturates, so every SVDF output is compared as well."""
    content = KEYWORD_MODEL.read_bytes()
    sg = tflite.Model.GetRootAs(content).Subgraphs(0)
    svdf_outputs = [sg.Operators(k).Outputs(0) for k in range(sg.OperatorsLength())
                    if sg.Operators(k).InputsLength() == 5]
    states = [i for i in range(sg.TensorsLength()) if sg.Tensors(i).IsVariable()]
    assert len(svdf_outputs) == 7 and len(states) == 7
    steps = random_inputs(content, np.random.default_rng(0), count=6)
    run_both(content, steps[:4] + ["reset"] + steps[4:], watch=svdf_outputs + states,
             experimental_preserve_all_tensors=True)


def keyword_body() -> bytes:
    """keyword_scrambled between its input QUANTIZE and its SOFTMAX: the 7 SVDFs and the
    FULLY_CONNECTEDs between them, with the model's own weights, int8 in and out."""
    graph = pyedge.read_tflite(KEYWORD_MODEL.read_bytes())
    sg = graph.subgraphs[0]
    body = [op for op in sg.operators if op.opcode in ("SVDF", "FULLY_CONNECTED")]
    mb = ModelBuilder("keyword_scrambled body")
    index: dict[int, int] = {}
    for op in body:
        for i in op.inputs + op.outputs:
            if i >= 0 and i not in index:
                t = sg.tensors[i]
                q = dict(scale=t.scales.tolist(), zero_point=t.zero_points.tolist()) if t.quantized else {}
                index[i] = mb.add_tensor(t.shape, np.dtype(t.dtype), data=t.data, name=t.name,
                                         is_variable=t.is_variable, **q)
        options = "SVDFOptions" if op.opcode == "SVDF" else "FullyConnectedOptions"
        mb.add_operator(op.opcode, [index.get(i, -1) for i in op.inputs], [index[i] for i in op.outputs],
                        (options, op.options), version=op.version)
    mb.set_io([index[body[0].inputs[0]]], [index[body[-1].outputs[0]]])
    return mb.build()


def test_keyword_scrambled_svdf_layers() -> None:
    """The real model's SVDF stack (needs only FULLY_CONNECTED besides SVDF), streaming with a reset."""
    content = keyword_body()
    sg = tflite.Model.GetRootAs(content).Subgraphs(0)
    svdf_outputs = [sg.Operators(k).Outputs(0) for k in range(sg.OperatorsLength())
                    if sg.Operators(k).InputsLength() == 5]
    states = [i for i in range(sg.TensorsLength()) if sg.Tensors(i).IsVariable()]
    assert len(svdf_outputs) == 7 and len(states) == 7
    steps = random_inputs(content, np.random.default_rng(1), count=8)
    run_both(content, steps[:5] + ["reset"] + steps[5:], watch=svdf_outputs + states,
             experimental_preserve_all_tensors=True)

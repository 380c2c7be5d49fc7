"""Per-layer int16 activations and mixed precision: int16 layers among int8 ones run bit-exact
in pyedge (every kernel path) and tflite-runtime (BUILTIN_REF), with integer type conversions
where the types meet; the planner meets sqnr and flash budgets on the digits CNN, and refuses
bad or unreachable budgets by name."""
from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest

from optest import check_model
from oracle import reference_interpreter
from pyedge.cli import main
from pyedge.pack import pack_tflite
from pyedge.quantize import QuantizationError, calibrate
from pyedge.quantize.mixed import BudgetError, Choice, layer_choices, parse_budget, plan_mixed
from pyedge.tflite_reader import read_tflite
from quantize_models import FLOAT, digits_calibration, digits_held_out, float_model, op_zoo_data, op_zoo_model
from tflite_builder import single_op_model

INT8, INT16, INT32 = 9, 7, 2


@functools.cache
def _cal(name: str):
    if name == "op_zoo":
        return calibrate(op_zoo_model(), op_zoo_data(64), show_progress=False)
    return calibrate(float_model(name), digits_calibration(), show_progress=False)


@functools.cache
def _plan(budget: str):
    return plan_mixed(float_model("digits_cnn_float"), digits_calibration(400), budget)


def _types(model: bytes) -> list[tuple[str, str, str]]:
    sg = read_tflite(model).subgraphs[0]
    return [(op.opcode, sg.tensors[op.inputs[0]].type_name, sg.tensors[op.outputs[0]].type_name)
            for op in sg.operators]


# -- the conversions TFLite 2.14 has ----------------------------------------------------------------

def test_tflite_has_no_int8_to_int16_quantize_so_cast_and_quantize_widen():
    """The fact the quantizer is built on: QUANTIZE int8 -> int16 fails in TFLite 2.14 (and is
    refused by pyedge by name), CAST int8 -> int32 then QUANTIZE int32 -> int16 runs in both."""
    direct = single_op_model("QUANTIZE", [dict(shape=[1, 8], dtype="int8", scale=0.05, zero_point=3)],
                             [dict(shape=[1, 8], dtype="int16", scale=0.001, zero_point=0)], version=2)
    with pytest.raises(RuntimeError, match="QUANTIZE"):
        reference_interpreter(direct).allocate_tensors()
    m = _cal("digits_cnn_float").quantize("percentile", None, {5: "int16"})  # SOFTMAX widened
    assert ("CAST", "INT8", "INT32") in _types(m) and ("QUANTIZE", "INT32", "INT16") in _types(m)
    assert ("SOFTMAX", "INT16", "INT16") in _types(m)


# -- per-layer int16 -----------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", [
    {0: "int16"},  # first conv: int16 input edge, narrowed by QUANTIZE before conv2
    {2: "int16", 4: "int16"},  # middle layers: widened and narrowed inside
    {"probabilities": "int16"},  # by tensor name: SOFTMAX with int16 output edge
])
def test_digits_per_layer_int16_bit_exact_on_real_inputs(spec):
    cal = _cal("digits_cnn_float")
    x, _ = digits_held_out()
    for io in (None, "float"):
        m = cal.quantize("percentile", io, spec)
        ops = _types(m)
        assert {op for op, _, out in ops if out == "FLOAT32"} <= ({"DEQUANTIZE"} if io else set()), ops
        sg = read_tflite(m).subgraphs[0]
        d = sg.tensors[sg.inputs[0]]
        inputs = x[:3] if io == "float" else np.clip(np.round(x[:3] / d.scales[0]) + d.zero_points[0],
                                                    *((-128, 127) if d.type_code == INT8 else (-32768, 32767)))
        inputs = inputs.astype(np.float32 if io else (np.int8 if d.type_code == INT8 else np.int16))
        for k in range(3):
            check_model(m, inputs=[inputs[k:k + 1]], context=f"{spec} io {io} sample {k}")
        check_model(m, seeds=(0,), context=f"{spec} io {io}")


def test_int16_layers_get_16x8_and_the_rest_int8():
    cal = _cal("digits_cnn_float")
    sg = read_tflite(cal.quantize("percentile", None, {2: "int16"})).subgraphs[0]
    by_name = {sg.tensors[op.outputs[0]].name: op for op in sg.operators}
    conv2 = by_name["conv2/relu"]
    assert sg.tensors[conv2.outputs[0]].type_code == INT16 and sg.tensors[conv2.inputs[0]].type_code == INT16
    assert sg.tensors[conv2.inputs[2]].type_name == "INT64" and sg.tensors[conv2.inputs[1]].type_code == INT8
    assert sg.tensors[by_name["conv1/relu"].outputs[0]].type_code == INT8
    # the shared-scale RESHAPE after conv2 follows it; FULLY_CONNECTED stays int8 behind a QUANTIZE
    assert sg.tensors[by_name["flatten"].outputs[0]].type_code == INT16
    assert sg.tensors[by_name["logits"].inputs[0]].type_code == INT8
    assert sg.tensors[by_name["probabilities"].outputs[0]].scales[0] == pytest.approx(1 / 256)
    same = cal.quantize("percentile", None, {"conv2/relu": "int16"})
    assert same == cal.quantize("percentile", None, {2: "int16"})


@pytest.mark.parametrize("spec", [
    {0: "int16", 10: "int16", 19: "int16"},  # conv, ADD (both inputs widened), SOFTMAX
    {4: "int16", 12: "int16", 14: "int16"},  # depthwise into CONCATENATION with an int8 branch, MUL, MEAN
    {1: "int16", 11: "int16", 18: "int16", 21: "int16"},  # LEAKY_RELU, LOGISTIC, FC, TANH
])
def test_op_zoo_mixed_bit_exact_on_every_kernel_path(spec):
    cal = _cal("op_zoo")
    for io in (None, "float"):
        m = cal.quantize("minmax", io, spec)
        sg = read_tflite(m).subgraphs[0]
        for op in sg.operators:  # inputs that must share a type do
            if op.opcode in ("ADD", "MUL", "CONCATENATION", "MAXIMUM"):
                types = {sg.tensors[i].type_code for i in op.inputs + op.outputs if not sg.tensors[i].is_const}
                assert len(types) == 1, (op.opcode, types)
        check_model(m, seeds=(0, 1), context=f"{spec} io {io}")


def test_int4_weights_in_int8_layers_with_int16_layers_bit_exact():
    """Per-layer activations and per-layer weights together: conv2 with int4 weights (TFLite's INT4,
    which BUILTIN_REF runs for CONV_2D), SOFTMAX int16, the rest int8; int4 weights on an int16
    layer are refused by name."""
    cal = _cal("digits_cnn_float")
    m = cal.quantize("percentile", None, {5: "int16"}, weights={2: "int4"})
    sg = read_tflite(m).subgraphs[0]
    convs = [op for op in sg.operators if op.opcode == "CONV_2D"]
    assert [sg.tensors[op.inputs[1]].type_name for op in convs] == ["INT8", "INT4"]
    assert ("SOFTMAX", "INT16", "INT16") in _types(m)
    assert len(pack_tflite(m)) < len(pack_tflite(cal.quantize("percentile", None, {5: "int16"})))
    x, _ = digits_held_out()
    d = sg.tensors[sg.inputs[0]]
    q = np.clip(np.round(x[:2] / d.scales[0]) + d.zero_points[0], -128, 127).astype(np.int8)
    for k in range(2):
        check_model(m, inputs=[q[k:k + 1]], context=f"int4 conv2 + int16 SOFTMAX sample {k}")
    with pytest.raises(QuantizationError, match=r"operator 2 \(CONV_2D\): int4 weights need int8 activations"):
        cal.quantize("percentile", None, {2: "int16"}, weights={2: "int4"})


def test_bias_correction_skips_the_int4_ops_gptq_rounds_on_both_paths():
    """conv2 in int4 keeps its bias with bias correction on or off (GPTQ corrects it); the int8
    ops' biases change; plain int4 with int16 layers leaves their weights int8."""
    cal = _cal("digits_cnn_float")

    def biases(m: bytes) -> list[np.ndarray]:
        sg = read_tflite(m).subgraphs[0]
        return [sg.tensors[op.inputs[2]].data for op in sg.operators if op.opcode in ("CONV_2D", "FULLY_CONNECTED")]

    for acts in ("int8", {5: "int16"}):
        on = biases(cal.quantize("percentile", None, acts, weights={2: "int4"}))
        cal.bias_correction = False
        try:
            off = biases(cal.quantize("percentile", None, acts, weights={2: "int4"}))
        finally:
            cal.bias_correction = True
        np.testing.assert_array_equal(on[1], off[1])  # conv2, int4
        assert not np.array_equal(on[0], off[0]) and not np.array_equal(on[2], off[2])
    m = cal.quantize("percentile", None, {0: "int16"}, weights="int4")
    sg = read_tflite(m).subgraphs[0]
    w = [sg.tensors[op.inputs[1]].type_name for op in sg.operators if op.opcode in ("CONV_2D", "FULLY_CONNECTED")]
    assert w == ["INT8", "INT4", "INT4"], w


def test_bad_layer_specs_are_named():
    cal = _cal("op_zoo")
    with pytest.raises(QuantizationError, match=r"operator 3 \(PRELU\) has no int16 kernel"):
        cal.quantize("minmax", None, {3: "int16"})
    with pytest.raises(QuantizationError, match="no operator 99"):
        cal.quantize("minmax", None, {99: "int16"})
    with pytest.raises(QuantizationError, match="no operator writes a tensor of that name"):
        cal.quantize("minmax", None, {"nope": "int16"})
    with pytest.raises(QuantizationError, match="must be one of int8, int16"):
        cal.quantize("minmax", None, {0: "int4"})
    with pytest.raises(QuantizationError, match="io 'int32' with per-layer"):
        cal.quantize("minmax", "int32", {0: "int16"})
    with pytest.raises(QuantizationError, match="io int16: graph edge.*'probabilities' belong to int8 layers"):
        _cal("digits_cnn_float").quantize("minmax", "int16", {0: "int16"})


def test_int8_and_uint8_edges_around_int16_layers():
    cal = _cal("digits_cnn_float")
    for io, edge in (("int8", "INT8"), ("uint8", "UINT8")):
        m = cal.quantize("percentile", io, {0: "int16", 5: "int16"})
        ops = _types(m)
        assert ops[0][1] == edge and ops[-1][2] == edge, ops
        assert ("CONV_2D", "INT16", "INT16") in ops and ("SOFTMAX", "INT16", "INT16") in ops
        check_model(m, seeds=(0, 1), context=f"io {io}")


# -- the planner -----------------------------------------------------------------------------------------

def _sqnr_from_tflite(plan, x: np.ndarray) -> float:
    """The plan's output SQNR recomputed with TFLite's reference kernels on the same samples."""
    f = reference_interpreter(float_model("digits_cnn_float"))
    q = reference_interpreter(plan.model)
    f.allocate_tensors()
    q.allocate_tensors()
    num = den = 0.0
    di, do = q.get_input_details()[0], q.get_output_details()[0]
    for s in x:
        f.set_tensor(f.get_input_details()[0]["index"], s[None])
        f.invoke()
        want = f.get_tensor(f.get_output_details()[0]["index"]).astype(np.float64)
        scale, zp = di["quantization"]
        info = np.iinfo(di["dtype"])
        q.set_tensor(di["index"], np.clip(np.round(s[None] / scale) + zp, info.min, info.max).astype(di["dtype"]))
        q.invoke()
        oscale, ozp = do["quantization"]
        got = (q.get_tensor(do["index"]).astype(np.float64) - ozp) * oscale
        num += float((want ** 2).sum())
        den += float(((want - got) ** 2).sum())
    return 10 * math.log10(num / den)


def test_planner_meets_an_sqnr_budget_and_the_figure_is_tflites_too():
    base = _plan("flash=1000").base.sqnr
    target = round(base + 5.0, 1)
    plan = _plan(f"sqnr={target}")
    assert plan.to_dict()["met"] and plan.measured.sqnr >= target
    assert any(c.activations == "int16" for c in plan.choices.values())
    held_out = digits_calibration(400)[-plan.held_out:]
    assert _sqnr_from_tflite(plan, held_out) == pytest.approx(plan.measured.sqnr, abs=1e-9)
    text = plan.format()
    assert "met" in text and "SOFTMAX" in text and "sens dB" in text


def test_planner_keeps_within_a_flash_budget():
    loose = _plan("flash=1000")
    base_flash = loose.base.flash
    budget_kb = (base_flash + 300) / 1024
    plan = _plan(f"flash={budget_kb}")
    assert plan.measured.flash <= budget_kb * 1024
    assert len(pack_tflite(plan.model)) == plan.measured.flash
    assert plan.measured.sqnr >= loose.base.sqnr - 1e-9
    # with room to spare the planner takes the most sensitive layers
    assert loose.measured.sqnr > loose.base.sqnr + 3


def test_bad_budgets_are_named():
    for text, msg in [("speed=3", "give one of sqnr=dB, flash=KB, latency=ms"), ("sqnr", "give one of"),
                      ("flash=lots", "is not a number"), ("latency=-1", "positive finite")]:
        with pytest.raises(BudgetError, match=msg):
            parse_budget(text)
    assert parse_budget("flash=40KB") == ("flash", 40.0) and parse_budget("sqnr=35") == ("sqnr", 35.0)
    with pytest.raises(BudgetError, match=r"sqnr=200 dB is unreachable: the best plan found measures"):
        _plan("sqnr=200")
    with pytest.raises(BudgetError, match=r"flash=1 KB is unreachable: the cheapest plan measures"):
        _plan("flash=1")
    with pytest.raises(BudgetError, match=r"latency=1e-06 ms is unreachable: the cheapest plan measures"):
        _plan("latency=0.000001")
    with pytest.raises(BudgetError, match=r"output 'nope': the model's outputs are 'probabilities'"):
        plan_mixed(float_model("digits_cnn_float"), digits_calibration(40), "sqnr=30", output="nope")


def test_planner_within_a_generous_latency_budget_takes_the_helpful_moves():
    plan = _plan("latency=1000")
    assert plan.to_dict()["met"] and plan.measured.latency_ms <= 1000
    assert plan.measured.sqnr > plan.base.sqnr + 3  # SOFTMAX in int16 at least
    assert plan.choices[5] == Choice("int16")
    shares = [L["time_share"] for L in plan.layers]
    assert all(0 <= x <= 1 for x in shares) and 0.5 < sum(shares) <= 1.0 + 1e-9


def test_int4_weights_are_a_choice_of_int8_layers():
    assert layer_choices("SOFTMAX", int4=True) == [Choice("int8"), Choice("int16")]
    assert Choice("int8", "int4") in layer_choices("CONV_2D", int4=True)
    assert Choice("int16", "int4") not in layer_choices("CONV_2D", int4=True)  # TFLite 2.14 gets it wrong
    assert layer_choices("PRELU", int4=False) == [Choice("int8")]
    plan = _plan("flash=1000")
    assert any(Choice("int8", "int4") in layer_choices(op, True) for op in ("CONV_2D", "FULLY_CONNECTED"))
    tight = plan_mixed(float_model("digits_cnn_float"), digits_calibration(400),
                       f"flash={(plan.base.flash - 1) / 1024}")
    assert any(c.weights == "int4" for c in tight.choices.values())


def test_cli_mixed_and_int16_layers(tmp_path, capsys):
    np.save(tmp_path / "cal.npy", digits_calibration(400))
    model = str(FLOAT / "digits_cnn_float.tflite")
    target = round(_plan("flash=1000").base.sqnr + 5.0, 1)
    assert main(["quantize", model, "--calibration", str(tmp_path / "cal.npy"), "-o", str(tmp_path / "m.tflite"),
                 "--mixed", "auto", "--budget", f"sqnr={target}", "--json", str(tmp_path / "p.json"), "-q"]) == 0
    out = capsys.readouterr().out
    assert f"budget sqnr={target:g} dB (SQNR of the worst output): met" in out
    d = json.loads((tmp_path / "p.json").read_text())
    assert d["met"] and d["totals"]["min_sqnr_db"] >= target and {L["op"] for L in d["layers"]} == {0, 2, 4, 5}
    assert all({"weights", "activations", "bytes", "time_share", "sensitivity_db"} <= set(L) for L in d["layers"])
    reference_interpreter((tmp_path / "m.tflite").read_bytes()).allocate_tensors()
    assert main(["quantize", model, "--calibration", str(tmp_path / "cal.npy"), "-o", str(tmp_path / "l.tflite"),
                 "--int16-layers", "0,probabilities", "-q"]) == 0
    types = _types((tmp_path / "l.tflite").read_bytes())
    assert types[0] == ("CONV_2D", "INT16", "INT16") and types[-1] == ("SOFTMAX", "INT16", "INT16")
    assert main(["quantize", model, "--calibration", str(tmp_path / "cal.npy"), "-o", str(tmp_path / "x.tflite"),
                 "--mixed", "auto", "--budget", "speed=1", "-q"]) != 0
    assert "give one of sqnr=dB" in capsys.readouterr().err
    assert not (tmp_path / "x.tflite").exists()

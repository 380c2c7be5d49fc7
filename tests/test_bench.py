"""`pyedge bench`: every tier this CPU has side by side with TFLite's reference kernels, outputs
checked, per-op times with MACs."""
from __future__ import annotations

import json

import pytest

import pyedge
from pyedge import bench
from pyedge.cli import main
from models import model_path


def test_bench_cli_every_tier_per_op_and_json(tmp_path, capsys):
    out_json = tmp_path / "b.json"
    rc = main(["bench", str(model_path("tflm_micro_speech_quantized")), "--rounds", "2", "--isa", "all",
               "--per-op", "2", "--no-litert", "--json", str(out_json)])
    text = capsys.readouterr().out
    assert rc == 0, text
    tiers = pyedge.cpu.tiers_available()
    for t in tiers:
        assert f"pyedge[{t}]" in text
    assert "tflite-ref" in text and "identical to TFLite's reference kernels" in text
    res = json.loads(out_json.read_text())["results"][0]
    assert set(res["runtimes"]) == {f"pyedge[{t}]" for t in tiers} | {"tflite-ref"}
    assert all(ms > 0 for ms in res["runtimes"].values())
    assert res["mismatch"] == []
    ops = res["per_op"][tiers[-1]]
    assert [o["op"] for o in ops] == ["RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"]
    assert ops[1]["macs"] > 0 and ops[1]["ns"] > 0 and abs(sum(o["share"] for o in ops) - 1) < 1e-6
    if len(tiers) > 1:
        assert ops[1]["kernel"] != "scalar"  # a SIMD variant ran the depthwise layer


def test_bench_threads_and_tiers_are_checked(capsys):
    assert bench.tiers_to_run("scalar") == ["scalar"]
    with pytest.raises(ValueError, match="unknown ISA tier"):
        bench.tiers_to_run("avx9000")
    rc = main(["bench", str(model_path("tflm_micro_speech_quantized")), "--threads", "0"])
    assert rc == 2 and "--threads" in capsys.readouterr().err
    res = bench.bench_model(model_path("tflm_person_detect"), rounds=1, threads=2, litert=False)
    assert res["threads"] == 2 and res["mismatch"] == [] and "tflite-ref" in res["runtimes"]


def test_bench_reports_a_mismatch():
    runners = bench.make_runners(model_path("tflm_micro_speech_quantized").read_bytes(), ["scalar"],
                                 litert=False)
    bench.time_runners(runners, 1)
    assert bench.check_outputs(runners) == []
    pe = runners[0].interp
    out = pe.get_output_details()[0]
    pe._view(out["index"])[...] ^= 1  # corrupt pyedge's output in place
    assert bench.check_outputs(runners) == [runners[0].name]


@pytest.mark.parametrize("name", ["tflm_person_detect", "tflm_micro_speech_quantized"])
def test_onnx_anchor_is_the_same_model(name, tmp_path, capsys):
    """`--onnx auto`: the ONNX equivalent (QDQ, uint8 activations inside) computes what the
    .tflite does: on these two models ONNX Runtime's outputs equal the reference kernels' exactly
    (a wrong layout, padding, scale or weight transpose would be far off); a converted .onnx file
    given with --onnx is timed the same way."""
    pytest.importorskip("onnxruntime")
    from pyedge.bench_onnx import main as convert

    res = bench.bench_model(model_path(name), rounds=2, isa="scalar", litert=False, onnx="auto")
    assert "onnxruntime" in res["runtimes"] and res["kinds"]["onnxruntime"] == "onnxruntime"
    assert res["onnxruntime_max_diff"] == 0, res["onnxruntime_max_diff"]
    onnx_file = tmp_path / f"{name}.onnx"
    assert convert([str(model_path(name)), str(onnx_file)]) == 0 and onnx_file.stat().st_size > 1000
    assert main(["bench", str(model_path(name)), "--isa", "scalar", "--rounds", "1", "--no-litert",
                 "--onnx", str(onnx_file)]) == 0
    out = capsys.readouterr().out
    assert "onnxruntime" in out and "vs best" in out and "within 0 LSB" in out


def test_onnx_anchor_names_what_it_cannot_convert(capsys):
    pytest.importorskip("onnxruntime")
    from pyedge.bench_onnx import tflite_to_onnx

    with pytest.raises(ValueError, match="UNIDIRECTIONAL_SEQUENCE_LSTM|SVDF|no ONNX equivalent"):
        tflite_to_onnx(model_path("tflm_trained_lstm_int8").read_bytes())
    assert main(["bench", str(model_path("tflm_keyword_scrambled")), "--isa", "scalar", "--rounds", "1",
                 "--no-litert", "--onnx", "auto"]) == 0
    assert "no ONNX Runtime column" in capsys.readouterr().err
    assert main(["bench", str(model_path("tflm_person_detect")), str(model_path("tflm_micro_speech_quantized")),
                 "--onnx", "a.onnx"]) == 2


def test_bench_suite_models_run_bit_exact():
    """The generated benchmark models (tools/bench_suite.py) load and match the reference kernels on
    every path; MobileNetV1 0.25's tf.keras head (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE) folds
    at pack time, and its softmax is not degenerate."""
    import sys

    import numpy as np

    from optest import check_model
    sys.path.insert(0, str(model_path("tflm_person_detect").parents[2] / "tools"))
    import bench_suite

    for name, data in bench_suite.models(sweep=False).items():
        if name == "ffn_64x512":
            continue  # 134 M MACs on the scalar path: its kernels are covered by the FC sweeps
        out = check_model(data, seeds=(0,), context=name)
        if name == "mobilenet_v1_025_96":
            from pyedge.inspector import inspect_model

            ops = {o["tflite_op"] for o in inspect_model(pyedge.pack_tflite(data))["ops"]}
            assert not ops & {"SHAPE", "STRIDED_SLICE", "PACK"}, ops
            assert len(np.unique(out[0])) > 3

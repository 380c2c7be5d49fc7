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

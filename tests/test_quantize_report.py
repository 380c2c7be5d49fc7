"""pyedge compare / pyedge.quantize.report, and the quantize and compare commands."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from pyedge.cli import main
from pyedge.quantize import quantize
from pyedge.quantize.report import compare, format_report, to_html, to_json
from pyedge.tflite_reader import read_tflite
from quantize_models import FLOAT, digits_calibration, digits_held_out, float_model


@pytest.fixture(scope="module")
def digits_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("digits")
    xs, ys = digits_held_out()
    np.save(d / "cal.npy", digits_calibration(100))
    np.save(d / "val.npy", xs[:120])
    np.save(d / "y.npy", ys[:120])
    return d


def test_compare_measures_layers_outputs_and_accuracy(digits_files):
    fmodel = float_model("digits_cnn_float")
    good = quantize(fmodel, np.load(digits_files / "cal.npy"), method="minmax")
    xs, ys = np.load(digits_files / "val.npy"), np.load(digits_files / "y.npy")
    r = compare(fmodel, good, xs, labels=ys)
    assert [L["tensor"] for L in r["layers"]] == ["conv1/relu", "pool1", "conv2/relu", "flatten", "logits",
                                                   "probabilities"]
    assert r["outputs_from"] == "pyedge"
    assert all(25 < L["sqnr_db"] < 80 and 0.99 < L["cosine"] <= 1.0 for L in r["layers"])
    assert r["layers"][-1]["sqnr_db"] == pytest.approx(r["outputs"][0]["sqnr_db"])
    assert r["top1_agreement"] >= 0.98 and r["quant_accuracy"] >= 0.95
    assert r["float_model_bytes"] == len(fmodel) and r["quant_model_bytes"] == len(good)
    # a model calibrated on a tenth of the inputs' range is measurably worse, layer by layer
    bad = quantize(fmodel, np.load(digits_files / "cal.npy") * 0.1, method="minmax")
    rb = compare(fmodel, bad, xs, labels=ys)
    assert rb["outputs"][0]["sqnr_db"] < r["outputs"][0]["sqnr_db"] - 10
    assert rb["layers"][0]["sqnr_db"] < r["layers"][0]["sqnr_db"] - 10
    text = format_report(r)
    assert "top-1 agreement" in text and "accuracy: float" in text and "conv2/relu" in text


def test_html_is_self_contained_with_one_bar_per_layer(digits_files):
    fmodel = float_model("digits_cnn_float")
    r = compare(fmodel, quantize(fmodel, np.load(digits_files / "cal.npy")), np.load(digits_files / "val.npy"))
    page = to_html(r)
    assert page.count("<svg") == 1 and len(re.findall(r"<rect ", page)) == len(r["layers"])
    assert not re.search(r"(src|href)=", page)
    assert json.loads(to_json(r))["layers"][0]["tensor"] == "conv1/relu"


def test_cli_quantize_and_compare(digits_files, tmp_path, capsys):
    out = tmp_path / "q.tflite"
    model = str(FLOAT / "digits_cnn_float.tflite")
    assert main(["quantize", model, "--calibration", str(digits_files / "cal.npy"), "-o", str(out),
                 "--calibrate", "percentile", "--io", "uint8"]) == 0
    printed = capsys.readouterr()
    assert "wrote" in printed.out and "calibrating" in printed.err and "100/100" in printed.err
    g = read_tflite(out.read_bytes()).subgraphs[0]
    assert g.tensors[g.inputs[0]].type_name == "UINT8"
    assert main(["compare", model, str(out), "--data", str(digits_files / "val.npy"), "--labels",
                 str(digits_files / "y.npy"), "--json", str(tmp_path / "r.json"), "--html",
                 str(tmp_path / "r.html"), "-q"]) == 0
    text = capsys.readouterr().out
    assert "output 'probabilities': SQNR" in text and "accuracy: float" in text
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["samples"] == 120 and "quant_accuracy" in r
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")


def test_cli_bad_data_fails_cleanly(tmp_path, capsys):
    bad = digits_calibration(10).copy()
    bad[3, 0, 0, 0] = np.inf
    np.save(tmp_path / "bad.npy", bad)
    out = tmp_path / "q.tflite"
    assert main(["quantize", str(FLOAT / "digits_cnn_float.tflite"), "--calibration", str(tmp_path / "bad.npy"),
                 "-o", str(out), "-q"]) == 2
    assert "NaN or Inf (sample 3)" in capsys.readouterr().err
    assert not out.exists()

"""Where a quantized model's error comes from: int8 weights alone against the whole int8 model.

    python tools/quantize_budget.py                          # every model of quantize_table.py
    python tools/quantize_budget.py mediapipe_face_landmark oww_embedding_model

For each model of `tools/quantize_table.py` (same calibration and held-out data), prints the
output SQNR (dB, against the float model) of:
  - the int8 model as `pyedge quantize` makes it (default method, clamp ranges, bias correction);
  - the float graph with only its CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED weights replaced
    by their int8 per-channel values (activations float), with and without bias correction;
and the share of the int8 model's error power that the weights explain (taking the weight and
activation errors as independent, so that their powers add: an estimate), then the five layers
with the lowest SQNR in `pyedge compare`. All runs go through TFLite's reference kernels.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT))

import quantize_table as table  # noqa: E402
from pyedge.quantize import calibrate, rules  # noqa: E402
from pyedge.quantize.mixed import _sqnr  # noqa: E402
from pyedge.quantize.quantizer import _per_channel_weights  # noqa: E402
from pyedge.quantize.reference import ReferenceRunner  # noqa: E402
from pyedge.quantize.report import compare  # noqa: E402
from pyedge.tflite_writer import write_tflite  # noqa: E402


def run_float(model: bytes, xs) -> list[np.ndarray]:
    runner, outs = ReferenceRunner(model), None
    for x in xs:
        got, _ = runner.run([x[None]])
        outs = outs or [[] for _ in got]
        for k, v in enumerate(got):
            outs[k].append(np.asarray(v))
    return [np.concatenate(v) for v in outs]


def int8_weights_only(graph):
    """The float graph with each weighted op's weights rounded to int8 per channel and back."""
    graph = copy.deepcopy(graph)
    tensors = graph.subgraphs[0].tensors
    for op in graph.subgraphs[0].operators:
        if op.opcode in rules.WEIGHTED:
            w = tensors[op.inputs[1]]
            axis = rules.WEIGHTED[op.opcode]
            q, s = _per_channel_weights(w.data, axis)
            shape = [1] * w.data.ndim
            shape[axis] = -1
            w.data = (q.astype(np.float64) * s.astype(np.float64).reshape(shape)).astype(np.float32)
    return graph


def budget(name: str) -> dict:
    raw = table._model_bytes(name)
    cal_x, eval_x, _ = table.MODELS[name]()
    t0 = time.time()
    cal = calibrate(raw, cal_x, show_progress=False)
    ref = run_float(raw, eval_x)
    report = compare(raw, cal.quantize(), eval_x, show_progress=False)
    full = [o["sqnr_db"] for o in report["outputs"]]
    plain = run_float(write_tflite(int8_weights_only(cal.graph)), eval_x)
    corrected = run_float(write_tflite(int8_weights_only(cal._corrected_graph())), eval_x)
    w_plain = [_sqnr([a], [b]) for a, b in zip(ref, plain)]
    w_corr = [_sqnr([a], [b]) for a, b in zip(ref, corrected)]
    share = [10 ** ((f - w) / 10) for f, w in zip(full, w_corr)]  # error power ratio
    worst = sorted(report["layers"], key=lambda layer: layer["sqnr_db"])[:5]
    return {"model": name, "int8": full, "weights_only": w_plain, "weights_only_bias_corrected": w_corr,
            "weight_share": share, "worst_layers": [(w.get("op"), w.get("opcode"), w["sqnr_db"]) for w in worst],
            "seconds": time.time() - t0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=list(table.MODELS), help="names from quantize_table.py")
    args = ap.parse_args()
    unknown = [m for m in args.models if m not in table.MODELS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(table.MODELS)}")
    fmt = lambda xs, p="{:.1f}": " / ".join(p.format(x) for x in xs)  # noqa: E731
    print("| float model | int8 | int8 weights only | + bias correction | weights' share of the int8 error power |")
    print("|---|---|---|---|---|")
    for name in args.models:
        b = budget(name)
        print(f"| {name} | {fmt(b['int8'])} | {fmt(b['weights_only'])} | {fmt(b['weights_only_bias_corrected'])} "
              f"| {fmt([100 * s for s in b['weight_share']], '{:.0f}%')} |", flush=True)
        print("  lowest layers: " + ", ".join(f"{op} #{i} {s:.1f} dB" for i, op, s in b["worst_layers"])
              + f"  ({b['seconds']:.0f} s)", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

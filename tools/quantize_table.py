"""Measures pyedge's int8 quantizer on the float test models (tests/models/float/) with every
calibration method and writes the table into docs/quantize.md (between the quantize-table
markers). Numbers are those `pyedge compare` reports: output SQNR against the float model on
held-out inputs, top-1 agreement and accuracy where there are labels; the quantized models'
outputs come from pyedge (bit-exact with TFLite's reference kernels).

Data: the digits CNNs use tests/models/float/digits.npz (200 training images calibrate, the 360
held-out ones evaluate); sine uses uniform x in [0, 2 pi]; the MediaPipe face models use crops
of scikit-learn's two bundled sample photos (china.jpg, flower.jpg; no faces, so their figures
are not comparable with face data). Needs scikit-learn and Pillow for those crops. The
openWakeWord embedding and wake-word head (from the pinned pyopen-wakeword 1.1.0 wheel, fetched,
not stored) use tests/models/float/oww_mels.npz (tools/oww_calibration.py: espeak-ng speech in
noise and other sounds): even clips calibrate, odd clips evaluate; the head's inputs are the float
embeddings of those clips. For the head the table also gives its detections on the held-out clips.

A second table (between the quantize-features markers) measures the default method with each
range/bias feature switched off and on (Calibration.clamp_ranges, Calibration.bias_correction).

  python tools/quantize_table.py [--write] [--methods minmax,ema,...] [--models a,b] [--no-int4]
  python tools/quantize_table.py --dynamic [--write] [--models a,b]

`--dynamic` measures `pyedge quantize --dynamic` (int8 weights, float activations; no calibration)
instead and writes its table between the dynamic-table markers. Its outputs come from TFLite's
reference kernels where pyedge lacks a float op of the model (the table says which).
"""
from __future__ import annotations

import argparse
import math
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FLOAT = ROOT / "tests" / "models" / "float"
DOC = ROOT / "docs" / "quantize.md"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from pyedge.quantize import METHODS, calibrate  # noqa: E402
from pyedge.quantize.observers import DEFAULT_METHOD  # noqa: E402
from pyedge.quantize.dynamic import quantize_dynamic  # noqa: E402
from pyedge.quantize.report import compare  # noqa: E402


def _digits():
    d = np.load(FLOAT / "digits.npz")
    x = (d["x"].astype(np.float32) / 16.0)[..., None]
    return x[:200], x[1437:], d["y"][1437:].astype(np.int64)


def _sine():
    rng = np.random.default_rng(0)
    cal = rng.uniform(0, 2 * math.pi, (200, 1)).astype(np.float32)
    ev = rng.uniform(0, 2 * math.pi, (500, 1)).astype(np.float32)
    return cal, ev, None


def _crops(size: int, n: int, seed: int, lo: float, hi: float) -> np.ndarray:
    from PIL import Image
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(seed)
    images = load_sample_images().images
    out = np.empty((n, size, size, 3), np.float32)
    for k in range(n):
        img = images[k % len(images)]
        s = int(rng.integers(size, min(img.shape[:2]) + 1))
        y0, x0 = int(rng.integers(0, img.shape[0] - s + 1)), int(rng.integers(0, img.shape[1] - s + 1))
        crop = Image.fromarray(img[y0:y0 + s, x0:x0 + s]).resize((size, size), Image.BILINEAR)
        out[k] = lo + (hi - lo) * np.asarray(crop, np.float32) / 255.0
    return out


def _oww(model: str, n_cal: int, n_eval: int):
    import quantize_models as Q

    cal, ev = Q.oww_data(model, n_cal, n_eval)
    return cal, ev, None


def _model_bytes(name: str) -> bytes:
    if name.startswith("oww_"):
        import quantize_models as Q

        return Q.oww_model_path(Q.OWW_MODELS[name]).read_bytes()
    return (FLOAT / f"{name}.tflite").read_bytes()


FEATURES = [("none", False, False), ("clamp", True, False), ("bias", False, True), ("clamp + bias", True, True)]

MODELS = {
    "digits_cnn_float": _digits,
    "digits_dwcnn_float": _digits,
    "tflm_sine_float": _sine,
    "mediapipe_face_detection_short_range": lambda: (_crops(128, 64, 0, -1, 1), _crops(128, 48, 1, -1, 1), None),
    "mediapipe_face_landmark": lambda: (_crops(192, 48, 0, 0, 1), _crops(192, 32, 1, 0, 1), None),
    "oww_embedding_model": lambda: _oww("oww_embedding_model", 128, 96),
    "oww_okay_nabu": lambda: _oww("oww_okay_nabu", 160, 279),
}


def measure(models: list[str], methods: list[str], int4: bool = True) -> list[dict]:
    rows = []
    for name in models:
        raw = _model_bytes(name)
        cal_x, ev_x, labels = MODELS[name]()
        t0 = time.perf_counter()
        cal = calibrate(raw, cal_x, show_progress=False)
        t_cal = time.perf_counter() - t0
        for method in methods:
            q = cal.quantize(method)
            r = compare(raw, q, ev_x, labels=labels, show_progress=False)
            row = {"model": name, "method": method, "cal": len(cal_x), "eval": len(ev_x),
                   "sqnr": [o["sqnr_db"] for o in r["outputs"]], "outputs": [o["name"] for o in r["outputs"]],
                   "top1": r.get("top1_agreement"), "acc_f": r.get("float_accuracy"),
                   "acc_q": r.get("quant_accuracy"), "bytes_f": r["float_model_bytes"],
                   "bytes_q": r["quant_model_bytes"], "outputs_from": r["outputs_from"],
                   "worst_layer": min(r["layers"], key=lambda L: L["sqnr_db"]), "t_cal": t_cal}
            rows.append(row)
            acc = f" acc {row['acc_f']:.4f} -> {row['acc_q']:.4f}" if row["acc_q"] is not None else ""
            print(f"{name:40s} {method:10s} SQNR {' / '.join(f'{s:.2f}' for s in row['sqnr'])} dB{acc}",
                  flush=True)
            if method == DEFAULT_METHOD:
                row["features"] = {}
                keep = cal.clamp_ranges, cal.bias_correction
                for label, clamp, bias in FEATURES:
                    cal.clamp_ranges, cal.bias_correction = clamp, bias
                    rf = compare(raw, cal.quantize(method), ev_x, labels=labels, show_progress=False)
                    row["features"][label] = [o["sqnr_db"] for o in rf["outputs"]]
                    print(f"{'':40s} {label:14s} SQNR {' / '.join(f'{v:.2f}' for v in row['features'][label])} dB")
                cal.clamp_ranges, cal.bias_correction = keep
                if name == "oww_okay_nabu":
                    row["detections"] = wake_detections(raw, cal.quantize(method))
                    print(f"{'':40s} detections {row['detections']}")
        if int4:
            q = cal.quantize(DEFAULT_METHOD, weights="int4")
            r = compare(raw, q, ev_x, labels=labels, show_progress=False)
            row = {"model": name, "method": "int4", "sqnr": [o["sqnr_db"] for o in r["outputs"]],
                   "acc_q": r.get("quant_accuracy"), "bytes_q": r["quant_model_bytes"],
                   "outputs_from": r["outputs_from"]}
            rows.append(row)
            print(f"{name:40s} {'int4':10s} SQNR {' / '.join(f'{s:.2f}' for s in row['sqnr'])} dB "
                  f"({row['outputs_from']})", flush=True)
    return rows


def wake_detections(float_model: bytes, quant_model: bytes, threshold: float = 0.5) -> dict:
    """Held-out clips on which the float and the int8 head fire (maximum probability over the
    clip's 16-embedding windows above `threshold`), for wake-phrase clips and the others. Both
    heads run on TFLite's reference kernels (pyedge's int8 outputs are the same bytes:
    tests/test_quantize_oww.py)."""
    import quantize_models as Q
    from pyedge.quantize.reference import ReferenceRunner

    fref, qref = ReferenceRunner(float_model), ReferenceRunner(quant_model)
    (s_in, z_in), (s_out, z_out) = qref.inputs[0]["quantization"], qref.outputs[0]["quantization"]
    d = {"wake clips": 0, "float fires": 0, "int8 fires": 0, "both fire": 0, "other clips": 0,
         "float false": 0, "int8 false": 0, "max |p diff|": 0.0}
    for c in Q.oww_split()[1]:
        x = Q.oww_head_inputs([c])
        pf = np.array([float(fref.run([s[None]])[0][0].reshape(-1)[0]) for s in x])
        qx = np.clip(np.round(x / s_in) + z_in, -128, 127).astype(np.int8)
        pq = np.array([(float(qref.run([s[None]])[0][0].reshape(-1)[0]) - z_out) * s_out for s in qx])
        f_on, q_on = bool(pf.max() > threshold), bool(pq.max() > threshold)
        d["max |p diff|"] = max(d["max |p diff|"], float(np.abs(pf - pq).max()))
        if Q.oww_clips()[c][1]:
            d["wake clips"] += 1
            d["float fires"] += f_on
            d["int8 fires"] += q_on
            d["both fire"] += f_on and q_on
        else:
            d["other clips"] += 1
            d["float false"] += f_on
            d["int8 false"] += q_on
    return d


def measure_dynamic(models: list[str]) -> list[dict]:
    rows = []
    for name in models:
        raw = _model_bytes(name)
        _, ev_x, labels = MODELS[name]()
        for asym in (True, False):
            q = quantize_dynamic(raw, asymmetric_inputs=asym)
            r = compare(raw, q, ev_x, labels=labels, show_progress=False)
            rows.append({"model": name, "asym": asym, "eval": len(ev_x), "sqnr": [o["sqnr_db"] for o in r["outputs"]],
                         "outputs": [o["name"] for o in r["outputs"]], "acc_f": r.get("float_accuracy"),
                         "acc_q": r.get("quant_accuracy"), "bytes_f": r["float_model_bytes"],
                         "bytes_q": r["quant_model_bytes"], "outputs_from": r["outputs_from"]})
            print(f"{name:40s} dynamic asym={asym} SQNR {' / '.join(f'{v:.2f}' for v in rows[-1]['sqnr'])} dB",
                  flush=True)
    return rows


def dynamic_table(rows: list[dict]) -> str:
    lines = ["| float model (outputs) | eval samples | --dynamic | --dynamic --symmetric-inputs | "
             "accuracy float -> dynamic | size float -> dynamic | outputs from |",
             "|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["model"] for r in rows):
        a = next(r for r in rows if r["model"] == name and r["asym"])
        s = next(r for r in rows if r["model"] == name and not r["asym"])
        acc = f"{a['acc_f']:.4f} -> {a['acc_q']:.4f}" if a["acc_q"] is not None else "-"
        src = "pyedge" if a["outputs_from"] == "pyedge" else "TFLite (pyedge lacks a float op)"
        lines.append(f"| {name} ({', '.join(a['outputs'])}) | {a['eval']} | "
                     f"{' / '.join(f'{v:.1f}' for v in a['sqnr'])} | {' / '.join(f'{v:.1f}' for v in s['sqnr'])} | "
                     f"{acc} | {a['bytes_f']} -> {a['bytes_q']} | {src} |")
    return "\n".join(lines)


def mean_sqnr(rows: list[dict], methods: list[str]) -> dict[str, float | None]:
    """Mean output SQNR (dB) of each method over every output of every model: the measure the
    default method is chosen by."""
    out = {}
    for m in methods:
        v = [s for r in rows if r["method"] == m for s in r["sqnr"]]
        out[m] = float(np.mean(v)) if v else None
    return out


def features_table(rows: list[dict]) -> str:
    lines = ["| float model | " + " | ".join(label for label, _, _ in FEATURES) + " |",
             "|---|" + "---|" * len(FEATURES)]
    for r in rows:
        if "features" in r:
            lines.append(f"| {r['model']} | " + " | ".join(
                " / ".join(f"{v:.1f}" for v in r["features"][label]) for label, _, _ in FEATURES) + " |")
    means = [np.mean([v for r in rows if "features" in r for v in r["features"][label]]) for label, _, _ in FEATURES]
    lines.append("| mean over all outputs | " + " | ".join(f"{m:.2f}" for m in means) + " |")
    for r in rows:
        if "detections" in r:
            lines.append("")
            lines.append(f"{r['model']} on the held-out clips (threshold 0.5): " +
                         ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in r["detections"].items()))
    return "\n".join(lines)


def table(rows: list[dict], methods: list[str]) -> str:
    int4 = any(r["method"] == "int4" for r in rows)
    extra = f" | int4 weights ({DEFAULT_METHOD}) | accuracy, size int4" if int4 else ""
    lines = ["| float model (outputs) | cal / eval samples | " + " | ".join(methods) +
             " | accuracy float -> int8 (default) | size float -> int8" + extra + " |",
             "|---|---|" + "---|" * len(methods) + "---|---|" + ("---|---|" if int4 else "")]

    for name in dict.fromkeys(r["model"] for r in rows):
        mrows = {r["method"]: r for r in rows if r["model"] == name}
        r4 = mrows.pop("int4", None)
        first = next(iter(mrows.values()))
        cells = []
        for m in methods:
            r = mrows.get(m)
            s = " / ".join(f"{v:.1f}" for v in r["sqnr"]) if r else "-"
            cells.append(f"**{s}**" if m == DEFAULT_METHOD else s)
        d = mrows.get(DEFAULT_METHOD, first)
        acc = f"{d['acc_f']:.4f} -> {d['acc_q']:.4f}" if d["acc_q"] is not None else "-"
        outs = ", ".join(first["outputs"])
        tail = ""
        if int4:
            s4 = " / ".join(f"{v:.1f}" for v in r4["sqnr"]) if r4 else "-"
            a4 = f"{r4['acc_q']:.4f}, " if r4 and r4["acc_q"] is not None else ""
            tail = f" {s4} | {a4}{r4['bytes_q'] if r4 else '-'} |"
        lines.append(f"| {name} ({outs}) | {first['cal']} / {first['eval']} | " + " | ".join(cells) +
                     f" | {acc} | {first['bytes_f']} -> {d['bytes_q']} |" + tail)
    lines.append("| mean over all outputs | | " + " | ".join(
        f"{v:.2f}" if v is not None else "-" for v in mean_sqnr(rows, methods).values()) + " | | |"
        + (f" {mean_sqnr(rows, ['int4'])['int4']:.2f} | |" if int4 else ""))
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="write the table into docs/quantize.md")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--dynamic", action="store_true", help="measure --dynamic (dynamic-range) models instead")
    ap.add_argument("--no-int4", action="store_true", help="skip the int4-weights column")
    args = ap.parse_args()
    if args.dynamic:
        text = dynamic_table(measure_dynamic(args.models.split(",")))
        print(text)
        if args.write:
            doc = DOC.read_text()
            DOC.write_text(re.sub(r"(<!-- dynamic-table:begin -->\n).*?(<!-- dynamic-table:end -->)",
                                  lambda m: m.group(1) + text + "\n" + m.group(2), doc, flags=re.S))
            print(f"wrote {DOC.relative_to(ROOT)}")
        return 0
    methods = args.methods.split(",")
    rows = measure(args.models.split(","), methods, int4=not args.no_int4)
    text, ftext = table(rows, methods), features_table(rows)
    print(text)
    print(ftext)
    if args.write:
        doc = DOC.read_text()
        new = re.sub(r"(<!-- quantize-table:begin -->\n).*?(<!-- quantize-table:end -->)",
                     lambda m: m.group(1) + text + "\n" + m.group(2), doc, flags=re.S)
        new = re.sub(r"(<!-- quantize-features:begin -->\n).*?(<!-- quantize-features:end -->)",
                     lambda m: m.group(1) + ftext + "\n" + m.group(2), new, flags=re.S)
        DOC.write_text(new)
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What quantization cost: per-layer SQNR and cosine similarity between a float model's
activations and the dequantized activations of its quantized version, model output SQNR, top-1
agreement, accuracy against labels, and size; as text, JSON or a self-contained HTML page."""
from __future__ import annotations

import html
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import PyedgeError
from ..tflite_reader import read_tflite
from . import int4
from .data import CalibrationDataError, load_samples
from .quantizer import activation_tensors, prepare_float_graph
from .reference import ReferenceRunner, progress


class _Acc:
    """Running sums for SQNR and cosine similarity of one tensor over all samples."""

    def __init__(self) -> None:
        self.ss = self.nn = self.sd = self.dd = 0.0
        self.n = 0

    def add(self, f: np.ndarray, d: np.ndarray) -> None:
        f = f.astype(np.float64).reshape(-1)
        d = d.astype(np.float64).reshape(-1)
        self.ss += float(f @ f)
        self.nn += float((f - d) @ (f - d))
        self.sd += float(f @ d)
        self.dd += float(d @ d)
        self.n += 1

    def sqnr(self) -> float:
        if self.nn == 0:
            return math.inf
        if self.ss == 0:
            return -math.inf
        return 10.0 * math.log10(self.ss / self.nn)

    def cosine(self) -> float:
        den = math.sqrt(self.ss * self.dd)
        return 1.0 if den == 0 and self.nn == 0 else (self.sd / den if den else 0.0)


def _dequantize(x: np.ndarray, q: dict) -> np.ndarray:
    scales, zps = q["scales"], q["zero_points"]
    if x.dtype.kind == "f" or len(scales) == 0:
        return x.astype(np.float32)
    return (x.astype(np.float32) - np.float32(zps[0])) * np.float32(scales[0])


def _to_input(x: np.ndarray, d: dict) -> np.ndarray:
    dt = np.dtype(d["dtype"])
    if dt.kind == "f":
        return x.astype(dt)
    scale, zp = d["quantization"]
    info = np.iinfo(dt)
    return np.clip(np.round(x / scale) + zp, info.min, info.max).astype(dt)


def _pyedge_interpreter(model: bytes):
    from ..interpreter import Interpreter

    try:
        it = Interpreter(model_content=model)
        it.allocate_tensors()
        return it, None
    except PyedgeError as exc:
        return None, str(exc)


def compare(float_model: str | os.PathLike | bytes, quant_model: str | os.PathLike | bytes, data: Any,
            labels: np.ndarray | None = None, show_progress: bool | None = None) -> dict[str, Any]:
    """Run both models on `data` (as for calibration) and measure the difference. The quantized
    model's outputs come from pyedge (its intermediates from TFLite's reference kernels, which
    pyedge matches bit for bit); if pyedge cannot run it, from TFLite, and the report says why."""
    fraw = float_model if isinstance(float_model, (bytes, bytearray)) else Path(float_model).read_bytes()
    qraw = quant_model if isinstance(quant_model, (bytes, bytearray)) else Path(quant_model).read_bytes()
    fgraph = prepare_float_graph(read_tflite(fraw))
    qgraph = read_tflite(qraw)
    fref = ReferenceRunner(fraw, observe=activation_tensors(fgraph))
    # int4 weights: the INT8 twin (same values), which TFLite 2.14 runs for every op (int4.py)
    qref = ReferenceRunner(int4.int8_twin(qraw), observe=[t.index for t in qgraph.subgraphs[0].tensors if not t.is_const])
    samples = load_samples(data, fref.input_specs(), what="evaluation")
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(samples):
            raise CalibrationDataError(f"{len(labels)} labels for {len(samples)} samples")
    if len(fref.inputs) != len(qref.inputs) or len(fref.outputs) != len(qref.outputs):
        raise PyedgeError("the models differ in their number of inputs or outputs")
    ft = fgraph.subgraphs[0].tensors
    q_by_name = {d["name"]: d for d in qref.it.get_tensor_details()}
    layers = []  # (op index, opcode, float tensor index, quant detail)
    acts = set(activation_tensors(fgraph))
    for op in fgraph.subgraphs[0].operators:
        for i in op.outputs:
            if i in acts and ft[i].name in q_by_name:
                layers.append((op.index, op.opcode, i, q_by_name[ft[i].name]))
    pe, pe_error = _pyedge_interpreter(bytes(qraw))
    accs = [_Acc() for _ in layers]
    out_accs = [_Acc() for _ in fref.outputs]
    agree = correct_f = correct_q = 0
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    ftensors = [i for _, _, i, _ in layers]
    qtensors = [d["index"] for _, _, _, d in layers]
    for k, s in enumerate(progress(samples, len(samples), "comparing", show_progress)):
        fouts, fvals = fref.run(s, ftensors)
        qin = [_to_input(x, d) for x, d in zip(s, qref.inputs)]
        qouts, qvals = qref.run(qin, qtensors)
        if pe is not None:
            for d, x in zip(pe.get_input_details(), qin):
                pe.set_tensor(d["index"], x)
            pe.invoke()
            qouts = [pe.get_tensor(d["index"]).copy() for d in pe.get_output_details()]
        for acc, (_, _, fi, qd) in zip(accs, layers):
            acc.add(fvals[fi], _dequantize(qvals[qd["index"]], qd["quantization_parameters"]))
        qdeq = [_dequantize(o, d["quantization_parameters"]) for o, d in zip(qouts, qref.outputs)]
        for acc, f, d in zip(out_accs, fouts, qdeq):
            acc.add(f, d)
        f0, q0 = fouts[0].reshape(-1), qdeq[0].reshape(-1)
        if f0.size > 1:
            top_f, top_q = int(np.argmax(f0)), int(np.argmax(q0))
            agree += top_f == top_q
            if labels is not None:
                correct_f += top_f == int(labels[k])
                correct_q += top_q == int(labels[k])
    n = len(samples)
    report: dict[str, Any] = {
        "samples": n,
        "float_model_bytes": len(fraw),
        "quant_model_bytes": len(qraw),
        "outputs_from": "pyedge" if pe is not None else f"TFLite reference kernels (pyedge: {pe_error})",
        "layers": [{"op": op_i, "opcode": opc, "tensor": ft[fi].name, "sqnr_db": a.sqnr(), "cosine": a.cosine()}
                   for (op_i, opc, fi, _), a in zip(layers, accs)],
        "outputs": [{"name": d["name"], "sqnr_db": a.sqnr(), "cosine": a.cosine()}
                    for d, a in zip(fref.outputs, out_accs)],
    }
    if fref.outputs and int(np.prod(fref.outputs[0]["shape"])) > 1:
        report["top1_agreement"] = agree / n
    if labels is not None:
        report["float_accuracy"] = correct_f / n
        report["quant_accuracy"] = correct_q / n
    return report


def _db(x: float) -> str:
    return f"{x:7.2f}" if math.isfinite(x) else ("    inf" if x > 0 else "   -inf")


def format_report(r: dict[str, Any]) -> str:
    lines = [f"{'op':>4s}  {'opcode':24s} {'tensor':32s} {'SQNR dB':>8s} {'cosine':>9s}"]
    for L in r["layers"]:
        lines.append(f"{L['op']:4d}  {L['opcode']:24s} {L['tensor'][:32]:32s} {_db(L['sqnr_db']):>8s} "
                     f"{L['cosine']:9.6f}")
    lines.append("")
    for o in r["outputs"]:
        lines.append(f"output {o['name']!r}: SQNR {_db(o['sqnr_db']).strip()} dB, cosine {o['cosine']:.6f}")
    if "top1_agreement" in r:
        lines.append(f"top-1 agreement: {r['top1_agreement']:.4f} over {r['samples']} samples")
    if "quant_accuracy" in r:
        lines.append(f"accuracy: float {r['float_accuracy']:.4f}, quantized {r['quant_accuracy']:.4f}")
    ratio = r["quant_model_bytes"] / max(r["float_model_bytes"], 1)
    lines.append(f"size: float {r['float_model_bytes']} bytes, quantized {r['quant_model_bytes']} bytes "
                 f"({ratio:.2f}x)")
    lines.append(f"quantized outputs from {r['outputs_from']}")
    return "\n".join(lines)


def _json_safe(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return "inf" if x > 0 else "-inf"
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_json_safe(v) for v in x]
    return x


def to_json(r: dict[str, Any]) -> str:
    import json

    return json.dumps(_json_safe(r), indent=1)


def _svg(layers: list[dict[str, Any]]) -> str:
    """Per-layer SQNR as an inline SVG bar chart (infinite SQNR drawn at the top, marked)."""
    w_bar, h, pad_l, pad_b, pad_t = 22, 260, 48, 110, 16
    vals = [L["sqnr_db"] for L in layers]
    finite = [v for v in vals if math.isfinite(v)] or [0.0]
    top = max(10.0, math.ceil(max(finite) / 10.0) * 10.0)
    bottom = min(0.0, math.floor(min(finite) / 10.0) * 10.0)
    width = pad_l + w_bar * max(len(layers), 1) + 16
    plot_h = h - pad_b - pad_t

    def y(v: float) -> float:
        v = top if v == math.inf else bottom if v == -math.inf else v
        return pad_t + plot_h * (top - v) / (top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" '
             f'font-family="sans-serif" font-size="10">']
    for t in np.arange(bottom, top + 0.1, 10.0):
        parts.append(f'<line x1="{pad_l}" x2="{width - 8}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#ddd"/>'
                     f'<text x="{pad_l - 4}" y="{y(t) + 3:.1f}" text-anchor="end">{t:.0f}</text>')
    parts.append(f'<text x="10" y="{pad_t + plot_h / 2:.0f}" transform="rotate(-90 10 {pad_t + plot_h / 2:.0f})" '
                 f'text-anchor="middle">SQNR (dB)</text>')
    for k, (L, v) in enumerate(zip(layers, vals)):
        x = pad_l + k * w_bar + 3
        y0, y1 = y(max(bottom, 0.0)), y(v)
        color = "#2a7" if v >= 30 else "#ea2" if v >= 20 else "#d33"
        label = html.escape(f"{L['op']}: {L['opcode']} {L['tensor']} {L['sqnr_db']:.2f} dB")
        parts.append(f'<rect x="{x}" y="{min(y0, y1):.1f}" width="{w_bar - 6}" height="{abs(y1 - y0):.1f}" '
                     f'fill="{color}"><title>{label}</title></rect>')
        parts.append(f'<text x="{x + 6}" y="{h - pad_b + 8}" transform="rotate(60 {x + 6} {h - pad_b + 8})">'
                     f'{html.escape(L["tensor"][:18])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(r: dict[str, Any], title: str = "pyedge quantization report") -> str:
    rows = "".join(
        f"<tr><td>{L['op']}</td><td>{html.escape(L['opcode'])}</td><td>{html.escape(L['tensor'])}</td>"
        f"<td>{_db(L['sqnr_db']).strip()}</td><td>{L['cosine']:.6f}</td></tr>" for L in r["layers"])
    summary = html.escape(format_report({**r, "layers": []}).split("\n", 2)[-1])
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:nth-child(2),td:nth-child(3)"
            "{text-align:left}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><pre>{summary}</pre><h2>SQNR per layer</h2>{_svg(r['layers'])}"
            "<table><tr><th>op</th><th>opcode</th><th>tensor</th><th>SQNR dB</th><th>cosine</th></tr>"
            f"{rows}</table></body></html>")

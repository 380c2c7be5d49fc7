"""Mixed precision: choose per layer between int8 and int16 activations (and int4 or int8
weights, where the quantizer takes them) to meet a budget, from measured per-layer sensitivity.

    from pyedge.quantize.mixed import plan_mixed
    plan = plan_mixed("float.tflite", "cal.npz", "sqnr=35")
    open("mixed.tflite", "wb").write(plan.model); print(plan.format())

The calibration samples are split: the first part calibrates, the held-out rest measures. Each
candidate layer is moved alone from the base plan to each other choice and the model's output
SQNR against the float model is measured (pyedge runs the quantized models, bit-exact with
TFLite's reference kernels); the cost of each choice comes from two measured plans (per-op time
from pyedge's per-op timing hook, weight bytes from the quantized model). A greedy search adds
the moves with the best measured gain per cost; the chosen plan is quantized and measured again,
and moves are added (sqnr) or dropped (flash, latency) until the measured figure meets the
budget."""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

from typing import Any

import numpy as np

from ..errors import PyedgeError
from . import rules
from .data import load_samples
from .observers import DEFAULT_METHOD
from .quantizer import ACTIVATION_TYPES

BUDGET_KEYS = {"sqnr": "dB", "flash": "KB", "latency": "ms"}


class BudgetError(PyedgeError):
    """A budget that cannot be parsed or that no plan meets (says which and the best figure)."""


def parse_budget(text: str) -> tuple[str, float]:
    """'sqnr=35' / 'flash=40' (KB, 1024 bytes) / 'latency=1.5' (ms) -> (key, value)."""
    key, sep, value = str(text).partition("=")
    key = key.strip().lower()
    if not sep or key not in BUDGET_KEYS:
        raise BudgetError(f"budget {text!r}: give one of " + ", ".join(f"{k}={u}" for k, u in BUDGET_KEYS.items())
                          + " (e.g. sqnr=35)")
    try:
        v = float(value.strip().lower().removesuffix(BUDGET_KEYS[key].lower()))
    except ValueError:
        raise BudgetError(f"budget {text!r}: {value!r} is not a number") from None
    if not math.isfinite(v) or (key != "sqnr" and v <= 0):
        raise BudgetError(f"budget {text!r}: {key} must be a positive finite number of {BUDGET_KEYS[key]}")
    return key, v


@dataclass(frozen=True)
class Choice:
    activations: str = "int8"
    weights: str = "int8"

    def __str__(self) -> str:
        return f"a{self.activations[3:]}/w{self.weights[3:]}"


BASE = Choice()


def layer_choices(opcode: str, int4: bool = True) -> list[Choice]:
    """The choices for one layer: int8/int16 activations (int16 where a 16x8 kernel exists),
    times int8/int4 weights (`int4`) for CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED, int4 with
    int8 activations only."""
    acts = ["int8"] + (["int16"] if opcode not in rules.NOT_INT16 else [])
    weights = ["int8", "int4"] if int4 and opcode in rules.WEIGHTED else ["int8"]
    # int4 weights with int16 activations: TFLite 2.14 computes them wrongly (docs/oracles.md)
    return [Choice(a, w) for w in weights for a in acts if not (a == "int16" and w == "int4")]


@dataclass
class Measured:
    """One quantized plan, measured: output SQNR (per output and the minimum), flash (pyedge blob
    bytes), constant bytes and time per float layer, total latency."""
    model: bytes
    sqnr_db: list[float]
    flash: int
    latency_ms: float
    layer_bytes: dict[int, int]
    layer_ns: dict[int, float]
    output: int | None = None  # the output the budget is on; None: the worst output

    @property
    def sqnr(self) -> float:
        return min(self.sqnr_db) if self.output is None else self.sqnr_db[self.output]

    def figure(self, key: str) -> float:
        return {"sqnr": self.sqnr, "flash": self.flash / 1024.0, "latency": self.latency_ms}[key]


def _sqnr(ref: list[np.ndarray], got: list[np.ndarray]) -> float:
    f = np.concatenate([r.reshape(-1) for r in ref]).astype(np.float64)
    d = np.concatenate([g.reshape(-1) for g in got]).astype(np.float64)
    noise = float(((f - d) ** 2).sum())
    return math.inf if noise == 0 else 10.0 * math.log10(float((f ** 2).sum()) / noise)


class Evaluator:
    """Quantizes plans from one Calibration and measures them on held-out samples."""

    def __init__(self, cal, samples: list[list[np.ndarray]], method: str = DEFAULT_METHOD,
                 io: str | None = None, timing_rounds: int = 5, output: int | None = None) -> None:
        from .reference import ReferenceRunner

        self.cal, self.samples, self.method, self.io = cal, samples, method, io
        self.output = output
        self.timing_rounds = timing_rounds
        ref = ReferenceRunner(cal.model)
        self.float_outputs = [ref.run(s)[0] for s in samples]
        sg = cal.graph.subgraphs[0]
        self.layers = [op for op in sg.operators if op.opcode not in rules.SAME_SCALE
                       and any(i >= 0 and sg.tensors[i].type_code == 0 for i in op.inputs + op.outputs)]
        self.tensor_of = {op.index: sg.tensors[op.outputs[0]].name for op in sg.operators if op.outputs}
        self.evaluations = 0

    def build(self, plan: dict[int, Choice]) -> tuple[bytes, list[int] | None]:
        from ..tflite_writer import write_tflite

        acts = {k: c.activations for k, c in plan.items() if c.activations != "int8"}
        weights = {k: c.weights for k, c in plan.items() if c.weights != "int8"}
        origins: list[int] = []
        g = self.cal.quantize_mixed_graph(self.method, self.io, acts, origins, weights=weights or "int8")
        return write_tflite(g), origins

    def measure(self, plan: dict[int, Choice], timing: bool = True) -> Measured:
        from ..interpreter import Interpreter
        from ..pack import pack_tflite
        from ..tflite_reader import read_tflite

        model, origins = self.build(plan)
        self.evaluations += 1
        blob = pack_tflite(model)
        pe = Interpreter(model_content=blob, profile=timing)
        pe.allocate_tensors()
        ins, outs = pe.get_input_details(), pe.get_output_details()
        per_output = [[[], []] for _ in outs]
        for s, fo in zip(self.samples, self.float_outputs):
            for d, x in zip(ins, s):
                pe.set_tensor(d["index"], _to_input(x, d))
            pe.invoke()
            for k, (d, f) in enumerate(zip(outs, fo)):
                per_output[k][0].append(f)
                per_output[k][1].append(_from_output(pe.get_tensor(d["index"]), d))
        sqnrs = [_sqnr(f, g) for f, g in per_output]
        q = read_tflite(model).subgraphs[0]
        if origins is None:
            origins = _origins_by_name(q, {v: k for k, v in self.tensor_of.items()})
        layer_bytes: dict[int, int] = {}
        for op, o in zip(q.operators, origins):
            consts = sum(q.tensors[i].data.nbytes for i in op.inputs if i >= 0 and q.tensors[i].is_const)
            layer_bytes[o] = layer_bytes.get(o, 0) + int(consts)
        layer_ns: dict[int, float] = {}
        latency = float("nan")
        if timing:
            from ..inspector import inspect_model

            rounds = []
            for _ in range(self.timing_rounds):
                pe.invoke()
                rounds.append([p["ns"] for p in pe.op_profile()])
            med = np.median(np.array(rounds, np.float64), axis=0)
            src = [op["tflite_index"] for op in inspect_model(blob)["ops"]]
            for ns, t in zip(med, src):
                o = origins[t] if t is not None and 0 <= t < len(origins) else -1
                layer_ns[o] = layer_ns.get(o, 0.0) + float(ns)
            latency = float(np.median(np.array(rounds, np.float64).sum(axis=1))) / 1e6
        return Measured(model, sqnrs, len(blob), latency, layer_bytes, layer_ns, self.output)


def _to_input(x: np.ndarray, d: dict) -> np.ndarray:
    dt = np.dtype(d["dtype"])
    if dt.kind == "f":
        return np.asarray(x, dt).reshape(d["shape"])
    scale, zp = d["quantization"]
    info = np.iinfo(dt)
    return np.clip(np.round(np.asarray(x, np.float64) / scale) + zp, info.min, info.max).astype(dt).reshape(d["shape"])


def _from_output(y: np.ndarray, d: dict) -> np.ndarray:
    if y.dtype.kind == "f":
        return y.astype(np.float32)
    scale, zp = d["quantization"]
    return ((y.astype(np.float64) - zp) * scale).astype(np.float32)


def _origins_by_name(q, float_index_of: dict[str, int]) -> list[int]:
    """Float op of each quantized op, through output tensor names (conversions go to the op
    whose tensor they carry)."""
    out = []
    for op in q.operators:
        name = q.tensors[op.outputs[0]].name if op.outputs else ""
        for suffix in ("_int16", "_int8", "/int32"):
            name = name.removesuffix(suffix)
        out.append(float_index_of.get(name, -1))
    return out


@dataclass
class Plan:
    """The chosen per-layer precision, its measured figures and how it was reached."""
    budget: tuple[str, float]
    choices: dict[int, Choice]
    layers: list[dict[str, Any]]
    measured: Measured
    base: Measured
    notes: list[str] = field(default_factory=list)
    evaluations: int = 0
    seconds: float = 0.0
    held_out: int = 0
    calibrated_on: int = 0
    outputs: list[str] = field(default_factory=list)
    output: int | None = None

    @property
    def model(self) -> bytes:
        return self.measured.model

    def to_dict(self) -> dict[str, Any]:
        key, value = self.budget
        m, b = self.measured, self.base
        return {
            "budget": {"key": key, "value": value, "unit": BUDGET_KEYS[key],
                       "sqnr_of": "worst output" if self.output is None else self.outputs[self.output]},
            "outputs": self.outputs,
            "met": _meets(m, key, value),
            "layers": self.layers,
            "totals": {"sqnr_db": m.sqnr_db, "min_sqnr_db": m.sqnr, "flash_bytes": m.flash,
                       "weight_bytes": sum(m.layer_bytes.values()), "latency_ms": m.latency_ms,
                       "int16_layers": sum(1 for c in self.choices.values() if c.activations == "int16"),
                       "int4_layers": sum(1 for c in self.choices.values() if c.weights == "int4")},
            "base": {"plan": "int8 activations and weights", "sqnr_db": b.sqnr_db, "min_sqnr_db": b.sqnr,
                     "flash_bytes": b.flash, "latency_ms": b.latency_ms},
            "notes": self.notes, "evaluations": self.evaluations, "seconds": round(self.seconds, 2),
            "calibration_samples": self.calibrated_on, "held_out_samples": self.held_out,
        }

    def format(self) -> str:
        d = self.to_dict()
        key, value = self.budget
        of = "the worst output" if self.output is None else f"output {self.outputs[self.output]!r}"
        lines = [f"mixed precision plan for budget {key}={value:g} {BUDGET_KEYS[key]} (SQNR of {of}): "
                 f"{'met' if d['met'] else 'NOT met'} (measured on {self.held_out} held-out samples, "
                 f"calibrated on {self.calibrated_on}; {self.evaluations} plans measured in {self.seconds:.1f} s)",
                 f"{'op':>4} {'opcode':<18} {'tensor':<28} {'weights':>7} {'acts':>6} {'bytes':>8} "
                 f"{'time':>7} {'sens dB':>8}"]
        for L in self.layers:
            sens = L["sensitivity_db"]
            s = " ".join(f"{k}:{v:+.2f}" for k, v in sens.items()) if sens else "-"
            lines.append(f"{L['op']:>4} {L['opcode']:<18} {L['tensor'][:28]:<28} {L['weights']:>7} "
                         f"{L['activations']:>6} {L['bytes']:>8} {100 * L['time_share']:>6.1f}% {s:>8}")
        t, b = d["totals"], d["base"]
        lines.append(f"total: {t['int16_layers']} int16-activation layers, {t['int4_layers']} int4-weight layers; "
                     f"output SQNR {' / '.join(f'{v:.2f}' for v in t['sqnr_db'])} dB (all int8: "
                     f"{' / '.join(f'{v:.2f}' for v in b['sqnr_db'])}), flash {t['flash_bytes']} bytes "
                     f"(all int8: {b['flash_bytes']}), weights {t['weight_bytes']} bytes, latency "
                     f"{t['latency_ms']:.3f} ms (all int8: {b['latency_ms']:.3f}) on this host")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _meets(m: Measured, key: str, value: float) -> bool:
    return m.sqnr >= value if key == "sqnr" else m.figure(key) <= value


def plan_mixed(model: str | os.PathLike | bytes, data: Any, budget: str | tuple[str, float], *,
               method: str = DEFAULT_METHOD, io: str | None = None, held_out: float = 0.25,
               max_held_out: int = 64, timing_rounds: int = 5, output: str | int | None = None,
               show_progress: bool | None = None) -> Plan:
    """Choose per-layer precision for `model` to meet `budget` ('sqnr=dB': the plan of least
    latency reaching that output SQNR; 'flash=KB': the best SQNR within that blob size;
    'latency=ms': the best SQNR within that per-invoke time measured by pyedge on this host).
    `data` as for calibrate(); its last `held_out` fraction (at most `max_held_out` samples)
    is held out to measure. The SQNR is that of the worst output, or of `output` (a name or
    index). Raises BudgetError if no plan meets the budget."""
    from . import calibrate, _model_bytes
    from .reference import ReferenceRunner
    from .quantizer import prepare_float_graph
    from ..tflite_reader import read_tflite

    t0 = time.perf_counter()
    key, value = parse_budget(budget) if isinstance(budget, str) else budget
    if key not in BUDGET_KEYS:
        raise BudgetError(f"budget key {key!r}: give one of {', '.join(BUDGET_KEYS)}")
    raw = _model_bytes(model)
    prepare_float_graph(read_tflite(raw))
    runner = ReferenceRunner(raw)
    samples = load_samples(data, runner.input_specs(), min_samples=4)
    names = [d["name"] for d in runner.outputs]
    if output is not None:
        if isinstance(output, str) and output in names:
            output = names.index(output)
        elif isinstance(output, str) and output.isdigit():
            output = int(output)
        if not isinstance(output, int) or not 0 <= output < len(names):
            raise BudgetError(f"output {output!r}: the model's outputs are {', '.join(map(repr, names))}")
    n_eval = max(2, min(max_held_out, int(round(len(samples) * held_out))))
    cal_part, eval_part = samples[:-n_eval], samples[-n_eval:]
    cal = calibrate(raw, iter(cal_part), show_progress=False)
    ev = Evaluator(cal, eval_part, method, io, timing_rounds, output)
    choices = {op.index: layer_choices(op.opcode) for op in ev.layers}
    notes: list[str] = []

    def cheapest(k: int) -> Choice:
        opts = choices[k]
        if key == "flash" and Choice("int8", "int4") in opts:
            return Choice("int8", "int4")
        return BASE

    base_plan = {k: cheapest(k) for k in choices}
    base = ev.measure(base_plan)
    all_int8 = base if all(c == BASE for c in base_plan.values()) else ev.measure({k: BASE for k in choices})
    # per-layer cost of each choice: from one plan with every layer on that choice
    costs: dict[Choice, Measured] = {BASE: all_int8}
    for c in {c for opts in choices.values() for c in opts} - {BASE}:
        costs[c] = ev.measure({k: (c if c in choices[k] else BASE) for k in choices})

    # sensitivity: each layer moved alone to each other choice, output SQNR (and blob size) measured
    sens: dict[tuple[int, Choice], float] = {}
    alone: dict[tuple[int, Choice], Measured] = {}
    for k, opts in choices.items():
        for c in opts:
            if c != base_plan[k]:
                alone[(k, c)] = ev.measure({**base_plan, k: c}, timing=False)
                sens[(k, c)] = alone[(k, c)].sqnr - base.sqnr

    def cost(k: int, c: Choice) -> float:
        """Flash: the blob bytes the move alone adds; latency: the layer's measured time on that
        choice minus on its base choice (ns)."""
        if key == "flash":
            return float(alone[(k, c)].flash - base.flash)
        m0, m1 = costs[base_plan[k]], costs[c]
        return m1.layer_ns.get(k, 0.0) - m0.layer_ns.get(k, 0.0)
    moves = sorted((m for m in sens if sens[m] > 0),
                   key=lambda m: sens[m] / max(cost(*m), 1.0 if key == "flash" else 1e3), reverse=True)

    plan = dict(base_plan)
    measured = base
    if key == "sqnr":
        for k, c in moves:
            if _meets(measured, key, value):
                break
            if plan[k] != base_plan[k]:
                continue
            trial = {**plan, k: c}
            m = ev.measure(trial)
            if m.sqnr > measured.sqnr:  # keep a move only when the measured plan improves
                plan, measured = trial, m
        if not _meets(measured, key, value):  # layers that only help together: the uniform plans
            uniform = [(c, m) for c, m in costs.items() if c != BASE and _meets(m, key, value)]
            if uniform:
                c, m = min(uniform, key=lambda cm: cm[1].latency_ms)
                notes.append(f"single-layer moves reached {measured.sqnr:.2f} dB; every layer on {c} meets "
                             f"the budget and was taken")
                plan, measured = {k: (c if c in choices[k] else BASE) for k in choices}, m
            else:
                best = max([measured, *costs.values()], key=lambda m: m.sqnr)
                measured = best
        if not _meets(measured, key, value):
            raise BudgetError(f"budget sqnr={value:g} dB is unreachable: the best plan found measures "
                              f"{measured.sqnr:.2f} dB (all int8: {base.sqnr:.2f} dB) on {n_eval} held-out samples")
    else:
        if not _meets(base, key, value):
            raise BudgetError(f"budget {key}={value:g} {BUDGET_KEYS[key]} is unreachable: the cheapest plan "
                              f"measures {base.figure(key):.3f} {BUDGET_KEYS[key]}")
        limit = value * (1024.0 if key == "flash" else 1e6)
        spent = base.flash if key == "flash" else base.latency_ms * 1e6
        added: list[tuple[int, Choice]] = []
        for k, c in moves:
            if plan[k] != base_plan[k] or spent + cost(k, c) > limit:
                continue
            plan[k] = c
            spent += cost(k, c)
            added.append((k, c))
        measured = ev.measure(plan) if added else base
        while added and not _meets(measured, key, value):
            k, c = min(added, key=lambda m: sens[m] / max(cost(*m), 1.0))
            added.remove((k, c))
            notes.append(f"measured {key} {measured.figure(key):.3f} {BUDGET_KEYS[key]} missed the budget; "
                         f"dropped operator {k} ({c}) and measured again")
            plan[k] = base_plan[k]
            measured = ev.measure(plan)
        if not _meets(measured, key, value):
            measured, plan = base, dict(base_plan)
    total_ns = sum(measured.layer_ns.values()) or 1.0
    layers = []
    sg = cal.graph.subgraphs[0]
    for op in ev.layers:
        c = plan[op.index]
        layers.append({"op": op.index, "opcode": op.opcode, "tensor": sg.tensors[op.outputs[0]].name,
                       "weights": c.weights if op.opcode in rules.WEIGHTED else "-", "activations": c.activations,
                       "bytes": measured.layer_bytes.get(op.index, 0),
                       "time_ns": measured.layer_ns.get(op.index, 0.0),
                       "time_share": measured.layer_ns.get(op.index, 0.0) / total_ns,
                       "sensitivity_db": {str(ch): round(sens[(op.index, ch)], 3) for ch in choices[op.index]
                                          if (op.index, ch) in sens}})
    return Plan((key, value), plan, layers, measured, all_int8, notes, ev.evaluations,
                time.perf_counter() - t0, n_eval, len(cal_part), names, output)


def plan_to_json(plan: Plan) -> str:
    import json

    from .report import _json_safe

    return json.dumps(_json_safe(plan.to_dict()), indent=1)


__all__ = ["plan_mixed", "parse_budget", "layer_choices", "Choice", "Plan",
           "BudgetError", "BUDGET_KEYS", "ACTIVATION_TYPES", "plan_to_json"]


"""Side-by-side speed of one model: pyedge at every ISA tier this CPU has, LiteRT with XNNPACK
and TFLite's reference kernels, in the same process, on the same inputs, interleaved round by
round so that load on a shared machine hits every runtime alike. Times are medians; the ratios
are what to quote (absolute times on shared machines are noise).

``pyedge bench MODEL.tflite [--threads N] [--isa all|TIER,...] [--per-op] [--json F]``
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import cpu
from .interpreter import Interpreter

REFERENCE = "tflite-ref"
XNNPACK = "litert+xnnpack"
ORT = "onnxruntime"

# the instruction whose register-only rate is each tier's peak (native/bench/peak_x86.c)
PEAK_OF_TIER = {"avx2": "vpmaddwd ymm", "avxvnni": "vpmaddwd ymm", "avx512": "vpmaddwd zmm",
                "avx512vnni": "vpdpbusd zmm"}


def measure_peak(seconds: float = 0.05) -> dict[str, float]:
    """GMAC/s of each multiply-accumulate instruction this CPU runs, register-only, one thread
    (the best of three timings of about `seconds` each)."""
    from ._native import lib

    kinds = {"vpmaddwd ymm": lib.PE_PEAK_VPMADDWD_YMM, "vpmaddwd zmm": lib.PE_PEAK_VPMADDWD_ZMM,
             "vpdpbusd zmm": lib.PE_PEAK_VPDPBUSD_ZMM}
    out = {}
    for name, kind in kinds.items():
        if lib.pe_bench_peak_loop(kind, 1) == 0:
            continue
        iters = 1000
        while True:  # calibrate to about `seconds`
            t = time.perf_counter()
            macs = lib.pe_bench_peak_loop(kind, iters)
            dt = time.perf_counter() - t
            if dt > seconds / 4 or iters > 1 << 34:
                break
            iters *= 4
        best = 0.0
        for _ in range(3):
            t = time.perf_counter()
            macs = lib.pe_bench_peak_loop(kind, iters)
            best = max(best, macs / (time.perf_counter() - t) / 1e9)
        out[name] = best
    return out


@dataclass
class Runner:
    name: str
    interp: Any
    kind: str  # "pyedge", "litert", "reference"
    times: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return float(np.median(self.times)) * 1e3 if self.times else float("nan")


def _inputs(details: list[dict[str, Any]], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    xs = []
    for d in details:
        dt = np.dtype(d["dtype"])
        if np.issubdtype(dt, np.integer):
            info = np.iinfo(dt)
            xs.append(rng.integers(info.min, info.max, size=d["shape"], dtype=dt, endpoint=True))
        else:
            xs.append(rng.standard_normal(d["shape"]).astype(dt))
    return xs


def tiers_to_run(isa: str | None) -> list[str]:
    """pyedge tiers to time: `None` or "best": the best tier (and scalar, for the speed-up);
    "all": every tier this CPU has; else a comma list of tiers."""
    have = cpu.tiers_available()
    if isa in (None, "best"):
        best = _best_tier(have)
        return ["scalar"] + ([best] if best != "scalar" else [])
    if isa == "all":
        return have
    want = [t.strip() for t in isa.split(",") if t.strip()]
    for t in want:
        if t not in cpu.TIERS:
            raise ValueError(f"unknown ISA tier {t!r} (known: {', '.join(cpu.TIERS)})")
        if t not in have:
            raise ValueError(f"this CPU cannot run ISA tier {t!r} (it runs: {', '.join(have)})")
    return want


def _best_tier(have: list[str]) -> str:
    used = cpu.cpu_features()["used"]
    for t in reversed(have):  # TIERS is lowest first
        bit = cpu.TIERS[t]
        if bit and all(n in used for n in cpu._names(bit)):
            return t
    return "scalar"


def make_runners(raw: bytes, tiers: list[str], threads: int = 1, profile: bool = False,
                 litert: bool = True, reference: bool = True,
                 warn: Callable[[str], None] | None = None, onnx: bytes | str | None = None) -> list[Runner]:
    """The runtimes to compare on one .tflite (or, pyedge only, a .peb). `onnx`: an equivalent
    ONNX model for ONNX Runtime, or "auto" to convert the .tflite (pyedge.bench_onnx)."""
    from .blob import is_blob

    runners = [Runner(f"pyedge[{t}]" + (f" x{threads}" if threads > 1 else ""),
                      Interpreter(model_content=raw, isa=t, num_threads=threads, profile=profile), "pyedge")
               for t in tiers]
    if not is_blob(raw):
        from .tflite_reader import with_valid_quantized_dimension

        fixed = with_valid_quantized_dimension(raw)
        if litert:
            try:
                from ai_edge_litert.interpreter import Interpreter as LiteRT

                runners.append(Runner(XNNPACK, LiteRT(model_content=fixed, num_threads=threads), "litert"))
            except ImportError:
                if warn:
                    warn("LiteRT not installed (pip install -e '.[bench]'): no XNNPACK column")
        if onnx is not None:
            try:
                from .bench_onnx import OrtRunner, tflite_to_onnx

                model = tflite_to_onnx(raw) if onnx == "auto" else onnx
                runners.append(Runner(ORT, OrtRunner(model, threads), "onnxruntime"))
            except ImportError:
                if warn:
                    warn("onnx/onnxruntime not installed (pip install -e '.[bench]'): no ONNX Runtime column")
            except ValueError as exc:
                if warn:
                    warn(f"no ONNX Runtime column: {exc}")
        if reference:
            from tflite_runtime.interpreter import Interpreter as RefInterpreter, OpResolverType

            runners.append(Runner(REFERENCE, RefInterpreter(
                model_content=fixed, num_threads=1,
                experimental_op_resolver_type=OpResolverType.BUILTIN_REF), "reference"))
    for r in runners:
        r.interp.allocate_tensors()
    xs = _inputs(runners[0].interp.get_input_details(), 0)
    for r in runners:
        for d, x in zip(r.interp.get_input_details(), xs):
            r.interp.set_tensor(d["index"], x)
    return runners


def time_runners(runners: list[Runner], rounds: int, min_seconds: float = 0.0) -> None:
    """Warm up, then `rounds` interleaved rounds (more until `min_seconds` passed)."""
    for r in runners:
        r.interp.invoke()
    start = time.perf_counter()
    n = 0
    while n < rounds or time.perf_counter() - start < min_seconds:
        for r in runners:
            t = time.perf_counter()
            r.interp.invoke()
            r.times.append(time.perf_counter() - t)
        n += 1
        if n >= 10 * max(rounds, 1):
            break


def check_outputs(runners: list[Runner]) -> list[str]:
    """Names of pyedge runners whose outputs differ from the reference kernels' (or, without
    them, from the first pyedge runner's)."""
    ref = next((r for r in runners if r.kind == "reference"), runners[0])
    want = [ref.interp.get_tensor(d["index"]) for d in ref.interp.get_output_details()]
    bad = []
    for r in runners:
        if r.kind != "pyedge" or r is ref:
            continue
        got = [r.interp.get_tensor(d["index"]) for d in r.interp.get_output_details()]
        if len(got) != len(want) or any(g.shape != w.shape or not np.array_equal(g, w) for g, w in zip(got, want)):
            bad.append(r.name)
    return bad


def per_op(runner: Runner, rounds: int) -> list[dict[str, Any]]:
    """Median per-op time (ns) over `rounds` invokes of a profiling pyedge runner, with each
    op's MACs (pyedge.inspect) and share of the total."""
    from .inspector import inspect_model

    it = runner.interp
    samples: list[list[int]] = []
    for _ in range(max(1, rounds)):
        it.invoke()
        samples.append([p["ns"] for p in it.op_profile()])
    med = np.median(np.array(samples, dtype=np.float64), axis=0)
    prof = it.op_profile()
    ops = inspect_model(bytes(it._blob))["ops"]
    total = float(med.sum()) or 1.0
    out = []
    for p, ns, op in zip(prof, med, ops):
        out.append({"index": p["index"], "op": p["op"], "kernel": p["kernel"], "ns": float(ns),
                    "share": float(ns) / total, "macs": op["macs"],
                    "macs_per_ns": op["macs"] / ns if ns > 0 and op["macs"] else None,
                    "shape": op["outputs"][0]["shape"] if op["outputs"] and op["outputs"][0] else None})
    return out


def ort_difference(runners: list[Runner]) -> int | None:
    """Largest |ONNX Runtime - reference| over the outputs, in LSB (it requantizes in float)."""
    ref = next((r for r in runners if r.kind == "reference"), None)
    ort = next((r for r in runners if r.kind == "onnxruntime"), None)
    if ref is None or ort is None:
        return None
    worst = 0
    for k, d in enumerate(ref.interp.get_output_details()):
        want = ref.interp.get_tensor(d["index"]).astype(np.int64)
        got = ort.interp.get_tensor(k).astype(np.int64)
        if got.shape != want.shape:
            return -1
        worst = max(worst, int(np.abs(got - want).max(initial=0)))
    return worst


def bench_model(path: str | os.PathLike, rounds: int = 15, threads: int = 1, isa: str | None = None,
                per_op_rounds: int = 0, litert: bool = True, reference: bool = True,
                warn: Callable[[str], None] | None = None, onnx: str | None = None) -> dict[str, Any]:
    """Times `path` on every runtime; returns {"model", "threads", "runtimes": {name: ms},
    "mismatch": [...], "per_op": {tier: [...]}}."""
    with open(path, "rb") as f:
        raw = f.read()
    tiers = tiers_to_run(isa)
    onnx_model: bytes | str | None = onnx
    if onnx not in (None, "auto"):
        with open(onnx, "rb") as f:
            onnx_model = f.read()
    runners = make_runners(raw, tiers, threads, litert=litert, reference=reference, warn=warn, onnx=onnx_model)
    time_runners(runners, rounds)
    from .inspector import inspect_model

    macs = inspect_model(bytes(runners[0].interp._blob))["totals"]["macs"]
    res: dict[str, Any] = {"model": os.path.basename(str(path)), "threads": threads, "macs": macs,
                           "runtimes": {r.name: r.median_ms for r in runners},
                           "spread": {r.name: _spread(r.times) for r in runners},
                           "kinds": {r.name: r.kind for r in runners},
                           "tiers": {r.name: t for r, t in zip(runners, tiers)},
                           "mismatch": check_outputs(runners), "onnxruntime_max_diff": ort_difference(runners)}
    if per_op_rounds:
        res["per_op"] = {}
        for t in tiers:
            pr = make_runners(raw, [t], threads, profile=True, litert=False, reference=False)[0]
            res["per_op"][t] = per_op(pr, per_op_rounds)
    return res


def _spread(times: list[float]) -> float:
    """Interquartile range over the median: how noisy a runtime's times were."""
    if len(times) < 4:
        return float("nan")
    q1, med, q3 = np.percentile(times, [25, 50, 75])
    return float((q3 - q1) / med) if med > 0 else float("nan")


def format_result(res: dict[str, Any], peak: dict[str, float] | None = None) -> str:
    rt = res["runtimes"]
    kinds = res["kinds"]
    xnn = next((v for k, v in rt.items() if kinds[k] == "litert"), None)
    ref = next((v for k, v in rt.items() if kinds[k] == "reference"), None)
    anchors = [v for k, v in rt.items() if kinds[k] in ("litert", "onnxruntime")]
    best = min(anchors) if anchors else None
    macs = res.get("macs", 0)
    lines = [f"{res['model']}  ({res['threads']} thread{'s' if res['threads'] > 1 else ''}, "
             f"{macs / 1e6:.1f} M MACs)"]
    lines.append(f"  {'runtime':28s} {'ms':>10s} {'IQR':>6s} {'vs xnnpack':>11s} {'vs best':>8s} {'vs ref':>9s} "
                 f"{'GMAC/s':>8s} {'% peak':>7s}")
    for name, ms in rt.items():
        vx = f"{ms / xnn:10.2f}x" if xnn else f"{'-':>11s}"
        vr = f"{ms / ref:8.3f}x" if ref else f"{'-':>9s}"
        vb = f"{ms / best:7.2f}x" if best else f"{'-':>8s}"
        gmacs = macs / (ms * 1e6) if ms > 0 else 0.0
        tier = res.get("tiers", {}).get(name)
        pk = (peak or {}).get(PEAK_OF_TIER.get(tier or "", ""))
        pct = f"{100 * gmacs / (pk * res['threads']):6.1f}%" if pk else f"{'':7s}"
        iqr = res.get("spread", {}).get(name, float("nan"))
        lines.append(f"  {name:28s} {ms:10.3f} {100 * iqr:5.1f}% {vx} {vb} {vr} {gmacs:8.2f} {pct}")
    lines.append("  (ratios: time / that runtime's time, below 1 is faster; best: the faster of LiteRT+XNNPACK and "
                 "ONNX Runtime; IQR: interquartile range / median; % peak: of the register-only rate of the tier's "
                 "multiply-accumulate instruction)")
    if res.get("onnxruntime_max_diff") is not None:
        lines.append(f"  onnxruntime: outputs within {res['onnxruntime_max_diff']} LSB of the reference kernels "
                     "(it requantizes in float; a speed anchor, not an oracle)")
    n_pyedge = sum(1 for k in rt if kinds[k] == "pyedge")
    if res["mismatch"]:
        lines.append(f"  OUTPUT MISMATCH vs reference: {', '.join(res['mismatch'])}")
    elif not ref and n_pyedge < 2:
        lines.append("  outputs: not checked (no reference kernels in this run)")
    else:
        lines.append("  outputs: every pyedge tier identical to "
                     + ("TFLite's reference kernels" if ref else "each other"))
    for tier, ops in res.get("per_op", {}).items():
        lines.append(f"  per op, pyedge[{tier}] (median ns):")
        lines.append(f"    {'#':>3s} {'op':18s} {'kernel':30s} {'output':18s} {'us':>9s} {'share':>6s} "
                     f"{'MACs':>10s} {'MAC/ns':>7s}")
        for o in ops:
            mpn = f"{o['macs_per_ns']:7.2f}" if o["macs_per_ns"] else f"{'':7s}"
            lines.append(f"    {o['index']:3d} {o['op'][:18]:18s} {o['kernel'][:30]:30s} "
                         f"{str(o['shape'])[:18]:18s} {o['ns'] / 1e3:9.1f} {o['share'] * 100:5.1f}% "
                         f"{o['macs'] or '':>10} {mpn}")
    return "\n".join(lines)


def main_bench(models: list[str], rounds: int, threads: int, isa: str | None, per_op_rounds: int,
               json_path: str | None, litert: bool = True, reference: bool = True,
               onnx: list[str] | None = None) -> int:
    """`onnx`: None, ["auto"] (convert every .tflite), or one .onnx file per model, in order."""
    import json

    feats = cpu.cpu_features()
    print(f"cpu: {_cpu_name()}; features: {', '.join(feats['detected']) or 'none'}"
          f"{'  (PYEDGE_ISA=' + feats['cap'] + ')' if feats['cap'] else ''}")
    print(f"versions: {_versions()}")
    peak = measure_peak()
    if peak:
        print("peak, register-only, 1 thread: " + ", ".join(f"{k} {v:.1f} GMAC/s" for k, v in peak.items()))
    results = []
    status = 0
    if onnx and onnx != ["auto"] and len(onnx) != len(models):
        raise ValueError(f"--onnx: {len(onnx)} file(s) for {len(models)} model(s) (give one per model, or auto)")
    for k, m in enumerate(models):
        o = None if not onnx else ("auto" if onnx == ["auto"] else onnx[k])
        res = bench_model(m, rounds, threads, isa, per_op_rounds, litert, reference,
                          warn=lambda s: print(s, file=sys.stderr), onnx=o)
        print(format_result(res, peak))
        results.append(res)
        status |= bool(res["mismatch"])
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"cpu": feats, "cpu_name": _cpu_name(), "versions": _versions(), "peak_gmacs": peak,
                       "results": results}, f, indent=1)
    return 1 if status else 0


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def _versions() -> str:
    from importlib import metadata

    out = []
    for pkg in ("pyedge", "ai-edge-litert", "onnxruntime", "tflite-runtime", "numpy"):
        try:
            out.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(out)

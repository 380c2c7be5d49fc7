"""Side-by-side speed: pyedge vs LiteRT+XNNPACK vs TFLite's reference kernels, one thread each,
in the same process on the same inputs. Prints medians and ratios (absolute times on shared
machines are noise; ratios are what to quote).

    .venv/bin/pip install -e ".[bench]"     # LiteRT (ai-edge-litert)
    .venv/bin/python tools/bench.py [MODEL.tflite ...] [--rounds 15]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pyedge  # noqa: E402
from pyedge.tflite_reader import with_valid_quantized_dimension  # noqa: E402

DEFAULT = ["tflm_person_detect", "tflm_micro_speech_quantized", "tflm_keyword_scrambled",
           "tflm_trained_lstm_int8", "tflm_dtln_noise_suppression",
           "tflm_mobilenet_v2_quantized_1x3x224x224"]


def _runners(raw: bytes) -> dict:
    from tflite_runtime.interpreter import Interpreter as RefInterpreter, OpResolverType

    fixed = with_valid_quantized_dimension(raw)
    out = {"pyedge": pyedge.Interpreter(model_content=raw)}
    try:
        from ai_edge_litert.interpreter import Interpreter as LiteRT

        out["litert+xnnpack"] = LiteRT(model_content=fixed, num_threads=1)
    except ImportError:
        print("(LiteRT not installed: pip install -e '.[bench]')", file=sys.stderr)
    out["tflite-ref"] = RefInterpreter(model_content=fixed, num_threads=1,
                                       experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    rng = np.random.default_rng(0)
    for it in out.values():
        it.allocate_tensors()
    details = out["pyedge"].get_input_details()
    xs = []
    for d in details:
        info = np.iinfo(d["dtype"]) if np.issubdtype(d["dtype"], np.integer) else None
        xs.append(rng.integers(info.min, info.max, size=d["shape"], dtype=d["dtype"], endpoint=True)
                  if info else rng.standard_normal(d["shape"]).astype(d["dtype"]))
    for it in out.values():
        for d, x in zip(it.get_input_details(), xs):
            it.set_tensor(d["index"], x)
    return out


def bench_model(path: Path, rounds: int) -> dict[str, float]:
    runners = _runners(path.read_bytes())
    for it in runners.values():  # warm up
        it.invoke()
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(rounds):  # interleaved, so load on the machine hits every runtime alike
        for k, it in runners.items():
            t = time.perf_counter()
            it.invoke()
            times[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) for k, v in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    paths = [Path(m) for m in args.models] or [ROOT / "tests" / "models" / f"{m}.tflite" for m in DEFAULT]
    print(f"isa: {['scalar', 'avx2', 'neon'][pyedge.Interpreter(model_path=str(paths[0])).isa]} "
          "(pyedge kernels are scalar C unless a SIMD kernel exists for the op)")
    print(f"{'model':44s} {'pyedge ms':>10s} {'litert ms':>10s} {'ref ms':>10s} "
          f"{'pyedge/litert':>14s} {'pyedge/ref':>11s}")
    for p in paths:
        try:
            r = bench_model(p, args.rounds)
        except pyedge.PyedgeError as exc:
            print(f"{p.stem:44s} skipped: {str(exc).splitlines()[0]}")
            continue
        pe, lr, ref = r["pyedge"], r.get("litert+xnnpack", float("nan")), r["tflite-ref"]
        print(f"{p.stem:44s} {pe * 1e3:10.3f} {lr * 1e3:10.3f} {ref * 1e3:10.3f} "
              f"{pe / lr:13.2f}x {pe / ref:10.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Per-invoke instruction counts: pyedge vs TFLite's reference kernels, under valgrind.

Wall time on a shared machine is noise; instructions executed are not. Each runtime runs in its
own subprocess under `valgrind --tool=cachegrind --cache-sim=no`, once with N invokes and once
with 0 (load, allocate, set the inputs), and the difference divided by N is the per-invoke count.
Both runtimes get the same random inputs; TFLite runs with one thread and BUILTIN_REF kernels.

    .venv/bin/python tools/count_instructions.py [MODEL ...] [--invokes 3] [--build DIR ...] [--top K]
    .venv/bin/python tools/count_instructions.py tflm_mobilenet_v2_quantized_1x3x224x224 --invokes 1

MODEL is a path or a name under tests/models (without .tflite). --build DIR (repeatable) counts
the pyedge C core built into DIR by `python pyedge/_build.py DIR`, one column per build (default:
PYEDGE_BUILD_DIR, else the installed module), e.g. a build of the previous commit next to the
current one. --top K also lists the K functions that execute most instructions per invoke in each
run. The TFLite side imports pyedge too (for with_valid_quantized_dimension), from the first build.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "models"
DEFAULT = ["tflm_person_detect", "tflm_micro_speech_quantized", "tflm_keyword_scrambled"]


# ----------------------------------------------------------------------------- child process

def _child(runtime: str, model: str, invokes: int) -> int:
    """Load `model` in `runtime` ("pyedge" or "ref"), set seeded inputs, invoke `invokes` times."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    raw = Path(model).read_bytes()
    if runtime == "pyedge":
        import pyedge

        it = pyedge.Interpreter(model_content=raw)
    else:
        from tflite_runtime.interpreter import Interpreter, OpResolverType

        from pyedge.tflite_reader import with_valid_quantized_dimension

        it = Interpreter(model_content=with_valid_quantized_dimension(raw), num_threads=1,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    rng = np.random.default_rng(0)
    for d in it.get_input_details():
        dtype = np.dtype(d["dtype"])
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            x = rng.integers(info.min, info.max, size=d["shape"], dtype=dtype, endpoint=True)
        else:
            x = rng.standard_normal(d["shape"]).astype(dtype)
        it.set_tensor(d["index"], x)
    for _ in range(invokes):
        it.invoke()
    return 0


# ----------------------------------------------------------------------------- parent

def _cachegrind_profile(path: Path) -> tuple[int, dict[str, int]]:
    """Total Ir and Ir per function name from a cachegrind output file."""
    per_fn: dict[str, int] = defaultdict(int)
    total = None
    fn = "?"
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("fn="):
                fn = line[3:].strip()
            elif line[:1].isdigit():
                parts = line.split()
                if len(parts) >= 2:
                    per_fn[fn] += int(parts[1])
            elif line.startswith("summary:"):
                total = int(line.split()[1])
    if total is None:
        total = sum(per_fn.values())
    return total, dict(per_fn)


def _run(runtime: str, model: Path, invokes: int, build: str | None) -> tuple[int, dict[str, int]]:
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
    if build is not None:
        env["PYEDGE_BUILD_DIR"] = build
    with tempfile.TemporaryDirectory(prefix="pe_cg_") as tmp:
        out = Path(tmp) / "cg.out"
        cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={out}",
               sys.executable, str(Path(__file__).resolve()), "--child", runtime, str(model), str(invokes)]
        r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0 or not out.exists():
            raise RuntimeError(f"{runtime} on {model.name} ({invokes} invokes) failed:\n{r.stderr[-3000:]}")
        return _cachegrind_profile(out)


def _per_invoke(run_n: tuple[int, dict[str, int]], run_0: tuple[int, dict[str, int]], invokes: int,
                ) -> "tuple[float, list[tuple[str, float]]]":
    """(N invokes - 0 invokes) / N, in total and per function (costliest first)."""
    (total_n, fns_n), (total_0, fns_0) = run_n, run_0
    fns = {k: (v - fns_0.get(k, 0)) / invokes for k, v in fns_n.items()}
    return (total_n - total_0) / invokes, sorted(fns.items(), key=lambda kv: -kv[1])


def _resolve(model: str) -> Path:
    p = Path(model)
    if p.exists():
        return p
    q = MODELS / (model if model.endswith(".tflite") else model + ".tflite")
    if q.exists():
        return q
    raise SystemExit(f"no model {model!r} (not a path, nor in {MODELS})")


def _fmt(n: float) -> str:
    return f"{n / 1e6:.2f}M" if abs(n) >= 1e6 else f"{n:,.0f}"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        return _child(argv[1], argv[2], int(argv[3]))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", help=f"default: {' '.join(DEFAULT)}")
    ap.add_argument("--invokes", "-n", type=int, default=3, help="invokes per counted run (default 3)")
    ap.add_argument("--build", action="append", default=[],
                    help="pyedge build dir (python pyedge/_build.py DIR); repeat to compare builds")
    ap.add_argument("--no-ref", action="store_true", help="count pyedge only")
    ap.add_argument("--top", type=int, default=0, help="also list the K costliest functions per run")
    ap.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, help="valgrind runs in parallel")
    args = ap.parse_args(argv)
    if args.invokes < 1:
        ap.error("--invokes must be >= 1")
    if shutil.which("valgrind") is None:
        ap.error("valgrind is not installed (apt-get install valgrind)")
    paths = [_resolve(m) for m in (args.models or DEFAULT)]
    builds: list[str | None] = [str(Path(b).resolve()) for b in args.build] or [None]
    columns = [(f"pyedge[{Path(b).name}]" if b and len(builds) > 1 else "pyedge", "pyedge", b)
               for b in builds]
    if not args.no_ref:
        columns.append(("tflite-ref", "ref", builds[0]))  # pyedge's import needs a core (tflite_reader)

    width = max(14, *(len(c[0]) + 2 for c in columns))
    print(f"instructions per invoke (valgrind cachegrind, ({args.invokes} invokes - 0 invokes) / "
          f"{args.invokes})" + ("; ratio: pyedge / tflite-ref" if not args.no_ref else ""))
    head = f"{'model':44s}" + "".join(f"{c[0]:>{width}s}" for c in columns)
    if not args.no_ref:
        head += "".join(f"{'ratio ' + c[0][6:] if len(columns) > 2 else 'ratio':>{width}s}"
                        for c in columns[:-1])
    print(head)
    tops: list[tuple[str, str, list[tuple[str, float]]]] = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for p in paths:
            futures = [(pool.submit(_run, rt, p, args.invokes, b), pool.submit(_run, rt, p, 0, b))
                       for _, rt, b in columns]
            results = [_per_invoke(fn.result(), f0.result(), args.invokes) for fn, f0 in futures]
            counts = [r[0] for r in results]
            row = f"{p.stem:44s}" + "".join(f"{_fmt(c):>{width}s}" for c in counts)
            if not args.no_ref:
                row += "".join(f"{c / counts[-1]:>{width - 1}.3f}x" for c in counts[:-1])
            print(row, flush=True)
            for (name, _, _), r in zip(columns, results):
                tops.append((p.stem, name, r[1]))
    if args.top:
        for model, name, top in tops:
            print(f"\n{model} / {name}: top {args.top} functions, instructions per invoke")
            for fn, n in top[: args.top]:
                print(f"  {_fmt(n):>14s}  {fn if len(fn) <= 110 else fn[:107] + '...'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""pyedge command line: a thin shell over the Python API."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .errors import PyedgeError


def _random_input(detail: dict, rng: np.random.Generator) -> np.ndarray:
    dt = np.dtype(detail["dtype"])
    shape = tuple(int(x) for x in detail["shape"])
    if np.issubdtype(dt, np.integer):
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
    if dt == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    return rng.standard_normal(shape).astype(dt)


def load_inputs(details: list[dict], files: list[str] | None, seed: int) -> list[np.ndarray]:
    """Inputs from .npy files (one per model input, in order) or seeded random data."""
    if files:
        if len(files) != len(details):
            raise PyedgeError(f"model has {len(details)} inputs, {len(files)} --input files given")
        return [np.load(f) for f in files]
    rng = np.random.default_rng(seed)
    return [_random_input(d, rng) for d in details]


def run_model(model: str, inputs: list[str] | None = None, seed: int = 0, repeat: int = 10,
              compare: bool = False) -> dict:
    """Load, run and time a model with pyedge; optionally compare with TFLite's reference kernels.
    Returns a dict with outputs, timings (seconds) and, with compare, the bit-exact verdict."""
    from .interpreter import Interpreter

    t0 = time.perf_counter()
    it = Interpreter(model_path=model)
    it.allocate_tensors()
    t_load = time.perf_counter() - t0
    x = load_inputs(it.get_input_details(), inputs, seed)
    # the printed outputs come from the first invoke on fresh state, as a new TFLite run would
    for d, v in zip(it.get_input_details(), x):
        it.set_tensor(d["index"], v)
    it.invoke()
    outs = [(d, it.get_tensor(d["index"])) for d in it.get_output_details()]
    # timing runs on its own interpreter: stateful models change their state with every invoke
    timed = Interpreter(model_path=model)
    timed.allocate_tensors()
    for d, v in zip(timed.get_input_details(), x):
        timed.set_tensor(d["index"], v)
    times = []
    for _ in range(max(repeat, 1)):
        t = time.perf_counter()
        timed.invoke()
        times.append(time.perf_counter() - t)
    result = {"outputs": outs, "load_s": t_load, "invoke_s": times, "arena_bytes": it.arena_size,
              "inputs": x}
    if compare:
        from tflite_runtime.interpreter import Interpreter as TfInterpreter, OpResolverType

        from .blob import is_blob
        from .tflite_reader import with_valid_quantized_dimension

        raw = Path(model).read_bytes()
        if is_blob(raw):
            raise PyedgeError("--compare needs the .tflite model (TFLite cannot run a .peb blob)")
        ref = TfInterpreter(model_content=with_valid_quantized_dimension(raw),
                            experimental_op_resolver_type=OpResolverType.BUILTIN_REF, num_threads=1)
        ref.allocate_tensors()
        for d, v in zip(ref.get_input_details(), x):
            ref.set_tensor(d["index"], v)
        ref.invoke()
        same = all(np.array_equal(o, ref.get_tensor(d["index"])) for (d, o) in outs)
        result["bit_exact"] = same
    return result


def cmd_run(args: argparse.Namespace) -> int:
    r = run_model(args.model, args.input, args.seed, args.repeat, args.compare)
    src = "from " + ", ".join(args.input) if args.input else f"random, seed {args.seed}"
    print(f"model: {args.model}")
    print(f"inputs: {src}")
    with np.printoptions(threshold=64, edgeitems=8, linewidth=100):
        for d, out in r["outputs"]:
            print(f"output {d['name']!r} index {d['index']} {out.dtype} {list(out.shape)}"
                  f" scale {d['quantization'][0]:.6g} zero_point {d['quantization'][1]}")
            print(out)
            if out.ndim == 2 and out.shape[0] == 1 and out.shape[1] > 1:
                print(f"  argmax: {int(np.argmax(out))}")
    t = np.array(r["invoke_s"]) * 1e3
    print(f"arena: {r['arena_bytes']} bytes")
    print(f"load+pack: {r['load_s'] * 1e3:.1f} ms; invoke over {len(t)} runs: "
          f"median {np.median(t):.3f} ms, min {t.min():.3f} ms")
    if "bit_exact" in r:
        print("TFLite reference kernels: " + ("bit-exact match" if r["bit_exact"] else "MISMATCH"))
        return 0 if r["bit_exact"] else 1
    return 0


def cmd_pack(args: argparse.Namespace) -> int:
    from .pack import pack_tflite

    blob = pack_tflite(Path(args.model).read_bytes())
    out = Path(args.output or Path(args.model).with_suffix(".peb"))
    out.write_bytes(blob)
    print(f"wrote {out} ({len(blob)} bytes)")
    return 0


def cmd_ops(args: argparse.Namespace) -> int:
    from .lower import supported_ops

    for name, s in supported_ops().items():
        print(f"{name:28s} up to v{s.max_version:<3d} {s.types}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="pyedge", description="Run quantized TFLite models with pyedge.")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run a .tflite or .peb model and print outputs and timing")
    r.add_argument("model")
    r.add_argument("--input", action="append", help=".npy file for each model input, in order")
    r.add_argument("--seed", type=int, default=0, help="seed of the random input (no --input)")
    r.add_argument("--repeat", type=int, default=10, help="timed invokes")
    r.add_argument("--compare", action="store_true",
                   help="also run TFLite's reference kernels (tflite-runtime) and check bit-exactness")
    r.set_defaults(fn=cmd_run)
    k = sub.add_parser("pack", help="pack a .tflite model into a pyedge blob (.peb)")
    k.add_argument("model")
    k.add_argument("-o", "--output")
    k.set_defaults(fn=cmd_pack)
    o = sub.add_parser("ops", help="list supported TFLite ops")
    o.set_defaults(fn=cmd_ops)
    args = p.parse_args(argv)
    try:
        return args.fn(args)
    except (PyedgeError, OSError) as exc:
        print(f"pyedge: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

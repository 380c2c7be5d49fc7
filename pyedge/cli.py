"""pyedge command line: a thin shell over the Python API."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from .errors import PyedgeError, UnsupportedOpError


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

    if repeat < 1:
        raise PyedgeError(f"--repeat must be at least 1, not {repeat}")
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
    for _ in range(repeat):
        t = time.perf_counter()
        timed.invoke()
        times.append(time.perf_counter() - t)
    with open(model, "rb") as f:
        packed = f.read(4) != b"PEB1"  # a .tflite is packed at load, a .peb is not
    result = {"outputs": outs, "load_s": t_load, "invoke_s": times, "arena_bytes": it.arena_size, "packed": packed,
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


def _output_json(d: dict, out: np.ndarray) -> dict:
    return {"name": d["name"], "index": int(d["index"]), "dtype": str(out.dtype), "shape": list(out.shape),
            "scale": float(d["quantization"][0]), "zero_point": int(d["quantization"][1]), "values": out.tolist()}


def cmd_run(args: argparse.Namespace) -> int:
    if args.board or args.port:
        if not args.board:
            raise PyedgeError("--port needs --board (the board the device is)")
        from .host.commands import cmd_run_board
        return cmd_run_board(args)
    r = run_model(args.model, args.input, args.seed, args.repeat, args.compare)
    src = "from " + ", ".join(args.input) if args.input else f"random, seed {args.seed}"
    if args.json:
        t = [s * 1e3 for s in r["invoke_s"]]
        doc = {"model": args.model, "inputs": src, "arena_bytes": r["arena_bytes"], "load_ms": r["load_s"] * 1e3,
               "packed": r["packed"], "invoke_ms": {"runs": len(t), "median": float(np.median(t)), "min": min(t)},
               "outputs": [_output_json(d, out) for d, out in r["outputs"]]}
        if "bit_exact" in r:
            doc["tflite_reference_bit_exact"] = r["bit_exact"]
        print(json.dumps(doc, indent=1))
        return 0 if r.get("bit_exact", True) else 1
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
    print(f"{'load+pack' if r['packed'] else 'load'}: {r['load_s'] * 1e3:.1f} ms; invoke over {len(t)} runs: "
          f"median {np.median(t):.3f} ms, min {t.min():.3f} ms")
    if "bit_exact" in r:
        print("TFLite reference kernels: " + ("bit-exact match" if r["bit_exact"] else "MISMATCH"))
        return 0 if r["bit_exact"] else 1
    return 0


def cmd_pack(args: argparse.Namespace) -> int:
    from .blob import is_blob
    from .cformat import check_name, model_info, write_c
    from .pack import pack_tflite

    fmt = args.format
    if fmt is None:  # from the output's suffix: .h/.c mean C, anything else a .peb
        fmt = "c" if args.output and Path(args.output).suffix in (".h", ".c") else "peb"
    if fmt == "c":
        try:
            check_name(args.name)  # before the (slow) pack
        except ValueError as exc:
            raise PyedgeError(str(exc)) from None
        out = Path(args.output or Path(args.model).with_suffix(".h"))
        if out.suffix not in (".h", ".c"):
            raise PyedgeError(f"--format c writes a .h (or a .c plus its .h), not {str(out)!r}")
    else:
        out = Path(args.output or Path(args.model).with_suffix(".peb"))
        if out.suffix in (".h", ".c"):
            raise PyedgeError(f"--format peb writes a blob, not C source {str(out)!r}: use --format c")
    raw = Path(args.model).read_bytes()
    if is_blob(raw) and args.target is not None:
        raise PyedgeError("--target applies when packing a .tflite: a .peb keeps the target it was packed for")
    # a .peb re-emits as C unchanged
    blob = raw if is_blob(raw) else pack_tflite(raw, target=args.target, threads=max(1, args.threads),
                                                preserve_inputs=not args.reuse_inputs, layouts=args.layouts,
                                                strip=not args.keep_constants)
    if getattr(args, "op_list", None):
        from .cformat import op_list, write_op_list
        p = write_op_list(blob, args.op_list, source=Path(args.model).name)
        print(f"wrote {p}: " + ", ".join(sorted({op for op, _ in op_list(blob)})))
    if fmt == "c":
        for p in write_c(blob, out, args.name, source=Path(args.model).name):
            print(f"wrote {p} ({p.stat().st_size} bytes)")
        info = model_info(blob)
        print(f"{args.name}_blob: {info.blob_size} bytes (flash); "
              f"{args.name.upper()}_ARENA_BYTES: {info.arena_bytes} bytes (RAM)")
        return 0
    out.write_bytes(blob)
    print(f"wrote {out} ({len(blob)} bytes)")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    import json

    from .inspector import format_report, inspect_model

    report = inspect_model(args.model, board=args.board)
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    return 1 if (report.get("board") or {}).get("fits") is False else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import main_bench

    if args.threads < 1 or args.rounds < 1 or args.per_op < 0:
        print("pyedge: error: --threads and --rounds must be >= 1, --per-op >= 0", file=sys.stderr)
        return 2
    try:
        return main_bench(args.models, args.rounds, args.threads, args.isa, args.per_op, args.json,
                          litert=not args.no_litert, reference=not args.no_reference, onnx=args.onnx)
    except ValueError as exc:
        print(f"pyedge: error: {exc}", file=sys.stderr)
        return 2


def cmd_ops(args: argparse.Namespace) -> int:
    from .lower import supported_ops

    ops = supported_ops()
    if args.json:
        import json
        print(json.dumps([{"op": n, "max_version": s.max_version, "types": s.types} for n, s in ops.items()], indent=1))
        return 0
    for name, s in ops.items():
        print(f"{name:28s} up to v{s.max_version:<3d} {s.types}")
    return 0


def _float_model_hint(message: str) -> str | None:
    """A float model's refusal in one sentence, instead of one line per op: every refused op is a
    float one (float32 or float16 types, or a filter that float16 weights feed at run time)."""
    lines = [ln for ln in message.splitlines()[1:] if ln.strip() and not ln.startswith("supported ops:")]
    floaty = ("float32", "float16", "the filter must be constant", "weights must be constant")
    if not lines or not all(any(f in ln.lower() for f in floaty) for ln in lines):
        return None
    return (f"this is a float model ({len(lines)} op(s) pyedge does not run in float, e.g. "
            f"{lines[0].strip().split(' at operator')[0].removeprefix('op ')}): quantize it first: "
            "pyedge quantize MODEL.tflite --calibration DATA.npz -o MODEL_int8.tflite")


def main(argv: list[str] | None = None) -> int:
    from . import __version__

    p = argparse.ArgumentParser(prog="pyedge", description="Run quantized TFLite models with pyedge.")
    p.add_argument("--version", action="version", version=f"pyedge {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run a .tflite or .peb model and print outputs and timing")
    r.add_argument("model")
    r.add_argument("--input", action="append", help=".npy file for each model input, in order")
    r.add_argument("--seed", type=int, default=0, help="seed of the random input (no --input)")
    r.add_argument("--repeat", type=int, default=10, help="timed invokes")
    r.add_argument("--compare", action="store_true",
                   help="also run TFLite's reference kernels (tflite-runtime) and check bit-exactness")
    r.add_argument("--json", action="store_true", help="print outputs, timing and checks as JSON")
    from .host.commands import add_commands, add_run_args
    add_run_args(r)
    r.set_defaults(fn=cmd_run)
    k = sub.add_parser("pack", help="pack a .tflite model into a pyedge blob (.peb) or C source for firmware")
    k.add_argument("model")
    k.add_argument("-o", "--output", help="MODEL.peb; with --format c, NAME.h (one header) or NAME.c (+ NAME.h)")
    k.add_argument("--format", choices=["peb", "c"],
                   help="peb: the blob file; c: the blob as an aligned const C array with #defines "
                        "(default: from the -o suffix)")
    k.add_argument("--name", default="model",
                   help="C symbol prefix for --format c: NAME_blob, NAME_blob_size, NAME_ARENA_BYTES, ... "
                        "(default: model)")
    k.add_argument("--target", metavar="BOARD_OR_ISA",
                   help="pack for a target: a board from boards/ (e.g. rpi4, mps2-an386) or an ISA (scalar, "
                        "avx2, avx512vnni, neon, dsp, helium); it must exist. Ops that a SIMD kernel of that "
                        "ISA runs get its packed weight layout (its scalar twin runs it on any other CPU); "
                        "without --target weights keep TFLite's generic layout")
    k.add_argument("--op-list", metavar="FILE.h",
                   help="also write the ops and weight layouts the model uses as a C header: firmware that "
                        "compiles native/src/ops.c with -DPE_OP_LIST='\"FILE.h\"' links only their kernels")
    k.add_argument("--layouts", choices=["auto", "generic", "packed"], default="auto",
                   help="weight layouts: auto (packed where the target has a SIMD kernel for the op), "
                        "generic (TFLite's layouts everywhere), packed (every op a packed layout can take, "
                        "scalar twins where the target has no SIMD kernel)")
    k.add_argument("--threads", type=int, default=1, metavar="N",
                   help="plan per-thread scratch for N threads (default 1; an Interpreter with more threads "
                        "is capped at N for the ops that need scratch)")
    k.add_argument("--keep-constants", action="store_true",
                   help="keep the model's weights in the blob where the packer repacked them into a layout "
                        "(default: left out, a smaller blob; kept, get_tensor reads them)")
    k.add_argument("--reuse-inputs", action="store_true",
                   help="let the planner reuse the inputs' memory after their last read (smaller arena, as "
                        "TFLM; the inputs no longer hold their values after invoke)")
    k.set_defaults(fn=cmd_pack)
    n = sub.add_parser("inspect", help="per-op MACs, weights, kernels and arena offsets; blob/arena totals; "
                                       "whether a model fits a board")
    n.add_argument("model", help="a .tflite (packed in memory as `pack` would) or a .peb")
    n.add_argument("--board", help="a board from boards/ (or a .toml path): check RAM and flash, list ops it "
                                   "cannot run")
    n.add_argument("--json", action="store_true", help="print the report as JSON")
    n.set_defaults(fn=cmd_inspect)
    b = sub.add_parser("bench", help="time a model on pyedge (every ISA tier), LiteRT+XNNPACK and TFLite's "
                                     "reference kernels side by side; print ratios and check outputs")
    b.add_argument("models", nargs="+", metavar="MODEL", help=".tflite models (a .peb: pyedge only)")
    b.add_argument("--rounds", type=int, default=20, help="timed invokes per runtime, interleaved (default 20)")
    b.add_argument("--threads", type=int, default=1, help="threads for pyedge and LiteRT (default 1)")
    b.add_argument("--isa", help="pyedge tiers: 'best' (default: scalar and the best), 'all', or a comma list "
                                 "(scalar,avx2,avx512,avx512vnni,neon,...)")
    b.add_argument("--per-op", type=int, nargs="?", const=10, default=0, metavar="N",
                   help="also time each op over N invokes (default 10) per tier: kernel, share, MACs/ns")
    b.add_argument("--json", metavar="F", help="write the results as JSON to F")
    b.add_argument("--no-litert", action="store_true", help="leave out LiteRT+XNNPACK")
    b.add_argument("--no-reference", action="store_true", help="leave out TFLite's reference kernels")
    b.add_argument("--onnx", action="append", metavar="M.onnx|auto",
                   help="add ONNX Runtime: an equivalent .onnx per model (repeat, in model order), or 'auto' to "
                        "convert each .tflite (pyedge.bench_onnx)")
    b.set_defaults(fn=cmd_bench)
    o = sub.add_parser("ops", help="list supported TFLite ops")
    o.add_argument("--json", action="store_true", help="print the ops as JSON")
    o.set_defaults(fn=cmd_ops)
    from .quantize.cli import add_commands as add_quantize_commands
    add_quantize_commands(sub)
    add_commands(sub)
    args = p.parse_args(argv)
    warnings.formatwarning = lambda message, *_a, **_k: f"pyedge: warning: {message}\n"
    try:
        return args.fn(args)
    except BrokenPipeError:  # `pyedge ops | head`: the reader left; stop quietly, as head's writers do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush goes nowhere
        return 141
    except UnsupportedOpError as exc:
        print(f"pyedge: error: {_float_model_hint(str(exc)) or exc}", file=sys.stderr)
        return 2
    except (PyedgeError, OSError) as exc:
        print(f"pyedge: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # devices and emulators were closed on the way out
        print("pyedge: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""RAM pyedge needs vs the arena TensorFlow Lite Micro uses, model by model.

pyedge's RAM is its arena (persistent state + planned activations, `pe_model_arena_bytes`)
plus its two run-time structs, `pe_interp` and `pe_model` (sizes from the compiled core via
cffi); the blob (weights, tensor and op records) stays in flash. TFLM's is the total its
RecordingMicroAllocator reports ("Arena allocation total N bytes": activations, tensor
metadata, per-channel quantization buffers, node structs, variables), read from a subprocess's
fd-level output because TFLM prints it from C (MicroPrintf: stderr in the Python package). A model is compared only if both run it (pyedge
packs and invokes it; TFLM allocates and invokes it).

    python tools/arena_vs_tflm.py                     # every tests/models/*.tflite
    python tools/arena_vs_tflm.py m1.tflite m2.tflite
    python tools/arena_vs_tflm.py --write-docs docs/memory.md

Needs the `tflm` extra (`pip install -e ".[tflm]"`).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BEGIN, END = "<!-- arena-table:begin -->", "<!-- arena-table:end -->"

# Run in a subprocess: allocates with a generous arena, invokes once on zeros (so the model is
# known to run), then prints the recorded allocations (TFLM writes them from C).
_TFLM_SCRIPT = r"""
import sys, numpy as np
from tflite_micro.python.tflite_micro import runtime
it = runtime.Interpreter.from_file(sys.argv[1], arena_size=int(sys.argv[2]))
for i in range(64):
    try:
        d = it.get_input_details(i)
    except Exception:
        break
    it.set_input(np.zeros(d["shape"], d["dtype"]), i)
it.invoke()
sys.stdout.flush()
it.print_allocations()
"""
_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")


@dataclass
class Row:
    model: str
    pyedge: int | None = None         # arena + state + structs
    pyedge_reuse: int | None = None   # same, inputs' memory reused after their last read
    arena: int = 0
    state: int = 0
    structs: int = 0
    tflm: int | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.pyedge / self.tflm if self.pyedge and self.tflm else None


def tflm_total(path: Path, arena: int = 16 << 20, timeout: float = 300.0) -> tuple[int | None, str]:
    """TFLM's recorded arena total for `path`, or (None, why it could not run)."""
    try:
        r = subprocess.run([sys.executable, "-c", _TFLM_SCRIPT, str(path), str(arena)],
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"TFLM timed out after {timeout:.0f} s"
    m = _TOTAL.search(r.stdout + r.stderr)  # MicroPrintf goes to fd 2 in this build, fd 1 in others
    if r.returncode != 0 or m is None:
        err = (r.stderr.strip().splitlines() or r.stdout.strip().splitlines() or ["no output"])[-1]
        if "No module named" in err:
            raise SystemExit("tflite-micro is not installed: pip install -e '.[tflm]'")
        return None, f"TFLM cannot run it ({err[:120]})"
    return int(m.group(1)), ""


def pyedge_bytes(path: Path) -> tuple[Row, str]:
    """pyedge's RAM for `path` (both input policies), after checking it packs and invokes."""
    import numpy as np

    import pyedge
    from pyedge._native import ffi
    from pyedge.blob import read_blob

    row = Row(path.stem)
    raw = path.read_bytes()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            blob = pyedge.pack_tflite(raw)
            reuse = pyedge.pack_tflite(raw, preserve_inputs=False)
    except pyedge.PyedgeError as exc:
        return row, f"pyedge cannot run it ({str(exc).splitlines()[0][:120]})"
    structs = ffi.sizeof("pe_interp") + ffi.sizeof("pe_model")
    it = pyedge.Interpreter(model_content=blob)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    it.invoke()
    h = read_blob(blob).header
    row.arena, row.state, row.structs = h["arena_size"], h["state_size"], structs
    row.pyedge = it.arena_size + structs
    row.pyedge_reuse = pyedge.Interpreter(model_content=reuse).arena_size + structs
    return row, ""


def measure(paths: list[Path]) -> list[Row]:
    rows = []
    for p in paths:
        row, why = pyedge_bytes(p)
        if not why:
            row.tflm, why = tflm_total(p)
        row.note = why
        rows.append(row)
    return rows


def table(rows: list[Row]) -> str:
    """The comparison as a Markdown table (models either cannot run are listed below it)."""
    out = ["| model | pyedge bytes | TFLM bytes | pyedge / TFLM | pyedge, inputs reused | / TFLM | "
           "pyedge arena + state + structs |",
           "|---|---:|---:|---:|---:|---:|---|"]
    skipped = []
    for r in rows:
        if r.ratio is None:
            skipped.append(f"- {r.model}: {r.note}")
            continue
        out.append(f"| {r.model} | {r.pyedge} | {r.tflm} | {r.ratio:.3f}x | {r.pyedge_reuse} | "
                   f"{r.pyedge_reuse / r.tflm:.3f}x | {r.arena} + {r.state} + {r.structs} |")
    if skipped:
        out += ["", "Not compared:"] + skipped
    return "\n".join(out)


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        tflm = version("tflite-micro")
    except PackageNotFoundError:
        tflm = "not installed"
    return f"tflite-micro {tflm}"


def write_docs(doc: Path, text: str) -> None:
    """Replace the block between the arena-table markers of `doc` with `text`."""
    body = doc.read_text()
    if BEGIN not in body or END not in body:
        raise SystemExit(f"{doc} has no {BEGIN} ... {END} block")
    head, rest = body.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", type=Path, help=".tflite files (default: tests/models/*.tflite)")
    ap.add_argument("--write-docs", type=Path, metavar="MD", help="write the table into this Markdown file")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args(argv)
    paths = args.models or sorted((ROOT / "tests" / "models").glob("*.tflite"))
    for p in paths:
        if not p.is_file():
            raise SystemExit(f"no such model: {p}")
    rows = measure(paths)
    text = table(rows)
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=1))
    else:
        print(f"RAM: pyedge (arena + state + sizeof pe_interp + pe_model) vs TFLM arena total; {versions()}")
        print(text)
    if args.write_docs:
        write_docs(args.write_docs, f"Measured with {versions()} by `python tools/arena_vs_tflm.py "
                                    f"--write-docs {args.write_docs.as_posix()}`.\n\n{text}")
        print(f"wrote the table into {args.write_docs}")
    bad = [r.model for r in rows if r.ratio is not None and r.ratio > 1.0]
    if bad:
        print(f"pyedge needs more RAM than TFLM for: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
